"""The Blender add-on as a zip that Blender's "Install from file" accepts: ``blender/anim3d_blender.py`` becomes the
package ``anim3d_blender/__init__.py``, beside ``arkit_names.py``: ``anim3d/arkit_spelling.py`` itself, the ARKit
spelling rules ``anim3d.channels.canonical_name`` uses."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from anim3d import arkit_spelling

SOURCE = Path(__file__).resolve().parent / "blender"
PACKAGE = "anim3d_blender"
FILES = {"__init__.py": SOURCE / "anim3d_blender.py", "arkit_names.py": Path(arkit_spelling.__file__)}  # in the zip


def write_addon(path: str | os.PathLike) -> str:
    """Write the add-on zip to ``path`` (atomically). Returns the path."""
    from anim3d.fileio import atomic_output

    path = os.fspath(path)
    with atomic_output(path) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            for name, source in FILES.items():
                z.write(source, f"{PACKAGE}/{name}")
    return path
