"""Compare the motion teacher with real mouths: MediaPipe-tracked evaldata videos, phones
recognised by pocketsphinx in their audio.

    python research/calibrate_teacher.py [--videos /work/shared/evaldata/video] [--seconds 30]

Prints per clip:
- the clip's audio-video offset (``anim3d.eval.avsync``, estimated from the audio and the
  tracked mouth only: a muxing offset of the source file, 1-6 frames on the evaldata clips);
- the correlation of the teacher's lip gap (driven by the recognised phones) with the real
  inner-lip gap at that offset, for a range of mouth leads (how early the mouth moves before
  the sound); the best lead is what SpeakerStyle.lead should be drawn around. Measured at
  lag 0 instead, the lead would absorb the clip's muxing offset;
- the same correlation for several depths of the jaw's loudness gain (SpeakerStyle.loudness_jaw,
  the teacher driven with the clip's audio);
- the same for several resting openings in breath pauses (SpeakerStyle.rest_open), each the mean over
  six random virtual speakers;
- per phone class, the real inner-lip gap at phone centres (relative to the clip's 95th
  percentile) next to the teacher's, and the rank correlation of the per-phone means.

With ``--rounding``, instead: how real speakers round their lips. The videos' mouthFunnel and
mouthPucker are decoded per frame (``anim3d.data.importers.decoder``: the least-squares solve does
not see a funnel at all, the decoder does; both are first checked on a render of the open head with
known funnel and pucker), their means per recognised phone (minus the clip's mean in pauses, the
decoder's floor on a real face) printed next to the teacher's, and the teacher's r for several shares
of its table's funnel kept as funnel (the rest moved into pucker, ``visemes.split_rounding``). ``--rounding``
runs at ``git checkout experiments-2026-12`` only: the viseme table now holds the chosen shares and
``split_rounding`` is gone (see calibrate_rounding.py).
"""

from __future__ import annotations

import argparse
import glob
import os

import numpy as np

from anim3d.paths import evaldata_dir

CLASSES = {
    "open vowel": {"AA", "AE", "AO", "AW", "AY"},
    "mid vowel": {"EH", "AH", "ER", "OW", "EY"},
    "high vowel": {"IY", "IH", "UW", "UH"},
    "P B M": {"P", "B", "M"},
    "F V": {"F", "V"},
    "W": {"W"},
    "other cons.": {"T", "D", "N", "L", "S", "Z", "SH", "ZH", "CH", "JH", "K", "G", "NG", "HH", "TH", "DH", "R", "Y"},
    "pause": {"SIL"},
}


def _spearman(a, b) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def _measure(path: str, seconds: float, cache: str):
    """Tracked inner-lip gap, fps, recognised phones, audio-video offset (frames, > 0: audio late) and
    audio (cut to the tracked frames) of a clip; all but the audio cached as JSON."""
    import json

    from anim3d.audio import load_audio
    from anim3d.phones import Phone
    from anim3d.eval.avsync import estimate_av_offset
    from anim3d.phonetic import recognize_phones
    from anim3d.tracking import mouth_opening, track_video

    os.makedirs(cache, exist_ok=True)
    key = os.path.join(cache, f"{os.path.basename(path)}-{seconds:g}")
    d = json.load(open(key + ".json")) if os.path.isfile(key + ".json") else {}
    if d:  # cached (the offset may be missing from caches made before it was measured)
        real, fps, phones = np.array(d["real"]), d["fps"], [Phone(*p) for p in d["phones"]]
    else:
        trk = track_video(path, max_frames=int(seconds * 30), progress=False)
        real, fps = np.asarray(mouth_opening(trk.landmarks)), trk.fps
    audio = load_audio(path)
    audio.samples = audio.samples[: int(len(real) / fps * audio.sample_rate)]
    if "av_lag" in d:
        return real, fps, phones, d["av_lag"], audio
    if not d:
        phones = recognize_phones(audio)
    lag = estimate_av_offset(audio.samples, audio.sample_rate, real, fps).lag
    with open(key + ".json", "w") as f:
        json.dump({"real": real.tolist(), "fps": fps, "phones": [(p.label, p.start, p.end) for p in phones],
                   "av_lag": lag}, f)
    return real, fps, phones, lag, audio


def _sweep(clips, values, heading, width: int, note: str, score) -> None:
    """Print one row per clip of ``score(clip, value)`` for each value (columns ``heading(value)``), then the mean row."""
    print(f"\n{'clip':18s} " + " ".join(f"{heading(x):>{width}s}" for x in values) + "   " + note)
    table = []
    for clip in clips:
        table.append([score(clip, x) for x in values])
        print(f"{os.path.basename(clip[0])[:18]:18s} " + " ".join(f"{c:{width}.3f}" for c in table[-1]))
    print(f"{'mean':18s} " + " ".join(f"{c:{width}.3f}" for c in np.mean(table, axis=0)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", default=str(evaldata_dir() / "video"))
    ap.add_argument("--seconds", type=float, default=30.0, help="at most this much of each clip")
    ap.add_argument("--cache", default="/tmp/anim3d-calibration", help="folder for tracked mouths and phones (outside the repo)")
    ap.add_argument("--rounding", action="store_true", help="how real speakers round their lips (funnel vs pucker) instead; "
                    "runs at the tag experiments-2026-12 only")
    args = ap.parse_args()

    from anim3d.teacher import SpeakerStyle, lip_gap, phones_to_motion
    from anim3d.eval.metrics import lagged_pearson

    clips = [(path, *_measure(path, args.seconds, args.cache)) for path in sorted(glob.glob(os.path.join(args.videos, "*.mp4")))]
    if args.rounding:
        from calibrate_rounding import rounding_report

        rounding_report(clips, args.seconds, args.cache)
        return

    leads = np.round(np.arange(-2, 7) / 60.0, 3)  # half-frame steps at 30 fps
    per_phone_real: dict[str, list[float]] = {}
    per_phone_teacher: dict[str, list[float]] = {}
    print(f"{'clip':18s} {'s':>5s} {'AV lag':>6s} " + " ".join(f"{'lead ' + format(x, '+.3f'):>11s}" for x in leads))
    table = []
    for path, real, fps, phones, av_lag, _ in clips:
        n = len(real)
        dur = n / fps
        corrs = []
        for lead in leads:
            m = phones_to_motion(phones, dur, fps=fps, speaker=SpeakerStyle(lead=float(lead)), seed=0)
            g = lip_gap(m.blendshapes)[:n]
            corrs.append(lagged_pearson(g, real[: len(g)], av_lag))
        table.append(corrs)
        print(f"{os.path.basename(path)[:18]:18s} {dur:5.1f} {av_lag:6d} " + " ".join(f"{c:11.3f}" for c in corrs))
        best = float(leads[int(np.argmax(corrs))])
        m = phones_to_motion(phones, dur, fps=fps, speaker=SpeakerStyle(lead=best), seed=0)
        g = lip_gap(m.blendshapes)[:n]
        r_norm = real / (np.percentile(real, 95) + 1e-9)
        g_norm = g / (np.percentile(g, 95) + 1e-9)
        for p in phones:
            k = int(round((p.center - best) * fps))  # teacher frame (audio time)
            if 0 <= k < len(g) and 0 <= k - av_lag < len(r_norm):
                per_phone_real.setdefault(p.label, []).append(float(r_norm[k - av_lag]))
                per_phone_teacher.setdefault(p.label, []).append(float(g_norm[k]))
    print(f"{'mean':18s} {'':5s} {'':6s} " + " ".join(f"{c:11.3f}" for c in np.mean(table, axis=0)))

    def gap_r(clip, speaker, seed: int = 0) -> float:
        """r of the teacher's lip gap (this speaker, with the clip's audio) with the real gap at the AV offset."""
        _, real, fps, phones, av_lag, audio = clip
        m = phones_to_motion(phones, len(real) / fps, fps=fps, audio=audio, speaker=speaker, seed=seed)
        return lagged_pearson(lip_gap(m.blendshapes)[: len(real)], real, av_lag)

    def rest_r(clip, rest: float) -> float:
        """Mean over six random virtual speakers (teacher seeds 0-5) with only their rest opening replaced."""
        rs = []
        for seed in range(6):
            sp = SpeakerStyle.random(np.random.default_rng(seed))
            sp.rest_open = rest
            rs.append(gap_r(clip, sp, seed))
        return float(np.mean(rs))

    # the jaw following the sound's loudness (SpeakerStyle.loudness_jaw), at the middle of the drawn leads
    _sweep(clips, (0.0, 0.5, 1.0, 1.5, 2.0), lambda x: "loud.jaw " + format(x, ".1f"), 12, "(lead 0.01 s, with audio)",
           lambda clip, depth: gap_r(clip, SpeakerStyle(lead=0.01, loudness_jaw=depth)))
    # the resting opening in breath pauses (SpeakerStyle.rest_open)
    _sweep(clips, (0.0, 0.05, 0.1, 0.15, 0.2, 0.3), lambda x: "rest " + format(x, ".2f"), 10,
           "(mean of teacher seeds 0-5, with audio)", rest_r)

    print(f"\n{'phone class':14s} {'n':>5s} {'real gap':>9s} {'teacher':>9s}   (relative to each clip's 95th percentile)")
    for name, members in CLASSES.items():
        r = [x for ph in members for x in per_phone_real.get(ph, [])]
        t = [x for ph in members for x in per_phone_teacher.get(ph, [])]
        if r:
            print(f"{name:14s} {len(r):5d} {np.mean(r):9.3f} {np.mean(t):9.3f}")
    common = [p for p in per_phone_real if len(per_phone_real[p]) >= 5]
    rr = [np.mean(per_phone_real[p]) for p in common]
    tt = [np.mean(per_phone_teacher[p]) for p in common]
    print(f"\nrank correlation of per-phone mean openings (phones with >= 5 samples, {len(common)} phones): "
          f"{_spearman(rr, tt):.3f}")
    print("per phone (real, teacher): " + ", ".join(f"{p} {a:.2f}/{b:.2f}" for p, a, b in
                                                  sorted(zip(common, rr, tt), key=lambda x: -x[1])))


if __name__ == "__main__":
    main()
