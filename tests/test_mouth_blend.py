"""The rule-based mouth blended into the generated one (anim3d.inference.mouth_blend, animate(teacher_blend=...))."""

from pathlib import Path

import numpy as np
import pytest

from anim3d import progress
from anim3d.audio import audio_from_array, load_audio, resample
from anim3d.channels import INDEX
from anim3d.phones import Phone
from anim3d.teacher.core import speech_mouth
from anim3d.teacher.visemes import lip_gap
from anim3d.inference.mouth_blend import BLEND_CHANNELS, blend_mouth, rule_mouth
from anim3d.phonetic import phones_from_loglik, recognize_phones
from anim3d.inference import ConditionError, animate, load_model
from anim3d.inference.settings import check_teacher_blend

progress.set_enabled(False)


def _loglik_blocks(blocks: list[tuple[str, int]]) -> np.ndarray:
    """100 Hz CI phone log-likelihoods where each block of frames clearly favours one phone."""
    from anim3d.models import sphinx_acoustic as sa

    names = list(sa.load_model().phones)
    rows = []
    for label, frames in blocks:
        ll = np.full((frames, len(names)), -50.0)
        ll[:, names.index(label)] = 0.0
        rows.append(ll)
    return np.concatenate(rows)


def test_phones_from_loglik_follow_the_best_path_and_silence_quiet_audio():
    ll = _loglik_blocks([("SIL", 20), ("AA", 30), ("M", 10), ("AA", 30), ("SIL", 10)])  # 1 s
    loud = (0.3 * np.sin(np.arange(16000) * 0.2)).astype(np.float32)
    phones = phones_from_loglik(ll, loud)
    assert [p.label for p in phones] == ["SIL", "AA", "M", "AA", "SIL"]
    assert [p.start for p in phones] == pytest.approx([0.0, 0.2, 0.5, 0.6, 0.9])
    assert phones[-1].end == pytest.approx(1.0)
    # an offset block of frames is placed at its own time; quiet stretches become silence
    quiet = loud.copy()
    quiet[:9600] = 0.0  # the M (0.5-0.6 s) too
    phones = phones_from_loglik(ll[50:], quiet, first_frame=50)
    assert [p.label for p in phones] == ["SIL", "AA", "SIL"]
    assert phones[1].start == pytest.approx(0.6) and phones[1].end == pytest.approx(0.9)


def test_speech_mouth_shuts_on_bilabials_opens_on_vowels_and_follows_loudness():
    phones = [Phone("SIL", 0.0, 0.2), Phone("AA", 0.2, 0.5), Phone("M", 0.5, 0.6), Phone("AA", 0.6, 0.9), Phone("SIL", 0.9, 1.2)]
    b = speech_mouth(phones, 36)
    gap = lip_gap(b)
    assert b.shape == (36, 52) and b.min() >= 0 and b.max() <= 1
    assert gap[16] < 0.1 * gap[11]  # M's middle (0.55 s) shut, AA's (0.35 s) open
    assert gap[11] > 0.1 and gap[22] > 0.1
    quiet = speech_mouth(phones, 36, energy=np.full(36, -30.0))
    assert quiet[11, INDEX["jawOpen"]] < 0.5 * b[11, INDEX["jawOpen"]]
    # only articulation: no smile, blink or brow
    assert b[:, [INDEX["mouthSmileLeft"], INDEX["eyeBlinkLeft"], INDEX["browInnerUp"]]].max() == 0.0


def test_blend_mouth_mixes_only_the_articulation_channels():
    rng = np.random.default_rng(0)
    gen, rule = rng.random((10, 52)).astype(np.float32), rng.random((12, 52)).astype(np.float32)
    assert np.array_equal(blend_mouth(gen, rule, 0.0), gen)
    full = blend_mouth(gen, rule, 1.0)
    other = [i for i in range(52) if i not in BLEND_CHANNELS]
    assert np.allclose(full[:, list(BLEND_CHANNELS)], rule[:10, list(BLEND_CHANNELS)])
    assert np.array_equal(full[:, other], gen[:, other])
    assert np.allclose(blend_mouth(gen, rule, 0.25), 0.75 * gen + 0.25 * full)
    assert INDEX["jawOpen"] in BLEND_CHANNELS and INDEX["mouthClose"] in BLEND_CHANNELS
    assert INDEX["mouthSmileLeft"] not in BLEND_CHANNELS and INDEX["mouthPressLeft"] not in BLEND_CHANNELS
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ConditionError, match="teacher blend"):
            check_teacher_blend(bad)
    with pytest.raises(ValueError, match="12 frames"):
        blend_mouth(rng.random((13, 52)), rule, 0.5)


@pytest.fixture(scope="module")
def real_speech():
    """Speech that ships with the repository (examples/hello.wav, 7.9 s)."""
    return load_audio(Path(__file__).resolve().parents[1] / "examples" / "hello.wav")


@pytest.fixture(scope="module")
def long_sentence(evaldata):
    """A long real sentence (B08, 11 s): longer than the online phone loop's kept history."""
    return load_audio(evaldata / "audio" / "B08_sb_example1.wav")


def test_the_front_end_loglik_gives_the_frames_mode_phones(real_speech):
    """Reusing the phone front end's scores (running cepstral mean) finds the same phones as the "frames" mode
    (the utterance's mean) on real speech."""
    from anim3d.phonetic import edit_distance

    gen = load_model()
    x = resample(real_speech.samples, real_speech.sample_rate, 16000)
    n = int(round(len(x) / 16000 * 30))
    feats, ll, first = gen.front_end.features_and_loglik(x, n)
    from anim3d.models import sphinx_acoustic as sa

    assert np.array_equal(feats, gen.front_end(x, n)) and first == 0
    assert ll.shape == (1 + (len(x) - sa.WINDOW) // (sa.SAMPLE_RATE // sa.FRAME_RATE), 42)  # every cepstral frame
    ours = [p.label for p in phones_from_loglik(ll, x, first)]
    theirs = [p.label for p in recognize_phones(real_speech, mode="frames")]
    assert edit_distance(ours, theirs) <= 0.15 * len(theirs)
    # and its mouth shuts on the sentence's bilabials ("birch", "smooth", "planks")
    mouth = rule_mouth(ll, first, x, n)
    assert (lip_gap(mouth) < 0.02).sum() >= 3


def test_animate_blends_the_rule_mouth_by_the_share(real_speech):
    gen = load_model()
    clip = audio_from_array(real_speech.samples[: 3 * real_speech.sample_rate], real_speech.sample_rate)
    kw = dict(checkpoint=gen, seed=1, emotion="happy", opening_share=0.0)  # the jaw without the learned opening
    alone = animate(clip, teacher_blend=0.0, **kw)
    full = animate(clip, teacher_blend=1.0, **kw)
    half = animate(clip, teacher_blend=0.5, **kw)
    ch = list(BLEND_CHANNELS)
    other = [i for i in range(52) if i not in BLEND_CHANNELS]
    _, rule, _ = gen.features_and_rule_mouth(clip)
    assert np.allclose(full.blendshapes[:, ch], rule[:, ch], atol=1e-6)
    assert np.allclose(half.blendshapes[:, ch], 0.5 * (alone.blendshapes[:, ch] + rule[:, ch]), atol=1e-6)
    assert np.array_equal(full.blendshapes[:, other], alone.blendshapes[:, other])  # the smile stays the model's
    assert np.array_equal(full.head_rotation, alone.head_rotation)
    assert not np.allclose(alone.blendshapes[:, ch], rule[:, ch], atol=0.05)
    # None: the checkpoint's share
    default = animate(clip, **kw)
    share = gen.inference.teacher_blend
    assert np.allclose(default.blendshapes[:, ch], (1 - share) * alone.blendshapes[:, ch] + share * rule[:, ch], atol=1e-6)
    with pytest.raises(ConditionError, match="teacher blend"):
        animate(clip, checkpoint=gen, teacher_blend=1.5)


def test_streaming_rule_mouth_matches_the_whole_file_away_from_its_edges(long_sentence):
    """Fed the whole sentence in pieces, the online phone loop's mouth is the offline one except near the
    start of its kept history and the end of the audio."""
    from anim3d.inference.mouth_blend import StreamingRuleMouth

    gen = load_model()
    x = resample(long_sentence.samples, long_sentence.sample_rate, 16000)
    n = int(round(len(x) / 16000 * 30))
    _, ll, first = gen.front_end.features_and_loglik(x, n)
    offline = rule_mouth(ll, first, x, n)
    stream = StreamingRuleMouth()
    for a in range(0, len(ll), 37):
        stream.push_loglik(ll[max(0, a - 5) : a + 37], max(0, a - 5))  # overlapping pieces: repeats are skipped
    assert stream.frames == len(ll) > StreamingRuleMouth.HISTORY  # so its history starts after frame 0
    # (loudness is relative to the loud frames up to the last one asked for: here all of them)
    assert np.allclose(stream.mouth(20, n, x, 0)[:60], offline[20:80], atol=1e-5)
    with pytest.raises(ValueError, match="never scored"):
        stream.push_loglik(ll[:3], len(ll) + 2)


@pytest.mark.slow
def test_streaming_blends_the_rule_mouth_into_the_same_generated_motion(real_speech):
    from anim3d.motion import Motion
    from anim3d.inference import StreamingAnimator

    gen = load_model()
    x = resample(real_speech.samples, real_speech.sample_rate, 16000).astype(np.float32)
    takes = {}
    for share in (0.0, 0.3):
        st = StreamingAnimator(gen, seed=2, teacher_blend=share, sample_rate=16000, warmup=False)
        takes[share] = Motion.concatenate(list(st.run(x[i : i + 320] for i in range(0, len(x), 320))))
    alone, blended = takes[0.0].blendshapes, takes[0.3].blendshapes
    ch, other = list(BLEND_CHANNELS), [i for i in range(52) if i not in BLEND_CHANNELS]
    assert np.array_equal(alone[:, other], blended[:, other])  # the model's own frames do not change
    n = len(alone)
    _, rule, _ = gen.features_and_rule_mouth(real_speech, n)
    # the blended lips and jaw are nearer the whole file's rule-based mouth than the model's alone
    assert np.abs(blended[:, ch] - rule[:, ch]).mean() < 0.85 * np.abs(alone[:, ch] - rule[:, ch]).mean()
    with pytest.raises(ConditionError, match="teacher blend"):
        StreamingAnimator(gen, teacher_blend=-1, warmup=False)


def test_cli_teacher_blend_option(real_speech, tmp_path, capsys):
    from anim3d.audio import save_wav
    from anim3d.cli import main
    from anim3d.motion import Motion

    wav = tmp_path / "s.wav"
    save_wav(str(wav), audio_from_array(real_speech.samples[: 2 * real_speech.sample_rate], real_speech.sample_rate))
    outs = {}
    for share in ("0", "1"):
        out = tmp_path / f"b{share}.npz"
        assert main(["animate", str(wav), "-o", str(out), "--teacher-blend", share, "-q"]) == 0
        outs[share] = Motion.load_npz(str(out)).blendshapes
    ch = list(BLEND_CHANNELS)
    assert not np.allclose(outs["0"][:, ch], outs["1"][:, ch], atol=0.02)
    assert main(["animate", str(wav), "-o", str(tmp_path / "bad.npz"), "--teacher-blend", "1.5", "-q"]) == 2
    assert "--teacher-blend: must be between 0 and 1, got 1.5" in capsys.readouterr().err
    assert not (tmp_path / "bad.npz").exists()


def test_a_model_without_the_phone_front_end_blends_phones_scored_beside_it(real_speech):
    """A log-mel model has no phone scores to reuse: offline they are scored on the whole file, live by a phone
    front end of the stream's own; both give nearly the phone front end's rule-based mouth."""
    import torch

    from anim3d.motion import Motion
    from anim3d.inference import MotionGenerator, StreamingAnimator
    from anim3d.models.config import get_config
    from anim3d.models.motion_transformer import MotionTransformer

    torch.manual_seed(0)
    cfg = get_config("tiny")
    assert cfg.audio_encoder == "logmel"
    gen = MotionGenerator(MotionTransformer(cfg).eval(), cfg)
    ch = list(BLEND_CHANNELS)
    feats, rule, _ = gen.features_and_rule_mouth(real_speech)
    assert np.array_equal(feats, gen.features(real_speech))
    _, ref, _ = load_model().features_and_rule_mouth(real_speech)
    assert np.abs(rule[:, ch] - ref[:, ch]).mean() < 0.25 * np.abs(ref[:, ch]).mean()  # measured 0.006 against 0.043
    x = resample(real_speech.samples, real_speech.sample_rate, 16000).astype(np.float32)
    live = {}
    for share in (0.0, 1.0):
        st = StreamingAnimator(gen, teacher_blend=share, sample_rate=16000, warmup=False)
        assert (st.rule_front_end is not None) == (share > 0)
        live[share] = Motion.concatenate(list(st.run(x[i : i + 320] for i in range(0, len(x), 320)))).blendshapes
    n = len(live[1.0])
    # measured: 0.018 with the rules alone, 0.279 with the random model alone
    assert np.abs(live[1.0][:, ch] - rule[:n, ch]).mean() < 0.2 * np.abs(live[0.0][:, ch] - rule[:n, ch]).mean()
