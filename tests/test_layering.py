"""The architecture, checked from the code's own imports (module level and inside functions alike):
no import cycles, no import from a lower layer to a higher one, no bare ``models``/``flame``/``exporters``/
``unity_bridge`` import, no private name imported across modules, no first-party import guarded by a try.

Layers (a module imports its own layer's and lower layers' modules only):
  0 core         anim3d.{errors, arkit_spelling, channels, emotions, phones, landmarks, motion, audio, fileio, optional,
                 paths, progress, device}
  1 libraries    anim3d.models, anim3d.flame, anim3d.unity_bridge (each only itself and the core);
                 anim3d.exporters (itself, the core and anim3d.flame)
  2 domain       anim3d.{motion_codec, tracking, phonetic, languages, espeak, script, align}, anim3d.teacher, anim3d.render (but render.train), and
                 the measures training and the data engine share with evaluation: anim3d.eval.metrics, anim3d.eval.mouth,
                 anim3d.eval.avsync
  3 applications anim3d.inference and anim3d.data (neither imports the other)
  4 training     anim3d.training, anim3d.render.train
  5 evaluation   anim3d.eval (it measures checkpoints and trained renderers)
  6 interface    anim3d.commands, anim3d.cli, anim3d.__main__, anim3d.serve (the HTTP API: a front end as the command
                 line is, which reads requests with the command line's own option definitions, and which
                 ``anim3d serve`` starts; one group, so each may use the other)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOTS = {"anim3d": "anim3d", "anim3d.models": "models", "anim3d.flame": "flame", "anim3d.exporters": "exporters",
         "anim3d.unity_bridge": "unity_bridge"}
CORE = {f"anim3d.{m}" for m in ("errors", "arkit_spelling", "channels", "emotions", "phones", "landmarks", "motion",
                                 "audio", "fileio", "optional", "paths", "progress", "device")} | {"anim3d"}
BARE = ("models", "flame", "exporters", "unity_bridge")


def _modules() -> dict[str, Path]:
    out = {}
    for name, root in ROOTS.items():
        for path in (REPO / root).rglob("*.py"):
            rel = path.relative_to(REPO / root).with_suffix("").parts
            rel = rel[:-1] if rel[-1] == "__init__" else rel
            out[".".join([name, *rel])] = path
    return out


MODULES = _modules()


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported module or name, line, inside a try) of every import statement in the file."""
    out = []

    def visit(node, in_try):
        for child in ast.iter_child_nodes(node):
            guarded = in_try or isinstance(child, ast.Try)
            if isinstance(child, ast.Import):
                out.extend((a.name, child.lineno, in_try) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                out.extend((f"{child.module}.{a.name}", child.lineno, in_try) for a in child.names)
            visit(child, guarded)

    visit(ast.parse(path.read_text()), False)
    return out


def _target(name: str) -> str | None:
    """The first-party module an imported name lives in (None: not first-party)."""
    parts = name.split(".")
    while parts:
        mod = ".".join(parts)
        if mod in MODULES:
            return mod
        parts.pop()
    return None


def layer(mod: str) -> tuple[int, str]:
    """(layer, group) of a module; modules of a group may import each other."""
    for group in ("anim3d.models", "anim3d.flame", "anim3d.unity_bridge", "anim3d.exporters"):
        if mod == group or mod.startswith(group + "."):
            return 1, group
    if mod in CORE:
        return 0, "core"
    if mod == "anim3d.render.train":
        return 4, "anim3d.render.train"
    if mod in ("anim3d.eval.metrics", "anim3d.eval.mouth", "anim3d.eval.avsync"):
        return 2, "domain"
    top = ".".join(mod.split(".")[:2])
    if top in ("anim3d.motion_codec", "anim3d.tracking", "anim3d.phonetic", "anim3d.languages", "anim3d.espeak",
               "anim3d.script", "anim3d.align", "anim3d.teacher", "anim3d.render"):
        return 2, "domain"
    if top in ("anim3d.inference", "anim3d.data"):
        return 3, top
    if top == "anim3d.training":
        return 4, top
    if top == "anim3d.eval":
        return 5, top
    if top in ("anim3d.commands", "anim3d.cli", "anim3d.__main__", "anim3d.serve"):
        return 6, "interface"
    raise AssertionError(f"{mod}: a module the layering does not place; add it to tests/test_layering.py")


def _allowed(src: str, dst: str) -> bool:
    (ls, gs), (ld, gd) = layer(src), layer(dst)
    if gs == gd or ld == 0:
        return True
    if ls == 1:
        return gs == "anim3d.exporters" and gd == "anim3d.flame"
    return ld < ls


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for mod, path in MODULES.items():
        for name, _, _ in _imports(path):
            dst = _target(name)
            if dst is not None and dst != mod:
                edges[mod].add(dst)
    return edges


def test_every_module_has_a_layer_and_imports_only_downward():
    bad = [f"{src} -> {dst}" for src, dsts in _edges().items() for dst in sorted(dsts) if not _allowed(src, dst)]
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_no_import_cycles():
    edges = _edges()
    state: dict[str, int] = {}
    cycles = []

    def walk(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if nxt.startswith(node + ".") or node.startswith(nxt + "."):
                continue  # a package and its own modules
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                walk(nxt, stack)
        stack.pop()
        state[node] = 2

    for m in sorted(edges):
        if m not in state:
            walk(m, [])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("folder", ["anim3d", "models", "flame", "exporters", "unity_bridge", "tests", "benchmarks",
                                    "scripts"])
def test_no_bare_imports_of_the_mapped_folders(folder):
    """``from models.x import y`` works from the repository's root and loads a second copy of the module."""
    bad = []
    for path in (REPO / folder).rglob("*.py"):
        if "node_modules" in path.parts:
            continue
        bad += [f"{path.relative_to(REPO)}:{line} {name}" for name, line, _ in _imports(path) if name.split(".")[0] in BARE]
    assert not bad, "\n".join(bad)


def test_no_private_names_across_modules_and_no_guarded_first_party_imports():
    private, guarded = [], []
    for mod, path in MODULES.items():
        for name, line, in_try in _imports(path):
            dst = _target(name)
            if dst is None:
                continue
            last = name.split(".")[-1]
            if last.startswith("_") and not last.startswith("__") and dst != mod:
                private.append(f"{mod}:{line} {name}")
            if in_try:
                guarded.append(f"{mod}:{line} {name}")
    assert not private, "private names imported from another module:\n" + "\n".join(private)
    assert not guarded, "first-party imports inside try (they always import):\n" + "\n".join(guarded)
