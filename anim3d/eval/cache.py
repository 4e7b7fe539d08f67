"""On-disk caches of evaluation inputs that depend only on a file's content: tracked faces
(``anim3d.eval.real``) and phones recognised in audio.

Root: ``$ANIM3D_CACHE`` or ``~/.cache/anim3d``; never inside the repository. Entries are
keyed by SHA-256 of the content and a version, written atomically, and a damaged entry is
computed again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

PHONES_VERSION = 1


def cache_root() -> Path:
    root = os.environ.get("ANIM3D_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "anim3d")
    return Path(root)


def file_hash(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def audio_hash(audio) -> str:
    """SHA-256 of an Audio's samples (as float32) and sample rate."""
    h = hashlib.sha256(str(int(audio.sample_rate)).encode())
    h.update(np.ascontiguousarray(audio.samples, dtype=np.float32).tobytes())
    return h.hexdigest()


def _read_phones(path: Path):
    from anim3d.phones import Phone

    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        return [Phone(str(a), float(b), float(c)) for a, b, c in rows]
    except (OSError, ValueError, TypeError):
        return None  # absent or damaged: recognise again


def cached_phones(audio, mode: str = "words", use_cache: bool = True) -> list:
    """``anim3d.phonetic.recognize_phones(audio, mode=mode)``, from the cache when there."""
    from anim3d.fileio import atomic_output
    from anim3d.phonetic import recognize_phones

    path = cache_root() / "phones" / f"{audio_hash(audio)}-{mode}-v{PHONES_VERSION}.json"
    if use_cache:
        phones = _read_phones(path)
        if phones is not None:
            return phones
    phones = recognize_phones(audio, mode=mode)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            Path(tmp).write_text(json.dumps([[p.label, p.start, p.end] for p in phones]), encoding="utf-8")
    return phones
