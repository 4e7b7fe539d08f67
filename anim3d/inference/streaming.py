"""Live generation: audio arrives in chunks, motion frames leave as soon as their audio is there.

``StreamingAnimator.push(samples)`` takes the next audio chunk and returns the new frames (a Motion,
maybe empty). Each call that has at least ``hop`` new frames of audio (or the very first frame) samples
one window starting at the first frame not yet sent, conditioned on the last K frames already sent
(X_pre / A_pre) and on the audio received so far (the tail of the window is marked absent, as in
training's audio-tail truncation). Frames are sent up to ``lookahead`` frames before the end of the
received audio. The noise of every frame is a fixed function of (seed, frame index), so overlapping
windows agree and the stream does not jitter.

A window samples ``window`` frames (30), not the model's trained window (90): the model is a transformer over any
window length up to its trained one, and all but about 5 of a window's frames lie past the audio received (marked
absent), so the 60 more frames cost a third of a stream's CPU (``benchmarks/bench_stream_cost.py``) without
changing its lip sync (r 0.483 with 90 or 30 on 54 real clips, ``research/stream_window.py``).

The first frame is what a listener waits for, so the first window is cheaper: it leaves as soon as frame 0's own
audio is there (no lookahead), and it samples only ``first_window`` frames with ``first_steps`` sampler steps (2:
only frame 0 of it is sent, and its step to frame 1 measured within the usual frame-to-frame change on real
speech). ``timings`` records, per window, when it started (in received-audio seconds), its feature and sampling
wall and CPU times, and the CPU of its rule mouth and learned opening.

A window's denoising is ``sampler(gen, cond, noise, sampling, steps)`` (default ``windows.sample_one``, on the calling
thread); a server with several live streams passes one that samples the windows of all its streams in one pass
(``anim3d.serve.batcher``).

With a script (``MotionSettings.text``), the rule-based mouth follows the script aligned online as the audio
arrives (``mouth_blend.StreamingRuleMouth``) and the lips close, touch and round where it says
(``offline.finish_mouth``).

``anim3d.inference.sources`` turns an audio file (played in real time) or raw PCM on stdin into the audio
chunks a stream pushes.
"""

from __future__ import annotations

import time
from typing import Iterable, Iterator

import numpy as np

from anim3d.device import cpu_threads
from anim3d.inference.settings import ConditionError, MotionSettings, check_conditions, check_seed, resolve_sampling
from anim3d.motion import Motion
from anim3d.script import read_script


class FrameNoise:
    """Standard normal noise per (seed, absolute frame index): blocks of 64 frames drawn from torch.Generator."""

    BLOCK = 64

    def __init__(self, seed: int, dim: int):
        self.seed, self.dim = int(seed), dim
        self._blocks: dict[int, np.ndarray] = {}

    def _block(self, b: int) -> np.ndarray:
        import torch

        if b not in self._blocks:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + b)
            self._blocks[b] = torch.randn(self.BLOCK, self.dim, generator=g).numpy()
            if len(self._blocks) > 8:
                self._blocks.pop(min(self._blocks))
        return self._blocks[b]

    def __call__(self, start: int, length: int) -> np.ndarray:
        out = np.empty((length, self.dim), np.float32)
        for i in range(length):
            f = start + i
            out[i] = self._block(f // self.BLOCK)[f % self.BLOCK]
        return out


class StreamingAnimator:
    """Incremental speech -> Motion with a MotionGenerator (see the module docstring)."""

    def __init__(self, gen=None, settings: MotionSettings | None = None, *, hop: int = 4, lookahead: int = 1,
                 sample_rate: int | None = None, warmup: bool = True, window: int | None = 30,
                 first_window: int | None = 30, first_steps: int | None = 2, first_lookahead: int = 0, sampler=None,
                 **controls):
        """``gen``: a MotionGenerator (None: the shipped model); ``settings`` / keyword ``controls``: the motion
        controls as for ``animate`` (gaze in radians); ``sample_rate``: of the pushed audio (default the model's);
        ``window`` / ``first_window``: frames a window / the first window samples (None: the model's window);
        ``sampler``: denoises a window (see the module docstring)."""
        from anim3d.inference.generator import load_model
        from anim3d.inference.windows import sample_one

        self.gen = gen if gen is not None else load_model()
        self.sampler = sampler or sample_one
        cfg = self.gen.cfg
        self.cfg = cfg
        try:
            settings = (settings or MotionSettings()).replace(**controls)
        except TypeError as e:
            raise ConditionError(str(e)) from None
        self.controls = check_conditions(settings, cfg.emotions)
        self.sampling = resolve_sampling(settings, self.gen.inference)
        self.gen.check_opening(self.sampling.opening_share)
        self.controls.style = self.gen.style_from(settings.style)
        self.steps = self.sampling.steps
        if not (hop >= 1 and lookahead >= 0 and first_lookahead >= 0):
            raise ValueError(f"hop must be >= 1 and the lookaheads >= 0, got {hop}, {lookahead}, {first_lookahead}")
        self.hop, self.lookahead, self.first_lookahead = int(hop), int(lookahead), int(first_lookahead)
        self.window = cfg.window if window is None else int(np.clip(window, 1, cfg.window))
        self.first_window = cfg.window if first_window is None else int(np.clip(first_window, 1, cfg.window))
        self.first_steps = min(int(first_steps), self.steps) if first_steps else self.steps
        self.timings: list[dict] = []  # per window: start frame, audio received (s), seconds of its parts
        self.in_rate = int(sample_rate or cfg.sample_rate)
        self.noise = FrameNoise(check_seed(settings.seed), cfg.motion_dim)
        # the rule-based mouth blended into the generated one (anim3d.inference.mouth_blend), from the phone
        # log-likelihoods the phone front end scores anyway (another front end: a phone front end of its own beside it)
        script = read_script(settings.text, settings.language) if settings.text is not None else None
        self.rule = self.rule_front_end = None
        if self.sampling.teacher_blend > 0 or script is not None:
            self.rule, self.rule_front_end = self._rule_mouth(script)
        keep_frames = cfg.prev + cfg.window + 2 * self.hop
        # plus what the front end reads before a frame (the phone front end's running cepstral mean)
        history = max(getattr(fe, "history_samples", 0) for fe in (self.gen.front_end, self.rule_front_end) if fe is not None)
        self.keep_samples = int(keep_frames / cfg.fps * cfg.sample_rate) + 1024 + history
        self.buf = np.zeros(0, np.float32)  # the last received samples, at cfg.sample_rate
        self.buf_start = 0  # stream index of buf[0]
        self.received = 0
        self.sent = 0  # frames sent so far
        self.history = np.zeros((0, cfg.motion_dim), np.float32)  # last K sent frames, normalised
        self.feat_cache: dict[int, np.ndarray] = {}
        # the front end's own cache for this stream, if it keeps one (the phone front end's cepstra)
        make_cache = getattr(self.gen.front_end, "stream_cache", None)
        self.front_end_kw = {"cache": make_cache()} if make_cache else {}
        self.rule_cache = self.rule_front_end.stream_cache() if self.rule_front_end is not None else None
        if warmup:
            self.warmup()

    def warmup(self) -> None:
        """Run one window on silence before any audio arrives (first calls into torch are slow, and the sender's
        first interpolation imports scipy's Slerp: 0.4 s), keeping no state."""
        import torch

        from anim3d.inference.windows import sample_window_from_noise, window_conditions

        feats = self.gen.front_end(np.zeros(1600, np.float32), 2)
        cond = window_conditions(self.gen, feats, 0, None, self.controls, 1, audio_frames=2)
        with cpu_threads(self.gen.device), torch.inference_mode():
            for W, steps in ((self.window, self.steps), (self.first_window, self.first_steps)):
                c = _shorten(cond, self.cfg.prev + W)
                sample_window_from_noise(self.gen, c, torch.zeros(1, W, self.cfg.motion_dim), self.sampling, steps=steps)
        Motion.neutral(2, self.cfg.fps).sample(np.array([0.0, 0.01])).eye_rotations()  # what the sender does per tick

    def _rule_mouth(self, script=None):
        from anim3d.inference.mouth_blend import StreamingRuleMouth
        from anim3d.phonetic import SAMPLE_RATE

        if self.cfg.sample_rate != SAMPLE_RATE:
            raise ConditionError(f"a teacher blend or a script needs {SAMPLE_RATE} Hz audio features; this model reads "
                                 f"{self.cfg.sample_rate} Hz")
        own = None
        if not hasattr(self.gen.front_end, "features_and_loglik"):
            from anim3d.models.phone_features import PhoneFrontEnd

            own = PhoneFrontEnd(fps=self.cfg.fps)
        return StreamingRuleMouth(self.cfg.fps, script=script), own

    # ------------------------------------------------------------------ audio
    def _append(self, samples: np.ndarray) -> None:
        from anim3d.audio import resample

        x = np.asarray(samples, np.float32).reshape(-1)
        if self.in_rate != self.cfg.sample_rate and len(x):
            x = resample(x, self.in_rate, self.cfg.sample_rate)
        self.buf = np.concatenate([self.buf, x])
        self.received += len(x)
        extra = len(self.buf) - self.keep_samples
        if extra > 0:
            self.buf = self.buf[extra:]
            self.buf_start += extra

    def frames_with_audio(self, final: bool = False) -> int:
        """How many frames have all the audio their features need."""
        cfg = self.cfg
        if final:
            return int(np.ceil(self.received / cfg.sample_rate * cfg.fps - 1e-9))
        from anim3d.models.audio_features import N_FFT

        # frame i needs samples up to its last analysis instant + the front end's reach (log-mel: N_FFT/2)
        reach = getattr(self.gen.front_end, "lookahead_samples", N_FFT // 2)
        last = (self.received - reach) / cfg.sample_rate * cfg.fps - (cfg.subframes - 0.5) / cfg.subframes
        return max(0, int(np.floor(last)) + 1)

    def _features(self, start: int, stop: int) -> np.ndarray:
        """Features of frames [start, stop) (cached per frame; computed from the buffer)."""
        missing = [f for f in range(start, stop) if f not in self.feat_cache]
        if missing:
            a, b = missing[0], missing[-1] + 1
            where = dict(start_frame=a, sample_offset=self.buf_start)
            if self.rule is not None and self.rule_front_end is None:  # the model's phone front end scores the phones
                feats, loglik, first = self.gen.front_end.features_and_loglik(self.buf, b - a, **where, **self.front_end_kw)
                self.rule.push_loglik(loglik, first)
            else:
                feats = self.gen.front_end(self.buf, b - a, **where, **self.front_end_kw)
            if self.rule_front_end is not None:
                _, loglik, first = self.rule_front_end.features_and_loglik(self.buf, b - a, **where, cache=self.rule_cache)
                self.rule.push_loglik(loglik, first)
            for i, f in enumerate(range(a, b)):
                self.feat_cache[f] = feats[i]
        for f in [f for f in self.feat_cache if f < start - self.cfg.prev]:
            del self.feat_cache[f]
        return np.stack([self.feat_cache[f] for f in range(start, stop)]) if stop > start else np.zeros((0, self.gen.front_end.dim), np.float32)

    # ------------------------------------------------------------------ generation
    def _generate(self, available: int, upto: int) -> Motion:
        """Sample one window at ``self.sent`` with audio for frames < ``available``; send frames < ``upto``."""
        import torch

        from anim3d.inference.offline import finish_mouth
        from anim3d.inference.windows import window_conditions
        from anim3d.motion_codec import denormalize

        cfg = self.cfg
        K, s = cfg.prev, self.sent
        first = s == 0
        W = max(self.first_window, min(upto, self.window)) if first else self.window
        steps = self.first_steps if first else self.steps
        t0, c0 = time.perf_counter(), time.thread_time()
        lo = max(0, s - K)
        feats = self._features(lo, available)  # (available - lo) x F: frames lo.., all a window reads
        prev = self.history[None] if s >= K else None
        cond = _shorten(window_conditions(self.gen, feats, s - lo, prev, self.controls, 1, audio_frames=available - lo),
                        K + W)
        noise = torch.from_numpy(self.noise(s, W))[None]
        t1, c1 = time.perf_counter(), time.thread_time()
        x = np.asarray(self.sampler(self.gen, cond, noise, self.sampling, steps)).reshape(W, -1)  # W x D normalised
        t2, c2 = time.perf_counter(), time.thread_time()
        n = min(upto - s, W)
        new = x[:n]
        self.history = np.concatenate([self.history, new])[-K:]
        self.sent += n
        motion = self.gen.to_motion(denormalize(new, self.gen.mean, self.gen.std))
        phones = self.rule.phones() if self.rule is not None else None  # the script's, traced back once
        rule = self.rule.mouth(s, s + n, self.buf, self.buf_start, phones) if self.rule is not None else None
        c3 = time.thread_time()  # (the rule mouth's CPU counts the motion's conversion too)
        # the learned opening reads the features from K frames before the window to the last one received: the
        # frames after it are not heard yet, and the net reads them as the mean features
        jaw = self.gen.learned_jaw(feats)[s - lo : s - lo + n] if self.sampling.opening_share > 0 else None
        c4 = time.thread_time()
        motion.blendshapes = finish_mouth(motion.blendshapes, self.sampling, rule, jaw, phones, cfg.fps, s)
        self.timings.append({"frame": s, "audio_s": self.received / cfg.sample_rate, "window": W, "steps": steps,
                             "features_s": t1 - t0, "sampling_s": t2 - t1,  # wall
                             # this thread's CPU (sampling: ~0 where the sampler runs the window on another thread)
                             "features_cpu_s": c1 - c0, "sampling_cpu_s": c2 - c1, "rule_cpu_s": c3 - c2,
                             "opening_cpu_s": c4 - c3, "total_cpu_s": time.thread_time() - c0})
        return motion

    def push(self, samples: np.ndarray) -> Motion:
        """Add an audio chunk (float32 mono at ``sample_rate``); returns the frames now ready (maybe none)."""
        self._append(samples)
        avail = self.frames_with_audio()
        upto = avail - (self.first_lookahead if self.sent == 0 else self.lookahead)
        need = 1 if self.sent == 0 else self.hop
        parts = []
        while upto - self.sent >= need:
            parts.append(self._generate(avail, upto))
            need = self.hop
            upto = avail - self.lookahead
        return Motion.concatenate(parts) if parts else Motion.neutral(0, self.cfg.fps)

    def flush(self) -> Motion:
        """The stream ended: the remaining frames (audio after the end counts as silence)."""
        total = self.frames_with_audio(final=True)
        parts = []
        while self.sent < total:
            parts.append(self._generate(total, total))
        return Motion.concatenate(parts) if parts else Motion.neutral(0, self.cfg.fps)

    def run(self, chunks: Iterable[np.ndarray]) -> Iterator[Motion]:
        """Audio chunks -> Motion chunks (non-empty ones only), flushing at the end."""
        for c in chunks:
            m = self.push(c)
            if m.num_frames:
                yield m
        m = self.flush()
        if m.num_frames:
            yield m


def _shorten(cond: dict, length: int) -> dict:
    """Window conditions cut to the first ``length`` (= K + W) audio tokens (a shorter window)."""
    return {k: (v[:, :length] if k in ("audio", "audio_mask") else v) for k, v in cond.items()}
