"""Speech -> Motion for a whole recording: ``animate``, the library entry point."""

from __future__ import annotations

from anim3d.audio import Audio
from anim3d.device import cpu_threads
from anim3d.errors import InputError
from anim3d.inference.generator import MotionGenerator, load_model
from anim3d.inference.settings import ConditionError, MotionSettings, check_conditions, check_seed, resolve_sampling
from anim3d.motion import Motion
from anim3d.script import read_script


def animate(audio: Audio, settings: MotionSettings | None = None, *, checkpoint=None, device="cpu",
            num_samples: int = 1, audio_encoder: str | None = None, show_progress: bool = False,
            **controls) -> Motion | list[Motion]:
    """Speech -> Motion (the model's frame rate, 30 fps for the shipped model; one frame per 1/30 s of audio).

    ``settings``: a ``MotionSettings``; keyword ``controls`` set its fields one by one, e.g.
    ``animate(audio, emotion="sad", intensity=0.5, seed=1)`` (gaze in radians, None = free; unset sampling
    fields take the checkpoint's). With ``text`` (and ``language``), the mouth follows the script's phones aligned
    to the audio; a script that does not match the audio is warned about and the line animated from the audio.
    ``num_samples`` > 1 returns a list: samples seed, seed + 1, ... generated in one batch. ``checkpoint``: None (the shipped default), a checkpoint folder, or a MotionGenerator.
    """
    if not isinstance(audio, Audio):
        raise InputError(None, f"animate() needs an anim3d.audio.Audio, got {type(audio).__name__}")
    try:
        settings = (settings or MotionSettings()).replace(**controls)
    except TypeError as e:
        raise ConditionError(str(e)) from None
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ConditionError(f"num_samples must be a whole number >= 1, got {num_samples!r}")
    seed = check_seed(settings.seed, num_samples)
    gen = checkpoint if isinstance(checkpoint, MotionGenerator) else load_model(checkpoint, device, audio_encoder)
    conditions = check_conditions(settings, gen.cfg.emotions)
    sampling = resolve_sampling(settings, gen.inference)
    gen.check_opening(sampling.opening_share)
    conditions.style = gen.style_from(settings.style)
    script = read_script(settings.text, settings.language) if settings.text is not None else None
    return generate(gen, audio, conditions, sampling, [seed + i for i in range(num_samples)], show_progress,
                    single=num_samples == 1, script=script)


def generate(gen: MotionGenerator, audio: Audio, conditions, sampling, seeds: list[int], show_progress: bool = False,
             single: bool = False, script=None) -> Motion | list[Motion]:
    """Checked conditions and sampling -> one Motion per seed (all batched); ``single``: return the Motion itself.
    ``script``: the line's ``anim3d.script.Script`` or None (audio only)."""
    from anim3d.inference.windows import generate_windows

    guided = sampling.teacher_blend > 0 or script is not None
    feats, rule, phones = gen.features_and_rule_mouth(audio, script=script) if guided else (gen.features(audio), None, None)
    with cpu_threads(gen.device):
        raw = generate_windows(gen, feats, conditions, seeds, sampling, show_progress)  # B x T x 58
    motions = [gen.to_motion(r) for r in raw]
    jaw = gen.learned_jaw(feats) if sampling.opening_share > 0 else None
    for m in motions:
        m.blendshapes = finish_mouth(m.blendshapes, sampling, rule, jaw, phones, m.fps)
    return motions[0] if single else motions


def finish_mouth(blendshapes, sampling, rule=None, jaw=None, phones=None, fps: float = 30.0, first_frame: int = 0):
    """T x 52 generated blendshapes -> the mouth animate gives: ``sampling.teacher_blend`` of the T' x 52 rule-based
    mouth ``rule`` blended in (``mouth_blend``; ``sampling.script_blend`` when ``phones`` says the rule follows the
    line's script), then ``sampling.opening_share`` of the (T',) learned jaw ``jaw``
    (``opening``); each step only when its share is > 0. With a script's aligned ``phones``, the lips then close on
    its bilabials, touch the teeth on its F and V and round on its rounded vowels (``teacher.core.lip_guarantees``);
    the frames are first_frame.. at ``fps``."""
    from anim3d.inference.mouth_blend import blend_mouth
    from anim3d.inference.opening import blend_opening

    share = sampling.teacher_blend if phones is None else sampling.script_blend
    if share > 0:
        blendshapes = blend_mouth(blendshapes, rule, share)
    if sampling.opening_share > 0:
        blendshapes = blend_opening(blendshapes, jaw, sampling.opening_share)
    if phones is not None:
        from anim3d.teacher.core import lip_guarantees

        blendshapes = lip_guarantees(blendshapes, phones, fps, first_frame)
    return blendshapes
