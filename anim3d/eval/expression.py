"""How far an emotion moves the rendered open head, next to real actors (``anim3d eval --sections expression``).

Every face, rendered or filmed, is tracked with MediaPipe (``anim3d.tracking``), turned to face the camera
(``frontal_frame``: roll and yaw removed, pitch kept) and measured in inter-ocular distances (outer eye corners
33-263, 3D), Y up (``face_features``):

- corner: mouth-corner height, mean y of 61/291 minus the mid lip line (mean y of 13/14); + = up (smile);
- width: mouth width |61-291|;
- brow: mean y of BROW_L + BROW_R above the eye line (mean y of the eye corners 33/133/362/263);
- eye: eye opening, mean of y159-y145 and y386-y374;
- nose_lip: |2-0|, subnasale to the top of the upper lip.

Rendered: a method's motion for each emotion and intensity (``INTENSITIES``) on a few audios, the open head
rendered from the blendshapes alone (no head pose, ``flame.preview``), every ``stride``-th frame tracked
(``track_image``), averaged over frames; the change is the emotion minus the neutral motion of the same audio
and seed. Real: the acted MEAD clips among the videos (labels from their file names, the highest level of each
emotion) against a neutral population: every other tier-A clip (first 10 s), averaged per speaker group
(manifest ``speaker_group``). The real change is the emotional clip minus the population mean, so it carries
the actor's identity (about one population sd); ``z`` is it over the population's spread, and a ratio
rendered / real is only shown where |z| >= 1.

Teacher: fear and contempt have no acted clip. For them the reference is the teacher's shapes for the emotion
(``anim3d.teacher.emotion.emotion_vector`` at intensity 1) added to the neutral motion's frames, rendered and
tracked the same way: the change the teacher's emotion alone gives the head, where it is at least ``TEACHER_MIN``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from anim3d.landmarks import BROW_L, BROW_R

FEATURES = ("corner", "width", "brow", "eye", "nose_lip")
FEATURE_TEXT = {"corner": "mouth-corner height above the mid lip line", "width": "mouth width 61-291",
                "brow": "brow height above the eye line", "eye": "eye opening (159-145, 386-374)",
                "nose_lip": "subnasale (2) to upper lip top (0)"}
INTENSITIES = (0.33, 0.67, 1.0)
REFERENCED = ("happy", "sad", "surprised", "disgusted", "angry")  # emotions the MEAD clips show
TARGET_SHARE = 0.8  # the rendered change at intensity 1 should reach this share of the real one
MIN_Z = 1.0  # a real change counts where it is at least one population sd
MONOTONE_TOL = 0.002  # inter-ocular units: the rendered noise floor (neutral seed 1 minus seed 0)
TEACHER_EMOTIONS = ("fear", "contempt")  # emotions without an acted clip: measured against the teacher's shapes
TEACHER_MIN = 0.01  # inter-ocular units: a teacher change counts where at least this (5x the noise floor)
TEACHER_SHARE = 1.0  # fear and contempt should move at least as far as the teacher's shapes for them
MAX_FRAMES = 250  # frames of each real clip (10 s at 25 fps)
LANDMARKS_VERSION = 1
_LABEL = re.compile(r"(?:level_(\d)_)?(neutral|happy|sad|surprised|fear|disgusted|angry|contempt)(?:_(\d))?", re.IGNORECASE)


def face_features(landmarks: np.ndarray, aspect: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """T x 478 x 3 MediaPipe landmarks -> (T x 5 features in FEATURES order, T inner-lip gap), inter-ocular units."""
    from anim3d.tracking import frontal_frame, to_metric_image

    out, gaps = [], []
    brow = list(BROW_L) + list(BROW_R)
    for q in to_metric_image(np.asarray(landmarks), aspect):
        q = q @ frontal_frame(q).T  # the face's own axes: X to its left, Y up, Z to the camera
        iod = np.linalg.norm(q[263] - q[33])
        y = q[:, 1] / iod
        lip = 0.5 * (y[13] + y[14])
        out.append([0.5 * (y[61] + y[291]) - lip, np.linalg.norm(q[61] - q[291]) / iod,
                    y[brow].mean() - y[[33, 133, 362, 263]].mean(), 0.5 * ((y[159] - y[145]) + (y[386] - y[374])),
                    np.linalg.norm(q[2] - q[0]) / iod])
        gaps.append(y[13] - y[14])
    return np.array(out).reshape(-1, len(FEATURES)), np.array(gaps)


def acted_label(name: str) -> tuple[str, int] | None:
    """(emotion, level) of an acted-emotion clip named like MEAD's (``..._level_3_happy_007``,
    ``EAMM_M030_sad_3_001``), else None. Level 0 when the name gives none."""
    stem = Path(name).stem
    if "level_" not in stem and not stem.upper().startswith("EAMM"):
        return None
    m = _LABEL.search(stem)
    if m is None:
        return None
    level = m.group(1) or m.group(3) or "0"
    return m.group(2).lower(), int(level)


# ------------------------------------------------------------------ real clips


def tracked_landmarks(path: str | os.PathLike, max_frames: int = MAX_FRAMES, progress: bool = False):
    """(landmarks of the tracked frames T x 478 x 3, aspect W/H, share of frames tracked) of the video's first
    ``max_frames`` frames, cached in ``$ANIM3D_CACHE/landmarks`` by content."""
    from anim3d.eval.cache import cache_root, file_hash
    from anim3d.fileio import atomic_output

    cache = cache_root() / "landmarks" / f"{file_hash(path)}-n{max_frames}-v{LANDMARKS_VERSION}.npz"
    try:
        with np.load(cache) as z:
            return z["landmarks"], float(z["aspect"]), float(z["valid"])
    except (OSError, KeyError, ValueError):
        pass  # absent or damaged: track again
    from anim3d.tracking import track_video

    tr = track_video(path, max_frames=max_frames, progress=progress)
    lm, aspect, valid = tr.landmarks[tr.valid].astype(np.float32), float(tr.aspect), float(np.mean(tr.valid))
    cache.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(cache) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, landmarks=lm, aspect=aspect, valid=valid)
    return lm, aspect, valid


@dataclass
class Reference:
    """The real side: the neutral population and the acted clips' features (FEATURES order)."""

    mean: np.ndarray  # 5, mean over speaker groups of the neutral clips
    sd: np.ndarray  # 5, spread over the groups
    groups: dict[str, np.ndarray]  # speaker group -> its neutral clips' mean features
    acted: dict[str, list[tuple[str, int, np.ndarray]]]  # emotion -> [(clip, level, features)]
    notes: list[str] = field(default_factory=list)

    def change(self, emotion: str) -> np.ndarray | None:
        """5: the emotion's clips (mean) minus the neutral population, or None without a clip."""
        clips = self.acted.get(emotion)
        return None if not clips else np.mean([f for _, _, f in clips], 0) - self.mean


def real_reference(videos: list[Path], infos: dict, progress: bool = False) -> Reference:
    """Track (cached) the acted clips among ``videos`` (the highest level of each emotion) and the tier-A others
    (the neutral population, by ``infos[stem].group``). Clips tracked in under 90 % of frames are left out."""
    acted: dict[str, list] = {}
    best: dict[str, int] = {}
    for v in videos:
        lab = acted_label(v.name)
        if lab is not None and lab[0] != "neutral":
            best[lab[0]] = max(best.get(lab[0], -1), lab[1])
    by_group: dict[str, list] = {}
    notes = []
    for v in videos:
        info = infos.get(v.stem)
        lab = acted_label(v.name)
        if lab is not None and lab[0] != "neutral" and lab[1] != best[lab[0]]:
            continue
        if lab is None and info is not None and info.tier not in ("", "A"):
            continue
        try:
            lm, aspect, valid = tracked_landmarks(v, progress=progress)
        except Exception as e:  # noqa: BLE001  (a clip the tracker refuses is reported and left out)
            notes.append(f"{v.name}: not tracked ({type(e).__name__}: {e})")
            continue
        if valid < 0.9 or len(lm) == 0:
            notes.append(f"{v.name}: face in {valid:.0%} of frames, left out")
            continue
        feats = face_features(lm, aspect)[0].mean(0)
        if lab is not None and lab[0] != "neutral":
            acted.setdefault(lab[0], []).append((v.name, lab[1], feats))
        else:
            group = info.group if info is not None else v.stem
            by_group.setdefault(group, []).append(feats)
    groups = {g: np.mean(f, 0) for g, f in by_group.items()}
    if len(groups) < 3:
        from anim3d.errors import Anim3dError

        raise Anim3dError(f"need neutral clips of at least 3 speakers for the population, found {len(groups)}")
    pop = np.array(list(groups.values()))
    return Reference(pop.mean(0), pop.std(0, ddof=1), groups, acted, notes)


# ------------------------------------------------------------------ rendered open head


def track_frames(images) -> tuple[list[np.ndarray], list[int]]:
    """MediaPipe on each rendered image -> (the landmarks, 478 x 3 each, of the frames it finds a face in, their
    indices); a frame the tracker misses is skipped (the caller counts it)."""
    from anim3d.tracking import track_image

    lms, ok = [], []
    for i, img in enumerate(images):
        try:
            lms.append(track_image(img))
        except Exception:  # noqa: BLE001  (a frame the tracker misses is counted and skipped)
            continue
        ok.append(i)
    return lms, ok


def render_features(head, blendshapes: np.ndarray, size: int = 512) -> tuple[np.ndarray, int]:
    """T x 52 weights on ``head`` (no head pose) -> (mean FEATURES over the tracked frames, frames tracked)."""
    from anim3d.flame.preview import render_previews

    lms, _ = track_frames(render_previews(head, {"blendshapes": np.asarray(blendshapes, np.float32)}, size=size))
    if not lms:
        return np.full(len(FEATURES), np.nan), 0
    return face_features(np.stack(lms))[0].mean(0), len(lms)


@dataclass
class Rendered:
    """The open head's features per (audio, emotion, intensity) and what it took."""

    features: dict[tuple[int, str, float], np.ndarray]  # neutral under intensity 1.0
    weights: dict[tuple[int, str, float], np.ndarray]  # the motions' mean weights (52)
    tracked: int = 0
    tried: int = 0
    audios: int = 0

    def change(self, emotion: str, intensity: float) -> np.ndarray:
        """5: emotion minus neutral, mean over the audios."""
        return np.mean([self.features[(a, emotion, intensity)] - self.features[(a, "neutral", 1.0)]
                        for a in range(self.audios)], 0)

    def neutral(self) -> np.ndarray:
        return np.mean([self.features[(a, "neutral", 1.0)] for a in range(self.audios)], 0)

    def teacher_change(self, emotion: str) -> np.ndarray | None:
        """5: the teacher's shapes for ``emotion`` on the neutral motion minus the neutral motion (mean over the
        audios), or None where they were not rendered."""
        if any((a, teacher_key(emotion), 1.0) not in self.features for a in range(self.audios)) or not self.audios:
            return None
        return np.mean([self.features[(a, teacher_key(emotion), 1.0)] - self.features[(a, "neutral", 1.0)]
                        for a in range(self.audios)], 0)


def teacher_key(emotion: str) -> str:
    return f"teacher:{emotion}"


def render_emotions(method, audios: list, head=None, emotions=None, intensities=INTENSITIES, seed: int = 0,
                    stride: int = 3, progress: bool = False, teacher=TEACHER_EMOTIONS) -> Rendered:
    """Animate ``method`` (an eval Method with an emotion control) on each audio per emotion x intensity (and
    neutral), render every ``stride``-th frame of the open head and track it. For each of ``teacher``, the neutral
    motion's frames with the teacher's shapes for it added (intensity 1) are rendered and tracked too."""
    from anim3d.emotions import EMOTIONS
    from anim3d.flame.open_head import load_open_head
    from anim3d.teacher.emotion import emotion_vector

    head = head or load_open_head()
    emotions = [e for e in (emotions or EMOTIONS) if e != "neutral"]
    jobs = [("neutral", 1.0)] + [(e, i) for e in emotions for i in intensities]
    out = Rendered({}, {}, audios=len(audios))
    for a, audio in enumerate(audios):
        for emo, inten in jobs:
            m = method.generate(audio, seed=seed, emotion=emo, intensity=inten)
            bs = m.blendshapes[::stride]
            feats, n = render_features(head, bs)
            out.features[(a, emo, inten)] = feats
            out.weights[(a, emo, inten)] = m.blendshapes.mean(0)
            out.tracked += n
            out.tried += len(bs)
            if progress:
                print(f"  expression: audio {a + 1}/{len(audios)} {emo} {inten:g}: {n}/{len(bs)} frames tracked", flush=True)
            if emo != "neutral":
                continue
            for t in teacher:  # T x 52: the neutral frames plus the teacher's shapes
                tb = np.clip(bs + emotion_vector(t, 1.0)[None], 0.0, 1.0)
                out.features[(a, teacher_key(t), 1.0)], n = render_features(head, tb)
                out.tracked += n
                out.tried += len(tb)
    return out


def monotone(values: list[float], tol: float = MONOTONE_TOL) -> bool:
    """Changes at rising intensities move the way of the last one: no step back by more than ``tol``."""
    v = np.asarray(values, np.float64)
    sign = np.sign(v[-1]) or 1.0
    steps = np.diff(np.concatenate([[0.0], v])) * sign
    return bool((steps >= -tol).all())


def expression_rows(ref: Reference | None, rendered: Rendered, intensities=INTENSITIES) -> list[dict]:
    """One row per (emotion, feature): real change, z, rendered changes per intensity, ratio at 1, target met,
    monotone; and the teacher's change with the ratio against it (where rendered, and at least TEACHER_MIN)."""
    from anim3d.emotions import EMOTIONS

    rows = []
    for emo in EMOTIONS[1:]:
        real = ref.change(emo) if ref is not None else None
        teach = rendered.teacher_change(emo)
        ch = [rendered.change(emo, i) for i in intensities]
        for k, feat in enumerate(FEATURES):
            r = None if real is None or not np.isfinite(real[k]) else float(real[k])
            z = None if r is None or not ref.sd[k] > 0 else r / float(ref.sd[k])
            counts = z is not None and abs(z) >= MIN_Z
            ratio = float(ch[-1][k] / r) if counts else None
            t = None if teach is None else float(teach[k])
            t_ratio = float(ch[-1][k] / t) if t is not None and abs(t) >= TEACHER_MIN else None
            rows.append({"emotion": emo, "feature": feat, "real": r, "z": z, "rendered": [float(c[k]) for c in ch],
                         "ratio": ratio, "met": bool(ratio >= TARGET_SHARE) if ratio is not None else None,
                         "monotone": monotone([c[k] for c in ch]), "teacher": t, "teacher_ratio": t_ratio,
                         "teacher_met": bool(t_ratio >= TEACHER_SHARE) if t_ratio is not None else None})
    return rows


# ------------------------------------------------------------------ contact sheet and report


def expression_weights(rendered: Rendered, emotion: str, intensity: float) -> np.ndarray:
    """52: the emotion's mean weight change against neutral (mean over the audios), negative changes dropped:
    the expression without the speech."""
    if emotion == "neutral":
        return np.zeros(52, np.float32)
    d = np.mean([rendered.weights[(a, emotion, intensity)] - rendered.weights[(a, "neutral", 1.0)]
                 for a in range(rendered.audios)], 0)
    return np.clip(d, 0.0, None).astype(np.float32)


def contact_sheet(head, rendered: Rendered, path, intensities=INTENSITIES, cell: int = 256) -> None:
    """A PNG of the open head, one column per emotion, one row per intensity (``expression_weights``)."""
    from PIL import Image, ImageDraw

    from anim3d.emotions import EMOTIONS
    from anim3d.fileio import atomic_output
    from anim3d.flame.open_head import motion_to_vertices
    from anim3d.flame.preview import default_camera, render_previews

    cam = default_camera(head, margin=1.15 / 1.9)
    w = np.stack([expression_weights(rendered, e, i) for i in intensities for e in EMOTIONS])
    imgs = render_previews(head, motion_to_vertices(head, w), size=cell, camera=cam)
    rows = []
    for r, inten in enumerate(intensities):
        tiles = []
        for c, emo in enumerate(EMOTIONS):
            im = Image.fromarray(imgs[r * len(EMOTIONS) + c])
            ImageDraw.Draw(im).text((6, 4), f"{emo} {inten:g}", fill=(255, 255, 255))
            tiles.append(np.asarray(im))
        rows.append(np.concatenate(tiles, 1))
    with atomic_output(path) as tmp:
        Image.fromarray(np.concatenate(rows, 0)).save(tmp, format="PNG")


def default_audios(videos: list[Path], quick: bool = False, seconds: float = 8.0) -> list:
    """The lines the open head speaks: examples/hello.wav and the evaldata's B08 line where present (quick: the
    first), else the first video's first ``seconds``."""
    from anim3d.audio import load_audio
    from anim3d.paths import evaldata_dir

    repo = Path(__file__).resolve().parents[2]
    paths = [p for p in (repo / "examples" / "hello.wav", evaldata_dir() / "audio" / "B08_sb_example1.wav") if p.is_file()]
    out = []
    for p in paths[: 1 if quick else 2] or list(videos[:1]):
        a = load_audio(p)
        a.samples = a.samples[: int(seconds * a.sample_rate)]
        out.append(a)
    return out


def reference_or_note(videos: list[Path], infos: dict, progress: bool = False) -> Reference:
    """``real_reference``, or an empty one whose note says why there is none."""
    from anim3d.errors import Anim3dError

    try:
        return real_reference(videos, infos, progress=progress)
    except Anim3dError as e:
        return Reference(np.full(5, np.nan), np.full(5, np.nan), {}, {}, [f"no real reference: {e}"])


def report_section(rep, cfg, videos: list[Path], methods, infos) -> Reference | None:
    """``anim3d eval --sections expression``: the table per emotion, the monotonicity check and the contact sheet.
    Returns the real reference it measured against (None without a method with an emotion control)."""
    from anim3d.eval.report import fmt, table

    rep.add("## Expression on the open head")
    controlled = [m for m in methods if "emotion" in m.controls]
    if not controlled:
        rep.add("Not available: no method with an emotion control.")
        return None
    method = controlled[-1]  # the model when there is one, else the teacher
    audios = default_audios(videos, cfg.quick)
    stride = 6 if cfg.quick else 3
    ref = reference_or_note(videos, infos, progress=cfg.progress)
    rendered = render_emotions(method, audios, seed=cfg.seed, stride=stride, progress=cfg.progress)
    rows = expression_rows(ref, rendered)
    counted = [r for r in rows if r["ratio"] is not None]
    acted = ", ".join(f"{e} ({'/'.join(f'{c} L{lv}' for c, lv, _ in v)})" for e, v in sorted(ref.acted.items())) or "none"
    rep.add(
        f"{method.name} animated {len(audios)} line(s) per emotion and intensity (seed {cfg.seed}); the open head rendered "
        f"from the blendshapes alone (512 px, every {stride}th frame; {rendered.tracked}/{rendered.tried} frames tracked by "
        f"MediaPipe). Change against the neutral motion, inter-ocular units. Real: acted clips {acted} against "
        f"{len(ref.groups)} neutral speaker groups. A ratio (rendered at 1 / real) is given where the real change is at "
        f"least {MIN_Z:g} population sd; the goal is {TARGET_SHARE:g}. Monotone: no step back by more than {MONOTONE_TOL:g}.",
        "Neutral: " + ", ".join(f"{f} open head {n:+.3f}, real {m:+.3f} +- {s:.3f}"
                                for f, n, m, s in zip(FEATURES, rendered.neutral(), ref.mean, ref.sd)) + ".",
    )
    body = []
    for r in rows:
        met = r["met"] if r["met"] is not None else r["teacher_met"]
        ratio = fmt(r["ratio"], 2) if r["ratio"] is not None else (
            f"{r['teacher_ratio']:.2f} (teacher)" if r["teacher_ratio"] is not None else fmt(None))
        body.append([r["emotion"], r["feature"], fmt(r["real"]), "n/a" if r["z"] is None else f"{r['z']:+.1f}",
                     fmt(r["teacher"]), *[f"{x:+.3f}" for x in r["rendered"]], ratio,
                     "" if met is None else ("yes" if met else "no"), "yes" if r["monotone"] else "no"])
    taught = [r for r in rows if r["teacher_ratio"] is not None]
    rep.add(table(["emotion", "feature", "real", "z", "teacher", *[f"head {i:g}" for i in INTENSITIES], "ratio", ">= goal",
                   "monotone"], body),
            f"Ratios at the goal: {sum(r['met'] for r in counted)}/{len(counted)} against real actors (goal "
            f"{TARGET_SHARE:g}); {sum(r['teacher_met'] for r in taught)}/{len(taught)} against the teacher's shapes "
            f"({', '.join(TEACHER_EMOTIONS)}, where the teacher's change is at least {TEACHER_MIN:g}; goal "
            f"{TEACHER_SHARE:g}); monotone: {sum(r['monotone'] for r in rows)}/{len(rows)}.")
    for note in ref.notes:
        rep.add(f"- {note}")
    from anim3d.flame.open_head import load_open_head

    contact_sheet(load_open_head(), rendered, rep.path("expression_sheet.png"))
    rep.image("expression_sheet.png", "the open head: 8 emotions (columns) x 3 intensities (rows)")
    portrait = evaldata_portrait()
    if portrait is not None:
        from anim3d.render.portrait_head import portrait_head

        contact_sheet(portrait_head(portrait), rendered, rep.path("expression_sheet_portrait.png"))
        rep.image("expression_sheet_portrait.png", f"the evaldata portrait's head ({PORTRAIT}): the same weights")
    return ref


PORTRAIT = "C6_anitalker_Einstein.png"  # the evaldata portrait (evaldata/image): its head's sheet, its video


def evaldata_portrait():
    """The evaldata portrait, prepared (``render.portrait.prepare_portrait``), or None without the evaldata."""
    from anim3d.paths import evaldata_dir

    path = evaldata_dir() / "image" / PORTRAIT
    if not path.is_file():
        return None
    from anim3d.render.portrait import prepare_portrait

    return prepare_portrait(path)
