"""Issue #28: does the portrait video show an emotion as far as the open head and the real actors do?

Question: ``anim3d render --portrait`` drives a photo with the open head's landmark deltas (anim3d.render.drive), warps
it and refines it. Does the re-tracked video move the five expression features (anim3d.eval.expression) as far as the
driven landmarks and the re-tracked open head do, per emotion and intensity, and where is amplitude lost?

    .venv/bin/python research/portrait_expression.py [--portrait PHOTO_OR_VIDEO[:FRAME]] [--seconds 8] [--stride 3]
        [--head] [--emotions happy,sad,...] [--quick] [--no-gains]

A video as the portrait takes its frame FRAME (default 0), e.g. ../shared/realvideo/clips/spectre_W015_level_1_neutral_030.mp4.
Prints per emotion and feature: real (MEAD, as the eval), open head at 1 (with --head), driven at 1, video per
intensity, video/real and video/head at 1, monotone. Results: research/portrait_expression.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def portrait_of(spec: str):
    from anim3d.render.portrait import prepare_portrait

    path, _, idx = spec.partition(":") if spec.lower().split(".")[-1].split(":")[0] in ("mp4", "mov", "mpg") else (spec, "", "")
    if not path.lower().endswith((".mp4", ".mov", ".mpg")):
        return prepare_portrait(spec)
    import av

    with av.open(path) as c:
        for k, f in enumerate(c.decode(video=0)):
            if k == int(idx or 0):
                return prepare_portrait(f.to_ndarray(format="rgb24"), source=path)
    raise SystemExit(f"{path}: no frame {idx}")


def main() -> None:
    import torch

    torch.set_num_threads(1)
    from anim3d.eval.baselines import model_method
    from anim3d.eval.expression import FEATURES, INTENSITIES, default_audios, monotone, real_reference, render_emotions
    from anim3d.eval.expression_video import render_portrait_emotions
    from anim3d.eval.manifest import clip_infos, load_manifests
    from anim3d.eval.real import find_videos_in
    from anim3d.paths import evaldata_dir
    from anim3d.render.drive import EXPRESSION_GAINS

    ap = argparse.ArgumentParser()
    ap.add_argument("--portrait", default=str(evaldata_dir() / "image" / "C6_anitalker_Einstein.png"))
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--stride", type=int, default=3)
    ap.add_argument("--head", action="store_true")
    ap.add_argument("--quick", action="store_true", help="one audio")
    ap.add_argument("--no-gains", action="store_true", help="the drive without anim3d.render.drive.EXPRESSION_GAINS")
    ap.add_argument("--emotions", default="happy,sad,surprised,disgusted,angry")
    a = ap.parse_args()
    t0 = time.time()
    real_dirs = ["../shared/realvideo/clips", str(evaldata_dir() / "video")]
    videos = find_videos_in(real_dirs)
    ref = real_reference(videos, clip_infos(videos, load_manifests(real_dirs)))
    method = model_method()
    audios = default_audios(videos, a.quick, a.seconds)
    emotions = a.emotions.split(",")
    from anim3d.render.pipeline import PortraitRenderer

    portrait = portrait_of(a.portrait)
    renderer = PortraitRenderer(portrait, gains={} if a.no_gains else None)
    video, driven = render_portrait_emotions(method, audios, portrait, emotions=emotions, stride=a.stride, renderer=renderer)
    head = render_emotions(method, audios, emotions=emotions, stride=a.stride) if a.head else None
    print(f"portrait {a.portrait} ({'no gains' if a.no_gains else 'gains ' + str(EXPRESSION_GAINS)}); {len(audios)} audio(s) of <= {a.seconds:g} s, every {a.stride}th frame; video "
          f"{video.tracked}/{video.tried} frames tracked; {time.time() - t0:.0f} s")
    print("neutral video " + " ".join(f"{f} {x:+.3f}" for f, x in zip(FEATURES, video.neutral())))
    print(f"{'emotion':10s} {'feature':9s} {'real':>7s} {'z':>5s} {'head1':>7s} {'driven1':>7s} "
          + " ".join(f"{'vid' + format(i, 'g'):>7s}" for i in INTENSITIES) + f" {'v/real':>7s} {'v/head':>7s} mono")
    for emo in emotions:
        real = ref.change(emo)
        ch = [video.change(emo, i) for i in INTENSITIES]
        d1 = driven.change(emo, 1.0)
        h1 = head.change(emo, 1.0) if head else None
        for k, f in enumerate(FEATURES):
            r = None if real is None else real[k]
            z = None if r is None else r / ref.sd[k]
            cnt = z is not None and abs(z) >= 1
            print(f"{emo:10s} {f:9s} {'n/a' if r is None else format(r, '+.3f'):>7s} {'' if z is None else format(z, '+.1f'):>5s} "
                  f"{'' if h1 is None else format(h1[k], '+.3f'):>7s} {d1[k]:+7.3f} " + " ".join(f"{c[k]:+7.3f}" for c in ch)
                  + f" {format(ch[-1][k] / r, '+.2f') if cnt else '':>7s} {format(ch[-1][k] / h1[k], '+.2f') if h1 is not None and abs(h1[k]) > 0.01 else '':>7s}"
                  + f" {'yes' if monotone([c[k] for c in ch]) else 'NO'}")


if __name__ == "__main__":
    main()
