"""A real Jupyter server with the extension loaded (pytest-jupyter), on an embedded workspace.

pytest-jupyter's fixtures and hooks are imported here rather than registered as a plugin, so its
autouse fixtures (an event loop, server clean-up) apply to these tests only."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403
from tornado.httpclient import HTTPClientError, HTTPResponse

Fetch = Callable[..., Awaitable[HTTPResponse]]


@pytest.fixture
def jp_server_config(workspace: Any) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}}}


@pytest.fixture
def api(jp_fetch: Fetch) -> Callable[..., Awaitable[tuple[int, Any]]]:
    """``await api("GET", "models", ...)``: the status and the decoded JSON body, errors included."""

    async def call(method: str, *path: str, body: Any = None, params: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None, raw: str | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        if data is None and method in ("POST", "PATCH"):
            data = "{}"
        try:
            r = await jp_fetch("jupyter-mlops", "api", *path, method=method, body=data, params=params,
                               headers=headers, allow_nonstandard_methods=True)
        except HTTPClientError as exc:
            assert exc.response is not None
            r = exc.response
        return r.code, json.loads(r.body) if r.body else None

    return call
