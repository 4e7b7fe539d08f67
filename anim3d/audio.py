"""Audio loading: any common file (wav, flac, mp3, ogg, m4a, or a video's audio track)
-> mono float32 at a requested sample rate, through PyAV (FFmpeg) in one dependency.

Every bad input raises AudioError naming the file and the problem.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from anim3d.errors import AudioError, warn_input
from anim3d.fileio import ffmpeg_reason, open_media

DEFAULT_SAMPLE_RATE = 16000
# extensions of the audio and video files anim3d expects (FFmpeg reads more)
MEDIA_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".aif", ".aiff",
                    ".mp4", ".mov", ".mkv", ".webm", ".avi")
MAX_SECONDS = 3600.0  # an hour: longer inputs are almost surely a mistake (use streaming)
MIN_SECONDS = 0.05
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1000, 768000  # rates recordings use, telephony to DXD
SILENCE_PEAK = 1e-4  # peak amplitude below this (about -80 dBFS) counts as silent
# Audio that decodes shorter than its header promises by more than the codec's padding
# (under 60 ms) is reported: slack 0.1 s plus 0.2 % of the promise.
TRUNCATION_SLACK_S = 0.1
TRUNCATION_SLACK_SHARE = 0.002


@dataclass
class Audio:
    samples: np.ndarray  # (N,) float32 mono in [-1, 1]
    sample_rate: int
    path: str | None = None

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def load_audio(
    path: str | os.PathLike,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    *,
    max_seconds: float = MAX_SECONDS,
    min_seconds: float = MIN_SECONDS,
    allow_silent: bool = False,
) -> Audio:
    """Decode ``path`` to mono float32 at ``sample_rate``.

    Raises AudioError for a missing file, a file that is not audio, a video with no
    audio track, empty or too-short audio, silent audio (unless ``allow_silent``) and
    audio longer than ``max_seconds``. Warns (InputWarning) when less audio decodes than
    the header promises, or decoding stops at corrupt data: the audio before it is kept.
    """
    import av

    path = os.fspath(path)
    container = open_media(path, error=AudioError, noun="an audio file", readable="audio or video file")
    with container:
        stream = audio_track(path, container)
        _check_rate(path, stream.codec_context.sample_rate)
        declared = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
        if declared is not None and declared > max_seconds * 1.05:
            raise AudioError(path, f"audio is {declared:.0f} s long; the limit is {max_seconds:.0f} s")
        promised = _promised_seconds(path, container, stream, max_seconds)
        mono = MonoResampler(sample_rate)
        chunks: list[np.ndarray] = []
        total = 0
        limit = int((max_seconds + 1.0) * sample_rate)
        corrupt = None
        try:
            for frame in container.decode(stream):
                _check_rate(path, frame.sample_rate)
                for arr in mono.push(frame):
                    chunks.append(arr)
                    total += arr.size
                if total > limit:
                    raise AudioError(path, f"audio is longer than the limit of {max_seconds:.0f} s")
        except av.error.FFmpegError as e:
            if not total:
                raise AudioError(path, f"audio data is corrupt ({ffmpeg_reason(e)})") from None
            corrupt = ffmpeg_reason(e)  # keep the audio decoded before the bad data
        chunks.extend(mono.flush())
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    problem = shortfall(promised, samples.size / sample_rate, corrupt)
    if problem:
        warn_input(path, problem)
    return _checked(samples, sample_rate, path, max_seconds, min_seconds, allow_silent)


class MonoResampler:
    """Decoded frames -> mono float32 arrays at ``rate``. A stream whose sample format, layout
    or rate changes midway (spliced files) gets a fresh resampler at each change."""

    def __init__(self, rate: int):
        self.rate = rate
        self._resampler = None
        self._setup = None

    def push(self, frame) -> list[np.ndarray]:
        import av

        setup = (frame.format.name, frame.layout.name, frame.sample_rate)
        out = self.flush() if self._setup not in (None, setup) else []
        if self._resampler is None:
            self._resampler, self._setup = av.AudioResampler(format="flt", layout="mono", rate=self.rate), setup
        return out + [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]

    def flush(self) -> list[np.ndarray]:
        if self._resampler is None:
            return []
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(None)]
        self._resampler = self._setup = None
        return out


def _check_rate(path: str, rate) -> None:
    if not rate or not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AudioError(path, f"audio sample rate {rate} Hz is outside {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz")


def audio_track(path: str, container):
    """The first audio stream of an open container; AudioError when there is none or FFmpeg
    has no decoder for it."""
    streams = container.streams.audio
    if not streams:
        kinds = ", ".join(sorted({s.type for s in container.streams})) or "no streams"
        raise AudioError(path, f"has no audio track (contains: {kinds})")
    if streams[0].codec_context is None:
        raise AudioError(path, "the audio track's codec is unknown to FFmpeg")
    return streams[0]


def shortfall(promised: float | None, decoded: float, corrupt: str | None) -> str | None:
    """The warning for audio that decoded shorter than its header promised (beyond codec
    padding) or stopped at corrupt data, or None when all that was promised was decoded."""
    if promised is not None and decoded < promised - (TRUNCATION_SLACK_S + TRUNCATION_SLACK_SHARE * promised):
        why = f"file truncated or corrupt: {corrupt}" if corrupt else "file truncated?"
        return f"the header promises {promised:.2f} s but only {decoded:.2f} s could be decoded ({why})"
    if corrupt:
        return f"audio data is corrupt after {decoded:.2f} s ({corrupt}); only the audio before it is used"
    return None


def _promised_seconds(path: str, container, stream, max_seconds: float) -> float | None:
    """The duration the file's header promises, or None where it promises none.

    FFmpeg sizes a WAV by its bytes, so a WAV's promise is read from its header; other
    formats promise through FFmpeg's stream duration unless FFmpeg only estimated it from
    the file size and bitrate. A promise beyond ``max_seconds`` is a streaming placeholder.
    """
    if container.format.name == "wav":
        seconds = _wav_header_seconds(path)
    else:
        seconds = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
        if seconds is not None and _is_bitrate_estimate(os.path.getsize(path), stream, seconds):
            seconds = None
    return seconds if seconds and seconds <= max_seconds else None


def _wav_header_seconds(path: str) -> float | None:
    """Frames / rate from a PCM WAV's header (Python's wave module reads only PCM headers)."""
    import struct
    import wave

    try:
        with wave.open(path, "rb") as w:
            frames, rate = w.getnframes(), w.getframerate()
    except (wave.Error, EOFError, OSError, struct.error):
        return None
    return frames / rate if rate > 0 else None


def _is_bitrate_estimate(file_size: int, stream, seconds: float) -> bool:
    """True when ``seconds`` is file size / bitrate: FFmpeg's guess, not a header's count."""
    bit_rate = stream.codec_context.bit_rate or stream.bit_rate
    return bool(bit_rate) and abs(file_size * 8 / bit_rate - seconds) <= 0.01 * seconds + 0.01


def audio_from_array(
    samples: np.ndarray,
    sample_rate: int,
    target_rate: int = DEFAULT_SAMPLE_RATE,
    *,
    name: str = "<array>",
    allow_silent: bool = True,
) -> Audio:
    """Wrap an in-memory signal (mono or (N, C)) and resample it to ``target_rate``."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.ndim != 1:
        raise AudioError(name, f"expected (samples,) or (samples, channels), got {x.shape}")
    if sample_rate != target_rate and x.size:
        x = resample(x, sample_rate, target_rate)
    return _checked(x, target_rate, name, MAX_SECONDS, 0.0, allow_silent)


def resample(x: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Band-limited polyphase resampling (scipy)."""
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(src_rate), int(dst_rate))
    return resample_poly(x, dst_rate // g, src_rate // g).astype(np.float32)


def _checked(samples, rate, path, max_seconds, min_seconds, allow_silent) -> Audio:
    if samples.size == 0:
        raise AudioError(path, "contains no audio samples")
    if not np.isfinite(samples).all():
        raise AudioError(path, "audio contains NaN or infinite samples")
    dur = samples.size / rate
    if dur < min_seconds:
        raise AudioError(path, f"audio is only {dur * 1000:.0f} ms long; at least {min_seconds * 1000:.0f} ms is needed")
    if dur > max_seconds:
        raise AudioError(path, f"audio is {dur:.0f} s long; the limit is {max_seconds:.0f} s")
    if not allow_silent and float(np.abs(samples).max()) < SILENCE_PEAK:
        raise AudioError(path, "audio is silent (peak below -80 dBFS)")
    return Audio(samples, rate, path)


def save_sidecar_wav(path: str | os.PathLike, audio: Audio | str | os.PathLike) -> None:
    """Write the audio that goes beside an animation file (a GLB's ``.wav``).

    From a file, the sound is the input's own: a WAV file's bytes are copied; any other file
    (flac, mp3, a video's audio track) is decoded to 16-bit PCM at its own sample rate and
    channels. From an ``Audio``, its samples are written as they are.
    """
    if isinstance(audio, Audio):
        save_wav(path, audio)
        return
    import shutil

    from anim3d.fileio import atomic_output

    src = os.fspath(audio)
    with open(src, "rb") as fh:
        head = fh.read(12)
    with atomic_output(path) as tmp:
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            shutil.copyfile(src, tmp)
        else:
            _transcode_to_wav(src, tmp)


def _transcode_to_wav(src: str, dst: str) -> None:
    """The first audio track of ``src`` as 16-bit PCM WAV at its own rate and channel count."""
    import wave

    import av

    container = open_media(src, error=AudioError, noun="an audio file", readable="audio or video file")
    with container:
        if not container.streams.audio:
            raise AudioError(src, "has no audio track")
        stream = container.streams.audio[0]
        rate = stream.rate or stream.codec_context.sample_rate
        channels = max(1, stream.codec_context.channels or 1)
        layout = {1: "mono", 2: "stereo"}.get(channels, stream.layout.name)
        resampler = av.AudioResampler(format="s16", layout=layout, rate=rate)  # packed: interleaved channels
        with wave.open(dst, "wb") as w:
            w.setnchannels(channels)
            w.setsampwidth(2)
            w.setframerate(int(rate))
            try:
                for frame in container.decode(stream):
                    for out in resampler.resample(frame):
                        w.writeframes(out.to_ndarray().tobytes())
                for out in resampler.resample(None):
                    w.writeframes(out.to_ndarray().tobytes())
            except av.error.FFmpegError as e:
                raise AudioError(src, f"audio data is corrupt ({ffmpeg_reason(e)})") from None


def save_wav(path: str | os.PathLike, audio: Audio | np.ndarray, sample_rate: int | None = None) -> None:
    """Write 16-bit PCM mono WAV atomically."""
    import wave

    from anim3d.fileio import atomic_output

    if isinstance(audio, Audio):
        samples, rate = audio.samples, audio.sample_rate
    else:
        if sample_rate is None:
            raise ValueError("sample_rate is required for a raw array")
        samples, rate = np.asarray(audio, np.float32), sample_rate
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    with atomic_output(path) as tmp:
        with wave.open(tmp, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(int(rate))
            w.writeframes(pcm.tobytes())

