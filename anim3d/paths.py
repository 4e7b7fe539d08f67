"""Where the evaluation media live: ``$ANIM3D_EVALDATA``, else ``../shared/evaldata`` beside the
repository (the project's checkout layout), else ``../shared/evaldata`` beside the working folder."""

from __future__ import annotations

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]


def evaldata_dir() -> Path:
    env = os.environ.get("ANIM3D_EVALDATA")
    if env:
        return Path(env)
    for cand in (_REPO.parent / "shared" / "evaldata", Path.cwd().parent / "shared" / "evaldata"):
        if cand.is_dir():
            return cand
    return _REPO.parent / "shared" / "evaldata"


def evaldata_portrait() -> Path:
    """The evaluation portrait (Einstein, closed mouth) under ``evaldata_dir()``; it may be absent."""
    return evaldata_dir() / "image" / "C6_anitalker_Einstein.png"
