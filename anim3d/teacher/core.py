"""``phones_to_motion``: the teacher's parts put together."""

from __future__ import annotations

import numpy as np

from anim3d.audio import Audio
from anim3d.channels import ARKIT_NAMES, INDEX, NUM_BLENDSHAPES
from anim3d.phones import Phone, fill_gaps, known_label
from anim3d.teacher import emotion as emo
from anim3d.teacher.eyes import blink_curve, blink_times, gaze_channels, gaze_track
from anim3d.teacher.head import pulse, head_motion, prosody_from_audio, prosody_from_phones
from anim3d.teacher.speaker import SpeakerStyle
from anim3d.teacher.visemes import ARTIC_CHANNELS, JAW_CHANNELS, blend, enforce, loudness_gain
from anim3d.errors import Anim3dError
from anim3d.motion import Motion

_SIDED = [(INDEX[n], INDEX[n[:-4] + "Right"]) for n in ARKIT_NAMES
          if n.endswith("Left") and not n.startswith(("eyeLook", "eyeBlink", "jaw", "mouthLeft"))]
_SMILE = [INDEX["mouthSmileLeft"], INDEX["mouthSmileRight"]]


def _scale(speaker: SpeakerStyle) -> np.ndarray:
    s = np.ones(NUM_BLENDSHAPES, np.float32)
    for c in ARTIC_CHANNELS:
        s[INDEX[c]] = speaker.articulation
    s[INDEX["jawOpen"]] = speaker.jaw
    s[INDEX["mouthPucker"]] = s[INDEX["mouthFunnel"]] = speaker.rounding
    return s


def _known_phones(phones: list[Phone], duration: float) -> list[Phone]:
    """The phones relabelled ("aa1" -> "AA"; unknown labels count as silence) and covering [0, duration)."""
    return fill_gaps([Phone(known_label(p.label), p.start, p.end) for p in phones], duration)


def _articulation(phones: list[Phone], times: np.ndarray, speaker: SpeakerStyle, energy: np.ndarray | None) -> np.ndarray:
    """T x 52 speech articulation at ``times`` (dominance blending, evaluated ``speaker.lead`` early: the
    mouth leads the sound); with ``energy`` ((T,) dB at ``times``), the jaw follows the loudness of the
    sound it is shaping (vocal effort)."""
    shifted = times + speaker.lead
    b = blend(phones, shifted, _scale(speaker), rest=speaker.rest_open)  # T x 52
    if energy is not None:
        effort = np.interp(shifted, times, np.asarray(energy, np.float64))  # T, dB
        b[:, JAW_CHANNELS] *= loudness_gain(effort, speaker.loudness_jaw)[:, None]
    return b


def phones_to_motion(
    phones: list[Phone],
    duration: float,
    *,
    fps: float = 30.0,
    emotion: str = "neutral",
    intensity: float = 1.0,
    gaze: tuple[float, float] = (0.0, 0.0),
    distance: float = 0.0,
    speaker: SpeakerStyle | None = None,
    audio: Audio | None = None,
    seed: int = 0,
) -> Motion:
    """Motion for speech with these phone timings.

    ``gaze`` = (yaw, pitch) radians of the main gaze direction (yaw toward the subject's
    left, pitch down); ``distance`` = head offset in metres along +Z (toward the camera);
    ``speaker`` None draws a random virtual speaker from ``seed``; ``audio`` (optional)
    gives pitch and energy for prosody-driven head motion and brow raises.
    """
    emo.check_emotion(emotion)
    if not (np.isfinite(intensity) and 0.0 <= intensity <= 1.0):
        raise Anim3dError(f"emotion intensity must be in [0, 1], got {intensity}")
    if not (np.isfinite(duration) and duration > 0):
        raise Anim3dError(f"duration must be positive, got {duration}")
    rng = np.random.default_rng(seed)
    speaker = speaker if speaker is not None else SpeakerStyle.random(rng)
    phones = _known_phones(phones, duration)
    n = max(1, int(round(duration * fps)))
    times = np.arange(n) / fps
    shifted = times + speaker.lead  # the mouth leads the sound

    # prosody (loudness, pitch) of the sound at each frame
    pro = prosody_from_audio(audio.samples, audio.sample_rate, n, fps) if audio is not None else prosody_from_phones(phones, n, fps)

    # speech articulation; with audio, the jaw follows its loudness (the phones-only stand-in
    # loudness does not drive it)
    b = _articulation(phones, times, speaker, pro.energy if audio is not None else None)

    # emotion overlay; a smile gives way to rounding
    side = "Left" if speaker.asymmetry >= 0 else "Right"
    overlay = emo.emotion_track(emotion, intensity, n, fps, rng, side)  # T x 52
    overlay[:, _SMILE] += speaker.smile_bias
    rounding = np.clip(b[:, INDEX["mouthPucker"]] + b[:, INDEX["mouthFunnel"]], 0.0, 1.0)
    overlay[:, _SMILE] *= (1.0 - 0.7 * rounding)[:, None]
    b += overlay

    # prosody: head motion, brow raises on accents
    energy = float(speaker.head_energy * emo.energy(emotion, intensity))
    rot, trans, _, peaks = head_motion(
        pro, phones, n, fps, rng, energy=energy, sway_speed=speaker.sway_speed,
        posture=emo.posture(emotion, intensity), gaze=gaze, distance=distance,
    )
    for f in peaks:
        if rng.random() < 0.6:
            k = speaker.brows * rng.uniform(0.1, 0.3) * pulse(times, times[f] - 0.1, 0.15)
            b[:, INDEX["browInnerUp"]] += k
            b[:, INDEX["browOuterUpLeft"]] += 0.7 * k
            b[:, INDEX["browOuterUpRight"]] += 0.7 * k

    # the hard lip guarantees, after every overlay
    b = np.clip(b, 0.0, 1.0)
    enforce(b, phones, shifted, strength=speaker.articulation, lead=speaker.lead)

    # eyes: gaze, then lids (blinks, lid follows downward gaze)
    gaze_channels(b, gaze_track(times, gaze, speaker.gaze_spread, rng))
    bl, br = blink_curve(times, blink_times(phones, duration, speaker.blink_rate, rng), rng)
    for blink, side_name in ((bl, "Left"), (br, "Right")):
        down = b[:, INDEX[f"eyeLookDown{side_name}"]]
        lid = blink + (1.0 - blink) * 0.3 * down
        b[:, INDEX[f"eyeBlink{side_name}"]] = np.maximum(b[:, INDEX[f"eyeBlink{side_name}"]], lid)
        b[:, INDEX[f"eyeWide{side_name}"]] *= 1.0 - blink

    # speaker asymmetry on paired face channels
    a = speaker.asymmetry
    for il, ir in _SIDED:
        b[:, il] *= 1.0 + a
        b[:, ir] *= 1.0 - a
    b = np.clip(b, 0.0, 1.0)
    return Motion(b.astype(np.float32), rot, trans, fps)


def speech_mouth(phones: list[Phone], num_frames: int, *, fps: float = 30.0, energy: np.ndarray | None = None,
                 speaker: SpeakerStyle | None = None, first_frame: int = 0) -> np.ndarray:
    """num_frames x 52 blendshapes of frames first_frame.. with only the speech articulation of
    ``phones_to_motion``: visemes blended by dominance, the jaw following ``energy`` ((num_frames,) dB
    relative to the loud frames, as ``head.energy_db`` gives it; None: no loudness gain) and the hard lip
    guarantees; no emotion, eyes, brows or asymmetry. ``speaker`` None: the average virtual speaker."""
    speaker = speaker if speaker is not None else SpeakerStyle()
    phones = _known_phones(phones, (first_frame + num_frames) / fps)
    times = (first_frame + np.arange(num_frames)) / fps
    b = np.clip(_articulation(phones, times, speaker, energy), 0.0, 1.0)
    return np.clip(enforce(b, phones, times + speaker.lead, strength=speaker.articulation, lead=speaker.lead), 0.0, 1.0).astype(np.float32)


def lip_guarantees(blendshapes: np.ndarray, phones: list[Phone], fps: float = 30.0, first_frame: int = 0,
                   speaker: SpeakerStyle | None = None) -> np.ndarray:
    """T x 52 blendshapes of frames first_frame.. -> a copy where the lips close on the bilabials of ``phones``,
    touch the teeth on F and V and round on the rounded vowels, as the teacher's own mouth does (``enforce``)."""
    speaker = speaker if speaker is not None else SpeakerStyle()
    b = np.array(blendshapes, np.float32, copy=True)
    times = (first_frame + np.arange(len(b))) / fps + speaker.lead
    return np.clip(enforce(b, [_sealed(p) for p in phones], times, strength=speaker.articulation, lead=speaker.lead), 0.0, 1.0)


MIN_SEAL = 0.08  # s: an aligned bilabial shorter than this is sealed this long around its middle


def _sealed(p: Phone) -> Phone:
    """A bilabial of an aligned script lasts at least ``MIN_SEAL`` (about its closure on real speakers), so that an
    alignment a frame or two off still seals the lips when they should be."""
    if p.label not in ("P", "B", "M") or p.end - p.start >= MIN_SEAL:
        return p
    mid = 0.5 * (p.start + p.end)
    return Phone(p.label, mid - MIN_SEAL / 2, mid + MIN_SEAL / 2)
