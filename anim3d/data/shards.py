"""The dataset format: shards of utterances (audio, Motion, phones, text, voice, labels).

A dataset is a folder with ``index.json`` and shard files ``*.npz``. A shard is a plain
NPZ (no pickle) whose arrays hold its utterances back to back, with offsets, and a JSON
string ``meta`` with per-utterance metadata. Readers must use ``read_shard`` / ``ShardDataset``.

    shard.npz
      format         "anim3d.shard/1"
      meta           JSON: {"utterances": [{id, text, voice, speaker, labels, sample_rate, fps, duration}, ...]}
      audio          (N,) int16, all utterances' 16 kHz audio concatenated
      audio_offsets  (U+1,) int64
      blendshapes    (F, 52) float32 ARKit order;  head_rotation, head_translation (F, 3) float32
      frame_offsets  (U+1,) int64
      phone_ids      (P,) int16 index into phone_set;  phone_times (P, 2) float32 start/end seconds
      phone_offsets  (U+1,) int64
      phone_set      (40,) str: PHONE_SET at write time
      blendshape_names (52,) str

index.json: {"format", "val_voices": [...], "shards": [{"file", "utterances", "seconds",
"voices": {voice: [count, seconds]}, "emotions": {emotion: count}, "sources": {...}}], ...}
The train/val split is by voice: utterances whose voice is in ``val_voices`` are "val".
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from anim3d.audio import Audio
from anim3d.channels import ARKIT_NAMES
from anim3d.phones import PHONE_SET, Phone
from anim3d.errors import Anim3dError, InputError
from anim3d.fileio import atomic_output
from anim3d.motion import Motion

SHARD_FORMAT = "anim3d.shard/1"
INDEX_FORMAT = "anim3d.dataset/1"
INDEX_NAME = "index.json"
SOURCES = ("synth", "video", "livelink", "flame")


class ShardError(InputError):
    """A shard file that cannot be read (corrupt, truncated, not a shard)."""


@dataclass
class Utterance:
    id: str
    audio: Audio  # 16 kHz mono
    motion: Motion  # 30 fps
    phones: list[Phone]
    text: str = ""
    voice: str = ""  # e.g. "espeak:en-us+f3"; for real data the recorded person or clip
    speaker: str = ""  # virtual speaker id (synthetic) or person id (real)
    labels: dict = field(default_factory=dict)  # emotion, intensity, gaze, distance, augment, source, style...

    @property
    def duration(self) -> float:
        return self.audio.duration

    @property
    def source(self) -> str:
        return str(self.labels.get("source", "synth"))


# ---------------------------------------------------------------- one shard
def write_shard(path: str | os.PathLike, utterances: Sequence[Utterance]) -> None:
    """Write ``utterances`` to one shard file, atomically."""
    if not utterances:
        raise Anim3dError(f"{path}: refusing to write an empty shard")
    metas, audio, bs, rot, tr, pid, ptimes = [], [], [], [], [], [], []
    a_off, f_off, p_off = [0], [0], [0]
    for u in utterances:
        u.motion.validate(u.id)
        pcm = (np.clip(u.audio.samples, -1.0, 1.0) * 32767.0).round().astype(np.int16)
        audio.append(pcm)
        bs.append(u.motion.blendshapes)
        rot.append(u.motion.head_rotation)
        tr.append(u.motion.head_translation)
        pid.append(np.array([PHONE_SET.index(p.label) for p in u.phones], np.int16))
        ptimes.append(np.array([[p.start, p.end] for p in u.phones], np.float32).reshape(-1, 2))
        a_off.append(a_off[-1] + len(pcm))
        f_off.append(f_off[-1] + u.motion.num_frames)
        p_off.append(p_off[-1] + len(u.phones))
        metas.append({"id": u.id, "text": u.text, "voice": u.voice, "speaker": u.speaker, "labels": u.labels,
                      "sample_rate": int(u.audio.sample_rate), "fps": float(u.motion.fps),
                      "duration": round(len(pcm) / u.audio.sample_rate, 4)})
    meta = json.dumps({"format": SHARD_FORMAT, "utterances": metas})
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(
                f,
                format=np.array(SHARD_FORMAT),
                meta=np.array(meta),
                audio=np.concatenate(audio),
                audio_offsets=np.array(a_off, np.int64),
                blendshapes=np.concatenate(bs).astype(np.float32),
                head_rotation=np.concatenate(rot).astype(np.float32),
                head_translation=np.concatenate(tr).astype(np.float32),
                frame_offsets=np.array(f_off, np.int64),
                phone_ids=np.concatenate(pid),
                phone_times=np.concatenate(ptimes),
                phone_offsets=np.array(p_off, np.int64),
                phone_set=np.array(PHONE_SET),
                blendshape_names=np.array(ARKIT_NAMES),
            )


_REQUIRED = ("format", "meta", "audio", "audio_offsets", "blendshapes", "head_rotation", "head_translation",
             "frame_offsets", "phone_ids", "phone_times", "phone_offsets", "phone_set", "blendshape_names")


def read_shard_meta(path: str | os.PathLike) -> list[dict]:
    """Only the per-utterance metadata of a shard (fast: the arrays are not decompressed)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if "meta" not in z.files:
                raise ShardError(path, "not an anim3d shard (no 'meta')")
            meta = json.loads(str(z["meta"]))
    except ShardError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, json.JSONDecodeError) as e:
        raise ShardError(path, f"corrupt shard ({type(e).__name__}: {e})") from None
    return meta["utterances"]


def read_shard(path: str | os.PathLike) -> list[Utterance]:
    """All utterances of a shard. Raises ShardError naming the file if anything is wrong."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ShardError(path, "shard file not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in _REQUIRED if k not in z.files]
            if missing:
                raise ShardError(path, f"not an anim3d shard (missing {', '.join(missing)})")
            d = {k: z[k] for k in _REQUIRED}
        meta = json.loads(str(d["meta"]))
    except ShardError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, json.JSONDecodeError) as e:
        raise ShardError(path, f"corrupt shard ({type(e).__name__}: {e})") from None
    if str(d["format"]) != SHARD_FORMAT:
        raise ShardError(path, f"unsupported shard format {str(d['format'])!r} (expected {SHARD_FORMAT})")
    metas = meta.get("utterances", [])
    u_count = len(metas)
    for k in ("audio_offsets", "frame_offsets", "phone_offsets"):
        off = d[k]
        if off.shape != (u_count + 1,) or off[0] != 0 or np.any(np.diff(off) < 0):
            raise ShardError(path, f"corrupt shard: {k} does not match {u_count} utterances")
    if d["audio_offsets"][-1] != len(d["audio"]) or d["frame_offsets"][-1] != len(d["blendshapes"]) \
            or d["phone_offsets"][-1] != len(d["phone_ids"]):
        raise ShardError(path, "corrupt shard: arrays are shorter or longer than their offsets say")
    names = [str(n) for n in d["blendshape_names"]]
    if names != list(ARKIT_NAMES):
        col = {n: i for i, n in enumerate(names)}
        if any(n not in col for n in ARKIT_NAMES):
            raise ShardError(path, "corrupt shard: blendshape names are not the 52 ARKit names")
        d["blendshapes"] = d["blendshapes"][:, [col[n] for n in ARKIT_NAMES]]
    pset = [str(p) for p in d["phone_set"]]
    out = []
    for i, m in enumerate(metas):
        a0, a1 = d["audio_offsets"][i], d["audio_offsets"][i + 1]
        f0, f1 = d["frame_offsets"][i], d["frame_offsets"][i + 1]
        p0, p1 = d["phone_offsets"][i], d["phone_offsets"][i + 1]
        audio = Audio(d["audio"][a0:a1].astype(np.float32) / 32767.0, int(m["sample_rate"]))
        try:
            motion = Motion(d["blendshapes"][f0:f1], d["head_rotation"][f0:f1], d["head_translation"][f0:f1], m["fps"])
        except InputError as e:
            raise ShardError(path, f"utterance {m.get('id')}: {e.problem}") from None
        phones = [Phone(pset[int(k)], float(s), float(e)) for k, (s, e) in zip(d["phone_ids"][p0:p1], d["phone_times"][p0:p1])]
        out.append(Utterance(m["id"], audio, motion, phones, m.get("text", ""), m.get("voice", ""), m.get("speaker", ""),
                             m.get("labels", {})))
    return out


# ------------------------------------------------------------------ index
def shard_summary(file: str, metas: list[dict]) -> dict:
    voices: dict[str, list] = {}
    emotions: dict[str, int] = {}
    sources: dict[str, int] = {}
    seconds = 0.0
    for m in metas:
        lab = m.get("labels", {})
        sec = float(m.get("duration", 0.0))
        seconds += sec
        v = voices.setdefault(m.get("voice", ""), [0, 0.0])
        v[0] += 1
        v[1] = round(v[1] + sec, 3)
        emotions[lab.get("emotion", "neutral")] = emotions.get(lab.get("emotion", "neutral"), 0) + 1
        sources[lab.get("source", "synth")] = sources.get(lab.get("source", "synth"), 0) + 1
    return {"file": file, "utterances": len(metas), "seconds": round(seconds, 3), "voices": voices,
            "emotions": emotions, "sources": sources}


def choose_val_voices(voices: Iterable[str], fraction: float = 0.1, seed: int = 0) -> list[str]:
    """A held-out set of voices (at least one when there are two or more)."""
    vs = sorted(set(voices))
    if len(vs) < 2:
        return []
    k = max(1, int(round(fraction * len(vs))))
    rng = np.random.default_rng(seed)
    return sorted(str(v) for v in rng.choice(vs, k, replace=False))


def write_index(root: str | os.PathLike, val_voices: Sequence[str] | None = None, *, val_fraction: float = 0.1,
                seed: int = 0, extra: dict | None = None) -> dict:
    """Scan ``root``'s shards and write ``index.json``. Unreadable shards are reported and left out.

    ``val_voices`` None keeps the existing index's held-out voices, else picks ``val_fraction``.
    """
    root = Path(root)
    old = _load_index(root) if (root / INDEX_NAME).is_file() else {}
    shards, bad = [], []
    for f in sorted(root.glob("*.npz")):
        try:
            shards.append(shard_summary(f.name, read_shard_meta(f)))
        except ShardError as e:
            warnings.warn(f"{e} (left out of the index)", stacklevel=2)
            bad.append(f.name)
    if val_voices is None:
        val_voices = old.get("val_voices")
    if val_voices is None:
        val_voices = choose_val_voices((v for s in shards for v in s["voices"]), val_fraction, seed)
    index = dict(old)
    index.update(extra or {})
    index.update({"format": INDEX_FORMAT, "val_voices": sorted(val_voices), "shards": shards, "corrupt": bad})
    with atomic_output(root / INDEX_NAME) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(index, f, indent=1)
    return index


def _load_index(root: Path) -> dict:
    path = root / INDEX_NAME
    if not path.is_file():
        raise InputError(root, f"not a dataset folder (no {INDEX_NAME}); run 'anim3d data synth' or write_index()")
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(path, f"unreadable dataset index ({e})") from None
    if index.get("format") != INDEX_FORMAT:
        raise InputError(path, f"not an anim3d dataset index (format {index.get('format')!r})")
    return index


# ---------------------------------------------------------------- dataset
class ShardDataset:
    """Streams utterances of one split ("train", "val" or "all") across a dataset's shards.

    The split is by voice (``index.json``'s ``val_voices``). A corrupt or missing shard is
    reported with a warning naming the file and skipped; its name is kept in ``skipped``.
    ``worker=(i, n)`` reads every n-th shard starting at i (for parallel data loaders).
    """

    def __init__(self, root: str | os.PathLike, split: str = "train", *, shuffle: bool = False, seed: int = 0,
                 sources: Sequence[str] | None = None, worker: tuple[int, int] = (0, 1)):
        if split not in ("train", "val", "all"):
            raise Anim3dError(f"split must be 'train', 'val' or 'all', got {split!r}")
        self.root = Path(root)
        self.index = _load_index(self.root)
        self.split = split
        self.shuffle = shuffle
        self.seed = seed
        self.sources = set(sources) if sources else None
        self.val_voices = set(self.index.get("val_voices", []))
        self.skipped: list[str] = []
        self._epoch = 0
        entries = [s for s in self.index["shards"] if self._shard_has_split(s)]
        self.shards = entries[worker[0]::worker[1]]

    def _keep_voice(self, voice: str) -> bool:
        if self.split == "all":
            return True
        return (voice in self.val_voices) == (self.split == "val")

    def _shard_has_split(self, s: dict) -> bool:
        return any(self._keep_voice(v) for v in s["voices"])

    def __len__(self) -> int:
        """Utterances in this split according to the index (before any source filter)."""
        return sum(c for s in self.shards for v, (c, _) in s["voices"].items() if self._keep_voice(v))

    @property
    def seconds(self) -> float:
        return float(sum(sec for s in self.shards for v, (_, sec) in s["voices"].items() if self._keep_voice(v)))

    def __iter__(self) -> Iterator[Utterance]:
        order = list(self.shards)
        rng = np.random.default_rng((self.seed, self._epoch))
        self._epoch += 1
        if self.shuffle:
            rng.shuffle(order)
        for s in order:
            path = self.root / s["file"]
            try:
                utts = read_shard(path)
            except ShardError as e:
                warnings.warn(f"{e}; shard skipped", stacklevel=2)
                self.skipped.append(s["file"])
                continue
            if len(utts) != s["utterances"]:
                warnings.warn(f"{path}: has {len(utts)} utterances but the index says {s['utterances']}", stacklevel=2)
            if self.shuffle:
                rng.shuffle(utts)
            for u in utts:
                if self._keep_voice(u.voice) and (self.sources is None or u.source in self.sources):
                    yield u


def describe(root: str | os.PathLike) -> dict:
    """Totals of a dataset from its index: hours, utterances, voices, emotions, sources, split sizes."""
    index = _load_index(Path(root))
    val = set(index.get("val_voices", []))
    voices: dict[str, list] = {}
    emotions: dict[str, int] = {}
    sources: dict[str, int] = {}
    for s in index["shards"]:
        for v, (c, sec) in s["voices"].items():
            acc = voices.setdefault(v, [0, 0.0])
            acc[0] += c
            acc[1] += sec
        for k, c in s["emotions"].items():
            emotions[k] = emotions.get(k, 0) + c
        for k, c in s.get("sources", {}).items():
            sources[k] = sources.get(k, 0) + c
    total = sum(sec for _, sec in voices.values())
    val_sec = sum(sec for v, (_, sec) in voices.items() if v in val)
    return {
        "shards": len(index["shards"]),
        "corrupt": list(index.get("corrupt", [])),
        "utterances": sum(c for c, _ in voices.values()),
        "hours": total / 3600.0,
        "train_hours": (total - val_sec) / 3600.0,
        "val_hours": val_sec / 3600.0,
        "voices": len(voices),
        "val_voices": sorted(val),
        "emotions": dict(sorted(emotions.items())),
        "sources": sources,
    }
