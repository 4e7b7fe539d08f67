"""Commands never write to a file they read, check their outputs before working, write all outputs or
none, leave no temporaries behind (SIGTERM, SIGKILL) and refuse bad options in one line, exit 2."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from anim3d.cli import main
from anim3d.motion import Motion

ANIM3D = [sys.executable, "-m", "anim3d"]


def _wav(path: Path, rate: int = 44100, channels: int = 2, seconds: float = 1.2) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    x = np.stack([tone * (0.5 + 0.5 * c) for c in range(channels)], 1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((x * 32767).astype("<i2").tobytes())
    return path


def _one_line_error(err: str, *needles: str) -> None:
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], err


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.fixture
def talk(tmp_path) -> Path:
    return _wav(tmp_path / "talk.wav")


def test_animate_never_overwrites_its_input_audio(talk, capsys):
    before = talk.read_bytes()
    assert main(["animate", str(talk), "-o", str(talk.with_suffix(".glb")), "-q"]) == 2
    _one_line_error(capsys.readouterr().err, "talk.wav", "never writes to a file it reads")
    assert talk.read_bytes() == before
    assert _files(talk.parent) == {"talk.wav"}


def test_export_never_overwrites_its_input_audio(talk, tmp_path, capsys):
    Motion.neutral(30).save_npz(tmp_path / "t.npz")
    before = talk.read_bytes()
    assert main(["export", str(tmp_path / "t.npz"), "--audio", str(talk), "-o", str(tmp_path / "talk.glb")]) == 2
    _one_line_error(capsys.readouterr().err, "talk.wav")
    assert talk.read_bytes() == before and not (tmp_path / "talk.glb").exists()
    # the input named through another path (a symlink) is the same file
    (tmp_path / "link.wav").symlink_to(talk)
    assert main(["export", str(tmp_path / "t.npz"), "--audio", str(tmp_path / "link.wav"), "-o", str(tmp_path / "talk.glb")]) == 2
    assert talk.read_bytes() == before


def test_sidecar_keeps_the_inputs_rate_and_channels(talk, tmp_path):
    """A 44.1 kHz stereo WAV gives the same bytes beside the GLB, from animate and from export alike."""
    assert main(["animate", str(talk), "-o", str(tmp_path / "a.glb"), "-q"]) == 0
    assert (tmp_path / "a.wav").read_bytes() == talk.read_bytes()
    Motion.neutral(30).save_npz(tmp_path / "t.npz")
    assert main(["export", str(tmp_path / "t.npz"), "--audio", str(talk), "-o", str(tmp_path / "e.glb")]) == 0
    assert (tmp_path / "e.wav").read_bytes() == talk.read_bytes()


def test_sidecar_of_a_compressed_input_is_pcm_at_its_own_rate(talk, tmp_path):
    import av

    flac = tmp_path / "talk.flac"
    with av.open(str(talk)) as src, av.open(str(flac), "w") as dst:
        out = dst.add_stream("flac", rate=44100, layout="stereo")
        for frame in src.decode(audio=0):
            for p in out.encode(frame):
                dst.mux(p)
        for p in out.encode(None):
            dst.mux(p)
    Motion.neutral(30).save_npz(tmp_path / "t.npz")
    assert main(["export", str(tmp_path / "t.npz"), "--audio", str(flac), "-o", str(tmp_path / "e.glb")]) == 0
    with wave.open(str(tmp_path / "e.wav")) as w, wave.open(str(talk)) as ref:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (44100, 2, 2)
        got, want = w.readframes(w.getnframes()), ref.readframes(ref.getnframes())
    assert got == want  # flac is lossless: the same samples


def test_output_that_is_a_folder_or_unwritable_is_refused_before_work(talk, tmp_path, capsys):
    (tmp_path / "d").mkdir()
    assert main(["animate", str(talk), "-o", str(tmp_path / "d"), "-q"]) == 2
    _one_line_error(capsys.readouterr().err, "is a folder")
    assert main(["animate", str(talk), "-o", str(tmp_path / "missing" / "x.npz"), "-q"]) == 2
    _one_line_error(capsys.readouterr().err, "output folder does not exist")
    if os.geteuid() == 0:  # root writes through permission bits: use a folder no one may write in
        locked = Path("/proc/self")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
    assert main(["animate", str(talk), "-o", str(locked / "x.npz"), "-q"]) == 2
    _one_line_error(capsys.readouterr().err, "cannot write in")


def test_outputs_are_written_all_or_none(talk, tmp_path, capsys):
    """The GLB's audio path is a folder: neither the NPZ nor the GLB may be left behind."""
    (tmp_path / "b.wav").mkdir()
    assert main(["animate", str(talk), "-o", str(tmp_path / "a.npz"), "-o", str(tmp_path / "b.glb"), "-q"]) == 2
    _one_line_error(capsys.readouterr().err, "b.wav", "is a folder")
    assert _files(tmp_path) == {"talk.wav", "b.wav"}
    Motion.neutral(30).save_npz(tmp_path / "t.npz")
    assert main(["export", str(tmp_path / "t.npz"), "--audio", str(talk), "-o", str(tmp_path / "b.glb")]) == 2
    assert not (tmp_path / "b.glb").exists()


def test_group_removes_written_outputs_when_a_later_one_fails(tmp_path):
    from anim3d.fileio import atomic_output, output_group

    with pytest.raises(RuntimeError):
        with output_group():
            with atomic_output(tmp_path / "first.txt") as tmp:
                Path(tmp).write_text("done")
            with atomic_output(tmp_path / "second.txt") as tmp:
                raise RuntimeError("the second writer fails")
    assert list(tmp_path.iterdir()) == []
    with output_group():
        for name in ("a.txt", "b.txt"):
            with atomic_output(tmp_path / name) as tmp:
                Path(tmp).write_text(name)
        assert list(tmp_path.iterdir()) != [] and not (tmp_path / "a.txt").exists()  # not before the group ends
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


@pytest.mark.parametrize("argv, needle", [
    (["animate", "{talk}", "-o", "{out}", "--fps", "0"], "--fps: must be a frame rate above 0"),
    (["animate", "{talk}", "-o", "{out}", "--fps", "-30"], "--fps: must be a frame rate above 0"),
    (["animate", "{talk}", "-o", "{out}", "--seed", "99999999999999999999"], "--seed: must be between 0 and 4294967295"),
    (["animate", "{talk}", "-o", "{out}", "--seed", "-1"], "--seed: must be between 0 and 4294967295"),
    (["animate", "{talk}", "-o", "{out}", "--seed", "4294967295", "--num-samples", "2"], "seed must be a whole number from 0 to 4294967294"),
    (["animate", "{talk}", "-o", "{out}", "--mouth-steps", "99"], "cannot keep the estimate of step 99"),
    (["animate", "{talk}", "-o", "{out}", "--gaze", "500,-300"], "within +-45 degrees, got 500,-300"),
    (["animate", "{talk}", "-o", "{out}", "--intensity", "nan"], "--intensity: expected a finite number"),
    (["export", "{npz}", "-o", "{mp4}", "--size", "0"], "--size: must be between 16 and 4096 pixels"),
    (["export", "{npz}", "-o", "{glb}", "--fps", "-30"], "--fps: must be a frame rate above 0"),
    (["stream", "-", "--pcm-rate", "0"], "--pcm-rate: must be between 8000 and 192000 Hz"),
    (["stream", "{npz}", "--fps", "0"], "--fps: must be a frame rate above 0"),
])
def test_bad_options_are_one_line_in_the_users_unit(argv, needle, talk, tmp_path, capsys):
    Motion.neutral(30).save_npz(tmp_path / "m.npz")
    paths = {"talk": talk, "out": tmp_path / "out.npz", "npz": tmp_path / "m.npz", "mp4": tmp_path / "o.mp4",
             "glb": tmp_path / "o.glb"}
    assert main([a.format(**paths) for a in argv] + ["-q"]) == 2
    _one_line_error(capsys.readouterr().err, needle)
    assert _files(tmp_path) == {"talk.wav", "m.npz"}


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    from anim3d.fileio import atomic_output

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".anim3d-{dead.pid}-abcd.tmp.mp4"
    live = tmp_path / f".anim3d-{os.getppid()}-efgh.tmp.mp4"
    stale.write_bytes(b"half")
    live.write_bytes(b"being written")
    with atomic_output(tmp_path / "x.txt") as tmp:
        Path(tmp).write_text("x")
    assert not stale.exists() and live.exists() and (tmp_path / "x.txt").read_text() == "x"


def _wait_for_temporary(folder: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    t_end = time.monotonic() + timeout
    while not list(folder.glob(".anim3d-*")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < t_end, "no temporary file appeared"
        time.sleep(0.05)


@pytest.mark.slow
def test_sigterm_removes_temporaries_and_exits_143(tmp_path):
    m = Motion.neutral(900)  # 30 s of preview video: seconds of work to interrupt
    m.blendshapes[:, 17] = np.abs(np.sin(np.arange(900) / 5))
    m.save_npz(tmp_path / "m.npz")
    proc = subprocess.Popen(ANIM3D + ["export", str(tmp_path / "m.npz"), "-o", str(tmp_path / "x.mp4")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_temporary(tmp_path, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "terminated" in err and "Traceback" not in err
    assert _files(tmp_path) == {"m.npz"}


@pytest.mark.slow
def test_sigkill_leftover_is_removed_by_the_next_run(tmp_path):
    m = Motion.neutral(900)
    m.save_npz(tmp_path / "m.npz")
    proc = subprocess.Popen(ANIM3D + ["export", str(tmp_path / "m.npz"), "-o", str(tmp_path / "x.mp4")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_temporary(tmp_path, proc)
    proc.kill()
    proc.wait()
    assert list(tmp_path.glob(".anim3d-*"))
    assert main(["export", str(tmp_path / "m.npz"), "-o", str(tmp_path / "y.npz")]) == 0
    assert _files(tmp_path) == {"m.npz", "y.npz"}


def test_stream_to_a_closed_port_warns_once(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free once closed: nothing listens there
    Motion.neutral(15).save_npz(tmp_path / "m.npz")
    out = subprocess.run(ANIM3D + ["stream", str(tmp_path / "m.npz"), "--osc", f"127.0.0.1:{port}", "--protocol", "plain",
                                   "-q"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    warned = [ln for ln in out.stderr.splitlines() if "nothing is listening" in ln]
    assert len(warned) == 1 and warned[0].startswith(f"anim3d stream: warning: nothing is listening at 127.0.0.1:{port}")
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_render_is_quiet_with_q(tmp_path):
    """MediaPipe's native start-up logs (TFLite, absl) never reach the terminal."""
    from PIL import Image
    from skimage import data

    Image.fromarray(data.astronaut()).save(tmp_path / "face.png")
    Motion.neutral(6).save_npz(tmp_path / "m.npz")
    out = subprocess.run(ANIM3D + ["render", str(tmp_path / "m.npz"), "--portrait", str(tmp_path / "face.png"),
                                   "-o", str(tmp_path / "v.mp4"), "--warp-only", "-q"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stderr == "" and out.stdout == ""
    bad = subprocess.run(ANIM3D + ["render", str(tmp_path / "m.npz"), "--portrait", str(tmp_path / "m.npz"),
                                   "-o", str(tmp_path / "w.mp4"), "-q"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2
    _one_line_error(bad.stderr, "m.npz")


def test_training_never_writes_over_the_checkpoint_it_starts_from(tmp_path, capsys):
    from anim3d.models.checkpoint import DEFAULT_DIR as DEFAULT_CHECKPOINT

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    before = {p.name: p.read_bytes() for p in DEFAULT_CHECKPOINT.iterdir() if p.is_file()}
    assert main(["train", "--data", str(corpus), "--init", "default", "--out", str(DEFAULT_CHECKPOINT), "-q"]) == 2
    _one_line_error(capsys.readouterr().err, "is the --init checkpoint")
    assert {p.name: p.read_bytes() for p in DEFAULT_CHECKPOINT.iterdir() if p.is_file()} == before


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path):
    """``anim3d info m.npz | head -1``: the closed pipe is no traceback."""
    m = Motion.neutral(30)
    m.blendshapes[:, :40] = 0.5  # many active channels: a long report
    m.save_npz(tmp_path / "m.npz")
    proc = subprocess.Popen(ANIM3D + ["info", str(tmp_path / "m.npz")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # nobody reads
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and proc.returncode in (0, 141), (proc.returncode, err)


@pytest.mark.slow
def test_mediapipe_native_logs_never_reach_the_terminal(tmp_path):
    """Tracking two videos: MediaPipe's C++ side logs from its own threads while each graph runs; none of it
    shows, while anim3d's own lines do."""
    from skimage import data
    from test_importers import write_video_with_audio

    face = data.astronaut()[:, 60:412]  # 512 x 352
    rng = np.random.default_rng(0)
    for name in ("a.mp4", "b.mp4"):
        frames = [np.clip(face.astype(np.int16) + rng.integers(-3, 4, face.shape), 0, 255).astype(np.uint8) for _ in range(8)]
        write_video_with_audio(tmp_path / name, frames, len(frames) / 30)
    for _ in range(3):  # the graphs' threads log at their own pace: several runs, several timings
        out = subprocess.run(ANIM3D + ["import", "video", str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4"),
                                       str(tmp_path / "c.mp4"), "--out", str(tmp_path / "d")], capture_output=True, text=True,
                             timeout=300)
        assert out.returncode == 2
        for native in ("W0000", "I0000", "INFO: Created TensorFlow Lite", "absl::InitializeLog"):
            assert native not in out.stderr, out.stderr
        assert "tracking a.mp4" in out.stderr  # the progress bars still show
        assert out.stderr.strip().endswith("c.mp4: file not found"), out.stderr
