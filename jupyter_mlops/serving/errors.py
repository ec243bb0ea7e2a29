"""HTTP-facing errors of the server: each carries its status and a one-line message."""

from __future__ import annotations


class HTTPError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class BadInput(HTTPError):
    """400: the request body does not fit the model."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)
