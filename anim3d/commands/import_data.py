"""``anim3d import video|livelink|flame INPUT... --out DIR``: real recordings -> training shards."""

from __future__ import annotations

NAME = "import"
HELP = "import real recordings (talking-face videos, Live Link Face takes, FLAME sequences, transcribed speech) as training shards"
DESCRIPTION = """Turn real recordings into shards in the same format as `anim3d data synth`.

  video     talking-face videos with sound: MediaPipe Face Mesh tracks each frame, ARKit
            weights are solved against the open head's morph targets, head pose from the
            tracked geometry
  livelink  Live Link Face takes: the CSV, with its audio found beside it (same name,
            .wav/.mov/...) or given with --audio (one per CSV, same order)
  flame     FLAME parameter sequences (.npz with expression, jaw_pose, neck_pose,
            global_orient, fps) with their audio (--audio, or the same name beside them)
  transcribed
            real speech with a transcript ('name: text' or LJSpeech's 'name|text' lines;
            the audio files under --audio-root, default the transcript's folder): the words
            are force-aligned with pocketsphinx and the teacher makes the motion, so the
            model hears real voices in training; --copies N imports each recording N times
            with its own virtual speaker, labels and audio augmentation

examples:
  anim3d import video talk1.mp4 talk2.mp4 --out data/real
  anim3d import livelink take_1.csv --audio take_1.mov --out data/real
  anim3d import transcribed core-sounds-en.txt --audio-root sounds/en --copies 3 --out data/prompts
"""
ORDER = 45


def add_arguments(parser) -> None:
    parser.add_argument("kind", choices=("video", "livelink", "flame", "transcribed"), help="what the inputs are")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="input files")
    parser.add_argument("--out", required=True, help="output folder for the shard(s)")
    parser.add_argument("--audio", nargs="+", default=None, help="audio file for each input (livelink, flame), in the same order")
    parser.add_argument("--speaker", default=None, help="speaker id to record (default: the file name)")
    parser.add_argument("--name", default=None, help="shard file name (default: import-<kind>-NNN)")
    parser.add_argument("--max-frames", type=int, default=None, help="video: track at most this many frames (for a quick look)")
    parser.add_argument("--align-audio", action="store_true",
                        help="video: shift the motion by the file's audio-video offset, estimated from its audio and the "
                             "tracked lip gap (no shift when the estimate is not confident)")
    parser.add_argument("--flame-model", default=None, help="flame: the FLAME model file the sequences were made with "
                        "(smplx layout), or 'open' for the open head in FLAME form")
    parser.add_argument("--flame-map", default=None, help="flame: a saved ARKit->FLAME map instead of --flame-model")
    parser.add_argument("--audio-root", default=None, help="transcribed: the folder the transcript's names are relative to "
                        "(default: the transcript's folder)")
    parser.add_argument("--copies", type=int, default=1, help="transcribed: utterances made from each recording (default 1)")
    parser.add_argument("--limit", type=int, default=None, help="transcribed: import at most this many recordings")


def run(args) -> int:
    import os

    from anim3d.errors import InputError
    from anim3d.fileio import check_output_folder, make_output_folder

    if args.audio is not None and len(args.audio) != len(args.inputs):
        raise InputError(None, f"--audio lists {len(args.audio)} file(s) for {len(args.inputs)} input(s); give one per input")
    check_output_folder(args.out)

    if args.kind == "transcribed":
        return _run_transcribed(args)
    utterances = []
    amap = None
    for k, path in enumerate(args.inputs):
        audio = None if args.audio is None else args.audio[k]
        if args.kind == "video":
            from anim3d.data.importers.video import import_video

            utt = import_video(path, max_frames=args.max_frames, progress=not args.quiet, speaker=args.speaker,
                               align_audio=args.align_audio)
        elif args.kind == "livelink":
            from anim3d.data.importers.livelink import import_livelink

            utt = import_livelink(path, audio, speaker=args.speaker)
        else:
            from anim3d.data.importers.flame_seq import import_flame_sequence

            if amap is None:
                from anim3d.data.importers.flame_seq import load_mapping

                amap = load_mapping(args.flame_model, args.flame_map)
            utt = import_flame_sequence(path, audio, amap=amap, speaker=args.speaker)
        utterances.append(utt)
        print(f"{path}: {utt.motion.num_frames} frames, {utt.audio.duration:.1f} s of audio")

    from anim3d.data.shards import write_index, write_shard

    make_output_folder(args.out)  # only now: a failed import leaves no folder behind

    name = args.name or _next_name(args.out, f"import-{args.kind}")
    out = os.path.join(args.out, name if name.endswith(".npz") else name + ".npz")
    write_shard(out, utterances)
    write_index(args.out)  # (re)scan the folder's shards; keeps its held-out voices
    print(f"wrote {out} ({len(utterances)} utterance(s)) and {os.path.join(args.out, 'index.json')}")
    return 0


SHARD_UTTERANCES = 200  # transcribed recordings are short: a few minutes of audio per shard


def _run_transcribed(args) -> int:
    import os

    from anim3d.data.importers.transcribed import import_folder
    from anim3d.data.shards import write_index, write_shard
    from anim3d.errors import InputError
    from anim3d.fileio import make_output_folder

    if args.copies < 1:
        raise InputError(None, f"--copies must be at least 1, got {args.copies}")
    utterances = []
    for path in args.inputs:
        utts, skipped = import_folder(path, args.audio_root, copies=args.copies, seed=args.seed, speaker=args.speaker,
                                      limit=args.limit, show_progress=not args.quiet)
        secs = sum(u.duration for u in utts) / max(1, args.copies)
        print(f"{path}: {len(utts) // args.copies} recordings ({secs / 60:.1f} min) x {args.copies}, {len(skipped)} skipped")
        utterances += utts
    if not utterances:
        raise InputError(args.inputs[0], "no recording could be imported")
    make_output_folder(args.out)  # only now: a failed import leaves no folder behind
    prefix = args.name or _next_name(args.out, "import-transcribed")
    starts = range(0, len(utterances), SHARD_UTTERANCES)
    for n, k in enumerate(starts):
        write_shard(os.path.join(args.out, f"{prefix}-{n:03d}.npz"), utterances[k : k + SHARD_UTTERANCES])
    write_index(args.out)
    print(f"wrote {len(starts)} shard(s), {len(utterances)} utterances, and {os.path.join(args.out, 'index.json')}")
    return 0


def _next_name(folder: str, prefix: str) -> str:
    import os

    k = 0
    while any(f.startswith(f"{prefix}-{k:03d}") for f in os.listdir(folder)):
        k += 1
    return f"{prefix}-{k:03d}"
