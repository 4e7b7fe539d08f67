"""Run anim3d as it was at another commit, beside today's, in the same benchmark run: ``export(rev, folder)`` writes
that commit's package folders (``git archive``: nothing in the repository changes), and ``use(folder)``, called in
a fresh interpreter before anything imports anim3d, points the editable install's import mapping at them.

    python benchmarks/bench_stream.py --cost speech.wav --baseline 9842f2d
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("anim3d", "models", "flame", "exporters", "unity_bridge")  # pyproject's package-dir folders


def export(rev: str, folder: str | Path) -> Path:
    """The package folders of commit ``rev`` under ``folder`` (returned); SystemExit naming a revision git does not know."""
    folder = Path(folder)
    try:
        sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify", f"{rev}^{{commit}}"], check=True,
                             capture_output=True, text=True).stdout.strip()
    except subprocess.CalledProcessError:
        raise SystemExit(f"--baseline {rev}: not a commit of {REPO}") from None
    out = folder / sha[:12]
    if not out.is_dir():
        out.mkdir(parents=True)
        with subprocess.Popen(["git", "-C", str(REPO), "archive", sha, *PACKAGES], stdout=subprocess.PIPE) as p:
            with tarfile.open(fileobj=p.stdout, mode="r|") as tar:
                tar.extractall(out, filter="data")
        if p.returncode:
            raise SystemExit(f"git archive {sha} failed")
    return out


def use(folder: str | Path) -> None:
    """Import anim3d from ``folder`` (an ``export``) instead of the checkout: call before any anim3d import."""
    if any(name == "anim3d" or name.startswith("anim3d.") for name in sys.modules):
        raise RuntimeError("anim3d is already imported")
    for module in list(sys.modules.values()):
        mapping = getattr(module, "MAPPING", None)
        if isinstance(mapping, dict) and "anim3d" in mapping:  # setuptools' editable finder
            for name, path in mapping.items():
                mapping[name] = str(Path(folder) / Path(path).relative_to(REPO))
            return
    raise SystemExit("a baseline needs anim3d installed in editable mode (pip install -e .)")
