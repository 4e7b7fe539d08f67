"""Real-speaker evaluation pieces: video discovery, manifests, timing by DTW, lips shut and openings per
phone class, speaker-bootstrap intervals, the per-method summary."""

import numpy as np
import pytest

from anim3d.errors import InputError
from anim3d.eval.articulation import SHUT_BELOW, class_openings, relative_opening, shut_share
from anim3d.eval.manifest import clip_infos, find_manifest, group_from_name, load_manifests, read_manifest
from anim3d.eval.real import ClipResult, find_videos, find_videos_in, load_clips, per_clip
from anim3d.eval.real_summary import class_means, method_summary, per_tier
from anim3d.eval.stats import speaker_bootstrap, speaker_mean
from anim3d.eval.timing import dtw_path, dtw_timing
from anim3d.phones import Phone


def bursts(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = np.clip(rng.normal(size=n), 0, None) * (rng.random(n) < 0.3)
    return np.convolve(x, np.hanning(7), mode="same")


# ---------------------------------------------------------------- videos and manifests


def test_every_video_container_is_found_and_nothing_else(tmp_path):
    for name in ("a.mp4", "b.MPG", "c.mov", "d.mpeg", "e.wav", "notes.txt", "f.mkv"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in find_videos(tmp_path)] == ["a.mp4", "b.MPG", "c.mov", "d.mpeg", "f.mkv"]


def test_two_folders_with_one_clip_name_are_refused(tmp_path):
    for d in ("x", "y"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "talk.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="same name"):
        find_videos_in([tmp_path / "x", tmp_path / "y"])


def write_manifest(path, rows, header="file\tspeaker\tspeaker_group\ttier\tlanguage"):
    path.write_text("\n".join([header, *["\t".join(r) for r in rows]]) + "\n")
    return path


def test_manifest_gives_speakers_and_tiers_and_unlisted_clips_are_named_by_file(tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    write_manifest(tmp_path / "manifest.tsv", [("m1.mp4", "Ann", "ann", "A", "en"), ("m2.mp4", "Ann again", "ann", "B", "en")])
    assert find_manifest(clips) == tmp_path / "manifest.tsv"  # one folder up
    videos = [clips / n for n in ("m1.mp4", "m2.mp4", "Obama_clip2.mp4")]
    infos = clip_infos(videos, load_manifests([clips]))
    assert infos["m1"].group == infos["m2"].group == "ann" and infos["m2"].tier == "B"
    assert infos["Obama_clip2"].group == "obama" and not infos["Obama_clip2"].listed


def test_group_from_name_strips_only_a_trailing_clip_number():
    assert group_from_name("Obama_clip3.mp4") == "obama"
    assert group_from_name("talk-12.mov") == "talk"
    assert group_from_name("LipNet_bbaf2n.mpg") == "lipnet_bbaf2n"
    assert group_from_name("7.mp4") == "7"


def test_a_file_that_is_not_a_manifest_is_one_error_naming_it(tmp_path):
    bad = write_manifest(tmp_path / "m.tsv", [("x.mp4", "A")], header="name\tperson")
    with pytest.raises(InputError) as e:
        read_manifest(bad)
    assert str(bad) in str(e.value) and "speaker_group" in str(e.value)
    with pytest.raises(InputError, match="not found"):
        read_manifest(tmp_path / "missing.tsv")


def test_the_realvideo_manifest_lists_every_clip_with_a_group(realvideo):
    """Needs ../shared/realvideo."""
    videos = find_videos(realvideo / "clips")
    assert {v.suffix.lower() for v in videos} >= {".mp4", ".mpg", ".mov"}
    infos = clip_infos(videos, load_manifests([realvideo / "clips"]))
    assert all(i.listed and i.group and i.tier in "ABC" for i in infos.values())
    assert len({i.group for i in infos.values()}) < len(videos)  # some speakers have several clips


def test_a_clip_the_tracker_refuses_is_left_out_and_named(tmp_path, monkeypatch):
    import anim3d.eval.real as real

    def fake_load(video, max_seconds=None, progress=True, phones=False):
        if "two" in video.name:
            raise InputError(video, "several faces in the video")
        return real.RealClip(video.stem, None, None, 0, None)

    monkeypatch.setattr(real, "load_clip", fake_load)
    skipped = {}
    clips = load_clips([tmp_path / "one.mp4", tmp_path / "two.mp4"], progress=False, skipped=skipped)
    assert [c.name for c in clips] == ["one"] and skipped == {"two.mp4": "several faces in the video"}
    with pytest.raises(InputError):
        load_clips([tmp_path / "two.mp4"], progress=False)  # without a dict the refusal is the error


# ---------------------------------------------------------------- timing


@pytest.mark.parametrize("k", [-3, 0, 2, 5])
def test_dtw_timing_finds_a_known_lead_or_lag(k):
    real = bursts()
    late = np.roll(real, k)  # the generated mouth k frames late
    signed, absolute = dtw_timing(late, real, 0, 25.0)
    assert signed == pytest.approx(40.0 * k, abs=10.0)
    assert absolute >= abs(signed) - 1e-9


def test_dtw_timing_is_measured_after_the_av_offset():
    real = bursts(seed=2)
    gen = np.roll(real, 4)  # late by exactly the clip's AV offset: on time
    assert dtw_timing(gen, real, 4, 25.0)[0] == pytest.approx(0.0, abs=5.0)
    assert np.isnan(dtw_timing(np.ones(50), real[:50], 0, 25.0)[0])  # a flat curve has no timing


def test_dtw_path_runs_corner_to_corner_inside_its_band():
    i, j = dtw_path(bursts(80, 3), bursts(80, 4), band=3)
    assert (i[0], j[0], i[-1], j[-1]) == (0, 0, 79, 79)
    assert np.all(np.abs(i - j) <= 3) and np.all(np.diff(i) >= 0) and np.all(np.diff(j) >= 0)
    assert np.all((np.diff(i) + np.diff(j)) >= 1)


# ---------------------------------------------------------------- lips shut, phone classes


def test_lips_shut_share_uses_each_sources_units():
    mesh = np.array([0.0, 0.001, 0.003, 0.01])  # metres
    assert shut_share(mesh, "mesh") == 0.5
    tracked = np.array([0.01, 0.03, 0.2, 0.3])  # gap / eye span: 2 mm of 90 mm is 0.022
    assert shut_share(tracked, "tracked") == 0.25
    assert SHUT_BELOW["tracked"] == pytest.approx(2 / 90)


def test_class_openings_read_each_phone_at_its_middle_and_the_shift():
    fps = 10.0
    opening = np.zeros(40)
    opening[10:13] = 1.0  # the open vowel at 1.0-1.2 s (middle frame 11)
    opening[20:23] = 0.5
    phones = [Phone("SIL", 0.0, 1.0), Phone("AA", 1.0, 1.2), Phone("M", 1.2, 1.9), Phone("F", 2.3, 2.5)]
    rel = relative_opening(opening)
    assert np.nanmax(rel) == pytest.approx(1.0 / np.percentile(opening, 95))
    c = class_openings(opening, phones, fps)
    assert c["open vowel"] == (pytest.approx(rel[11]), 1)
    assert c["bilabial"][0] == pytest.approx(0.0) and c["rounded"] == (pytest.approx(np.nan, nan_ok=True), 0)
    shifted = class_openings(np.roll(opening, 3), phones, fps, shift=-3)  # the video 3 frames later
    assert shifted["open vowel"][0] == pytest.approx(c["open vowel"][0])
    assert np.isnan(class_openings(np.zeros(40), phones, fps)["open vowel"][0])  # a mouth that never opens


# ---------------------------------------------------------------- intervals and summaries


def test_speaker_bootstrap_draws_whole_speakers():
    values = [0.5] * 10 + [0.1]
    speakers = ["a"] * 10 + ["b"]
    e = speaker_bootstrap(values, speakers)
    assert e.mean == pytest.approx(0.5 - 0.4 / 11) and e.n == 11 and e.speakers == 2
    # a draw holds speaker a or b whole: the mean can be 0.1 (b only), so the interval reaches it
    assert e.lo == pytest.approx(0.1) and e.hi == pytest.approx(0.5)
    clip_level = speaker_bootstrap(values, [str(i) for i in range(11)])
    assert clip_level.lo > 0.3  # as 11 independent clips the interval is much narrower
    assert speaker_bootstrap(values, speakers) == e  # a fixed seed
    assert speaker_mean(values, speakers) == pytest.approx(0.3)
    assert speaker_bootstrap([np.nan, 0.2], ["a", "b"]).n == 1
    with pytest.raises(ValueError):
        speaker_bootstrap([0.1], ["a", "b"])


def _row(clip, method, r_av, seed=0, classes=None):
    return ClipResult(clip, method, r_av - 0.1, 1, r_av + 0.05, 0.1, 0.1, 10.0, "mesh", np.zeros(3), 25.0, 1, r_av, seed,
                      20.0, 40.0, 0.3, classes or {})


def test_method_summary_averages_seeds_per_clip_then_clips():
    from anim3d.eval.manifest import ClipInfo

    infos = {"c1": ClipInfo("c1.mp4", "A", "a", "A"), "c2": ClipInfo("c2.mp4", "B", "b", "B")}
    rows = [_row("c1", "m", 0.2, 0, {"bilabial": (0.1, 3)}), _row("c1", "m", 0.4, 1, {"bilabial": (0.3, 3)}),
            _row("c2", "m", 0.6, 0, {"bilabial": (0.5, 2)}), _row("c2", "m", 0.6, 1, {"bilabial": (0.5, 2)})]
    assert per_clip(rows, "m", "r_av") == {"c1": pytest.approx(0.3), "c2": pytest.approx(0.6)}
    s = method_summary(rows, infos, "m")
    assert s["clips"] == 2 and s["speakers"] == 2
    assert s["r_av"].mean == pytest.approx(0.45) and s["r"].mean == pytest.approx(0.35)
    assert s["timing_ms"] == 20.0 and s["xcorr_ms"] == 0.0 and s["shut"] == pytest.approx(0.3)
    assert per_tier(rows, infos, "m") == {"A": (pytest.approx(0.3), 1), "B": (pytest.approx(0.6), 1)}
    assert class_means(rows, "m")["bilabial"] == (pytest.approx(0.35), 5)
