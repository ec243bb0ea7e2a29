"""HTTP-facing errors of the server: each carries its status and a one-line message."""

from __future__ import annotations

from typing import Any


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


def error_body(path: str, message: str) -> dict[str, Any]:
    """The JSON body of an error: ``{"error": ...}`` on v2 routes (as the protocol says), else ``{"message": ...}``."""
    return {"error": message} if path.startswith("/v2") else {"message": message}
