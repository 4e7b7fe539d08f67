"""Every Motion reader (.npz, Live Link .csv) refuses what is not a usable Motion, naming the
input file, through ``anim3d export`` and ``anim3d info``."""

from __future__ import annotations

import numpy as np
import pytest

from anim3d.channels import ARKIT_NAMES
from anim3d.cli import main
from anim3d.errors import InputWarning, MotionError
from anim3d.motion import Motion


def _fields(n=10):
    return dict(format=np.array("anim3d.motion/1"), blendshapes=np.full((n, 52), 0.5, np.float32),
                blendshape_names=np.array(ARKIT_NAMES), head_rotation=np.zeros((n, 3), np.float32),
                head_translation=np.zeros((n, 3), np.float32), fps=np.array(30.0))


def _npz(path, **override):
    fields = _fields()
    fields.update(override)
    np.savez(path, **fields)
    return path


def _refused(capsys, argv, *words):
    """``anim3d ARGV`` exits 2 with one line on stderr that contains every word."""
    assert main(argv + ["-q"]) == 2, argv
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err
    return err


def test_empty_npz_names_the_input_not_the_output(tmp_path, capsys):
    src = _npz(tmp_path / "empty.npz", blendshapes=np.zeros((0, 52)), head_rotation=np.zeros((0, 3)),
               head_translation=np.zeros((0, 3)))
    out = tmp_path / "x.glb"
    err = _refused(capsys, ["export", str(src), "-o", str(out)], "empty.npz", "no frames")
    assert "x.glb" not in err and not out.exists()
    _refused(capsys, ["info", str(src)], "empty.npz", "no frames")


@pytest.mark.parametrize("name, override, words", [
    ("text_weights.npz", dict(blendshapes=np.full((10, 52), "x")), "blendshapes"),
    ("bool_weights.npz", dict(blendshapes=np.ones((10, 52), bool)), "blendshapes"),
    ("complex_weights.npz", dict(blendshapes=np.zeros((10, 52), complex)), "blendshapes"),
    ("date_weights.npz", dict(blendshapes=np.zeros((10, 52), "datetime64[s]")), "blendshapes"),
    ("void_weights.npz", dict(blendshapes=np.zeros((10, 52), "V4")), "blendshapes"),
    ("record_weights.npz", dict(blendshapes=np.zeros((10, 52), [("a", "f4")])), "blendshapes"),
    ("one_name.npz", dict(blendshape_names=np.array("jawOpen")), "blendshape_names"),
    ("text_fps.npz", dict(fps=np.array("30")), "fps"),
    ("absurd_fps.npz", dict(fps=np.array(1e30)), "fps"),
])
def test_malformed_npz_is_refused_naming_the_file(tmp_path, capsys, name, override, words):
    src = _npz(tmp_path / name, **override)
    _refused(capsys, ["export", str(src), "-o", str(tmp_path / "o.glb")], name, words)
    _refused(capsys, ["info", str(src)], name, words)
    assert not (tmp_path / "o.glb").exists()


def test_npy_file_named_npz_is_refused(tmp_path, capsys):
    src = tmp_path / "array.npz"
    with open(src, "wb") as f:
        np.save(f, np.zeros((10, 52)))
    _refused(capsys, ["export", str(src), "-o", str(tmp_path / "o.csv")], "array.npz", "not a readable NPZ")


def test_out_of_range_npz_weights_warn_naming_channel_and_frame(tmp_path):
    bs = np.full((10, 52), 0.5, np.float32)
    bs[3, ARKIT_NAMES.index("jawOpen")] = 7.5
    bs[6, ARKIT_NAMES.index("eyeBlinkLeft")] = -2.0
    with pytest.warns(InputWarning) as rec:
        Motion.load_npz(_npz(tmp_path / "loud.npz", blendshapes=bs))
    assert len(rec) == 1
    text = str(rec[0].message)
    assert "loud.npz" in text and "jawOpen (first at frame 3)" in text and "eyeBlinkLeft (first at frame 6)" in text


def test_empty_csv_take_names_the_input(tmp_path, capsys):
    from anim3d.exporters.livelink import HEADER

    src = tmp_path / "header_only.csv"
    src.write_text(",".join(HEADER) + "\n")
    _refused(capsys, ["export", str(src), "-o", str(tmp_path / "o.glb")], "header_only.csv", "no frames")
    _refused(capsys, ["info", str(src)], "header_only.csv", "no frames")


def test_corrupt_deflate_data_is_refused_naming_the_file(tmp_path, capsys):
    import struct

    src = tmp_path / "deflated.npz"
    np.savez_compressed(src, **_fields())
    data = bytearray(src.read_bytes())
    name_len, extra_len = struct.unpack_from("<HH", data, 26)  # the first member's local header
    data[30 + name_len + extra_len] = 0xFF  # an invalid deflate block type
    src.write_bytes(bytes(data))
    _refused(capsys, ["export", str(src), "-o", str(tmp_path / "o.csv")], "deflated.npz", "not a readable NPZ")


def test_npz_that_unpacks_past_the_limit_is_refused_before_reading(tmp_path):
    from anim3d.fileio import read_npz

    src = _npz(tmp_path / "big.npz")
    assert set(read_npz(src)) >= {"blendshapes", "fps"}
    with pytest.raises(MotionError, match=r"big.npz: .*unpack to .*limit"):
        read_npz(src, error=MotionError, max_bytes=1000)
