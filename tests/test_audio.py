"""Audio loading of common formats, and each kind of bad audio file: one clear error naming the file."""

import io
import struct
import warnings
import wave

import av
import numpy as np
import pytest

from anim3d.audio import load_audio, save_wav
from anim3d.errors import AudioError, InputWarning

SR = 44100


def _signal(seconds=1.0, sr=SR, freq=440.0):
    t = np.arange(int(seconds * sr)) / sr
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 2 * t)  # 2 Hz loudness envelope to compare after decoding
    return (0.5 * env * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _encode(path, samples, sr, codec, fmt=None, with_video=False, channels=1):
    """Write samples with PyAV using the given audio codec (test helper)."""
    with av.open(str(path), "w", format=fmt) as out:
        if with_video:
            v = out.add_stream("libx264", rate=30)
            v.width = v.height = 64
            v.pix_fmt = "yuv420p"
        a = out.add_stream(codec, rate=sr)
        if codec == "vorbis":
            a.codec_context.options = {"strict": "experimental"}  # FFmpeg's native Vorbis encoder
        a.layout = "mono" if channels == 1 else "stereo"
        fmt_name = a.codec_context.codec.audio_formats[0].name
        data = _as(fmt_name, np.tile(samples[None, :], (channels, 1)))
        step = 1024
        for i in range(0, data.shape[1], step):
            chunk = data[:, i : i + step]
            if fmt_name.endswith("p"):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk.astype(_np_dtype(fmt_name))), format=fmt_name, layout=a.layout.name)
            else:
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk.T.reshape(1, -1).astype(_np_dtype(fmt_name))), format=fmt_name, layout=a.layout.name)
            frame.sample_rate = sr
            frame.pts = i
            for packet in a.encode(frame):
                out.mux(packet)
            if with_video and i % (sr // 30 * 3) < step:
                img = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
                for packet in v.encode(img):
                    out.mux(packet)
        for packet in a.encode(None):
            out.mux(packet)
        if with_video:
            for packet in v.encode(None):
                out.mux(packet)


def _np_dtype(fmt_name):
    return {"s16": np.int16, "s16p": np.int16, "s32": np.int32, "s32p": np.int32, "flt": np.float32, "fltp": np.float32}[fmt_name]


def _as(fmt_name, x):
    scale = {"s16": 32767.0, "s32": 2147483647.0}.get(fmt_name.rstrip("p"), 1.0)
    return x * scale


def _envelope(x, sr, hop=0.01):
    n = int(sr * hop)
    m = len(x) // n
    return np.sqrt((x[: m * n].reshape(m, n) ** 2).mean(1))


@pytest.mark.parametrize(
    "name, codec, fmt, sr",
    [
        ("a.wav", None, None, SR),
        ("a.flac", "flac", None, SR),
        ("a.mp3", "libmp3lame", None, SR),
        ("a.ogg", "vorbis", None, SR),
        ("a.opus.ogg", "libopus", "ogg", 48000),
        ("a.m4a", "aac", "mp4", SR),
    ],
)
def test_common_formats_decode_to_mono_16k(tmp_path, name, codec, fmt, sr):
    sig = _signal(sr=sr)
    path = tmp_path / name
    if codec is None:
        save_wav(path, sig, sr)
    else:
        _encode(path, sig, sr, codec, fmt, channels=2)
    audio = load_audio(path, 16000)
    assert audio.sample_rate == 16000
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert abs(audio.duration - 1.0) < 0.08  # codec padding of a few ms is allowed
    e_ref = _envelope(sig, sr)
    e_out = _envelope(audio.samples, 16000)
    n = min(len(e_ref), len(e_out))
    # allow the codec's delay: best correlation within +/-5 hops (50 ms)
    best = max(np.corrcoef(e_ref[5 : n - 5], e_out[5 + k : n - 5 + k])[0, 1] for k in range(-5, 6))
    assert best > 0.95


def test_audio_track_of_mp4(tmp_path):
    path = tmp_path / "talk.mp4"
    _encode(path, _signal(2.0), SR, "aac", "mp4", with_video=True)
    audio = load_audio(path)
    assert abs(audio.duration - 2.0) < 0.1
    assert np.abs(audio.samples).max() > 0.1


def test_evaldata_video_audio(evaldata):
    audio = load_audio(evaldata / "video" / "Obama_clip1.mp4")
    assert 15 < audio.duration < 40


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="nothere.wav: file not found"):
        load_audio(tmp_path / "nothere.wav")


def test_not_audio(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("these are not samples " * 50)
    with pytest.raises(AudioError, match="notes.wav: not a readable audio or video file"):
        load_audio(p)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    with pytest.raises(AudioError, match="empty.wav: file is empty"):
        load_audio(p)


def test_wav_with_no_samples(tmp_path):
    p = tmp_path / "zero.wav"
    save_wav(p, np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="zero.wav: contains no audio samples"):
        load_audio(p)


def test_silent(tmp_path):
    p = tmp_path / "quiet.wav"
    save_wav(p, np.zeros(16000, np.float32), 16000)
    with pytest.raises(AudioError, match="quiet.wav: audio is silent"):
        load_audio(p)
    assert load_audio(p, allow_silent=True).duration == pytest.approx(1.0)


def test_video_without_audio_track(tmp_path):
    p = tmp_path / "mute.mp4"
    with av.open(str(p), "w") as out:
        v = out.add_stream("libx264", rate=30)
        v.width = v.height = 64
        v.pix_fmt = "yuv420p"
        for _ in range(10):
            for packet in v.encode(av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")):
                out.mux(packet)
        for packet in v.encode(None):
            out.mux(packet)
    with pytest.raises(AudioError, match="mute.mp4: has no audio track"):
        load_audio(p)


def test_absurd_length(tmp_path):
    p = tmp_path / "long.wav"
    save_wav(p, _signal(3.0, 16000), 16000)
    with pytest.raises(AudioError, match="long.wav: audio is .*limit"):
        load_audio(p, max_seconds=2.0)


def test_too_short(tmp_path):
    p = tmp_path / "blip.wav"
    save_wav(p, _signal(0.01, 16000), 16000)
    with pytest.raises(AudioError, match="blip.wav: audio is only 10 ms"):
        load_audio(p)


def test_folder_is_not_audio(tmp_path):
    with pytest.raises(AudioError, match="is a folder"):
        load_audio(tmp_path)


def test_save_wav_is_atomic(tmp_path):
    target = tmp_path / "missing_dir" / "x.wav"
    with pytest.raises(Exception):
        save_wav(target, _signal(0.1, 16000), 16000)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == [] or not any(p.name.startswith(".anim3d-") for p in tmp_path.rglob("*"))


def _truncated(tmp_path, name, codec, keep):
    """A 3.26 s file of ``codec`` (None = PCM WAV) cut to its first ``keep`` fraction of bytes."""
    full = tmp_path / f"full_{name}"
    if codec is None:
        save_wav(full, _signal(3.26), SR)
    else:
        _encode(full, _signal(3.26), SR, codec)
    data = full.read_bytes()
    cut = tmp_path / name
    cut.write_bytes(data[: int(len(data) * keep)])
    return cut


@pytest.mark.parametrize("name, codec", [("speech.wav", None), ("speech.flac", "flac"), ("speech.mp3", "libmp3lame")])
def test_truncated_file_warns_with_both_durations(tmp_path, name, codec):
    cut = _truncated(tmp_path, name, codec, 0.2)
    with pytest.warns(InputWarning) as rec:
        audio = load_audio(cut)
    assert len(rec) == 1
    text = str(rec[0].message)
    decoded = f"{audio.duration:.2f} s"
    assert name in text and "promises 3.26 s" in text and decoded in text and "truncated" in text
    assert 0.05 < audio.duration < 1.0


def _vbr_mp3_without_length_header(path, seconds_silent=2.0, seconds_tone=3.0, sr=SR):
    """A VBR MP3 with no Xing header: FFmpeg estimates its length from the first frame's bitrate,
    and the silent start makes that estimate far too long."""
    sig = np.concatenate([np.zeros(int(seconds_silent * sr), np.float32), _signal(seconds_tone, sr)])
    with av.open(str(path), "w", options={"write_xing": "0"}) as out:
        a = out.add_stream("libmp3lame", rate=sr)
        a.layout = "mono"
        a.codec_context.flags |= 2  # qscale: variable bitrate
        a.codec_context.global_quality = 0
        for i in range(0, len(sig), 1152):
            frame = av.AudioFrame.from_ndarray(sig[None, i : i + 1152].copy(), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = sr, i
            for packet in a.encode(frame):
                out.mux(packet)
        for packet in a.encode(None):
            out.mux(packet)
    return path


def test_only_a_broken_promise_warns(tmp_path):
    """Complete files, a WAV streamed with a placeholder size and an MP3 whose length FFmpeg only
    estimated from its bitrate break no promise; the same WAV cut short does."""
    whole = {}
    for name, codec in (("whole.wav", None), ("whole.flac", "flac"), ("whole.mp3", "libmp3lame"), ("whole.m4a", "aac")):
        whole[name] = path = tmp_path / name
        if codec is None:
            save_wav(path, _signal(3.26), SR)
        else:
            _encode(path, _signal(3.26), SR, codec, "mp4" if name.endswith(".m4a") else None)
    piped = bytearray(whole["whole.wav"].read_bytes())
    at = piped.index(b"data") + 4
    piped[at : at + 4] = b"\xff\xff\xff\xff"  # what a WAV writer on a pipe leaves
    (tmp_path / "piped.wav").write_bytes(bytes(piped))
    vbr = _vbr_mp3_without_length_header(tmp_path / "vbr.mp3")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for path in whole.values():
            assert abs(load_audio(path).duration - 3.26) < 0.05, path
        assert abs(load_audio(tmp_path / "piped.wav").duration - 3.26) < 0.01
        assert abs(load_audio(vbr).duration - 5.0) < 0.1
    (tmp_path / "cut.wav").write_bytes(whole["whole.wav"].read_bytes()[:100_000])
    with pytest.warns(InputWarning, match="cut.wav: the header promises 3.26 s"):
        load_audio(tmp_path / "cut.wav")


def test_cli_prints_the_truncation_warning_on_one_line(tmp_path):
    import subprocess
    import sys

    cut = _truncated(tmp_path, "speech.wav", None, 0.2)
    out = subprocess.run([sys.executable, "-m", "anim3d", "info", str(cut)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    err = out.stderr
    assert err.count("\n") == 1, err
    assert err.startswith("anim3d info: warning: ") and "speech.wav" in err and "promises 3.26 s" in err
    assert "UserWarning" not in err and "InputWarning" not in err and ".py:" not in err


def _wav_bytes(seconds=0.5, sr=16000):
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((_signal(seconds, sr) * 32767).astype("<i2").tobytes())
    return bytearray(buf.getvalue())


def test_tags_in_a_broken_encoding_do_not_stop_loading(tmp_path):
    info = b"INFO" + b"INAM" + struct.pack("<I", 4) + b"\x80\xfe\xff\x00"
    data = _wav_bytes() + b"LIST" + struct.pack("<I", len(info)) + info
    path = tmp_path / "tagged.wav"
    path.write_bytes(bytes(data))
    assert abs(load_audio(path).duration - 0.5) < 0.01


@pytest.mark.parametrize("offset, value, words", [
    (20, struct.pack("<H", 0), "codec is unknown"),  # format tag 0
    (24, struct.pack("<I", 1_500_000_000), "sample rate 1500000000 Hz"),
])
def test_impossible_wav_headers_are_refused_quickly(tmp_path, offset, value, words):
    import time

    data = _wav_bytes()
    data[offset : offset + len(value)] = value
    path = tmp_path / "odd.wav"
    path.write_bytes(bytes(data))
    start = time.perf_counter()
    with pytest.raises(AudioError, match=f"odd.wav: .*{words}"):
        load_audio(path)
    assert time.perf_counter() - start < 1.0


def test_mp3_whose_sample_rate_changes_midway_keeps_what_decodes(tmp_path):
    """Frames at a new rate get a new resampler; FFmpeg's MP3 decoder then stops at the
    splice, which is reported with the duration that was kept."""
    parts = []
    for sr in (44100, 22050):
        _encode(tmp_path / f"{sr}.mp3", _signal(1.0, sr), sr, "libmp3lame")
        parts.append((tmp_path / f"{sr}.mp3").read_bytes())
    path = tmp_path / "spliced.mp3"
    path.write_bytes(parts[0] + parts[1])
    with pytest.warns(InputWarning, match=r"spliced.mp3: .*only 1\.0\d s could be decoded \(file truncated or corrupt"):
        audio = load_audio(path)
    assert 1.0 <= audio.duration < 1.1
