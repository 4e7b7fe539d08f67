"""Live Link Face CSV: exact header, timecode, swapped columns read by name, round trip, bad files."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from anim3d.channels import INDEX
from anim3d.errors import InputError, InputWarning, MotionError
from anim3d.motion import Motion
from anim3d.exporters.livelink import (
    HEADER,
    format_timecode,
    parse_timecode,
    read_livelink_csv,
    write_livelink_csv,
)

# The header of a take exported by Epic's Live Link Face app, copied as one string.
APP_HEADER = (
    "Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft,EyeLookInLeft,EyeLookOutLeft,EyeLookUpLeft,"
    "EyeSquintLeft,EyeWideLeft,EyeBlinkRight,EyeLookDownRight,EyeLookInRight,EyeLookOutRight,EyeLookUpRight,"
    "EyeSquintRight,EyeWideRight,JawForward,JawRight,JawLeft,JawOpen,MouthClose,MouthFunnel,MouthPucker,"
    "MouthRight,MouthLeft,MouthSmileLeft,MouthSmileRight,MouthFrownLeft,MouthFrownRight,MouthDimpleLeft,"
    "MouthDimpleRight,MouthStretchLeft,MouthStretchRight,MouthRollLower,MouthRollUpper,MouthShrugLower,"
    "MouthShrugUpper,MouthPressLeft,MouthPressRight,MouthLowerDownLeft,MouthLowerDownRight,MouthUpperUpLeft,"
    "MouthUpperUpRight,BrowDownLeft,BrowDownRight,BrowInnerUp,BrowOuterUpLeft,BrowOuterUpRight,CheekPuff,"
    "CheekSquintLeft,CheekSquintRight,NoseSneerLeft,NoseSneerRight,TongueOut,HeadYaw,HeadPitch,HeadRoll,"
    "LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll"
)


def motion(n=90, fps=60.0, seed=0):
    rng = np.random.default_rng(seed)
    return Motion(rng.random((n, 52)), rng.normal(size=(n, 3)) * 0.2, np.zeros((n, 3)), fps)


def test_header_count_and_timecode(tmp_path):
    m = motion(70, 60.0)
    m.blendshapes[:, INDEX["jawLeft"]] = 0.9
    m.blendshapes[:, INDEX["jawRight"]] = 0.1
    p = write_livelink_csv(m, tmp_path / "take.csv", start_seconds=14 * 3600 + 3 * 60 + 52.5)
    rows = list(csv.reader(open(p)))
    assert ",".join(rows[0]) == APP_HEADER == ",".join(HEADER)
    assert len(rows) == 71 and all(len(r) == 63 for r in rows)
    assert all(r[1] == "61" for r in rows[1:])
    assert rows[1][0] == "14:03:52:30.000"
    assert rows[31][0] == "14:03:53:00.000"  # 30 frames later the seconds roll over at 60 fps
    # JawLeft is the 19th column (Live Link order), and holds jawLeft, not jawRight
    assert float(rows[1][rows[0].index("JawLeft")]) == pytest.approx(0.9)
    assert rows[0].index("JawLeft") == rows[0].index("JawRight") + 1


def test_timecode_format_and_parse():
    assert format_timecode(3661 + 0.5 + 1 / 120, 30) == "01:01:01:15.250"
    assert parse_timecode("01:01:01:15.250") == (3661, pytest.approx(15.25))
    with pytest.raises(ValueError):
        parse_timecode("1:2:3")


@pytest.mark.parametrize("fps", [30.0, 60.0, 25.0])
def test_round_trip(tmp_path, fps):
    m = motion(100, fps, seed=int(fps))
    write_livelink_csv(m, tmp_path / "t.csv", start_seconds=123.4)
    back, info = read_livelink_csv(tmp_path / "t.csv")
    assert info.fps == fps and info.timecode_fps == fps and not info.resampled
    np.testing.assert_allclose(back.blendshapes, m.blendshapes, atol=1e-7)
    np.testing.assert_allclose(back.head_rotation, m.head_rotation, atol=1e-6)
    assert back.fps == fps


def test_known_head_yaw_column(tmp_path):
    m = Motion.neutral(2)
    m.head_rotation[:, 1] = 0.3  # turn about +Y
    m.blendshapes[:, INDEX["eyeLookOutLeft"]] = 1.0
    write_livelink_csv(m, tmp_path / "y.csv")
    rows = list(csv.DictReader(open(tmp_path / "y.csv")))
    assert float(rows[0]["HeadYaw"]) == pytest.approx(0.3)
    assert float(rows[0]["HeadPitch"]) == pytest.approx(0.0, abs=1e-7)
    assert float(rows[0]["LeftEyeYaw"]) > 0.3 and float(rows[0]["RightEyeYaw"]) == pytest.approx(0.0, abs=1e-7)


def test_columns_read_by_name_any_order_and_spelling(tmp_path):
    m = motion(40, 30.0)
    src = tmp_path / "t.csv"
    write_livelink_csv(m, src)
    rows = list(csv.reader(open(src)))
    order = [0, 1] + list(np.random.default_rng(1).permutation(np.arange(2, 63)))
    renamed = [rows[0][i] for i in order]
    renamed[renamed.index("JawOpen")] = "jaw_open"
    renamed[renamed.index("EyeBlinkLeft")] = "eyeBlink_L"
    with open(tmp_path / "shuffled.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(renamed)
        for r in rows[1:]:
            w.writerow([r[i] for i in order])
    back, _ = read_livelink_csv(tmp_path / "shuffled.csv")
    np.testing.assert_allclose(back.blendshapes, m.blendshapes, atol=1e-7)


def test_dropped_frames_are_resampled(tmp_path):
    m = motion(60, 60.0)
    write_livelink_csv(m, tmp_path / "t.csv")
    lines = open(tmp_path / "t.csv").read().splitlines()
    del lines[20:23]  # the app drops frames under load
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    back, info = read_livelink_csv(tmp_path / "d.csv")
    assert info.resampled and info.fps == 60.0 and back.num_frames == 60
    np.testing.assert_allclose(back.blendshapes[:19], m.blendshapes[:19], atol=1e-6)
    np.testing.assert_allclose(back.blendshapes[23:], m.blendshapes[23:], atol=1e-6)


def test_bad_files(tmp_path):
    p = tmp_path / "other.csv"
    p.write_text("time,value\n0,1\n")
    with pytest.raises(InputError, match="not a Live Link Face take"):
        read_livelink_csv(p)
    write_livelink_csv(motion(5), tmp_path / "t.csv")
    rows = list(csv.reader(open(tmp_path / "t.csv")))
    drop = rows[0].index("MouthClose")
    with open(tmp_path / "missing.csv", "w", newline="") as f:
        csv.writer(f).writerows([[c for i, c in enumerate(r) if i != drop] for r in rows])
    with pytest.raises(MotionError, match="MouthClose"):
        read_livelink_csv(tmp_path / "missing.csv")
    rows[3][5] = "abc"
    with open(tmp_path / "text.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    with pytest.raises(MotionError, match="row 4"):
        read_livelink_csv(tmp_path / "text.csv")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError):
        read_livelink_csv(tmp_path / "bin.csv")
    with pytest.raises(InputError, match="not found"):
        read_livelink_csv(tmp_path / "nope.csv")


def test_nan_motion_writes_nothing(tmp_path):
    m = motion(5)
    m.head_rotation[2, 0] = np.nan
    with pytest.raises(MotionError, match="NaN"):
        write_livelink_csv(m, tmp_path / "nan.csv")
    assert list(tmp_path.iterdir()) == []


def _take(tmp_path, name, n=20, fps=30.0, start=0.0, edit=None):
    """A written take's rows, changed by ``edit(rows)`` and saved as ``name``: rows[i] is row i + 1
    of the file (the header is row 1)."""
    write_livelink_csv(motion(n, fps), tmp_path / "src.csv", start_seconds=start)
    with open(tmp_path / "src.csv", newline="") as f:
        rows = list(csv.reader(f))
    if edit:
        edit(rows)
    with open(tmp_path / name, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return tmp_path / name


def test_out_of_range_weights_warn_once_naming_columns_and_rows(tmp_path):
    def edit(rows):
        rows[5][rows[0].index("JawOpen")] = "7.5"
        rows[9][rows[0].index("JawOpen")] = "3"
        rows[8][rows[0].index("MouthClose")] = "-0.5"
        rows[2][rows[0].index("EyeBlinkLeft")] = "1.0000001"  # float rounding, not out of range

    with pytest.warns(InputWarning) as rec:
        back, _ = read_livelink_csv(_take(tmp_path, "loud.csv", edit=edit))
    assert len(rec) == 1
    text = str(rec[0].message)
    assert "loud.csv" in text and "JawOpen (first at row 6)" in text and "MouthClose (first at row 9)" in text
    assert "EyeBlink" not in text
    assert back.channel("jawOpen")[4] == 1.0 and back.channel("mouthClose")[7] == 0.0


@pytest.mark.parametrize("column, value", [("EyeBlinkLeft", "nan"), ("HeadYaw", "inf"), ("JawOpen", "-Infinity")])
def test_nan_or_infinite_cell_is_refused_naming_row_and_column(tmp_path, column, value):
    def edit(rows):
        rows[4][rows[0].index(column)] = value

    with pytest.raises(MotionError, match=rf"bad.csv: row 5: {column} is not a finite number"):
        read_livelink_csv(_take(tmp_path, "bad.csv", edit=edit))


@pytest.mark.parametrize("how", ["backwards", "repeat"])
def test_timecode_going_back_or_repeating_warns_and_keeps_row_order(tmp_path, how):
    def edit(rows):
        rows[7][0] = rows[3][0] if how == "backwards" else rows[6][0]

    with pytest.warns(InputWarning, match=r"odd.csv: timecode .* at row 8 .*rows are used in order"):
        back, info = read_livelink_csv(_take(tmp_path, "odd.csv", edit=edit))
    assert back.num_frames == 20 and back.fps == 30.0 and not info.resampled


def test_take_across_midnight_wraps_and_reads_without_warning(tmp_path):
    """Timecode is the time of day: it wraps from 23:59:59 to 00:00:00, and that is not going back."""
    import warnings

    src = _take(tmp_path, "night.csv", n=60, start=24 * 3600 - 1.0)
    with open(src, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[30][0].startswith("23:59:59") and rows[31][0].startswith("00:00:00")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back, info = read_livelink_csv(src)
    assert back.num_frames == 60 and back.fps == 30.0 and not info.resampled


def test_timecode_jump_of_hours_is_not_resampled_to_hours(tmp_path):
    def edit(rows):
        for i in range(15, 21):
            rows[i][0] = f"05:00:00:{i:02d}.000"

    with pytest.warns(InputWarning, match=r"far.csv: .*row 16"):
        back, info = read_livelink_csv(_take(tmp_path, "far.csv", edit=edit))
    assert back.num_frames == 20


def test_rows_hours_apart_name_the_file(tmp_path):
    p = tmp_path / "sparse.csv"
    body = [["00:00:00:00.000"], ["01:00:00:00.000"], ["02:00:00:00.000"]]
    with open(p, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for r in body:
            w.writerow(r + ["61"] + ["0.5"] * 61)
    with pytest.warns(InputWarning, match="sparse.csv"):
        back, _ = read_livelink_csv(p)
    assert back.num_frames == 3
