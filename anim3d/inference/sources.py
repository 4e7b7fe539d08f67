"""Where a stream's audio comes from: a file released at the pace of real time, or raw PCM on stdin (from a
TTS or a chatbot), cut into chunks for ``StreamingAnimator``; ``live_chunks`` joins a source to the animator."""

from __future__ import annotations

import os
import sys
import time
from typing import Iterator

import numpy as np

from anim3d.errors import Anim3dError, AudioError
from anim3d.inference.settings import MotionSettings
from anim3d.motion import Motion

PCM_SAMPLE_RATE = 16000


def file_chunks(path: str, chunk_ms: float = 20.0, realtime: bool = True, sample_rate: int = PCM_SAMPLE_RATE) -> Iterator[np.ndarray]:
    """An audio file cut into chunks, released at the pace of real time when ``realtime``."""
    from anim3d.audio import load_audio

    audio = load_audio(path, sample_rate)
    n = max(1, int(sample_rate * chunk_ms / 1000))
    t0 = time.monotonic()
    for i in range(0, len(audio.samples), n):
        if realtime:
            due = t0 + (i + n) / sample_rate  # a chunk exists once all its samples were "spoken"
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        yield audio.samples[i : i + n]


def pcm_chunks(stream=None, chunk_ms: float = 20.0, sample_rate: int = PCM_SAMPLE_RATE) -> Iterator[np.ndarray]:
    """Raw signed 16-bit little-endian mono PCM (e.g. from a TTS or chatbot) read from ``stream`` (stdin)."""
    stream = stream if stream is not None else sys.stdin.buffer
    n = max(1, int(sample_rate * chunk_ms / 1000)) * 2
    pending = b""
    got_any = False
    while True:
        data = stream.read1(n) if hasattr(stream, "read1") else stream.read(n)
        if not data:
            break
        got_any = True
        data = pending + data
        cut = len(data) - len(data) % 2
        pending = data[cut:]
        if cut:
            yield np.frombuffer(data[:cut], "<i2").astype(np.float32) / 32768.0
    if not got_any:
        raise AudioError("<stdin>", f"no PCM audio arrived (expected raw s16le mono at {sample_rate} Hz)")


def live_chunks(source: str, settings: MotionSettings | None = None, *, realtime: bool = True, chunk_ms: float = 20.0,
                pcm_rate: int = PCM_SAMPLE_RATE, checkpoint=None, device="cpu") -> Iterator[Motion]:
    """Motion chunks generated live from ``source``: an audio file path, or ``-`` for raw PCM on stdin."""
    from anim3d.inference.generator import load_model
    from anim3d.inference.streaming import StreamingAnimator

    check_source(source)
    gen = load_model(checkpoint, device)
    if source == "-":
        animator = StreamingAnimator(gen, settings, sample_rate=pcm_rate)
        chunks = pcm_chunks(chunk_ms=chunk_ms, sample_rate=pcm_rate)
    else:
        animator = StreamingAnimator(gen, settings)
        chunks = file_chunks(source, chunk_ms, realtime)
    return animator.run(chunks)


def is_audio_source(path: str) -> bool:
    """True for ``-`` (stdin PCM) and audio/video file names that ``anim3d stream`` should animate live."""
    from anim3d.audio import MEDIA_EXTENSIONS

    return path == "-" or os.path.splitext(path)[1].lower() in MEDIA_EXTENSIONS


def check_source(path: str) -> None:
    """A file that exists, or ``-`` with audio piped in."""
    if path != "-" and not os.path.isfile(path):
        raise AudioError(path, "file not found")
    if path == "-" and sys.stdin.isatty():
        raise Anim3dError("reading raw PCM from stdin, but stdin is a terminal: pipe audio in, e.g. tts | anim3d stream -")
