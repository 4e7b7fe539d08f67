"""How real speakers round their lips: ``python research/calibrate_teacher.py --rounding`` (this module
is its second half; see that script's docstring).

1. The measurement itself, on a render of the open head with known jawOpen, mouthFunnel and mouthPucker
   bumps (rendered, H.264, tracked, solved): r and slope (fitted / known) of each channel for the
   importer's least-squares solve and for the shipped decoder.
2. Per recognised phone, the decoded funnel and pucker of each real clip (minus the clip's mean in
   pauses) next to the seed-0 teacher's with the table's full funnel (share 1) at the same frames
   (audio time; the video read at the clip's audio-video offset).
3. The teacher's r with the real lip gap for several shares of the table's funnel kept as funnel.

Runs at ``git checkout experiments-2026-12`` only: 2 and 3 swap the teacher's viseme table through
``visemes.split_rounding`` and ``visemes._TABLE``, which are gone since (the table holds the chosen shares).
"""

from __future__ import annotations

import contextlib
import os
import tempfile

import numpy as np

ROUNDED_PHONES = ("OW", "SH", "CH", "JH", "ER", "UH", "AO", "UW", "W", "R")
OTHER_PHONES = ("L", "T", "S", "AA", "IY")
SHARES = (1.0, 0.5, 0.25, 0.0)


def _bumps(rng, t: int, count: int, height: tuple[float, float], start: int = 20) -> np.ndarray:
    x = np.arange(t)
    out = np.zeros(t)
    for _ in range(count):
        c, w = rng.uniform(start, t - 3), rng.uniform(3, 6)
        out = np.maximum(out, rng.uniform(*height) * np.exp(-0.5 * ((x - c) / w) ** 2))
    return out


def decoder_check(seed: int = 0, frames: int = 150) -> dict:
    """{(solve, channel): (r, slope)} for the round trip of a known jaw/funnel/pucker motion (head still)."""
    from anim3d.channels import INDEX
    from anim3d.data.importers.decoder import default_decoder
    from anim3d.data.importers.textured import default_portrait, render_textured, texture_coords, write_video
    from anim3d.data.importers.video import fit_landmarks
    from anim3d.motion import Motion
    from anim3d.tracking import track_video
    from anim3d.flame.open_head import load_open_head, motion_to_vertices

    rng = np.random.default_rng(seed)
    bs = np.zeros((frames, 52), np.float32)
    for name, height in (("jawOpen", (0.1, 0.5)), ("mouthFunnel", (0.2, 0.6)), ("mouthPucker", (0.2, 0.7))):
        bs[:, INDEX[name]] = _bumps(rng, frames, 5, height)
    known = Motion(bs, np.zeros((frames, 3), np.float32), np.zeros((frames, 3), np.float32), 30.0)
    head, portrait = load_open_head(), default_portrait()
    video = render_textured(head, motion_to_vertices(head, known).cpu().numpy(), portrait, texture_coords(head, portrait), size=256)
    with tempfile.TemporaryDirectory() as d:
        write_video(os.path.join(d, "known.mp4"), video, fps=30.0)
        tracking = track_video(os.path.join(d, "known.mp4"), progress=False)
    out = {}
    for solve, fit in (("least squares", fit_landmarks(tracking, head=head)),
                       ("decoder", fit_landmarks(tracking, head=head, decoder=default_decoder(head, portrait)))):
        got = fit.motion.blendshapes
        n = min(len(got), frames)
        for name in ("jawOpen", "mouthFunnel", "mouthPucker"):
            a, b = bs[:n, INDEX[name]], got[:n, INDEX[name]]
            r = float(np.corrcoef(a, b)[0, 1]) if b.std() > 0 else float("nan")
            out[(solve, name)] = (r, float(a @ b / (a @ a)))
    return out


def decoded_weights(path: str, seconds: float, cache: str) -> np.ndarray:
    """(T, 52) the video's ARKit weights from the shipped decoder, 30 fps; cached in ``cache``."""
    key = os.path.join(cache, f"{os.path.basename(path)}-{seconds:g}-decoded.npy")
    if not os.path.isfile(key):
        from anim3d.data.importers.decoder import default_decoder
        from anim3d.data.importers.video import video_motion

        fit = video_motion(path, max_frames=int(seconds * 30), progress=False, decoder=default_decoder())
        np.save(key, fit.motion.blendshapes)
    return np.load(key)


@contextlib.contextmanager
def funnel_share(share: float):
    """The teacher with ``share`` of its table's funnel kept as funnel (a calibration sweep: swaps the module's
    targets for the duration)."""
    from anim3d.teacher import visemes

    saved = visemes.T, visemes._TARGETS
    visemes.T = visemes.split_rounding(visemes._TABLE, share)
    visemes._TARGETS = {k: visemes._target_vector(k) for k in visemes.T}
    try:
        yield
    finally:
        visemes.T, visemes._TARGETS = saved


def rounding_report(clips, seconds: float, cache: str) -> None:
    """Print the three tables of the module docstring; ``clips`` as calibrate_teacher.main makes them."""
    from mouth_gap import frame_labels

    from anim3d.channels import INDEX
    from anim3d.teacher import phones_to_motion
    from anim3d.eval.metrics import lagged_pearson
    from anim3d.eval.mouth import mouth_opening

    print("round trip of a known jaw/funnel/pucker motion on the open head: r, slope (fitted / known)")
    for (solve, name), (r, slope) in decoder_check().items():
        print(f"  {solve:14s} {name:12s} r {r:6.3f}  slope {slope:5.2f}")

    names = [os.path.basename(c[0])[:14] for c in clips]
    table: dict[tuple[str, str], list[tuple[float, float] | None]] = {}  # (channel, phone) -> per clip (real, teacher)
    for path, real, fps, phones, av_lag, audio in clips:
        dec = decoded_weights(path, seconds, cache)
        n = min(len(real), len(dec))
        with funnel_share(1.0):  # the table as first written: the evidence for moving its funnel into pucker
            teacher = phones_to_motion(phones, n / fps, fps=fps, audio=audio, seed=0).blendshapes[:n]
        lab = frame_labels(phones, n, fps)
        lab_video = np.roll(lab, av_lag)  # the video frame t shows the mouth of audio frame t - lag
        for channel in ("mouthFunnel", "mouthPucker"):
            real_c = dec[:n, INDEX[channel]] - dec[:n, INDEX[channel]][lab_video == "SIL"].mean()
            for ph in ROUNDED_PHONES + OTHER_PHONES:
                ok_r, ok_t = lab_video == ph, lab == ph
                table.setdefault((channel, ph), []).append(
                    (float(real_c[ok_r].mean()), float(teacher[ok_t, INDEX[channel]].mean())) if ok_r.sum() >= 3 else None)
    for channel in ("mouthFunnel", "mouthPucker"):
        print(f"\n{channel} per phone: real (decoded, minus pauses) / teacher (share 1), per clip ({', '.join(names)})")
        for ph in ROUNDED_PHONES + OTHER_PHONES:
            cells = table[(channel, ph)]
            both = [c for c in cells if c is not None]
            below = sum(r < t for r, t in both)
            print(f"  {ph:3s} " + "  ".join("     -     " if c is None else f"{c[0]:5.2f}/{c[1]:4.2f}" for c in cells)
                  + f"   real below teacher in {below} of {len(both)}")

    print("\nteacher r with the real lip gap (seeds 0-3) by the share of the table's funnel kept as funnel:")
    for share in SHARES:
        with funnel_share(share):
            per_clip = [np.mean([lagged_pearson(mouth_opening(phones_to_motion(
                phones, len(real) / fps, fps=fps, audio=audio, seed=s))[0][: len(real)], real, av_lag) for s in range(4)])
                for _, real, fps, phones, av_lag, audio in clips]
        print(f"  share {share:4.2f}: " + " ".join(f"{x:.3f}" for x in per_clip) + f"   mean {np.mean(per_clip):.4f}")
