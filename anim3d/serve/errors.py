"""A request the server refuses: the HTTP status, a clear message (the JSON body ``{"error": message}``) and
headers such as Retry-After."""

from __future__ import annotations


class RequestError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def bad_audio(message: str) -> RequestError:
    return RequestError(400, message)


def unusable_control(message: str) -> RequestError:
    return RequestError(422, message)


def too_large(message: str) -> RequestError:
    return RequestError(413, message)
