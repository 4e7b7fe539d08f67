"""The synthetic corpus: text -> TTS (exact phones) -> teacher motion -> augmented audio -> shards.

English (the default) is spoken by espeak-ng's English accents, festival and Piper voices; another language of
``anim3d.languages`` by its espeak-ng voice x variants, reading that language's bundled sentences.

Shard k's content depends only on (seed, k), so a run can be resumed (finished shards are
kept) and spread over worker processes.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from anim3d.data import augment
from anim3d.data.shards import ShardError, Utterance, choose_val_voices, read_shard_meta, write_index, write_shard
from anim3d.teacher import EMOTIONS, SpeakerStyle, phones_to_motion
from anim3d.data.text import language_text
from anim3d.data.tts import TTSError, Voice, list_voices, reseed_piper, synthesize_many
from anim3d.errors import Anim3dError


@dataclass
class SynthConfig:
    hours: float = 1.0
    seed: int = 0
    shard_seconds: float = 240.0  # audio per shard
    festival_share: float = 0.3  # fraction of utterances spoken by festival voices
    piper_share: float = 0.4  # fraction spoken by Piper (neural) voices, when piper-tts and a voice are installed
    neutral_share: float = 0.3  # the rest is spread evenly over the other 7 emotions
    augment_prob: float = 0.6  # probability of an audio augmentation chain
    speed_prob: float = 0.2  # probability of a small speed change (0.9-1.1)
    val_fraction: float = 0.1  # share of espeak voices held out for validation
    val_seed: int | None = None  # seed of the held-out voice draw (None: ``seed``); one value for every corpus
    # of a recipe holds out the same voices in all of them (the split is only a label in index.json)
    fps: float = 30.0
    language: str = "en"  # a code of anim3d.languages.LANGUAGES

    @property
    def num_shards(self) -> int:
        return max(1, int(np.ceil(self.hours * 3600.0 / self.shard_seconds)))


def shard_name(k: int) -> str:
    return f"synth-{k:05d}.npz"


@dataclass
class _Plan:
    text: str
    voice: Voice
    rate: float
    pitch: float


def _plan_shard(cfg: SynthConfig, seconds: float, rng: np.random.Generator, voices: list[Voice]) -> list[_Plan]:
    espeak = [v for v in voices if v.engine == "espeak"]
    festival = [v for v in voices if v.engine == "festival"]
    piper = [v for v in voices if v.engine == "piper"]
    plans, est = [], 0.0
    chars_per_second = _CHARS_PER_SECOND.get(cfg.language, 12.0)
    while est < seconds:
        text = language_text(cfg.language, rng)
        # the piper draw is made only when piper is in play, so corpora without it are as before
        use_piper = bool(piper) and cfg.piper_share > 0 and (rng.random() < cfg.piper_share or not (espeak or festival))
        use_fest = festival and (not espeak or rng.random() < cfg.festival_share)
        pool = piper if use_piper else festival if use_fest else espeak
        voice = pool[int(rng.integers(len(pool)))]
        rate = float(rng.uniform(0.8, 1.35))
        # piper's pitch factor also scales the formants (a smaller or larger vocal tract): kept milder
        pitch = float(rng.uniform(0.88, 1.22) if use_piper else rng.uniform(0.8, 1.25))
        plans.append(_Plan(text, voice, rate, pitch))
        est += len(text) / chars_per_second / rate + 0.4
    return plans


# characters per second at normal speed, a little under espeak-ng's (the text estimate is topped up); 12 for the
# alphabetic languages
_CHARS_PER_SECOND = {"ja": 7.0, "zh": 3.5, "ko": 5.5}


def draw_labels(rng: np.random.Generator, neutral_share: float = 0.3) -> dict:
    """Emotion (neutral with probability ``neutral_share``, else one of the other 7 at intensity
    0.2-1), gaze (yaw, pitch: near straight ahead half the time) and head distance for one utterance."""
    if rng.random() < neutral_share:
        emotion, intensity = "neutral", 0.0
    else:
        emotion = str(EMOTIONS[1 + int(rng.integers(len(EMOTIONS) - 1))])
        intensity = round(float(rng.uniform(0.2, 1.0)), 3)
    if rng.random() < 0.5:
        gaze = (float(rng.normal(0, 0.02)), float(rng.normal(0, 0.02)))
    else:
        gaze = (float(np.clip(rng.normal(0, 0.15), -0.35, 0.35)), float(np.clip(rng.normal(0, 0.08), -0.25, 0.25)))
    distance = float(rng.uniform(-0.1, 0.1))
    return {"emotion": emotion, "intensity": intensity, "gaze": [round(gaze[0], 4), round(gaze[1], 4)],
            "distance": round(distance, 4)}


def _speak(voice: Voice, plans: list[_Plan]) -> list[tuple | None]:
    """Synthesize a batch; if the engine fails on it, retry one by one and drop (with a
    warning) the sentences it cannot say, so one odd sentence does not stop a long run."""
    try:
        return synthesize_many([p.text for p in plans], voice, [p.rate for p in plans], [p.pitch for p in plans])
    except TTSError:
        if len(plans) == 1:
            raise
    out: list[tuple | None] = []
    for p in plans:
        try:
            out.append(synthesize_many([p.text], voice, [p.rate], [p.pitch])[0])
        except TTSError as e:
            warnings.warn(f"skipped a sentence: {e}", stacklevel=2)
            out.append(None)
    return out


def make_shard(cfg: SynthConfig, k: int, out_dir: str | os.PathLike) -> dict:
    """Generate shard ``k`` and write it; returns {file, utterances, seconds, wall}."""
    t0 = time.perf_counter()
    rng = np.random.default_rng([cfg.seed, k])
    reseed_piper(cfg.seed * 100003 + k)
    voices = list_voices(cfg.language)
    if not voices:
        raise Anim3dError("no TTS voice installed: apt-get install espeak-ng festival festvox-us-slt-hts festvox-kallpc16k")
    plans: list[_Plan] = []
    spoken: list[tuple] = []
    while sum(a.duration for a, _ in spoken) < cfg.shard_seconds:  # the text estimate is rough: top up
        more = _plan_shard(cfg, cfg.shard_seconds - sum(a.duration for a, _ in spoken), rng, voices)
        got: list[tuple] = [None] * len(more)
        by_voice: dict[Voice, list[int]] = {}
        for i, p in enumerate(more):
            by_voice.setdefault(p.voice, []).append(i)
        for voice in sorted(by_voice, key=lambda v: v.id):  # festival: one process per voice and round
            idx = by_voice[voice]
            for i, r in zip(idx, _speak(voice, [more[i] for i in idx])):
                got[i] = r
        keep = [i for i, r in enumerate(got) if r is not None]
        plans += [more[i] for i in keep]
        spoken += [got[i] for i in keep]
    utts = []
    for i, (plan, (audio, phones)) in enumerate(zip(plans, spoken)):
        # each utterance draws from its own stream: noise draws follow the audio length, and a TTS engine
        # whose output length wavers (espeak-ng, by a few samples) must not shift the next utterance's draws
        urng = np.random.default_rng([cfg.seed, k, i])
        labels = draw_labels(urng, cfg.neutral_share)
        steps = []
        if urng.random() < cfg.speed_prob:
            factor = float(urng.uniform(0.9, 1.1))
            audio, phones, factor = augment.change_speed(audio, phones, factor)
            steps.append(f"speed({factor:.3f})")
        style = SpeakerStyle.random(urng)
        motion = phones_to_motion(
            phones, audio.duration, fps=cfg.fps, emotion=labels["emotion"], intensity=labels["intensity"],
            gaze=tuple(labels["gaze"]), distance=labels["distance"], speaker=style, audio=audio,
            seed=int(urng.integers(2**31)),
        )
        if urng.random() < cfg.augment_prob:
            audio, desc = augment.random_augment(audio, urng)
            steps.append(desc)
        uid = f"synth-s{cfg.seed}-{k:05d}-{i:03d}"
        labels.update({"augment": " ".join(steps), "source": "synth", "style": style.to_dict(),
                       "rate": round(plan.rate, 3), "pitch": round(plan.pitch, 3), "language": cfg.language})
        utts.append(Utterance(uid, audio, motion, phones, plan.text, plan.voice.id, f"vs-{cfg.seed}-{k}-{i}", labels))
    write_shard(Path(out_dir) / shard_name(k), utts)
    return {"file": shard_name(k), "utterances": len(utts), "seconds": float(sum(u.duration for u in utts)),
            "wall": time.perf_counter() - t0}


def _worker(job):
    cfg, k, out_dir = job
    return make_shard(cfg, k, out_dir)


def _done(path: Path) -> dict | None:
    """The finished shard's totals, or None when it is absent or unreadable (then it is remade)."""
    if not path.is_file():
        return None
    try:
        metas = read_shard_meta(path)
    except ShardError:
        return None
    return {"file": path.name, "utterances": len(metas), "seconds": float(sum(m.get("duration", 0.0) for m in metas)), "wall": 0.0}


def _code_version() -> str:
    """The git commit of the code that made the corpus (the teacher changes over time), if known."""
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=os.path.dirname(__file__), capture_output=True,
                              text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def run_synth(cfg: SynthConfig, out_dir: str | os.PathLike, workers: int = 2, show_progress: bool = True) -> dict:
    """Make (or finish) the corpus in ``out_dir``; returns the index written there."""
    from anim3d.languages import check_language
    from anim3d.progress import progress

    cfg.language = check_language(cfg.language)

    out = Path(out_dir)
    from anim3d.fileio import make_output_folder

    make_output_folder(out)
    cfg_path = out / "synth_config.json"
    if cfg_path.is_file():
        old = json.loads(cfg_path.read_text())
        if {k: old.get(k) for k in ("seed", "shard_seconds")} != {"seed": cfg.seed, "shard_seconds": cfg.shard_seconds}:
            raise Anim3dError(f"{out}: holds a corpus made with seed {old.get('seed')}; use another folder or the same seed")
        if old.get("piper_share", 0.0) != cfg.piper_share:  # corpora made before piper voices have no share
            raise Anim3dError(f"{out}: holds a corpus made with --piper-share {old.get('piper_share', 0.0)}; "
                              "use another folder or the same share")
        if old.get("language", "en") != cfg.language:
            raise Anim3dError(f"{out}: holds a corpus in language {old.get('language', 'en')!r}; "
                              "use another folder or the same --language")
    cfg_path.write_text(json.dumps(asdict(cfg), indent=1))
    voices = list_voices(cfg.language)
    val_seed = cfg.seed if cfg.val_seed is None else cfg.val_seed
    val_voices = choose_val_voices([v.id for v in voices if v.engine == "espeak"], cfg.val_fraction, val_seed)
    results, todo = [], []
    for k in range(cfg.num_shards):
        r = _done(out / shard_name(k))
        if r is None:
            todo.append(k)
        else:
            results.append(r)
    t0 = time.perf_counter()
    target = cfg.num_shards * cfg.shard_seconds
    bar = progress(desc="synth", total=round(target), unit="s audio") if show_progress else None
    if bar is not None:
        bar.update(round(sum(r["seconds"] for r in results)))
    jobs = [(cfg, k, str(out)) for k in todo]
    if workers > 1 and len(jobs) > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        # an executor (unlike multiprocessing.Pool) fails loudly if a worker dies (e.g. out of memory)
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            futures = [pool.submit(_worker, job) for job in jobs]
            try:
                for fut in as_completed(futures):
                    r = fut.result()
                    results.append(r)
                    if bar is not None:
                        bar.update(round(r["seconds"]))
            except BrokenProcessPool:
                raise Anim3dError(f"{out}: a synth worker process died (out of memory?); "
                                  "finished shards are kept, run the command again to resume") from None
    else:
        for job in jobs:
            r = _worker(job)
            results.append(r)
            if bar is not None:
                bar.update(round(r["seconds"]))
    if bar is not None:
        bar.close()
    wall = time.perf_counter() - t0
    made = [r for r in results if r["wall"] > 0]
    extra = {"synth": {"seed": cfg.seed, "language": cfg.language, "code": _code_version(), "hours_requested": cfg.hours, "shards_made": len(made),
                       "shards_resumed": len(results) - len(made), "wall_seconds": round(wall, 1),
                       "audio_seconds_made": round(sum(r["seconds"] for r in made), 1), "workers": workers}}
    return write_index(out, val_voices=val_voices, extra=extra)

