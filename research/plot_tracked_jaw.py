"""Plot the video importer's jawOpen against the audio envelope for each evaldata clip.

    python research/plot_tracked_jaw.py [--videos DIR] [--out /tmp/tracked_jaw.png] [--seconds 12] [--decoder]

For each ``*.mp4``: track + solve (anim3d.data.importers.video), decode its audio, and draw
jawOpen, the tracked inner-lip gap (MediaPipe 13/14 over the eye distance, scaled to the
same range) and the audio's RMS envelope at 30 fps. Prints, per clip, the correlation of
jawOpen with the lip gap and with the envelope. The PNG goes outside the repo. ``--decoder``
also draws the jawOpen of the landmark decoder calibrated on renders of the open head
(``anim3d.data.importers.decoder``), to compare it with the least-squares solve on real
faces (measured: r with the lip gap 0.36-0.64 against 0.49-0.64 for the solve, so the
solve stays the importer's default on real videos).
"""

from __future__ import annotations

import argparse
import glob
import os

import numpy as np

from anim3d.paths import evaldata_dir


def envelope(samples: np.ndarray, sample_rate: int, fps: float, n: int) -> np.ndarray:
    """RMS of the audio in windows of one video frame, centred on each frame time -> n."""
    hop = sample_rate / fps
    win = int(round(2 * hop))
    out = np.zeros(n)
    for i in range(n):
        c = int(round(i * hop + hop / 2))
        seg = samples[max(0, c - win // 2) : c + win // 2]
        out[i] = np.sqrt(np.mean(seg.astype(np.float64) ** 2)) if len(seg) else 0.0
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos", default=str(evaldata_dir() / "video"))
    p.add_argument("--out", default="/tmp/tracked_jaw.png")
    p.add_argument("--seconds", type=float, default=12.0, help="seconds of each clip to draw (all of it is measured)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--decoder", action="store_true",
                   help="also decode with the shipped landmark decoder (calibrated on renders of the open head) and draw its jawOpen")
    args = p.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from anim3d.audio import load_audio
    from anim3d.channels import INDEX
    from anim3d.data.importers.video import fit_landmarks, video_motion

    paths = sorted(glob.glob(os.path.join(args.videos, "*.mp4")))
    if not paths:
        raise SystemExit(f"no .mp4 files in {args.videos}")
    decoder = None
    if args.decoder:
        from anim3d.data.importers.decoder import default_decoder

        decoder = default_decoder()
    fig, axes = plt.subplots(len(paths), 1, figsize=(14, 3.2 * len(paths)), squeeze=False)
    print(f"{'clip':<20} {'frames':>6} {'tracked':>7} {'r(jaw, lip gap)':>16} {'r(jaw, envelope)':>17} {'r(lip gap, env)':>16}"
          + (f" {'decoder: r(jaw, gap)':>21} {'r(jaw, env)':>12}" if decoder else ""))
    for ax, path in zip(axes[:, 0], paths):
        fit = video_motion(path, progress=not args.quiet)
        jaw = fit.motion.channel("jawOpen")
        n = len(jaw)
        gap = fit.tracking.mouth_opening()
        gap = np.interp(np.arange(n) / 30.0, np.arange(len(gap)) / fit.tracking.fps, gap)
        audio = load_audio(path)
        env = envelope(audio.samples, audio.sample_rate, 30.0, n)
        r_gap = np.corrcoef(jaw, gap)[0, 1]
        r_env = np.corrcoef(jaw, env)[0, 1]
        r_ge = np.corrcoef(gap, env)[0, 1]
        name = os.path.basename(path)
        extra = ""
        if decoder is not None:
            djaw = fit_landmarks(fit.tracking, decoder=decoder).motion.channel("jawOpen")[:n]
            extra = f" {np.corrcoef(djaw, gap)[0, 1]:>21.3f} {np.corrcoef(djaw, env)[0, 1]:>12.3f}"
        print(f"{name:<20} {n:>6} {fit.tracking.valid.mean():>7.1%} {r_gap:>16.3f} {r_env:>17.3f} {r_ge:>16.3f}" + extra)
        m = min(n, int(args.seconds * 30))
        t = np.arange(m) / 30.0
        ax.plot(t, jaw[:m], label="jawOpen (solved)", color="C0", lw=1.5)
        if decoder is not None:
            ax.plot(t, djaw[:m], label="jawOpen (render-calibrated decoder)", color="C4", lw=1, alpha=0.8)
        ax.plot(t, gap[:m] / max(gap.max(), 1e-9) * jaw.max(), label="inner-lip gap (tracked, scaled)", color="C2", lw=1, alpha=0.8)
        ax.fill_between(t, 0, env[:m] / max(env.max(), 1e-9) * jaw.max(), color="C1", alpha=0.25, label="audio RMS envelope (scaled)")
        ax.set_title(f"{name}: r(jawOpen, lip gap) = {r_gap:.2f}, r(jawOpen, envelope) = {r_env:.2f}")
        ax.set_xlim(0, t[-1] if m > 1 else 1)
        ax.set_xlabel("seconds")
        # the other channels the mouth uses, to see what the solve puts where
        other = fit.motion.blendshapes[:m, [INDEX["mouthClose"], INDEX["mouthFunnel"], INDEX["mouthPucker"]]]
        ax.plot(t, other.sum(1), color="C3", lw=0.7, alpha=0.6, label="mouthClose+Funnel+Pucker")
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
