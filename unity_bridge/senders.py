"""The OSC protocols a stream can speak, and the one place that turns a protocol name and a target into a sender."""

from __future__ import annotations

import functools
from typing import Callable

from anim3d.unity_bridge import plain, vmc
from anim3d.unity_bridge.transport import Sender, UdpTarget, parse_target

# protocol -> (sender class, default port)
PROTOCOLS = {"vmc": (vmc.VMCSender, vmc.DEFAULT_PORT), "plain": (plain.PlainSender, plain.DEFAULT_PORT)}


def udp_sender(protocol: str, host: str, port: int) -> Sender:
    """The OSC sender of ``protocol`` to host:port."""
    cls, _ = PROTOCOLS[protocol]
    return cls(UdpTarget(host, port))


def sender_factory(protocol: str, target: str | None) -> tuple[Callable[[], Sender], str]:
    """A picklable factory of ``protocol``'s sender aimed at ``target`` (HOST:PORT, HOST or :PORT; None = this
    machine and the protocol's port), and the address as text; raises StreamError for a bad target."""
    _, port = PROTOCOLS[protocol]
    host, port = parse_target(target or f"127.0.0.1:{port}", port)
    return functools.partial(udp_sender, protocol, host, port), f"{host}:{port}"
