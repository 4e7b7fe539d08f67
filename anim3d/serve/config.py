"""The server's settings and limits (``anim3d serve`` options), without FastAPI."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import TextIO

API_KEY_ENV = "ANIM3D_API_KEY"
BODY_SLACK_BYTES = 1 << 20  # room in a request body for the form fields and multipart boundaries beside the audio


@dataclass
class ServerConfig:
    """What ``create_app`` serves and how much it accepts."""

    checkpoint: str | None = None  # a motion model folder; None: the shipped default
    device: str = "auto"
    max_upload_mb: float = 50.0  # the largest audio upload, in MB (10^6 bytes)
    max_seconds: float = 300.0  # the longest audio, in seconds
    timeout: float = 120.0  # seconds from a request's admission (queue wait included) to its answer
    max_queue: int = 8  # requests that may wait while the worker runs one; beyond: 503
    max_streams: int = 4  # live streams (WS /v1/stream) open at once; beyond: closed with 1013 (try again later)
    api_key: str | None = None  # None or "": no key needed
    cors_origins: list[str] = field(default_factory=list)  # browser origins allowed to call the API; none by default
    default_seed: int = 0  # the seed of a request that gives none
    access_log: TextIO | None = None  # where the JSON access lines go (None: sys.stderr at the time of writing)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1e6)

    def log_stream(self) -> TextIO:
        return self.access_log if self.access_log is not None else sys.stderr

    @staticmethod
    def key_from_environment(key: str | None) -> str | None:
        """``--api-key`` when given, else ``ANIM3D_API_KEY`` (an empty value: no key)."""
        return key if key is not None else (os.environ.get(API_KEY_ENV) or None)
