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


REALVIDEO = EVALDATA.parent / "realvideo"


@pytest.fixture(scope="session")
def realvideo() -> Path:
    """../shared/realvideo (clips/ and manifest.tsv); tests that need it skip when it is absent."""
    if not (REALVIDEO / "clips").is_dir():
        pytest.skip(f"real-speaker clips not found at {REALVIDEO}")
    return REALVIDEO
