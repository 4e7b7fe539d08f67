"""Speaker-held-out folds: every choice is scored on clips whose speakers it never saw.

A fold is a set of speaker groups (``manifest.ClipInfo.group``), never a set of clips: all clips
of one speaker are in the same fold. ``make_folds`` deals the groups, largest first, to the fold
with the fewest clips so far (ties: the lower fold), so the folds depend only on the groups.

A candidate is anything that turns training clips into a method (``Candidate.fit``): a fixed
candidate (a baseline, a checkpoint with given inference settings) ignores them; a fitted one
chooses something on them (``blend_share_candidate``: the teacher blend share with the best mean
r on the training clips). For each fold, every candidate is fitted on the clips of the other
folds and scored on the fold's clips; its result is the mean over folds of those held-out
scores (and, beside it, the mean over all clips, each scored once while held out).

The score of a clip is the Pearson r at the clip's audio-video offset (``real.ClipResult.r_av``),
averaged over the seeds for a stochastic method.

    python -m anim3d.eval.folds --videos DIR[,DIR...] [--manifest FILE] [--folds 5] [--model default]
        [--settings JSON] [--blend-grid 0,0.15,0.3,0.45,0.6] [--opening-shares 0.5,1] [--seeds 0] [--seconds S]
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from anim3d.errors import Anim3dError
from anim3d.eval.baselines import Method

BLEND_GRID = (0.0, 0.15, 0.3, 0.45, 0.6)


@dataclass
class Candidate:
    name: str
    fit: Callable[[list], Method]  # training clips (real.RealClip) -> the method scored on the held-out clips
    fitted: bool = False  # True: ``fit`` looks at the training clips


def fixed(method: Method) -> Candidate:
    """A candidate that is the same method whatever the training clips."""
    return Candidate(method.name, lambda train: method)


def make_folds(groups: dict[str, str], k: int) -> list[list[str]]:
    """Clip name -> speaker group  ->  k lists of clip names, each speaker's clips in one fold."""
    members: dict[str, list[str]] = {}
    for clip, g in sorted(groups.items()):
        members.setdefault(g, []).append(clip)
    if k < 2:
        raise Anim3dError(f"speaker-held-out folds need at least 2 folds, got {k}")
    if k > len(members):
        raise Anim3dError(f"{k} folds need at least {k} speakers; the clips have {len(members)}")
    folds: list[list[str]] = [[] for _ in range(k)]
    for g in sorted(members, key=lambda g: (-len(members[g]), g)):
        target = min(range(k), key=lambda i: (len(folds[i]), i))
        folds[target].extend(members[g])
    return folds


class Scorer:
    """r at the AV offset of a method on a clip, computed once per (method name, clip, seed)."""

    def __init__(self, clips: list, seeds=(0,), attr: str = "r_av"):
        self.clips = {c.name: c for c in clips}
        self.seeds = tuple(seeds)
        self.attr = attr
        self._memo: dict[tuple, float] = {}

    def remember(self, results) -> None:
        """Take the scores of ``real.ClipResult`` rows already computed (same clips, methods and seeds)."""
        for r in results:
            if r.clip in self.clips:
                self._memo[(r.method, r.clip, r.seed)] = getattr(r, self.attr)

    def clip_score(self, method: Method, clip: str) -> float:
        from anim3d.eval.real import score_motion

        c = self.clips[clip]
        values = []
        for s in self.seeds if method.stochastic else self.seeds[:1]:
            key = (method.name, clip, s)
            if key not in self._memo:
                motion = method.generate(c.audio, seed=s, fps=c.track.fps)
                self._memo[key] = getattr(score_motion(c.name, method.name, motion, c.track, c.offset.lag, seed=s), self.attr)
            values.append(self._memo[key])
        return float(np.mean(values))

    def mean(self, method: Method, clips: list[str]) -> float:
        return _finite_mean(self.clip_score(method, c) for c in clips)


def _finite_mean(values) -> float:
    v = np.array(list(values), dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


class BlendFamily:
    """The model with any teacher blend share: the model's own motion (share 0) and the rule-based
    mouth are generated once per clip and seed, then blended (``inference.mouth_blend``)."""

    def __init__(self, gen, label: str = "model"):
        self.gen = gen
        self.label = label
        self._parts: dict[tuple, tuple] = {}

    def parts(self, audio, seed: int):
        """(Motion with share 0, T x 52 rule-based mouth) of ``audio`` and ``seed``."""
        from anim3d.eval.cache import audio_hash
        from anim3d.inference import animate

        key = (audio_hash(audio), seed)
        if key not in self._parts:
            motion = animate(audio, checkpoint=self.gen, seed=seed, teacher_blend=0.0, opening_share=0.0)
            self._parts[key] = (motion, self.gen.features_and_rule_mouth(audio)[1])
        return self._parts[key]

    def method(self, share: float) -> Method:
        from anim3d.inference.mouth_blend import blend_mouth

        def generate(audio, seed: int = 0, fps: float = 30.0, **_):
            motion, rule = self.parts(audio, seed)
            out = motion.copy()
            out.blendshapes = blend_mouth(motion.blendshapes, rule, share)
            return out if abs(out.fps - fps) < 1e-6 else out.resample(fps)

        return Method(f"{self.label} (teacher blend {share:g})", generate, f"teacher blend share {share:g}", stochastic=True)


def blend_share_candidate(family: BlendFamily, scorer: Scorer, grid=BLEND_GRID) -> Candidate:
    """The teacher blend share with the highest mean score on the training clips (ties: the
    smaller share), scored on the held-out clips."""
    def fit(train) -> Method:
        names = [c.name for c in train]
        scores = {s: scorer.mean(family.method(s), names) for s in grid}
        best = max(grid, key=lambda s: (scores[s] if np.isfinite(scores[s]) else -np.inf, -s))
        m = family.method(best)
        m.description = "chosen on the training folds: " + ", ".join(f"{s:g} -> {v:.3f}" for s, v in scores.items())
        return m

    return Candidate(f"{family.label}: teacher blend chosen per fold from {', '.join(f'{s:g}' for s in grid)}", fit, True)


def opening_candidate(family, share: float) -> Candidate:
    """An opening net trained on each fold's training clips (``eval.opening.OpeningFamily``), used at ``share``."""
    return Candidate(f"{family.label} + opening learnt on the other folds (share {share:g})",
                     lambda train: family.method(family.net(train), share), True)


@dataclass
class FoldResult:
    fold: int
    groups: list[str]
    clips: list[str]
    scores: dict[str, float] = field(default_factory=dict)  # candidate -> mean score on the held-out clips
    clip_scores: dict[str, dict] = field(default_factory=dict)  # candidate -> held-out clip -> score
    chosen: dict[str, str] = field(default_factory=dict)  # fitted candidate -> what it chose (method name)
    notes: dict[str, str] = field(default_factory=dict)  # fitted candidate -> the training scores behind it


def run_folds(clips: list, groups: dict[str, str], candidates: list[Candidate], k: int, scorer: Scorer,
              progress: bool = True) -> list[FoldResult]:
    """Fit each candidate on the other folds' clips and score it on each fold's clips."""
    from anim3d.progress import progress as bar

    by_name = {c.name: c for c in clips}
    folds = make_folds({c.name: groups[c.name] for c in clips}, k)
    out = []
    for i, held in enumerate(bar(folds, desc="held-out folds", unit="fold") if progress else folds):
        train = [by_name[n] for f in folds if f is not held for n in f]
        res = FoldResult(i, sorted({groups[n] for n in held}), list(held))
        for cand in candidates:
            method = cand.fit(train)
            res.clip_scores[cand.name] = {c: scorer.clip_score(method, c) for c in held}
            res.scores[cand.name] = _finite_mean(res.clip_scores[cand.name].values())
            if cand.fitted:
                res.chosen[cand.name] = method.name
                res.notes[cand.name] = method.description
        out.append(res)
    return out


def fold_summary(results: list[FoldResult]) -> dict[str, dict]:
    """Candidate -> {"mean": mean over folds, "sd": spread over folds, "min"/"max" over folds,
    "clips": mean over all clips, each scored while its fold was held out}."""
    out = {}
    for name in results[0].scores:
        v = np.array([r.scores[name] for r in results])
        out[name] = {"mean": float(np.nanmean(v)), "sd": float(np.nanstd(v)), "min": float(np.nanmin(v)),
                     "max": float(np.nanmax(v)),
                     "clips": _finite_mean(x for r in results for x in r.clip_scores[name].values())}
    return out


def settings_method(gen, overrides: dict, label: str = "model") -> Method:
    """The model with ``overrides`` (InferenceConfig fields) replacing its inference settings."""
    from anim3d.inference import animate
    from anim3d.models.config import InferenceConfig

    try:
        inference = InferenceConfig.from_dict({**gen.inference.to_dict(), **overrides})
    except (TypeError, ValueError) as e:
        raise Anim3dError(f"--settings: {e}") from None

    def generate(audio, seed: int = 0, fps: float = 30.0, **controls):
        base, gen.inference = gen.inference, inference
        try:
            m = animate(audio, checkpoint=gen, seed=seed, **controls)
        finally:
            gen.inference = base
        return m if abs(m.fps - fps) < 1e-6 else m.resample(fps)

    name = f"{label} {json.dumps(overrides, sort_keys=True)}" if overrides else label
    return Method(name, generate, f"inference settings {overrides or 'of the checkpoint'}", stochastic=True)


def parse_settings(text: str) -> list[dict]:
    """A JSON list of objects (InferenceConfig overrides), or one clear error."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise Anim3dError(f"--settings is not JSON ({e.msg} at character {e.pos})") from None
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise Anim3dError("--settings must be a JSON list of objects, e.g. '[{}, {\"teacher_blend\": 0}]'")
    return value


def parse_grid(text: str, option: str = "--blend-grid") -> tuple[float, ...]:
    """'0,0.15,0.3' -> shares, each in [0, 1], or one clear error naming ``option``."""
    try:
        grid = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise Anim3dError(f"{option} must be comma-separated numbers, got {text!r}") from None
    if not grid or not all(0.0 <= s <= 1.0 for s in grid):
        raise Anim3dError(f"{option} needs shares in [0, 1], got {text!r}")
    return grid


def protocol_candidates(model: str | None, scorer: Scorer, *, settings=({},), grid=BLEND_GRID, device: str = "cpu",
                        baselines: bool = True, opening_shares=None) -> list[Candidate]:
    """The baselines and, unless ``model`` is None, ``model_candidates``."""
    from anim3d.eval.baselines import available_methods

    cands = [fixed(m) for m in available_methods(None)] if baselines else []
    if model is not None:
        from anim3d.inference import load_model

        gen = load_model(None if model == "default" else model, device)
        cands += model_candidates(gen, scorer, settings=settings, grid=grid, opening_shares=opening_shares)
    return cands


def model_candidates(gen, scorer: Scorer, *, settings=({},), grid=BLEND_GRID, opening_shares=None) -> list[Candidate]:
    """The model with each of ``settings`` (fixed), the teacher blend share chosen per fold from ``grid`` (fitted;
    none when ``grid`` is empty) and, for each of ``opening_shares``, the model with an opening net trained on the
    other folds (``anim3d.eval.opening``; None: the checkpoint's own share, when it has a learned opening).

    The checkpoint's own learned opening was trained on real clips, maybe these: the fixed candidates and the
    blend shares go without it (opening share 0) unless ``settings`` asks for it."""
    cands = [fixed(settings_method(gen, {"opening_share": 0.0, **s})) for s in settings]
    if grid:
        cands.append(blend_share_candidate(BlendFamily(gen), scorer, grid))
    if opening_shares is None:
        opening_shares = (gen.inference.opening_share,) if gen.opening is not None and gen.inference.opening_share > 0 else ()
    if opening_shares:
        from anim3d.eval.opening import OpeningFamily

        family = OpeningFamily(gen)
        cands += [opening_candidate(family, s) for s in opening_shares]
    return cands


def print_folds(results: list[FoldResult], summary: dict) -> None:
    """The per-fold scores, what fitted candidates chose, and the mean over folds."""
    names = list(summary)
    for r in results:
        groups = ", ".join(r.groups[:6]) + (f" and {len(r.groups) - 6} more" if len(r.groups) > 6 else "")
        print(f"fold {r.fold + 1}: {len(r.clips)} clips of {len(r.groups)} speakers ({groups})")
        for n in names:
            chosen = f"  [chose {r.chosen[n]}; {r.notes[n]}]" if n in r.chosen else ""
            print(f"    {r.scores[n]:+.3f}  {n}{chosen}")
    print("held out (mean over folds of the mean r at the AV offset on clips whose speakers the candidate never saw):")
    for n in names:
        s = summary[n]
        print(f"    {s['mean']:+.3f} (sd over folds {s['sd']:.3f}, {s['min']:+.3f}..{s['max']:+.3f}; "
              f"mean over clips {s['clips']:+.3f})  {n}")


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    from anim3d.errors import Anim3dError as Error
    from anim3d.eval.manifest import clip_infos, load_manifests
    from anim3d.eval.real import find_videos_in, load_clips

    ap = argparse.ArgumentParser(prog="python -m anim3d.eval.folds", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", required=True, help="comma-separated folders of talking-face videos")
    ap.add_argument("--manifest", action="append", default=[], help="clip manifest (TSV; default: each folder's own)")
    ap.add_argument("--folds", type=int, default=5, help="number of speaker-held-out folds (default 5)")
    ap.add_argument("--model", default="default", help="checkpoint folder, 'default', or 'none' (baselines only)")
    ap.add_argument("--settings", default="[{}]", help="JSON list of InferenceConfig overrides, one fixed candidate each")
    ap.add_argument("--blend-grid", default=",".join(f"{s:g}" for s in BLEND_GRID),
                    help="teacher blend shares the fitted candidate chooses from ('' for none)")
    ap.add_argument("--opening-shares", default="",
                    help="comma-separated shares of an opening net trained on each fold's other folds, one candidate each "
                         "(e.g. 0.5,1; default: the checkpoint's share when it has a learned opening)")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds of the stochastic methods (default 0)")
    ap.add_argument("--seconds", type=float, default=None, help="use only the first S seconds of each clip")
    ap.add_argument("--no-baselines", action="store_true", help="leave out loudness and phones+teacher")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    from anim3d import progress

    progress.set_enabled(not args.quiet)
    try:
        settings = parse_settings(args.settings)
        grid = parse_grid(args.blend_grid, "--blend-grid") if args.blend_grid.strip() else ()
        opening_shares = parse_grid(args.opening_shares, "--opening-shares") if args.opening_shares.strip() else None
        try:
            seeds = [int(s) for s in args.seeds.split(",")]
        except ValueError:
            raise Error(f"--seeds must be comma-separated whole numbers, got {args.seeds!r}") from None
        folders = [f for f in args.videos.split(",") if f.strip()]
        videos = find_videos_in(folders)
        infos = clip_infos(videos, load_manifests(folders, args.manifest))
        skipped: dict = {}
        clips = load_clips(videos, max_seconds=args.seconds, progress=not args.quiet, skipped=skipped)
        for name, why in skipped.items():
            print(f"skipped {name}: {why}", file=sys.stderr)
        scorer = Scorer(clips, seeds)
        model = None if args.model.lower() == "none" else args.model
        cands = protocol_candidates(model, scorer, settings=settings, grid=grid, baselines=not args.no_baselines,
                                    opening_shares=opening_shares)
        groups = {c.name: infos[c.name].group for c in clips}
        print(f"{len(clips)} clips, {len(set(groups.values()))} speakers, {args.folds} folds by speaker group; seeds {seeds}")
        results = run_folds(clips, groups, cands, args.folds, scorer, progress=not args.quiet)
    except Error as e:
        print(f"python -m anim3d.eval.folds: error: {e}", file=sys.stderr)
        return 2
    print_folds(results, fold_summary(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
