"""Does the live stream follow real speakers as well as the whole-file animation, with and without the learned
opening (which reads +-14 frames of features, and a stream has not heard the frames after its last chunk)?

    python research/stream_lipsync.py [--videos ../shared/evaldata/video] [--chunk-ms 20]

For each clip: the default model offline (``animate``) and streamed (``StreamingAnimator``, the audio pushed in
chunks of ``--chunk-ms``), each at opening share 0.75 (shipped) and 0; Pearson r of the open head's lip gap with
the tracked one at the clip's audio-video offset (``eval.real.score_motion``), mean over clips, seed 0.
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    from anim3d.eval.real import find_videos_in, load_clips, score_motion
    from anim3d.inference import StreamingAnimator, animate, load_model
    from anim3d.motion import Motion

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", default="/work/shared/evaldata/video")
    ap.add_argument("--chunk-ms", type=int, default=20)
    args = ap.parse_args()
    clips = load_clips(find_videos_in(args.videos.split(",")), progress=False, skipped={})
    gen = load_model()
    rows: dict[str, list[float]] = {}
    for c in clips:
        x = np.asarray(c.audio.samples, np.float32)
        step = c.audio.sample_rate * args.chunk_ms // 1000
        for share in (gen.inference.opening_share, 0.0):
            off = animate(c.audio, checkpoint=gen, seed=0, opening_share=share)
            live = StreamingAnimator(gen, opening_share=share, sample_rate=c.audio.sample_rate)
            streamed = Motion.concatenate(list(live.run(x[i : i + step] for i in range(0, len(x), step))))
            for name, m in ((f"offline, opening share {share:g}", off), (f"streamed, opening share {share:g}", streamed)):
                r = score_motion(c.name, name, m, c.track, c.offset.lag).r_av
                rows.setdefault(name, []).append(r)
    for name, rs in rows.items():
        print(f"{name:32s} r at the AV offset {np.mean(rs):.3f} ({' / '.join(f'{r:.3f}' for r in rs)})")


if __name__ == "__main__":
    main()
