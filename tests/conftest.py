"""Shared fixtures. Tests that need ../shared/evaldata skip when the folder is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from anim3d.paths import evaldata_dir

REPO = Path(__file__).resolve().parents[1]
EVALDATA = evaldata_dir()


@pytest.fixture(scope="session")
def evaldata() -> Path:
    if not EVALDATA.is_dir():
        pytest.skip(f"evaluation media not found at {EVALDATA}")
    return EVALDATA
