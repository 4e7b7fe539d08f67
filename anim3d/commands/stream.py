"""``anim3d stream``: send a motion live over OSC (VMC protocol or the plain anim3d scheme) or as Live Link Face
UDP packets (Unreal)."""

from __future__ import annotations

import argparse

NAME = "stream"
ORDER = 40
HELP = "stream a motion live over OSC (VMC protocol or the plain scheme) or Live Link Face (Unreal) at 60 fps"
DESCRIPTION = """Send a Motion (.npz) or a Live Link Face take (.csv) to a running receiver over
UDP (OSC, or Live Link Face packets), paced by a monotonic clock at --fps (default 60) and
interpolated between frames.
On the end or Ctrl-C a neutral frame is sent so that the character does not freeze.

  --protocol vmc    VMC protocol (VSeeFace, EVMC4U for Unity, VMC4UE / VRM4U for Unreal);
                    PascalCase perfect-sync blendshapes + Neck/Head/LeftEye/RightEye/Jaw bones
                    in Unity's frame; default port 39539
  --protocol plain  /anim3d/frame with 60 floats (52 ARKit weights in Apple's order, head
                    quaternion x y z w, head translation, time); default port 39540;
                    received by the Unity package in unity_bridge/unity
  --protocol livelink  the iPhone Live Link Face app's UDP packets (version 6), which
                    Unreal's Live Link receives with no plugin (a MetaHuman's face); 52 ARKit
                    curves, head and eye yaw/pitch/roll; default port 11111; the Live Link
                    subject is --subject (default anim3d)

Speech (an audio file played in real time, or - for raw s16le PCM on stdin) is animated
live: the model runs in this process and the frames are sent from a separate process with
its own clock, so computing a window never delays a send; when a frame is not ready on its
tick the previous one is repeated (the delay grows a tick), and the delay is taken back by
skipping single ticks once the generator is ahead again. --realtime asks SCHED_FIFO for the
sending process only.

  anim3d stream motion.npz --osc 127.0.0.1:39539
  anim3d stream take.csv --protocol plain --osc 192.168.1.20:39540 --loop
  anim3d stream speech.wav --protocol plain --realtime
  anim3d stream speech.wav --protocol livelink --osc UNREAL_HOST:11111 --subject anim3d
  tts "Right behind you." | anim3d stream - --pcm-rate 16000 --text "Right behind you."

With --text (a chatbot's reply that a TTS is speaking) the script is aligned as the audio arrives and the lips
close, touch and round where it says; the first frame leaves as soon as without it. A script the audio does not
say is given up after the first second, with one warning."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    from anim3d.commands import options

    p.add_argument("input", help="a Motion .npz or a Live Link Face .csv; or speech (audio file, or - for raw PCM on stdin) to animate live")
    p.add_argument("--osc", default=None, metavar="HOST:PORT",
                   help="receiver address, for every protocol (default 127.0.0.1 and the protocol's port)")
    p.add_argument("--protocol", choices=("vmc", "plain", "livelink"), default="vmc",
                   help="what is sent: VMC or plain OSC, or Live Link Face packets (default vmc)")
    p.add_argument("--subject", default=None, metavar="NAME",
                   help="--protocol livelink: the Live Link subject name Unreal shows (default anim3d)")
    p.add_argument("--fps", type=options.fps, default=60.0, help="frames sent per second (default 60)")
    p.add_argument("--loop", action="store_true", help="repeat the motion until Ctrl-C")
    p.add_argument("--realtime", action="store_true",
                   help="ask the OS for real-time scheduling (SCHED_FIFO; needs root or CAP_SYS_NICE) "
                        "for steady frame timing on a busy machine")
    g = p.add_argument_group("live audio (when the input is audio, or - for raw PCM on stdin)")
    g.add_argument("--pcm-rate", type=options.int_range(8000, 192000, "Hz"), default=16000,
                   help="sample rate of stdin PCM (s16le mono; default 16000)")
    g.add_argument("--chunk-ms", type=options.int_range(1, 1000, "ms"), default=20, help="audio chunk size (default 20 ms)")
    g.add_argument("--no-pace", action="store_true", help="read an audio file as fast as possible instead of at the pace of real time")
    options.add_motion_arguments(p)  # used when the input is audio


def motion_chunks(args: argparse.Namespace):
    """The Motion chunks to stream: generated live from audio, or a file's (repeated with --loop)."""
    import itertools

    from anim3d.inference.sources import is_audio_source, live_chunks
    from anim3d.exporters.motion_io import load_motion

    if is_audio_source(args.input):  # live generation: frames leave as their audio arrives
        from anim3d.commands.options import motion_settings

        return live_chunks(args.input, motion_settings(args), realtime=not args.no_pace, chunk_ms=args.chunk_ms,
                           pcm_rate=args.pcm_rate, checkpoint=args.checkpoint, device=args.device)
    motion = load_motion(args.input)
    return itertools.repeat(motion) if args.loop else [motion]


def protocol_options(args: argparse.Namespace) -> dict:
    """The sender's options beyond the address: Live Link Face takes the subject name and the frame rate."""
    from anim3d.unity_bridge.transport import StreamError

    if args.protocol != "livelink":
        if args.subject is not None:
            raise StreamError("--subject is for --protocol livelink")
        return {}
    from anim3d.unity_bridge.livelink_face import DEFAULT_SUBJECT, check_name

    subject = DEFAULT_SUBJECT if args.subject is None else args.subject
    check_name(subject)  # a bad name is a StreamError (exit 2) before anything is loaded
    return {"subject": subject, "fps": args.fps}


def run(args: argparse.Namespace) -> int:
    import sys

    from anim3d.inference.sources import is_audio_source
    from anim3d.unity_bridge.process import request_realtime, stream_motion_in_process
    from anim3d.unity_bridge.senders import sender_factory
    from anim3d.unity_bridge.stream import stream_motion

    factory, where = sender_factory(args.protocol, args.osc, **protocol_options(args))
    sender = factory()  # resolves the host: a bad target fails before anything is loaded
    try:
        chunks = motion_chunks(args)  # a bad file fails before anything is sent
    except BaseException:
        sender.close()
        raise
    live = is_audio_source(args.input)
    # live: only the sending process asks for real-time priority (the generator stays normal)
    sched = request_realtime() if args.realtime and not live else ("real-time sender requested" if args.realtime else "normal scheduling")
    if not args.quiet:
        print(f"streaming {args.input} to {where} ({args.protocol}, {args.fps:g} fps, {sched}); Ctrl-C stops", file=sys.stderr)
    if live:  # a sending process with its own clock: computing a window never delays a send
        sender.close()
        stats = stream_motion_in_process(chunks, factory, fps=args.fps, realtime=args.realtime)
    else:
        try:
            stats = stream_motion(chunks, sender, fps=args.fps)
        finally:
            sender.close()
    how = "stopped" if stats.interrupted else "done"
    held = f", {stats.held} ticks held while the generator caught up, {stats.skipped} skipped; sender: {stats.scheduling}" if live else ""
    print(f"{how}: {stats.frames} frames in {stats.duration:.2f} s, frame-time error p50 {stats.percentile(50):.2f} ms, "
          f"p99 {stats.percentile(99):.2f} ms, interval p50 {stats.interval_percentile(50):.1f} ms p99 {stats.interval_percentile(99):.1f} ms"
          f"{held}, CPU {stats.cpu_percent:.1f}% of one core; neutral frame sent")
    return 0
