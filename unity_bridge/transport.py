"""What a stream sends and where: ``Frame`` (one tick of motion), the ``Sender`` protocol that the VMC and
plain OSC senders follow, and ``UdpTarget``, a UDP destination."""

from __future__ import annotations

import socket
import warnings
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from anim3d.errors import Anim3dError


class StreamError(Anim3dError):
    """A streaming target that cannot be used (bad host or port)."""


@dataclass
class Frame:
    """One tick of the stream (anim3d's right-handed frame; senders convert)."""

    time: float  # seconds since the stream started
    blendshapes: np.ndarray  # 52, ARKit order
    head_rotation: np.ndarray  # 3, axis-angle radians
    head_translation: np.ndarray  # 3, metres
    eye_rotations: np.ndarray  # 2 x 3, axis-angle (left, right)

    @classmethod
    def neutral(cls, t: float = 0.0) -> "Frame":
        return cls(t, np.zeros(52, np.float32), np.zeros(3, np.float32), np.zeros(3, np.float32), np.zeros((2, 3), np.float32))


class Sender(Protocol):
    """Sends one frame. Senders may also offer ``prepare(frame) -> payload`` and
    ``send_prepared(payload)`` so that encoding happens before the deadline."""

    def send_frame(self, frame: Frame) -> None: ...

    def close(self) -> None: ...


class UdpTarget:
    """A UDP destination. Bad hosts/ports raise StreamError. A receiver that is not listening is no
    error (UDP is fire-and-forget), but the socket is connected, so the host's refusal (ICMP port
    unreachable) comes back on a later send: it is reported once as a warning, and sending goes on."""

    def __init__(self, host: str, port: int):
        if not isinstance(port, int) or not 0 < port < 65536:
            raise StreamError(f"bad OSC port {port!r}: use a number from 1 to 65535")
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        except (socket.gaierror, UnicodeError) as e:
            raise StreamError(f"cannot resolve OSC host {host!r} ({e})") from None
        family, _, _, _, addr = infos[0]
        self.address = addr
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        try:
            self.sock.connect(addr)
        except OSError as e:
            self.sock.close()
            raise StreamError(f"cannot send to {addr[0]}:{addr[1]} ({e.strerror or e})") from None
        self.bytes_sent = 0
        self.refused = 0  # datagrams the receiving host refused

    def send(self, data: bytes) -> None:
        try:
            self.bytes_sent += self.sock.send(data)
        except ConnectionRefusedError:
            self.refused += 1
            if self.refused == 1:
                warnings.warn(f"nothing is listening at {self.address[0]}:{self.address[1]} (the host refused the "
                              "stream); still sending, start the receiver or check --osc", stacklevel=2)
        except BlockingIOError:
            pass  # a full socket buffer: drop the datagram
        except OSError as e:
            raise StreamError(f"cannot send to {self.address[0]}:{self.address[1]} ({e.strerror or e})") from None

    def close(self) -> None:
        self.sock.close()


def parse_target(text: str, default_port: int) -> tuple[str, int]:
    """``HOST:PORT``, ``HOST`` or ``:PORT`` -> (host, port); raises StreamError."""
    text = text.strip()
    host, sep, port_s = text.rpartition(":")
    if not sep:
        host, port_s = text, str(default_port)
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_s)
    except ValueError:
        raise StreamError(f"bad OSC target {text!r}: expected HOST:PORT, e.g. 127.0.0.1:{default_port}") from None
    if not 0 < port < 65536:
        raise StreamError(f"bad OSC port {port} in {text!r}: use a number from 1 to 65535")
    return host, port
