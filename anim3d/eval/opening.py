"""The learned mouth opening in the speaker-held-out protocol: for each fold, an opening net trained on the
other folds' clips (``anim3d.training.opening``), its jaw calibrated on those clips' lip gaps, and
the model with that net at a given opening share, scored on the fold's clips.

The nets are kept per set of training clips, so every share of one fold reuses one net; each clip's examples
(features at three speeds, tracked target) is computed once.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from anim3d.eval.baselines import Method


def tracked_gap_mm(clip) -> np.ndarray:
    """The clip's tracked inner-lip gap on the frames the tracker found the face, in millimetres (the tracked unit,
    the outer-eye-corner span, taken as an adult's ``articulation.EYE_SPAN_MM``)."""
    from anim3d.eval.articulation import EYE_SPAN_MM

    t = clip.track
    return np.asarray(t.mouth, np.float64)[np.asarray(t.valid, bool)] * EYE_SPAN_MM


class OpeningFamily:
    """The model ``gen`` with opening nets trained on given clips (``real.RealClip``)."""

    def __init__(self, gen, label: str = "model", cfg=None, training=None, on_step=None):
        """``cfg``, ``training``: the nets' OpeningConfig and OpeningTraining; ``on_step(done, total)``: called
        after each training step."""
        from anim3d.training.opening import OpeningTraining

        self.gen, self.label = gen, label
        self.cfg, self.training, self.on_step = cfg, training or OpeningTraining(), on_step
        self._examples: dict[str, list] = {}
        self._nets: dict[frozenset, object] = {}

    def examples(self, clip) -> list:
        from anim3d.training.opening import clip_examples

        if clip.name not in self._examples:
            t = clip.track
            self._examples[clip.name] = clip_examples(self.gen, clip.audio, t.mouth, t.fps, clip.offset.lag)
        return self._examples[clip.name]

    def net(self, train: list):
        """The opening net trained and calibrated on the clips ``train``."""
        from anim3d.training.opening import calibrate_jaw, train_opening

        key = frozenset(c.name for c in train)
        if key not in self._nets:
            examples = [e for c in train for e in self.examples(c)]
            net = train_opening(examples, self.cfg, self.training, self.on_step)
            self._nets[key] = calibrate_jaw(net, [tracked_gap_mm(c) for c in train])
        return self._nets[key]

    def method(self, net, share: float) -> Method:
        """The model with ``net`` as its learned opening at ``share``."""
        from anim3d.inference import animate

        gen = self.gen

        def generate(audio, seed: int = 0, fps: float = 30.0, **controls):
            base = gen.opening, gen.inference
            gen.opening, gen.inference = net, dataclasses.replace(base[1], opening_share=share)
            try:
                m = animate(audio, checkpoint=gen, seed=seed, **controls)
            finally:
                gen.opening, gen.inference = base
            return m if abs(m.fps - fps) < 1e-6 else m.resample(fps)

        return Method(f"{self.label} + opening learnt on the other folds (share {share:g})", generate,
                      f"learned opening share {share:g}", stochastic=True)

