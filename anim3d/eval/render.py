"""The renderer's done-when measurements, by re-tracking rendered videos with MediaPipe.

    python -m anim3d.eval.render --portrait face.png --drive-video real.mp4 [--frames 240]

- lip sync: the driving Motion (solved from a real talking video, or any Motion NPZ) renders the
  portrait; the re-tracked inner-lip gap of the rendered video is correlated with the Motion's
  mouth opening (measured on the open head mesh, anim3d.eval.mouth);
- identity: RMS landmark distance (after a similarity alignment, over the inter-ocular distance)
  between the portrait and the re-tracked frames of a still (neutral) segment, and of the talking
  segment on the upper face; with the same measure between two different people for scale;
- jitter: mean frame-to-frame landmark motion (over the inter-ocular distance) of the re-tracked
  still segment, against the real videos' stillest 90-frame window measured the same way, and
  against the tracker's own floor on this face: the unchanged portrait crop repeated for the same
  number of frames and encoded the same way (the renderer's still frames are identical, so what
  the tracker reports beyond zero is its own noise on this face and the codec's).
Each number is given for the full renderer and the warp-only baseline of the same run (both with
the painted mouth interior, anim3d.render.mouth), and, with ``--variants``, for the same two
without the mouth painting (the renderer before it had one).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import tempfile

import numpy as np

from anim3d.motion import Motion
from anim3d.optional import require

MOUTH_AND_JAW_MIN_Y_FRACTION = 0.55  # landmarks below this fraction of eye->chin height count as mouth/jaw
STILL_WINDOW = 90
# variant name -> (warp only, paint the mouth interior)
VARIANTS = {"network": (False, True), "warp_only": (True, True),
            "network_unpainted": (False, False), "warp_only_unpainted": (True, False)}


def align_rms(a: np.ndarray, b: np.ndarray) -> float:
    """RMS distance of 2-D point sets after the best similarity of a onto b, over b's eye distance."""
    from anim3d.render.flow import similarity_2d

    m = similarity_2d(a, b)
    a2 = a @ m[:, :2].T + m[:, 2]
    iod = np.linalg.norm(b[263] - b[33]) if len(b) > 263 else 1.0
    return float(np.sqrt(((a2 - b) ** 2).sum(1).mean()) / iod)


def frame_jitter(lm: np.ndarray) -> np.ndarray:
    """T x N x 2 pixel landmarks -> T-1 mean frame-to-frame displacement over the eye distance."""
    iod = np.linalg.norm(lm[:, 263] - lm[:, 33], axis=-1).mean()
    return np.linalg.norm(np.diff(lm, axis=0), axis=-1).mean(-1) / iod


def stillest_window_jitter(lm: np.ndarray, window: int = STILL_WINDOW) -> float:
    j = frame_jitter(lm)
    if len(j) <= window:
        return float(j.mean())
    c = np.convolve(j, np.ones(window) / window, mode="valid")
    return float(c.min())


def retrack(path: str) -> np.ndarray:
    """Rendered video -> T x 478 x 2 pixel landmarks."""
    from anim3d.tracking import track_video

    tr = track_video(path, progress=False)
    return tr.landmarks[..., :2] * np.array(tr.size, np.float32), tr


def _upper_face(lm: np.ndarray) -> np.ndarray:
    eyes_y = lm[[33, 263], 1].mean()
    cut = eyes_y + MOUTH_AND_JAW_MIN_Y_FRACTION * (lm[152, 1] - eyes_y)
    return np.flatnonzero(lm[:468, 1] < cut)


def evaluate(portrait_path: str, drive: Motion, *, checkpoint: str | None = None, still_frames: int = 90, real_videos=(),
             variants=("network", "warp_only")) -> dict:
    from anim3d.eval.metrics import best_lag, pearson
    from anim3d.eval.mouth import mouth_opening as motion_mouth
    from anim3d.render.pipeline import DEFAULT_CHECKPOINT, PortraitRenderer, RenderSettings, render_video
    from anim3d.render.portrait import prepare_portrait
    from anim3d.tracking import mouth_opening as tracked_mouth

    if portrait_path == "astronaut":  # scikit-image's sample portrait, no file needed
        portrait = prepare_portrait(require("skimage.data", "the astronaut portrait").astronaut())
    else:
        portrait = prepare_portrait(portrait_path)
    ref = portrait.landmarks[:, :2]
    upper = _upper_face(ref)
    motion_open, source = motion_mouth(drive)
    still = Motion.neutral(still_frames, drive.fps)
    out = {"portrait": os.path.basename(portrait_path), "frames": drive.num_frames, "mouth_source": source}
    head = None
    for name in variants:
        warp_only, paint = VARIANTS[name]
        r = PortraitRenderer(portrait, head=head, checkpoint=checkpoint or DEFAULT_CHECKPOINT, warp_only=warp_only,
                             paint_mouth=paint)
        head = r.head
        res = {}
        with tempfile.TemporaryDirectory() as d:
            talk, calm = os.path.join(d, "talk.mp4"), os.path.join(d, "still.mp4")
            render_video(portrait, drive, talk, settings=RenderSettings(crf=18), renderer=r)
            render_video(portrait, still, calm, settings=RenderSettings(crf=18), renderer=r)
            lm_talk, tr_talk = retrack(talk)
            lm_still, _ = retrack(calm)
        gap = tracked_mouth(tr_talk.landmarks)
        n = min(len(gap), len(motion_open))
        res["mouth_corr"] = pearson(gap[:n], motion_open[:n])
        lag, corr = best_lag(gap[:n], motion_open[:n], max_lag=3)
        res["mouth_corr_best_lag"] = {"lag": int(lag), "corr": float(corr)}
        res["identity_still"] = float(np.mean([align_rms(f[:468], ref[:468]) for f in lm_still]))
        res["identity_talking_upper_face"] = float(np.mean([align_rms(f[upper], ref[upper]) for f in lm_talk]))
        res["jitter_still"] = float(frame_jitter(lm_still[:, :468]).mean())
        out[name] = res
    out["jitter_still_source_photo"] = source_photo_jitter(portrait, still_frames, drive.fps)
    if real_videos:
        from anim3d.tracking import track_video

        real = {}
        for v in real_videos:
            tr = track_video(v, progress=False)
            lm = tr.landmarks[..., :2] * np.array(tr.size, np.float32)
            real[os.path.basename(v)] = stillest_window_jitter(lm[:, :468])
        out["real_videos_stillest_window_jitter"] = real
    out["identity_between_two_people"] = two_people_distance()
    return out


def source_photo_jitter(portrait, frames: int, fps: float) -> float:
    """The tracker's jitter floor on this face: the portrait crop itself, repeated and encoded
    like the rendered videos."""
    from anim3d.render.pipeline import write_mp4

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "photo.mp4")
        write_mp4(path, (portrait.image for _ in range(frames)), fps, total=frames, crf=18, desc="encoding")
        lm, _ = retrack(path)
    return float(frame_jitter(lm[:, :468]).mean())


def two_people_distance() -> float:
    """The identity measure between two different people (skimage's astronaut and the evaldata
    Einstein portrait when present, else the astronaut and her mirror image): the scale for
    reading the identity numbers."""
    skimage_data = require("skimage.data", "the identity reference portrait")

    from anim3d.render.portrait import prepare_portrait

    a = prepare_portrait(skimage_data.astronaut()).landmarks[:468, :2]
    from anim3d.paths import evaldata_portrait

    einstein = str(evaldata_portrait())
    img = einstein if os.path.isfile(einstein) else skimage_data.astronaut()[:, ::-1].copy()
    b = prepare_portrait(img).landmarks[:468, :2]
    return align_rms(a, b)


def speech_motion(path: str) -> tuple[Motion, str]:
    """Speech -> Motion with the default motion model (seed 0), and its description."""
    from anim3d.audio import load_audio
    from anim3d.inference import animate

    return animate(load_audio(path), seed=0), f"anim3d.inference.animate({os.path.basename(path)})"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--portrait", required=True, help="a face photo, or 'astronaut' for scikit-image's sample")
    p.add_argument("--drive-video", help="a real talking video whose solved Motion drives the portrait")
    p.add_argument("--drive-motion", help="or a Motion .npz")
    p.add_argument("--drive-audio", help="or speech: animated by the default motion model, or the phone teacher without it")
    p.add_argument("--frames", type=int, default=240)
    p.add_argument("--checkpoint")
    p.add_argument("--variants", nargs="+", default=["network", "warp_only"], choices=list(VARIANTS))
    p.add_argument("--real-videos", nargs="*", default=None, help="videos for the jitter reference (default: evaldata videos)")
    a = p.parse_args(argv)
    source = a.drive_motion or a.drive_video
    if a.drive_motion:
        drive = Motion.load_npz(a.drive_motion)
    elif a.drive_audio:
        drive, source = speech_motion(a.drive_audio)
    else:
        from anim3d.data.importers.video import video_motion

        drive = video_motion(a.drive_video, max_frames=a.frames, progress=False).motion
    drive = drive[: a.frames]
    reals = a.real_videos
    if reals is None:
        from anim3d.paths import evaldata_dir

        reals = sorted(glob.glob(os.path.join(evaldata_dir(), "video", "*.mp4")))
    res = evaluate(a.portrait, drive, checkpoint=a.checkpoint, real_videos=reals, variants=a.variants)
    res["drive"] = source
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
