"""flame: head models (see ../shared/DESIGN.md, "Head models").

- ``anim3d.flame.lbs``: linear blend skinning as pure torch functions (FLAME joint layout);
- ``anim3d.flame.open_head``: the embedded open head (``load_open_head``, ``motion_to_vertices``);
- ``anim3d.flame.flame_loader``: a user's FLAME file (``load_flame``, ``flame_vertices``);
- ``anim3d.flame.arkit_mapping``: ARKit-52 -> FLAME expression + jaw (``fit_arkit_to_flame``, ``map_motion_to_flame``);
- ``anim3d.flame.rasterizer`` / ``anim3d.flame.preview``: torch rasterizer (pytorch3d's convention) and shaded previews.

The common entry points are importable from ``flame`` directly; they load lazily so that
``import flame`` stays light (no torch until one is used).
"""

from __future__ import annotations

import importlib

_LAZY = {
    "HeadModel": "anim3d.flame.head",
    "load_open_head": "anim3d.flame.open_head",
    "motion_to_vertices": "anim3d.flame.open_head",
    "load_flame": "anim3d.flame.flame_loader",
    "flame_vertices": "anim3d.flame.flame_loader",
    "FlameModel": "anim3d.flame.flame_loader",
    "fit_arkit_to_flame": "anim3d.flame.arkit_mapping",
    "map_motion_to_flame": "anim3d.flame.arkit_mapping",
    "ArkitFlameMap": "anim3d.flame.arkit_mapping",
    "FlameParams": "anim3d.flame.arkit_mapping",
    "rasterize": "anim3d.flame.rasterizer",
    "Fragments": "anim3d.flame.rasterizer",
    "render_preview": "anim3d.flame.preview",
    "render_previews": "anim3d.flame.preview",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flame' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
