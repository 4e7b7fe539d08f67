"""Lip sync with the script: real clips whose words are known (a manifest's ``transcript`` column), animated from
the audio alone and with the script, scored against the tracked speaker.

Per clip and method: r at lag 0, at the clip's audio-video offset and at the best lag (as ``anim3d.eval.real``), and
the real bilabial closures the generated lips follow: of the script's p, b and m (aligned to the audio,
``anim3d.align``) on which the tracked lips close (the inner-lip gap below 2 mm, ``articulation.SHUT_BELOW``,
within +/- 1 frame of the phone's middle, at the clip's AV offset), the share on which the generated lips close
too (the open head's inner-lip gap below 2 mm, within +/- 1 frame of the phone's middle). Methods: the model from
the audio alone, the model with the script, and the teacher on the aligned script (what a rule-based tool given
the dialogue does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anim3d.eval import metrics as M
from anim3d.eval.articulation import SHUT_BELOW
from anim3d.eval.mouth import CLOSED_BELOW, mouth_opening
from anim3d.phones import BILABIALS

TOLERANCE = 1  # frames either side of a bilabial's middle frame
METHODS = ("model (audio only)", "model + script", "script + teacher")


@dataclass
class ScriptResult:
    clip: str
    method: str
    seed: int
    r: float  # lag 0
    r_av: float  # at the clip's AV offset
    r_best: float  # at the best lag within +/- MAX_LAG
    real_closures: int  # the script's bilabials on which the tracked lips close
    followed: int  # of those, the ones on which the generated lips close too
    aligned: bool  # the script aligned (False: its fit said it does not match; the model used the audio alone)


def closes(opening: np.ndarray, middle: int, below: float, tolerance: int = TOLERANCE) -> bool:
    """Whether ``opening`` (T,) falls below ``below`` within +/- ``tolerance`` frames of frame ``middle``."""
    lo, hi = max(0, middle - tolerance), min(len(opening), middle + tolerance + 1)
    return lo < hi and bool(np.min(opening[lo:hi]) < below)


def bilabial_follow(generated: np.ndarray, source: str, tracked: np.ndarray, phones, fps: float, av_lag: int) -> tuple[int, int]:
    """(real closures, followed): of ``phones``' bilabials (audio time) on which the ``tracked`` lips close (``av_lag``
    frames later in the video), how many the ``generated`` opening (audio time, ``source`` units) closes on."""
    real = followed = 0
    for p in phones:
        if p.label not in BILABIALS:
            continue
        mid = M.middle_frame(p.start, p.end, fps)
        if closes(tracked, mid + av_lag, SHUT_BELOW["tracked"]):
            real += 1
            followed += closes(generated, mid, CLOSED_BELOW[source])
    return real, followed


def score_script_clip(clip, text: str, language: str, gen, seeds=(0,)) -> list[ScriptResult]:
    """The three ``METHODS`` on one ``anim3d.eval.real.RealClip`` whose words are ``text``."""
    from anim3d.eval.real import MAX_LAG
    from anim3d.inference import animate
    from anim3d.script import read_script
    from anim3d.teacher import phones_to_motion

    fps, lag, rt = clip.track.fps, clip.offset.lag, clip.track
    script = read_script(text, language)
    phones = gen.features_and_rule_mouth(clip.audio, script=script)[2]
    out = []
    for seed in seeds:
        motions = {METHODS[0]: animate(clip.audio, checkpoint=gen, seed=seed),
                   METHODS[1]: animate(clip.audio, checkpoint=gen, seed=seed, text=text, language=language)}
        if phones is not None:
            motions[METHODS[2]] = phones_to_motion(phones, clip.audio.duration, fps=fps, audio=clip.audio, seed=seed)
        for name, motion in motions.items():
            motion = motion if abs(motion.fps - fps) < 1e-6 else motion.resample(fps)
            n = min(motion.num_frames, clip.frames)
            opening, source = mouth_opening(motion[:n])
            real = rt.mouth[:n]
            real_n, followed = bilabial_follow(opening, source, real, phones or [], fps, lag)
            out.append(ScriptResult(clip.name, name, seed, M.pearson(opening, real), M.lagged_pearson(opening, real, lag),
                                    M.best_lag(opening, real, MAX_LAG)[1], real_n, followed, phones is not None))
    return out


def summary(results: list[ScriptResult]) -> list[list]:
    """Per method: clips, mean r (lag 0, AV offset, best lag) over clips (seeds averaged first), real bilabial
    closures and the share the generated lips follow (pooled)."""
    rows = []
    for method in METHODS:
        rs = [r for r in results if r.method == method]
        if not rs:
            continue
        clips = sorted({r.clip for r in rs})

        def mean(attr):
            return float(np.mean([np.mean([getattr(r, attr) for r in rs if r.clip == c]) for c in clips]))

        real = sum(r.real_closures for r in rs)
        followed = sum(r.followed for r in rs)
        rows.append([method, len(clips), mean("r"), mean("r_av"), mean("r_best"), real, followed / real if real else float("nan")])
    return rows


def script_section(rep, clips, infos, gen, seeds=(0,), progress: bool = True) -> list[list]:
    """Add the "with the script" section to ``rep`` for the ``clips`` (RealClip) whose ``infos`` (clip stem ->
    ClipInfo) have a transcript; returns the summary rows."""
    from anim3d.eval.report import table
    from anim3d.progress import progress as bar

    known = [c for c in clips if infos.get(c.name) is not None and infos[c.name].transcript]
    rep.add("## Lip sync with the script", __doc__.split("\n\n", 1)[1].replace("\n", " "))
    if not known:
        rep.add("No clip's manifest row has a transcript: nothing to score with a script.")
        return []
    results = []
    for c in bar(known, desc="with the script", unit="clip") if progress else known:
        info = infos[c.name]
        language = (info.language or "en").split()[0].split("/")[0]
        results += score_script_clip(c, info.transcript, language, gen, seeds)
    rows = summary(results)
    rep.add(table(["method", "clips", "r lag 0", "r AV offset", "r best lag", "real bilabial closures",
                   "generated lips close on them"], rows))
    unaligned = sorted({r.clip for r in results if not r.aligned})
    if unaligned:
        rep.add(f"Scripts the aligner judged not to match their audio (animated from the audio alone): {', '.join(unaligned)}.")
    per_clip = [[r.clip, r.method, r.r_av, r.real_closures, r.followed] for r in results]
    rep.add("Per clip (seed " + str(seeds[0]) + " first):", table(["clip", "method", "r AV offset", "real closures", "followed"], per_clip))
    return rows
