"""Held-out synthetic speech, where the ground-truth motion is known.

Source: the data engine's validation split (``anim3d.data.shards.ShardDataset(root,
split="val")``, voices not in training). Without shards, utterances are synthesised now
with TTS (``anim3d.data.tts``) and the teacher's motion on the exact TTS phone timings is
the ground truth (the report says which source was used).

Metrics per method: on the open head mesh — lip vertex error, mean vertex error, FDD;
always — bilabial closure rate on P/B/M (lips closed within +/-1 frame of the phone's
middle), open-vowel jaw rate, and mouth-opening correlation with the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from anim3d.eval import metrics as M
from anim3d.eval.mouth import CLOSED_BELOW, OPEN_ABOVE, mouth_opening
from anim3d.motion import Motion

FALLBACK_VOICES = ("festival:kal_diphone", "espeak:en-us+m3", "espeak:en-gb-x-rp+f1")
FALLBACK_TEXTS = (
    "the birch canoe slid on the smooth planks",
    "a pot of tea helps to pass the evening",
    "bring me the map of the old mill by the bay",
)


@dataclass
class SynthUtterance:
    name: str
    audio: object  # Audio
    motion: Motion  # ground truth
    phones: list  # Phone
    controls: dict = None  # emotion / intensity the ground truth was made with


def load_heldout(root: str | None, limit: int, seed: int = 0) -> tuple[list[SynthUtterance], str]:
    """(utterances, description of their source). Raises RuntimeError with the reason when
    neither shards nor TTS + teacher are available."""
    if root:
        from anim3d.data.shards import ShardDataset

        out = []
        for k, u in enumerate(ShardDataset(root, split="val")):
            if k >= limit:
                break
            labels = u.labels or {}
            controls = {key: labels[key] for key in ("emotion", "intensity") if key in labels}
            out.append(SynthUtterance(f"{u.id} ({u.voice})", u.audio, u.motion, list(u.phones), controls))
        if not out:
            raise RuntimeError(f"{root}: the validation split is empty")
        return out, f"validation split of {root} ({len(out)} utterances)"
    from anim3d.data.tts import Voice, list_voices, synthesize
    from anim3d.teacher import phones_to_motion

    installed = {v.id for v in list_voices()}
    voices = [v for v in FALLBACK_VOICES if v in installed] or sorted(installed)[:3]
    if not voices:
        raise RuntimeError("no shards given and no TTS voice installed")
    out = []
    for k in range(limit):
        voice = voices[k % len(voices)]
        text = FALLBACK_TEXTS[k % len(FALLBACK_TEXTS)]
        audio, phones = synthesize(text, Voice.parse(voice))
        gt = phones_to_motion(phones, audio.duration, audio=audio, seed=seed + 1000 + k)
        out.append(SynthUtterance(f"{voice}", audio, gt, phones, {}))
    desc = f"synthesised now ({', '.join(voices[: min(limit, len(voices))])}); ground truth = teacher on the TTS phone timings; voices may overlap training"
    return out, desc


@lru_cache(maxsize=1)
def _regions() -> tuple[np.ndarray, np.ndarray]:
    """The open head's lip vertices and its upper face (CodeTalker's FDD region: face vertices above the nose tip)."""
    from anim3d.flame.open_head import load_open_head

    head = load_open_head()
    face = np.asarray(head.parts["face"], np.int64).reshape(-1)
    v = np.asarray(head.vertices)
    nose_y = float(np.mean(v[np.atleast_1d(head.landmarks["nose_tip"]), 1]))
    return np.asarray(head.parts["lips"], np.int64).reshape(-1), face[v[face, 1] > nose_y]


@dataclass
class SynthResult:
    utterance: str
    method: str
    lve: float  # metres
    mve: float
    fdd: float
    closure: tuple[float, int]
    open_vowel: tuple[float, int]
    r_mouth: float
    source: str


def expression_only(motion: Motion) -> Motion:
    """The motion with head rotation and translation zeroed: vertex metrics compare the
    face, as in VOCA/FaceFormer/ProbTalk3D (whose data have no head pose)."""
    z = np.zeros_like(motion.head_rotation)
    return Motion(motion.blendshapes, z, z.copy(), motion.fps)


def vertices(motion: Motion) -> np.ndarray:
    """T x V x 3 open-head vertices of the expression (head pose removed), metres."""
    from anim3d.flame.open_head import load_open_head, motion_to_vertices

    return np.asarray(motion_to_vertices(load_open_head(), expression_only(motion)), dtype=np.float64)  # T x V x 3


def score(utt: SynthUtterance, method: str, motion: Motion) -> SynthResult:
    gt = utt.motion
    if abs(motion.fps - gt.fps) > 1e-6:
        motion = motion.resample(gt.fps)
    n = min(motion.num_frames, gt.num_frames)
    motion, gt = motion[:n], gt[:n]
    from anim3d.flame.open_head import load_open_head

    lips, upper = _regions()
    vp, vg = vertices(motion), vertices(gt)
    lve = M.lip_vertex_error(vp, vg, lips)
    mve = M.mean_vertex_error(vp, vg)
    fdd = M.upper_face_dynamics_deviation(vp, vg, np.asarray(load_open_head().vertices), upper)
    opening, source = mouth_opening(motion)
    gt_opening, _ = mouth_opening(gt, source)
    return SynthResult(
        utt.name,
        method,
        lve,
        mve,
        fdd,
        M.bilabial_closure_rate(opening, utt.phones, gt.fps, closed_below=CLOSED_BELOW[source]),
        M.open_vowel_jaw_rate(opening, utt.phones, gt.fps, open_above=OPEN_ABOVE[source]),
        M.pearson(opening, gt_opening),
        source,
    )


def evaluate_synthetic(utterances: list[SynthUtterance], methods, *, seed: int = 0, progress: bool = True):
    """Ground truth's own row plus one row per (utterance, method)."""
    from anim3d.progress import progress as bar

    out: list[SynthResult] = []
    for u in bar(utterances, desc="held-out synthetic", unit="utt") if progress else utterances:
        out.append(score(u, "ground truth", u.motion))
        for m in methods:
            controls = {k: v for k, v in (u.controls or {}).items() if k in m.controls}
            out.append(score(u, m.name, m.generate(u.audio, seed=seed, fps=u.motion.fps, **controls)))
    return out


def summarize_synthetic(results: list[SynthResult]) -> list[dict]:
    rows = []
    for method in dict.fromkeys(r.method for r in results):
        sel = [r for r in results if r.method == method]

        def pooled(attr):
            hits = sum(getattr(r, attr)[0] * getattr(r, attr)[1] for r in sel if getattr(r, attr)[1])
            n = sum(getattr(r, attr)[1] for r in sel)
            return (hits / n if n else float("nan")), n

        rows.append(
            {
                "method": method,
                "lve_mm": 1000 * float(np.nanmean([r.lve for r in sel])) if sel and np.isfinite([r.lve for r in sel]).any() else float("nan"),
                "mve_mm": 1000 * float(np.nanmean([r.mve for r in sel])) if sel and np.isfinite([r.mve for r in sel]).any() else float("nan"),
                "fdd_mm": 1000 * float(np.nanmean([r.fdd for r in sel])) if sel and np.isfinite([r.fdd for r in sel]).any() else float("nan"),
                "closure": pooled("closure"),
                "open_vowel": pooled("open_vowel"),
                "r_mouth": float(np.nanmean([r.r_mouth for r in sel])),
                "source": sel[0].source,
            }
        )
    return rows
