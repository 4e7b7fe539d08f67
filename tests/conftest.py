"""Shared fixtures. Tests that need ../shared/evaldata skip when the folder is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EVALDATA = Path(os.environ.get("ANIM3D_EVALDATA", REPO.parent / "shared" / "evaldata"))


@pytest.fixture(scope="session")
def evaldata() -> Path:
    if not EVALDATA.is_dir():
        pytest.skip(f"evaluation media not found at {EVALDATA}")
    return EVALDATA
