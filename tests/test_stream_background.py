"""stream_motion(background=True): a live generator runs in its own thread; sends keep their pace."""

import time

import numpy as np
import pytest

from anim3d.errors import AudioError
from anim3d.motion import Motion
from anim3d.unity_bridge.stream import stream_motion

from loopback import drain, udp_receiver

Motion.neutral(2).sample(np.array([0.0, 0.01]))  # the first interpolation imports scipy's Slerp (slow): not timed here


class Recorder:
    def __init__(self):
        self.frames, self.times = [], []

    def send_frame(self, f):
        self.frames.append(f)
        self.times.append(time.monotonic())

    def close(self):
        pass


def motion(n=24, fps=30.0):
    t = np.arange(n) / fps
    bs = np.zeros((n, 52), np.float32)
    bs[:, 17] = 0.5 + 0.4 * np.sin(t * 5)
    return Motion(bs, np.zeros((n, 3), np.float32), np.zeros((n, 3), np.float32), fps)


def bursty(m, hop=4, compute=0.045):
    """Like live generation: every hop frames (133 ms of audio) a window is computed (``compute`` s,
    without the GIL, as torch does) and hop frames come out at once."""
    t0 = time.monotonic()
    for i in range(0, m.num_frames, hop):
        due = t0 + (i + hop) / m.fps
        time.sleep(max(0.0, due - time.monotonic()) + compute)
        yield m[i : i + hop]


@pytest.mark.slow
def test_background_sends_the_same_frames_as_the_foreground():
    m = motion()
    a, b = Recorder(), Recorder()
    sa = stream_motion([m[:10], m[10:]], a, fps=60.0)
    sb = stream_motion(iter([m[:10], m[10:]]), b, fps=60.0, background=True)
    assert sa.frames == sb.frames and sb.held == 0
    assert [f.time for f in a.frames] == [f.time for f in b.frames]
    np.testing.assert_array_equal(np.stack([f.blendshapes for f in a.frames]), np.stack([f.blendshapes for f in b.frames]))


@pytest.mark.slow
def test_generation_does_not_delay_sends_in_background():
    m = motion(36)
    fg, bg = Recorder(), Recorder()
    stream_motion(bursty(m), fg, fps=60.0)
    stats = stream_motion(bursty(m), bg, fps=60.0, background=True)
    gaps_fg = np.diff(fg.times[:-1]) * 1000
    gaps_bg = np.diff(bg.times[:-1]) * 1000  # without the final neutral frame
    # in one thread, each window's compute stops the sender: some gaps are ~compute long
    assert gaps_fg.max() > 35
    # in the background, the sender ticks on: every gap is one tick (held ticks repeat a frame on time)
    assert abs(np.median(gaps_bg) - 1000 / 60) < 2.0
    assert np.percentile(gaps_bg, 90) < 25, np.round(gaps_bg, 1)
    assert stats.interval_percentile(50) == pytest.approx(np.median(np.diff(stats.send_times)) * 1000)
    # every generated frame was sent, in order; held ticks repeat the previous one
    times = [f.time for f in bg.frames[:-1]]
    assert sorted(set(times)) == [f.time for f in fg.frames[:-1]]
    assert all(b >= a for a, b in zip(times, times[1:]))
    assert stats.frames == len(times) and stats.held == len(times) - len(set(times))


def test_errors_of_the_generator_reach_the_caller_and_a_neutral_frame_is_sent():
    def broken():
        yield motion(6)
        raise AudioError("<stdin>", "no PCM audio arrived")

    rec = Recorder()
    with pytest.raises(AudioError, match="stdin"):
        stream_motion(broken(), rec, fps=60.0, background=True)
    assert rec.frames and not rec.frames[-1].blendshapes.any()


@pytest.mark.slow
def test_after_a_hiccup_the_delay_comes_back_down():
    """Frames follow real time except that frames 10..19 freeze and then come all at once with frame 20:
    ticks are held during the freeze, then skipped (one at a time) until no more than max_buffer of
    frames wait, so the delay does not keep what the freeze added."""
    m = motion(45)
    t0 = [0.0]

    def live():
        t0[0] = time.monotonic()
        for i in range(m.num_frames):
            due = t0[0] + (20 if 10 <= i < 20 else i) / m.fps
            time.sleep(max(0.0, due - time.monotonic()))
            yield m[i : i + 1]

    rec = Recorder()
    stats = stream_motion(live(), rec, fps=60.0, background=True, max_buffer=0.1)
    assert stats.held >= 10 and stats.skipped >= 5
    times = [f.time for f in rec.frames[:-1]]
    assert max(np.diff(times)) <= 2 / 60 + 1e-9  # catching up skips single ticks, no jumps
    delay = rec.times[-2] - (t0[0] + rec.frames[-2].time)  # the last motion frame (before the neutral one)
    assert delay < 0.2, delay  # without skipping it would stay >= 0.33 s behind


@pytest.mark.slow
def test_sending_process_streams_every_tick_and_a_neutral_frame():
    import functools

    from anim3d.unity_bridge.process import stream_motion_in_process
    from anim3d.unity_bridge.senders import udp_sender

    rx = udp_receiver()
    m = motion(15)  # 0.5 s at 30 fps -> 30 ticks at 60 fps
    stats = stream_motion_in_process(bursty(m, hop=5, compute=0.01), functools.partial(udp_sender, "plain", "127.0.0.1", rx.getsockname()[1]), fps=60.0)
    packets = drain(rx)
    assert stats.frames - stats.held + stats.skipped == 30 and not stats.interrupted
    assert len(packets) == stats.frames + 1  # every tick + the neutral frame
    assert stats.cpu_seconds > 0 and len(stats.send_times) == stats.frames


@pytest.mark.slow
def test_sending_process_reports_errors_of_both_sides():
    import functools

    from anim3d.unity_bridge.process import stream_motion_in_process
    from anim3d.unity_bridge.senders import udp_sender
    from anim3d.unity_bridge.transport import StreamError

    with pytest.raises(StreamError, match="port"):  # the sender cannot be built in the child
        stream_motion_in_process([motion(3)], functools.partial(udp_sender, "plain", "127.0.0.1", 0))

    def broken():
        yield motion(3)
        raise AudioError("<stdin>", "no PCM audio arrived")

    rx = udp_receiver()
    with pytest.raises(AudioError, match="stdin"):  # the generator fails here: the child still ends cleanly
        stream_motion_in_process(broken(), functools.partial(udp_sender, "plain", "127.0.0.1", rx.getsockname()[1]))
    packets = drain(rx)
    assert packets  # the frames before the error and the final neutral frame went out


@pytest.mark.slow
def test_a_stalled_sender_takes_the_delay_back_too():
    """A send that blocks 0.25 s (a stall: the timeline restarts) adds delay; skipping takes it back."""
    m = motion(45)
    t0 = [0.0]

    def live():
        t0[0] = time.monotonic()
        for i in range(m.num_frames):
            time.sleep(max(0.0, t0[0] + i / m.fps - time.monotonic()))
            yield m[i : i + 1]

    class Slow(Recorder):
        def send_frame(self, f):
            super().send_frame(f)
            if len(self.frames) == 10:
                time.sleep(0.25)

    rec = Slow()
    stats = stream_motion(live(), rec, fps=60.0, background=True, max_buffer=0.05)
    assert stats.stalls >= 1 and stats.skipped >= 5
    delay = rec.times[-2] - (t0[0] + rec.frames[-2].time)
    assert delay < 0.2, delay  # without taking back the stall it would stay >= 0.25 s behind
