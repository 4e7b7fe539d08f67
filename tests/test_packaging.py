"""The installed distribution claims no generic top-level name: models/, flame/, exporters/ and unity_bridge/
install as anim3d.models, anim3d.flame, ... and an installed anim3d works from a folder that has packages of
those names of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAPPED = {"anim3d": "anim3d", "anim3d.models": "models", "anim3d.flame": "flame", "anim3d.exporters": "exporters",
          "anim3d.unity_bridge": "unity_bridge"}


def _project() -> dict:
    with open(REPO / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def test_every_package_folder_is_installed_under_anim3d():
    setuptools = _project()["tool"]["setuptools"]
    assert setuptools["package-dir"] == MAPPED
    folders = set()
    for name, root in MAPPED.items():
        for init in (REPO / root).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / root)
            folders.add(".".join([name, *rel.parts]))
    assert set(setuptools["packages"]) == folders
    assert all(p == "anim3d" or p.startswith("anim3d.") for p in setuptools["packages"])


@pytest.mark.slow
def test_an_installed_wheel_animates_beside_a_users_own_models_package(tmp_path):
    src, wheels = tmp_path / "src", tmp_path / "wheels"
    # a copy: building writes build/ and *.egg-info beside the sources
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".git", ".venv", "build", "node_modules", "__pycache__",
                                                             "*.egg-info", "tests", "research", "benchmarks", "docs"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(src)],
                   check=True, capture_output=True, cwd=tmp_path)
    wheel = next(wheels.glob("anim3d-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"anim3d"}
    for data in ("anim3d/models/default/model.safetensors", "anim3d/models/default/opening.safetensors",
                 "anim3d/models/renderer_default/model.safetensors",
                 "anim3d/flame/assets/open_head.npz", "anim3d/unity_bridge/unity/Runtime/Anim3dFaceReceiver.cs"):
        assert data in names, data
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    # the user's project: packages named like the repository's folders, which must not be touched
    user = tmp_path / "user"
    for pkg in ("models", "flame", "exporters", "unity_bridge"):
        (user / pkg).mkdir(parents=True)
        (user / pkg / "__init__.py").write_text("raise ImportError('the user package was imported')\n")
    env = dict(os.environ, PYTHONPATH=str(site))
    out = subprocess.run([sys.executable, "-m", "anim3d", "animate", str(REPO / "examples" / "hello.wav"), "-o", "take.npz",
                          "-o", "take.glb", "-q"], cwd=user, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert (user / "take.npz").stat().st_size > 1000 and (user / "take.glb").stat().st_size > 1000
    where = subprocess.run([sys.executable, "-c", "import anim3d.models, anim3d.inference; print(anim3d.models.__file__)"],
                           cwd=user, env=env, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(site))
