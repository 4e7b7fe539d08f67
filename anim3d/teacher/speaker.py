"""The virtual speaker: per-utterance random style, so the teacher's data is a distribution."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np


@dataclass
class SpeakerStyle:
    articulation: float = 1.0  # scale of lip shapes (hypo- to hyper-articulation)
    jaw: float = 1.0  # scale of jaw opening
    rounding: float = 1.0  # scale of pucker/funnel
    lead: float = 0.01  # s: mouth shapes lead the sound by this much
    head_energy: float = 1.0  # scale of nods, tilts and sway
    sway_speed: float = 1.0  # frequency scale of idle sway
    blink_rate: float = 14.0  # blinks per minute in ordinary speech (~75 % spontaneous, the rest at phrase ends)
    asymmetry: float = 0.0  # > 0: left side stronger, < 0: right side stronger
    brows: float = 0.5  # brow raises on accents (0 = none)
    smile_bias: float = 0.0  # resting smile
    gaze_spread: float = 1.0  # scale of gaze wander around the main direction
    rest_open: float = 0.0  # jaw opening of the relaxed mouth in pauses (lips slightly parted)
    loudness_jaw: float = 1.0  # how much the jaw follows vocal effort (0: not at all; see visemes.loudness_gain)

    @classmethod
    def random(cls, rng: np.random.Generator) -> "SpeakerStyle":
        u = rng.uniform
        return cls(
            articulation=u(0.75, 1.2),
            jaw=u(0.8, 1.25),
            rounding=u(0.8, 1.2),
            # measured on the tracked real speakers at each clip's audio-video offset
            # (research/calibrate_teacher.py): best leads -0.017 to +0.017 s, worse beyond 0.03 s
            lead=u(0.0, 0.02),
            head_energy=float(np.exp(rng.normal(0.0, 0.4))),
            sway_speed=u(0.7, 1.4),
            blink_rate=u(12.0, 20.0),
            asymmetry=u(-0.15, 0.15),
            brows=u(0.0, 1.0),
            smile_bias=u(0.0, 0.08),
            gaze_spread=u(0.5, 1.5),
            rest_open=u(0.0, 0.05) if rng.random() < 0.5 else 0.0,
            loudness_jaw=u(0.5, 1.5),
        )

    def to_dict(self) -> dict[str, float]:
        return {k: round(float(v), 5) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "SpeakerStyle":
        names = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in d.items() if k in names})
