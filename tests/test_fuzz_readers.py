"""Fuzzing the readers of user files: audio, Live Link CSV, Motion NPZ and portrait images.

Every generated file either loads or raises an ``Anim3dError`` whose message names the file;
never another exception, never a hang, and nothing is written beside it or in the working
folder. Examples are derandomized, so a run is reproducible; sizes are bounded so that the
whole file stays well under a minute on two cores.
"""

from __future__ import annotations

import functools
import io
import os
import tempfile
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anim3d.channels import ARKIT_NAMES
from anim3d.errors import Anim3dError, InputWarning

# ANIM3D_FUZZ_EXAMPLES=2000 fuzzes longer with fresh random examples (to look for new bugs)
_LONG = os.environ.get("ANIM3D_FUZZ_EXAMPLES")
FUZZ = settings(max_examples=int(_LONG or 400), deadline=5000, derandomize=not _LONG, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module", autouse=True)
def empty_cwd(tmp_path_factory):
    """Readers run in an empty working folder, which must stay empty."""
    folder = tmp_path_factory.mktemp("cwd")
    before = os.getcwd()
    os.chdir(folder)
    yield folder
    os.chdir(before)


def check_reader(read, name: str, data: bytes) -> None:
    """``read(path)`` of ``data`` saved as ``name`` loads or raises Anim3dError naming the file;
    warnings about the input name it; nothing is written beside it or in the working folder."""
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(data)
        try:
            read(path)
        except Anim3dError as e:
            assert name in str(e), f"the error does not name the file: {e}"
        assert os.listdir(folder) == [name]
        assert os.listdir(".") == []
    for w in caught:
        if issubclass(w.category, InputWarning):
            assert name in str(w.message), f"the warning does not name the file: {w.message}"


@st.composite
def mutated(draw, seed: bytes, head: int = 96):
    """``seed`` with a few byte edits (mostly in its first ``head`` bytes, where formats keep
    sizes and counts), insertions, deletions and a possible cut."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        near = draw(st.booleans())
        at = draw(st.integers(0, min(len(data), head) - 1 if near else len(data) - 1))
        kind = draw(st.sampled_from(("set", "set", "insert", "delete", "cut")))
        if kind == "set":
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        else:
            del data[at:]
    return bytes(data)


# ----------------------------------------------------------------------------- audio
@functools.cache
def audio_seed(ext: str) -> bytes:
    """0.3 s of a tone as ``ext`` bytes."""
    from test_audio import _encode

    from anim3d.audio import save_wav

    tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(4800) / 16000)).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "seed" + ext)
        if ext == ".wav":
            save_wav(path, tone, 16000)
        else:
            _encode(path, tone, 16000, {".flac": "flac", ".mp3": "libmp3lame"}[ext])
        with open(path, "rb") as f:
            return f.read()


def read_audio(path):
    from anim3d.audio import load_audio

    load_audio(path, allow_silent=True)


def riff_prefixed() -> st.SearchStrategy[bytes]:
    """Random bytes behind a RIFF/WAVE header with a random size."""
    return st.builds(lambda size, rest: b"RIFF" + size.to_bytes(4, "little") + b"WAVE" + rest,
                     st.integers(0, 2**32 - 1), st.binary(max_size=512))


@pytest.mark.slow
@pytest.mark.parametrize("ext", [".wav", ".flac", ".mp3"])
def test_audio_files(ext):
    files = mutated(audio_seed(ext))
    if ext == ".wav":
        files = st.one_of(files, riff_prefixed())

    @FUZZ
    @given(data=files)
    def run(data):
        check_reader(read_audio, "speech" + ext, data)

    run()


# ------------------------------------------------------------------------- Live Link
@functools.cache
def livelink_seed() -> str:
    from anim3d.motion import Motion
    from anim3d.exporters.livelink import write_livelink_csv

    rng = np.random.default_rng(0)
    m = Motion(rng.random((4, 52)), rng.normal(size=(4, 3)) * 0.1, np.zeros((4, 3)), 30.0)
    with tempfile.TemporaryDirectory() as folder:
        path = write_livelink_csv(m, os.path.join(folder, "seed.csv"))
        with open(path, encoding="utf-8") as f:
            return f.read()


def read_livelink(path):
    from anim3d.exporters.livelink import read_livelink_csv

    read_livelink_csv(path)


CELLS = st.one_of(
    st.sampled_from(["", " ", "0", "1", "0.5", "-0", "7.5", "-3", "1e309", "nan", "inf", "-inf", "abc", "0x1p3",
                     "1_0", "00:00:00:00.000", "23:59:59:29.999", "99:99:99:999.9", "00:00:01:05", "61", "\x00", '"']),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=8),
)


TIMECODES = st.builds(lambda h, m, sec, ff, sub: f"{h:02d}:{m:02d}:{sec:02d}:{ff:02d}{sub}",
                      st.integers(0, 99), st.integers(0, 99), st.integers(0, 99), st.integers(0, 999),
                      st.sampled_from(("", ".000", ".5", ".999")))


@st.composite
def livelink_tables(draw):
    """A header from Live Link's columns (some dropped, duplicated or renamed) and random rows."""
    from anim3d.exporters.livelink import HEADER

    names = list(HEADER)
    for _ in range(draw(st.sampled_from((0, 0, 0, 1, 2, 4)))):  # most headers stay usable
        i = draw(st.integers(0, len(names) - 1))
        how = draw(st.sampled_from(("drop", "dup", "rename", "lower")))
        if how == "drop":
            del names[i]
        elif how == "dup":
            names.insert(i, names[i])
        elif how == "rename":
            names[i] = draw(st.text(max_size=10))
        else:
            names[i] = names[i].lower()
    odd_times, odd_cells = draw(st.sampled_from(((True, False), (False, True), (True, True))))
    rows = []
    for r in range(draw(st.integers(0, 5))):
        cells = [draw(TIMECODES) if odd_times else f"00:00:00:{r:02d}.000", "61"] + ["0.5"] * (len(names) - 2)
        for _ in range(draw(st.integers(0, 3)) if odd_cells else 0):
            cells[draw(st.integers(0, len(cells) - 1))] = draw(CELLS)
        rows.append(cells[: draw(st.integers(len(cells) - 1, len(cells) + 1))] if draw(st.booleans()) else cells)
    lines = [",".join(names)] + [",".join(r) for r in rows]
    for _ in range(draw(st.integers(0, 2))):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(("", " ", ",,,", "\t"))))
    return "\n".join(lines) + draw(st.sampled_from(("", "\n", "\r\n")))


ENCODINGS = st.sampled_from(("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1", "cp1252"))


@pytest.mark.slow
@FUZZ
@given(data=st.one_of(
    st.builds(lambda text, encoding: text.encode(encoding, errors="replace"), livelink_tables(), ENCODINGS),
    mutated(livelink_seed().encode(), head=400),
))
def test_livelink_csv(data):
    check_reader(read_livelink, "take.csv", data)


# ------------------------------------------------------------------------ Motion NPZ
def npz_bytes(fields: dict) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **fields)
    return buf.getvalue()


def good_fields(n: int = 4) -> dict:
    rng = np.random.default_rng(n)
    return dict(blendshapes=rng.random((n, 52)).astype(np.float32), blendshape_names=np.array(ARKIT_NAMES),
                head_rotation=np.zeros((n, 3), np.float32), head_translation=np.zeros((n, 3), np.float32),
                fps=np.array(30.0))


def read_motion(path):
    from anim3d.exporters.motion_io import load_motion

    load_motion(path)


ODD_ARRAYS = st.sampled_from([
    np.zeros((0, 52)), np.zeros((4, 51)), np.zeros((4,)), np.zeros((4, 52, 1)), np.zeros((5, 52)),
    np.full((4, 52), np.nan), np.full((4, 52), np.inf), np.full((4, 52), 7.5), np.full((4, 52), 1e300),
    np.zeros((4, 52), bool), np.zeros((4, 52), complex), np.zeros((4, 52), "U3"), np.zeros((4, 52), "S3"),
    np.zeros((4, 52), "datetime64[s]"), np.zeros((4, 52), "V4"), np.zeros((4, 52), [("a", "f4")]),
    np.zeros((4, 3)), np.zeros((0, 3)), np.zeros((3, 3)), np.array(0.0), np.array(-30.0), np.array(np.nan),
    np.array(1e30), np.array([30.0, 60.0]), np.array("30"), np.array(ARKIT_NAMES), np.array(ARKIT_NAMES[:10]),
    np.array("jawOpen"), np.array(ARKIT_NAMES, dtype="S"), np.arange(52), np.array([None] * 4, dtype=object),
    np.zeros((4, 52), np.float16), np.zeros((4, 52), np.int8),
])


@st.composite
def npz_fields(draw):
    fields = good_fields(draw(st.integers(1, 4)))
    for key in draw(st.lists(st.sampled_from(sorted(fields)), max_size=3, unique=True)):
        if draw(st.booleans()):
            fields[key] = draw(ODD_ARRAYS)
        else:
            del fields[key]
    return fields


@FUZZ
@given(data=mutated(npz_bytes(good_fields()), head=200))
def test_mutated_npz_bytes(data):
    check_reader(read_motion, "motion.npz", data)


@pytest.mark.slow
@FUZZ
@given(fields=npz_fields())
def test_structured_npz(fields):
    buf = io.BytesIO()
    np.savez(buf, **fields)  # object arrays are pickled here; the reader must refuse them
    check_reader(read_motion, "motion.npz", buf.getvalue())


# -------------------------------------------------------------------------- portraits
@functools.cache
def image_seed(fmt: str) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


def read_portrait(path):
    from anim3d.render.portrait import load_image

    load_image(path)


@pytest.mark.slow
@FUZZ
@given(fmt=st.sampled_from(("PNG", "JPEG")), data=st.data())
def test_portraits(fmt, data):
    check_reader(read_portrait, "face." + fmt.lower(), data.draw(mutated(image_seed(fmt))))


def test_image_of_another_format_named_jpg_is_refused(tmp_path):
    """Pillow's TGA reader accepts almost any bytes: a portrait is read only as a photo format."""
    from PIL import Image

    from anim3d.render.portrait import load_image

    path = tmp_path / "face.jpg"
    Image.new("RGB", (32, 24)).save(path, format="TGA")
    with pytest.raises(Anim3dError, match="face.jpg: not a readable image"):
        load_image(path)


def test_image_bomb_is_refused_naming_the_file(tmp_path):
    import struct
    import zlib

    from anim3d.render.portrait import load_image

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 40000, 40000, 8, 2, 0, 0, 0)  # 1.6 gigapixels, RGB
    path = tmp_path / "huge.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    with pytest.raises(Anim3dError, match="huge.png: not a readable image"):
        load_image(path)
