"""flame: head models (see ../shared/DESIGN.md, "Head models").

- ``flame.lbs``: linear blend skinning as pure torch functions (FLAME joint layout);
- ``flame.open_head``: the embedded open head (``load_open_head``, ``motion_to_vertices``);
- ``flame.flame_loader``: a user's FLAME file (``load_flame``, ``flame_vertices``);
- ``flame.arkit_mapping``: ARKit-52 -> FLAME expression + jaw (``fit_arkit_to_flame``, ``map_motion_to_flame``);
- ``flame.rasterizer`` / ``flame.preview``: torch rasterizer (pytorch3d's convention) and shaded previews.

The common entry points are importable from ``flame`` directly; they load lazily so that
``import flame`` stays light (no torch until one is used).
"""

from __future__ import annotations

import importlib

_LAZY = {
    "HeadModel": "flame.head",
    "load_open_head": "flame.open_head",
    "motion_to_vertices": "flame.open_head",
    "load_flame": "flame.flame_loader",
    "flame_vertices": "flame.flame_loader",
    "FlameModel": "flame.flame_loader",
    "fit_arkit_to_flame": "flame.arkit_mapping",
    "map_motion_to_flame": "flame.arkit_mapping",
    "ArkitFlameMap": "flame.arkit_mapping",
    "FlameParams": "flame.arkit_mapping",
    "rasterize": "flame.rasterizer",
    "Fragments": "flame.rasterizer",
    "render_preview": "flame.preview",
    "render_previews": "flame.preview",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flame' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
