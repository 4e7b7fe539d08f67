"""UDP loopback helpers shared by the streaming tests: a receiver on a free local port, and draining it."""

from __future__ import annotations

import socket


def udp_receiver(timeout: float = 0.3) -> socket.socket:
    """A UDP socket bound to a free port on 127.0.0.1 (``rx.getsockname()[1]``), with a receive timeout."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(timeout)
    return rx


def drain(rx: socket.socket, timeout: float | None = None) -> list[bytes]:
    """Every datagram until none arrives for the timeout (``timeout`` replaces the socket's); closes ``rx``."""
    if timeout is not None:
        rx.settimeout(timeout)
    got = []
    try:
        while True:
            got.append(rx.recv(65536))
    except socket.timeout:
        pass
    rx.close()
    return got
