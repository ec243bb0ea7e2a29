"""Every error the server gives, provoked, with its body checked."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from jupyter_mlops.serving import app

from .conftest import RunningServer

ROW = [0.5] * 20
KEY = "primary-key-0123456789"

FAILING = '''
import time

def init():
    time.sleep(float(__import__("os").environ.get("INIT_SLEEP", "0")))

def run(data):
    if data == "slow":
        time.sleep(5)
    raise ValueError("feature 'age' is negative")
'''


@pytest.fixture
def server(start_server: Callable[..., RunningServer]) -> RunningServer:
    return start_server(["lr"], env={"MLOPS_AUTH_KEYS": KEY}, max_body_bytes=4096)


def _auth(key: str = KEY) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def test_400_malformed_json_shape_and_dtype(server: RunningServer) -> None:
    def post(body: str) -> httpx.Response:
        return httpx.post(f"{server.url}/score", content=body, headers={**_auth(), "content-type": "application/json"})

    r = post('{"data": [[1, 2')
    assert r.status_code == 400 and r.json()["message"].startswith("Malformed JSON:")
    r = post('{"data": [[1, 2, 3]]}')
    assert (r.status_code, r.json()) == (400, {"message": "Input 'input' has shape [1, 3]; the model expects [None, 20]."})
    r = post('{"data": [["a", "b"]]}')
    assert r.json() == {"message": "Input 'input' has dtype string; the model expects float32."}
    r = post('{"rows": []}')
    assert r.json() == {"message": 'The body needs a "data" field: {"data": [[...], ...]}.'}
    r = post('{"data": [[1, 2], [3]]}')
    assert r.status_code == 400 and "ragged" in r.json()["message"]


def test_401_missing_or_wrong_key_and_health_stays_open(server: RunningServer) -> None:
    for headers in ({}, _auth("wrong"), {"authorization": KEY}):
        r = httpx.post(f"{server.url}/score", json={"data": [ROW]}, headers=headers)
        assert (r.status_code, r.json()) == (401, {"message": "Unauthorized."})
    assert httpx.post(f"{server.url}/score", json={"data": [ROW]}, headers=_auth()).status_code == 200
    for path in ("/", "/ready", "/v2/health/live", "/v2/health/ready", "/swagger.json"):
        assert httpx.get(f"{server.url}{path}").status_code == 200, path
    assert KEY not in server.log


def test_404_405_413_415(server: RunningServer) -> None:
    r = httpx.get(f"{server.url}/nope", headers=_auth())
    assert (r.status_code, r.json()) == (404, {"message": "Not found: /nope."})
    r = httpx.post(f"{server.url}/v2/models/ghost/infer", json={"inputs": []}, headers=_auth())
    assert (r.status_code, r.json()) == (404, {"error": "Model 'ghost' not found in this server."})
    r = httpx.get(f"{server.url}/score", headers=_auth())
    assert (r.status_code, r.json()["message"], r.headers["allow"]) == (405, "Method GET is not allowed on /score.", "POST")
    r = httpx.post(f"{server.url}/score", content=b"x" * 5000, headers=_auth())
    assert (r.status_code, r.json()) == (413, {"message": "Request body of 5000 bytes is over the limit of 4096 bytes."})
    r = httpx.post(f"{server.url}/score", content="a,b", headers={**_auth(), "content-type": "text/csv"})
    assert (r.status_code, r.json()) == (415, {"message": "Content-Type 'text/csv' is not supported; send application/json."})
    r = httpx.post(f"{server.url}/invocations", content="x", headers={**_auth(), "content-type": "text/plain"})
    assert r.status_code == 415


def test_413_without_content_length(server: RunningServer) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b"y" * 1000

    r = httpx.post(f"{server.url}/score", content=chunks(), headers=_auth())
    assert (r.status_code, r.json()) == (413, {"message": "Request body is over the limit of 4096 bytes."})


def test_request_ids_are_32_hex_digits_unique_and_each_worker_draws_its_own_prefix() -> None:
    ids = [app._new_request_id() for _ in range(1000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == 1000
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a worker forked from the supervisor
        os.write(write, app._new_request_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    assert re.fullmatch(r"[0-9a-f]{32}", child)
    assert child[:16] != ids[0][:16]  # its own random prefix


def test_500_carries_the_request_id_that_the_log_shows(start_server: Callable[..., RunningServer], tmp_path: Path) -> None:
    script = tmp_path / "fail.py"
    script.write_text(FAILING)
    server = start_server(["lr"], script=script)
    r = httpx.post(f"{server.url}/score", content="x", headers={"x-ms-client-request-id": "client-7"})
    assert r.status_code == 500
    rid = r.headers["x-request-id"]
    assert r.json() == {"message": f"run() raised ValueError: feature 'age' is negative (request id {rid})."}
    assert r.headers["x-ms-client-request-id"] == "client-7"
    assert float(r.headers["x-ms-run-fn-exec-ms"]) >= 0
    assert re.search(rf"request {rid}: run\(\) raised", server.log)
    assert "Traceback" in server.log


def test_request_id_is_echoed(server: RunningServer) -> None:
    r = httpx.post(f"{server.url}/score", json={"data": [ROW]}, headers={**_auth(), "x-request-id": "abc-1"})
    assert r.headers["x-request-id"] == "abc-1"


def test_503_while_init_runs_then_ready(start_server: Callable[..., RunningServer], tmp_path: Path) -> None:
    script = tmp_path / "fail.py"
    script.write_text(FAILING)
    server = start_server(["lr"], script=script, env={"INIT_SLEEP": "3"}, ready=False)
    r = httpx.post(f"{server.url}/score", content="x")
    assert (r.status_code, r.json()) == (503, {"message": "The service is not ready (still loading)."})
    assert httpx.get(f"{server.url}/ready").status_code == 503
    assert httpx.get(f"{server.url}/v2/health/ready").json() == {"error": "The service is not ready (still loading)."}
    server.wait_ready()


def test_504_when_scoring_times_out(start_server: Callable[..., RunningServer], tmp_path: Path) -> None:
    script = tmp_path / "fail.py"
    script.write_text(FAILING)
    server = start_server(["lr"], script=script, scoring_timeout_s=0.5)
    r = httpx.post(f"{server.url}/score", content="slow", timeout=10)
    assert (r.status_code, r.json()) == (504, {"message": "Scoring timed out after 0.5 s."})


def test_init_failure_is_reported_on_ready(start_server: Callable[..., RunningServer], tmp_path: Path) -> None:
    script = tmp_path / "broken.py"
    script.write_text("def init():\n    raise RuntimeError('no GPU here')\n\ndef run(data):\n    return data\n")
    server = start_server(["lr"], script=script, ready=False)
    deadline = time.monotonic() + 10
    while "init failed" not in (r := httpx.get(f"{server.url}/ready")).text and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (r.status_code, r.json()) == (503, {"message": "The service is not ready (init failed: RuntimeError: no GPU here)."})


def test_regenerated_key_in_keys_file_takes_effect_without_restart(
    start_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    from jupyter_mlops.serving.auth import write_keys_file

    keys = tmp_path / "keys.json"
    write_keys_file(keys, {"primary": "p1", "secondary": "s1"})
    server = start_server(["lr"], auth=True, keys_file=str(keys))
    ok = lambda k: httpx.post(f"{server.url}/score", json={"data": [ROW]}, headers=_auth(k)).status_code
    assert (ok("p1"), ok("s1")) == (200, 200)
    write_keys_file(keys, {"primary": "p2", "secondary": "s1"})
    time.sleep(1.2)
    assert (ok("p1"), ok("p2"), ok("s1")) == (401, 200, 200)
