"""The live protocols a stream can speak (VMC and plain OSC, Live Link Face UDP), and the one place that turns a
protocol name and a target into a sender."""

from __future__ import annotations

import functools
from typing import Callable

from anim3d.unity_bridge import livelink_face, plain, vmc
from anim3d.unity_bridge.transport import Sender, UdpTarget, parse_target

# protocol -> (sender class, default port)
PROTOCOLS = {
    "vmc": (vmc.VMCSender, vmc.DEFAULT_PORT),
    "plain": (plain.PlainSender, plain.DEFAULT_PORT),
    "livelink": (livelink_face.LiveLinkFaceSender, livelink_face.DEFAULT_PORT),
}


def udp_sender(protocol: str, host: str, port: int, **options) -> Sender:
    """The sender of ``protocol`` to host:port; ``options`` go to its class (livelink: ``subject``, ``fps``)."""
    cls, _ = PROTOCOLS[protocol]
    target = UdpTarget(host, port)
    try:
        return cls(target, **options)
    except BaseException:
        target.close()
        raise


def sender_factory(protocol: str, target: str | None, **options) -> tuple[Callable[[], Sender], str]:
    """A picklable factory of ``protocol``'s sender aimed at ``target`` (HOST:PORT, HOST or :PORT; None = this
    machine and the protocol's port), and the address as text; raises StreamError for a bad target."""
    _, port = PROTOCOLS[protocol]
    host, port = parse_target(target or f"127.0.0.1:{port}", port)
    return functools.partial(udp_sender, protocol, host, port, **options), f"{host}:{port}"
