"""Peak memory (resident set size) per component, each in a fresh Python process.

The baseline, measured in the same run, is a process that imports numpy and loads the
audio (what every row does first). Each row reports the child's ``ru_maxrss`` (peak RSS)
and its increase over the baseline. Rows whose component is missing print "skipped".

    python benchmarks/bench_memory.py [--audio FILE] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from anim3d.paths import evaldata_dir

ROOT = Path(__file__).resolve().parent.parent  # the children run here (they import benchmarks.bench_rtf)

DEFAULT_AUDIO = str(evaldata_dir() / "video" / "Obama_clip1.mp4")

PRELUDE = """
import json, resource, sys
from anim3d.audio import load_audio
audio = load_audio({audio!r})
audio.samples = audio.samples[: int({seconds} * audio.sample_rate)]
"""
EPILOGUE = """
print(json.dumps({{"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

CASES = {
    "baseline: numpy + load audio": "",
    "loudness -> jaw": "from anim3d.eval.baselines import loudness_motion; loudness_motion(audio)",
    "pocketsphinx phones": "from anim3d.phonetic import recognize_phones; recognize_phones(audio)",
    "phones -> teacher": (
        "from anim3d.eval.baselines import phone_teacher_motion; phone_teacher_motion(audio)"
    ),
    "import torch only": "import torch",
    "model fast (random init), 4 steps": (
        "import torch; torch.set_num_threads(1)\n"
        "from benchmarks.bench_rtf import random_generator\n"
        "from anim3d.inference import animate\n"
        "animate(audio, checkpoint=random_generator('fast', 'cpu'), steps=4)"
    ),
    "model vasa (random init), 4 steps": (
        "import torch; torch.set_num_threads(1)\n"
        "from benchmarks.bench_rtf import random_generator\n"
        "from anim3d.inference import animate\n"
        "animate(audio, checkpoint=random_generator('vasa', 'cpu'), steps=4)"
    ),
    "model default checkpoint, default steps": (
        "import torch; torch.set_num_threads(1)\n"
        "from anim3d.inference import animate\n"
        "animate(audio)"
    ),
    "tracking (MediaPipe, first 150 frames)": (
        "from anim3d.tracking import track_video; track_video({audio!r}, max_frames=150, progress=False)"
    ),
    "glTF export of a 10 s motion": (
        "import tempfile, os\nfrom anim3d.eval.baselines import loudness_motion\nfrom anim3d.exporters.gltf import write_glb\n"
        "d = tempfile.mkdtemp(); write_glb(loudness_motion(audio), os.path.join(d, 'm.glb'))"
    ),
}


def run_case(code: str, audio: str, seconds: float) -> tuple[float | None, str]:
    src = PRELUDE.format(audio=audio, seconds=seconds) + code.format(audio=audio) + EPILOGUE.format()
    p = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1", "GLOG_minloglevel": "2"})
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["failed"])[-1]
        return None, f"skipped: {last[:110]}"
    for line in reversed(p.stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)["peak_mb"], ""
    return None, "skipped: no measurement printed"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--audio", default=DEFAULT_AUDIO)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--only", default=None, help="comma-separated substrings of row names to run")
    args = ap.parse_args(argv)
    rows = []
    base = None
    for name, code in CASES.items():
        if args.only and not name.startswith("baseline") and not any(s in name for s in args.only.split(",")):
            continue
        mb, note = run_case(code, args.audio, args.seconds)
        if base is None and mb is not None:
            base = mb
        rows.append([name, "-" if mb is None else f"{mb:.0f}", "-" if mb is None or base is None else f"{mb - base:+.0f}",
                     "-" if mb is None or base is None else f"{mb / base:.1f}x", note])
    hdr = ["what", "peak RSS MB", "vs baseline MB", "ratio", "notes"]
    widths = [max(len(r[i]) for r in rows + [hdr]) for i in range(len(hdr))]
    print(f"## peak memory ({args.seconds:g} s of {args.audio})")
    print("  ".join(h.ljust(w) for h, w in zip(hdr, widths)))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
