"""How far an emotion moves the talking-portrait video, next to real actors (``anim3d eval --sections expression``).

The same measurement as ``anim3d.eval.expression`` (features, real reference, ratio and monotonicity), on the
video ``anim3d render --portrait`` makes instead of the open head: a method's motion for each emotion and intensity
(head pose included, as the render command uses it) drives the evaldata portrait (``anim3d.render.pipeline``:
drive, warp, mouth painting, refinement network); every ``stride``-th frame is rendered and tracked with MediaPipe
(``track_image``, the pixels the MP4 encoder gets), averaged over frames, minus the neutral motion of the same
audio and seed. Next to it the driven landmarks themselves (``drive_landmarks``, the mesh the warp follows), so a
shortfall can be told apart: the drive asked for little, or the picture shows less than the drive asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anim3d.eval.expression import (FEATURES, INTENSITIES, MIN_Z, MONOTONE_TOL, PORTRAIT, TARGET_SHARE, Rendered,
                                   face_features, track_frames)


def video_features(renderer, motion, stride: int = 3) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Render every ``stride``-th frame of ``motion`` on ``renderer`` (a PortraitRenderer) and track it ->
    (mean FEATURES of the video's tracked frames, mean FEATURES of the driven landmarks of the same frames,
    frames tracked, frames tried)."""
    sub = motion[::stride]
    frames = list(renderer.frames(sub))  # each size x size x 3 uint8
    lms, ok = track_frames(frames)
    if not lms:
        return np.full(len(FEATURES), np.nan), np.full(len(FEATURES), np.nan), 0, len(frames)
    size = renderer.portrait.size
    driven = renderer.driven_landmarks(sub)[ok] / size  # T x 478 x 3, the tracker's normalised image units
    return face_features(np.stack(lms))[0].mean(0), face_features(driven)[0].mean(0), len(lms), len(frames)


def render_portrait_emotions(method, audios: list, portrait, *, emotions=None, intensities=INTENSITIES, seed: int = 0,
                             stride: int = 3, renderer=None, progress: bool = False) -> tuple[Rendered, Rendered]:
    """Animate ``method`` on each audio per emotion x intensity (and neutral), render the portrait video's every
    ``stride``-th frame and track it -> (video, driven) features, each an ``expression.Rendered``."""
    from anim3d.emotions import EMOTIONS

    if renderer is None:
        from anim3d.render.pipeline import PortraitRenderer

        renderer = PortraitRenderer(portrait)
    emotions = [e for e in (emotions or EMOTIONS) if e != "neutral"]
    jobs = [("neutral", 1.0)] + [(e, i) for e in emotions for i in intensities]
    video, driven = Rendered({}, {}, audios=len(audios)), Rendered({}, {}, audios=len(audios))
    for a, audio in enumerate(audios):
        for emo, inten in jobs:
            m = method.generate(audio, seed=seed, emotion=emo, intensity=inten)
            fv, fd, n, tried = video_features(renderer, m, stride)
            video.features[(a, emo, inten)], driven.features[(a, emo, inten)] = fv, fd
            video.weights[(a, emo, inten)] = driven.weights[(a, emo, inten)] = m.blendshapes.mean(0)
            video.tracked += n
            video.tried += tried
            if progress:
                print(f"  portrait video: audio {a + 1}/{len(audios)} {emo} {inten:g}: {n}/{tried} frames tracked", flush=True)
    return video, driven


def report_section(rep, cfg, videos: list[Path], methods, infos, ref=None) -> None:
    """The portrait video's table per emotion: real change, driven landmarks and video at intensity 1, video per
    intensity, ratio video / real, goal met, monotone."""
    from anim3d.emotions import EMOTIONS
    from anim3d.eval.expression import default_audios, evaldata_portrait, expression_rows, reference_or_note
    from anim3d.eval.report import fmt, table
    from anim3d.render.drive import EXPRESSION_GAINS

    rep.add("## Expression in the portrait video")
    controlled = [m for m in methods if "emotion" in m.controls]
    portrait = evaldata_portrait()
    if not controlled or portrait is None:
        rep.add("Not available: " + ("no method with an emotion control." if not controlled else
                                     f"the evaldata portrait ({PORTRAIT}) is absent."))
        return
    method = controlled[-1]
    audios = default_audios(videos, cfg.quick)
    stride = 6 if cfg.quick else 3
    if ref is None:
        ref = reference_or_note(videos, infos, progress=cfg.progress)
    video, driven = render_portrait_emotions(method, audios, portrait, seed=cfg.seed, stride=stride, progress=cfg.progress)
    rows = expression_rows(ref, video)
    counted = [r for r in rows if r["ratio"] is not None]
    rep.add(
        f"{method.name} animated {len(audios)} line(s) per emotion and intensity (seed {cfg.seed}), head pose included; "
        f"the evaldata portrait ({PORTRAIT}) rendered by the portrait pipeline (every {stride}th frame; "
        f"{video.tracked}/{video.tried} frames tracked by MediaPipe). Change against the neutral motion, inter-ocular "
        f"units; 'driven 1' is the change of the driven landmarks (the mesh the warp follows) at intensity 1. Real and "
        f"goal as in the open head's section: ratio (video at 1 / real) where |z| >= {MIN_Z:g}, goal {TARGET_SHARE:g}, "
        f"monotone within {MONOTONE_TOL:g}.",
        "Drive gains on the expression channels (anim3d.render.drive.EXPRESSION_GAINS): "
        + ", ".join(f"{k} {v:g}" for k, v in EXPRESSION_GAINS.items()) + ".",
        "Neutral video: " + ", ".join(f"{f} {n:+.3f}" for f, n in zip(FEATURES, video.neutral())) + ".",
    )
    body = []
    for r in rows:
        k = FEATURES.index(r["feature"])
        body.append([r["emotion"], r["feature"], fmt(r["real"]), "n/a" if r["z"] is None else f"{r['z']:+.1f}",
                     f"{driven.change(r['emotion'], INTENSITIES[-1])[k]:+.3f}", *[f"{x:+.3f}" for x in r["rendered"]],
                     fmt(r["ratio"], 2), "" if r["met"] is None else ("yes" if r["met"] else "no"),
                     "yes" if r["monotone"] else "no"])
    rep.add(table(["emotion", "feature", "real", "z", "driven 1", *[f"video {i:g}" for i in INTENSITIES], "ratio",
                   ">= goal", "monotone"], body),
            f"Ratios at the goal: {sum(r['met'] for r in counted)}/{len(counted)}; monotone: "
            f"{sum(r['monotone'] for r in rows)}/{len(rows)} ({len(EMOTIONS) - 1} emotions).")
