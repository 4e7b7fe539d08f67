import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from anim3d.cli import build_parser, main
from anim3d.motion import Motion


def test_import_does_not_pull_torch():
    out = subprocess.run(
        [sys.executable, "-c", "import sys, anim3d; print('torch' in sys.modules, 'scipy' in sys.modules)"],
        capture_output=True, text=True, check=True,
    )
    assert out.stdout.split() == ["False", "False"]


def test_help_lists_commands_and_common_options(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert "info" in text
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        h = p.format_help()
        assert "--device" in h and "--seed" in h and "--quiet" in h, name
        assert len(p.description or "") > 20, f"{name} has no description"


def test_console_script_runs():
    script = Path(sys.executable).parent / "anim3d"  # the venv's console script, without activating it
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "usage: anim3d" in out.stdout


def test_info_on_motion(tmp_path, capsys):
    m = Motion.neutral(60)
    m.blendshapes[:, 17] = np.linspace(0, 1, 60)
    p = tmp_path / "m.npz"
    m.save_npz(p)
    assert main(["info", str(p)]) == 0
    out = capsys.readouterr().out
    assert "60 frames at 30 fps" in out and "jawOpen (1.00)" in out


def test_bad_input_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_text("nope")
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.npz" in err and "Traceback" not in err


def test_missing_optional_package_names_the_extra():
    from anim3d.errors import Anim3dError
    from anim3d.optional import require

    assert require("json", "parsing").dumps([1]) == "[1]"
    with pytest.raises(Anim3dError, match=r"pip install 'anim3d\[video\]'"):
        _require_missing("mediapipe")


def _require_missing(name):
    """require() for a top-level module name that is made unimportable for this call."""
    import sys

    from anim3d.optional import require

    saved = sys.modules.get(name)
    sys.modules[name] = None  # makes `import name` raise ImportError
    try:
        return require(name, "face tracking")
    finally:
        if saved is None:
            del sys.modules[name]
        else:
            sys.modules[name] = saved


def test_evaldata_location(monkeypatch, tmp_path):
    from anim3d.paths import evaldata_dir

    monkeypatch.setenv("ANIM3D_EVALDATA", str(tmp_path))
    assert evaldata_dir() == tmp_path
    monkeypatch.delenv("ANIM3D_EVALDATA")
    assert evaldata_dir().parts[-2:] == ("shared", "evaldata")
