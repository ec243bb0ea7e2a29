"""``/swagger.json`` describes every route the server answers, as valid OpenAPI, with schemas that
match what the server accepts and returns."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from jupyter_mlops.serving import app

from .conftest import RunningServer
from .openapi_check import Documented

ROW = [0.5] * 20
KEY = "swagger-key-0123456789"


def _routes() -> set[tuple[str, str]]:
    """(path template, method) for every route in the server's routing tables."""
    routes = {(path, m.lower()) for path, (_, methods, _) in app.STATIC.items() for m in methods}
    for prefix in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        for suffix, (_, methods, _) in app.V2_MODEL.items():
            routes |= {(f"{prefix}/{suffix}".rstrip("/"), m.lower()) for m in methods}
    return routes


@pytest.mark.parametrize("models, script, settings", [
    (["lr"], None, {}),
    (["clf"], None, {"auth": True}),
    (["lr", "clf"], None, {}),
    (["lr"], "def run(data):\n    return data\n", {}),
], ids=["onnx", "sklearn-auth", "two-models", "script"])
def test_swagger_is_valid_openapi_and_lists_every_route(
    start_server: Callable[..., RunningServer], tmp_path: Path, models: list[str], script: str | None,
    settings: dict[str, Any],
) -> None:
    if script:
        (tmp_path / "score.py").write_text(script)
    env = {"MLOPS_AUTH_KEYS": KEY} if settings.get("auth") else None
    server = start_server(models, script=tmp_path / "score.py" if script else None, env=env, **settings)
    doc = httpx.get(f"{server.url}/swagger.json").json()
    validate(doc)
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops if method != "parameters"}
    assert documented == _routes()
    headers = {"authorization": f"Bearer {KEY}"} if settings.get("auth") else {}
    check = Documented(doc)
    name = models[0]
    for path, method in sorted(documented):
        if method == "get":
            url = server.url + path.replace("{name}", name).replace("{version}", "1")
            reply = httpx.get(url, headers=headers)
            assert reply.status_code == 200, (path, reply.text)
            check.check_reply(path, method, reply)
    if settings.get("auth"):
        assert doc["paths"]["/score"]["post"]["security"] == [{"bearer": []}]
        assert "security" not in doc["paths"]["/v2/health/live"]["get"]
        check.check_reply("/score", "post", httpx.post(f"{server.url}/score", json={"data": [ROW]}))


def test_request_schemas_accept_exactly_what_the_server_scores(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(["lr"])
    check = Documented(httpx.get(f"{server.url}/swagger.json").json())
    v2_input = {"name": "input", "shape": [1, 20], "datatype": "FP32", "data": ROW}
    cases: list[tuple[str, Any, bool]] = [
        ("/score", {"data": [ROW, ROW]}, True),
        ("/score", {"data": ROW}, True),  # one row without its batch dimension
        ("/score", {"data": {"input": [ROW]}}, True),
        ("/score", {"data": []}, False),
        ("/score", {"data": [[1, 2, 3]]}, False),
        ("/score", {"rows": [ROW]}, False),
        ("/v2/models/{name}/infer", {"id": "r1", "inputs": [v2_input]}, True),
        ("/v2/models/{name}/infer", {"inputs": [v2_input], "outputs": [{"name": "label"}]}, True),
        ("/v2/models/{name}/infer", {"inputs": []}, False),
        ("/v2/models/{name}/infer", {"inputs": [{**v2_input, "datatype": "FP33"}]}, False),
        ("/invocations", {"instances": [ROW]}, True),
        ("/invocations", {"dataframe_split": {"columns": [f"x{i}" for i in range(20)], "data": [ROW]}}, True),
        ("/invocations", {"dataframe_records": [{f"x{i}": 0.5 for i in range(20)}]}, True),
        ("/invocations", {"inputs": [ROW]}, True),
        ("/invocations", {"instances": [ROW], "inputs": [ROW]}, False),
        ("/invocations", {"instances": []}, False),
    ]
    for path, body, valid in cases:
        assert check.request_fits(path, "post", body) == valid, (path, body)
        reply = httpx.post(server.url + path.replace("{name}", "lr"), json=body)
        assert (reply.status_code == 200) == valid, (path, body, reply.text)
        check.check_reply(path, "post", reply)
