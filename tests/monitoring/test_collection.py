"""Inference data collection through the real server: complete, prompt, and safe across outages
and crashes."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.appdir import resolve_models, write_app_dir
from jupyter_mlops.serving.outbox import HOLD_FROM
from jupyter_mlops.workspace import Workspace

from ..modelfactory import onnx_logreg, training_data
from ..services import Azurite, free_port
from ..serving.conftest import RunningServer
from ..serving.test_http_layer import _responses, _score


@pytest.fixture
def start(workspace: Workspace, tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    servers: list[RunningServer] = []

    def run(store: str | None = None, env: dict[str, str] | None = None, spool: Path | None = None,
            **settings: Any) -> RunningServer:
        app = tmp_path / f"app{len(servers)}"
        settings = {"workers": 1, "collect_flush_s": 0.2, **settings}
        write_app_dir(workspace, resolve_models(workspace, ["lr"]), app, port=free_port(), deployment="fraud",
                      collect=True, collect_store=store or workspace.artifacts_url,
                      collect_spool_dir=str(spool or tmp_path / "spool"), **settings)
        server = RunningServer(app, env)
        servers.append(server)
        server.wait_ready()
        return server

    yield run
    for s in servers:
        s.stop()


def _send(server: RunningServer, rows: np.ndarray) -> dict[str, tuple[list[float], Any]]:
    """One request per row; returns what was acknowledged: request id -> (row, answer)."""
    acked = {}
    with httpx.Client(timeout=10) as client:
        for row in rows:
            r = client.post(f"{server.url}/score", json={"data": [row.tolist()]})
            if r.status_code == 200:
                acked[r.headers["x-request-id"]] = (row.tolist(), r.json())
    return acked


def _collected(**kw: Any):  # type: ignore[no-untyped-def]
    """What "fraud" collected so far. These servers run without a deployment record: until one
    stores something, the name is unknown."""
    try:
        return mlops.collected_data("fraud", **kw)
    except mlops.NotFoundError:
        return pd.DataFrame()


def _wait_for(count: int, workspace: Workspace | str | None = None, timeout: float = 20, **kw: Any):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        frame = _collected(workspace=workspace, **kw)
        n = 0 if frame.empty else frame["request_id"].nunique()
        if n >= count or time.monotonic() > deadline:
            return frame
        time.sleep(0.2)


def _check(frame, acked: dict) -> None:  # type: ignore[no-untyped-def]
    assert len(frame) == len(acked) and frame["request_id"].is_unique
    assert set(frame["request_id"]) == set(acked)
    for _, rec in frame.iterrows():
        row, answer = acked[rec["request_id"]]
        assert [rec[f"x{i}"] for i in range(20)] == pytest.approx(row)
        assert rec["label"] == answer["label"][0] and rec["probabilities"] == answer["probabilities"][0]
        assert (rec["model"], rec["model_version"], rec["status"]) == ("lr", 1, 200)
        assert rec["latency_ms"] > 0


def test_every_request_is_collected_exactly_once_in_a_local_store(start, workspace: Workspace) -> None:  # type: ignore[no-untyped-def]
    server = start(workers=2)
    acked = _send(server, training_data(20, rows=60, seed=3)[0])
    assert len(acked) == 60
    _check(_wait_for(60), acked)
    names = list(workspace.artifacts.list("collected/fraud/lr/1/"))
    assert names and all(n.count("/") == 8 and n.endswith(".jsonl") for n in names)  # .../yyyy/mm/dd/hh/w-seq.jsonl


def test_collection_into_azure_blob_storage(start, azurite: Azurite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    container = f"c{os.urandom(5).hex()}"
    env = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}
    server = start(store=f"azure://{container}", env=env)
    acked = _send(server, training_data(20, rows=25, seed=4)[0])
    (tmp_path / "az.toml").write_text(f'[workspace]\nroot = "ws"\nartifacts = "azure://{container}"\n'
                                      f'azure_connection_string = "{azurite.connection_string}"\n')
    reader = Workspace.from_config(tmp_path / "az.toml")
    reader.metadata_url = mlops.get_workspace().metadata_url  # the models' registry
    _check(_wait_for(25, workspace=reader), acked)


def test_requests_succeed_while_the_store_is_down_and_records_arrive_after(start, azurite: Azurite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    container = f"c{os.urandom(5).hex()}"
    server = start(store=f"azure://{container}", env={"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string})
    azurite.stop()
    try:
        acked = _send(server, training_data(20, rows=30, seed=5)[0])
        assert len(acked) == 30  # the outage never reached a client
        time.sleep(1.0)
        metrics = httpx.get(f"{server.url}/metrics").text
        assert "mlops_collect_spool_bytes" in metrics and "mlops_collect_uploaded_total 0.0" in metrics
    finally:
        azurite.start()
    (tmp_path / "az.toml").write_text(f'[workspace]\nroot = "ws"\nartifacts = "azure://{container}"\n'
                                      f'azure_connection_string = "{azurite.connection_string}"\n')
    reader = Workspace.from_config(tmp_path / "az.toml")
    reader.metadata_url = mlops.get_workspace().metadata_url
    _check(_wait_for(30, workspace=reader, timeout=60), acked)


def test_no_acknowledged_record_is_lost_when_the_server_is_killed(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spool = tmp_path / "spool"
    server = start(spool=spool, collect_flush_s=60)  # nothing is uploaded before the kill
    acked = _send(server, training_data(20, rows=40, seed=6)[0])
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    assert any(spool.rglob("*.jsonl"))
    with pytest.raises(mlops.NotFoundError):  # nothing stored, and no deployment of that name
        mlops.collected_data("fraud")
    start(spool=spool)  # a new server adopts the dead worker's spool
    _check(_wait_for(40), acked)


def _burst(server: RunningServer, rows: np.ndarray) -> dict[str, tuple[list[float], Any]]:
    """One request per row, each on its own connection, all sent before any answer is read, so
    that the worker reads many in one turn and coalesces them; what was acknowledged."""
    socks = [socket.create_connection(("127.0.0.1", server.port)) for _ in rows]
    try:
        for sock, row in zip(socks, rows):
            sock.sendall(_score(row.tolist()))
        acked = {}
        for sock, row in zip(socks, rows):
            ((status, headers, body),) = _responses(sock, 1)
            if status == 200:
                acked[headers["x-request-id"]] = (row.tolist(), json.loads(body))
        return acked
    finally:
        for sock in socks:
            sock.close()


def test_no_record_of_a_held_run_is_lost_when_the_server_is_killed(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Runs of HOLD_FROM requests or more hold their answers and spool their records together just
    before the answers go (outbox.py): acknowledged is still collected, through a SIGKILL."""
    spool = tmp_path / "spool"
    server = start(spool=spool, collect_flush_s=60)
    x = training_data(20, rows=48, seed=7)[0]
    acked: dict[str, tuple[list[float], Any]] = {}
    for _ in range(10):  # bursts until some run has held its answers
        acked |= _burst(server, x)
        metrics = httpx.get(f"{server.url}/metrics").text
        runs = float(metrics.split('mlops_batch_size_count{model="lr"} ')[1].split()[0])
        at_most = float(metrics.split(f'mlops_batch_size_bucket{{le="{HOLD_FROM}",model="lr"}} ')[1].split()[0])
        if runs > at_most:
            break
    assert runs > at_most, "no coalesced run reached HOLD_FROM requests in 10 bursts"
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    start(spool=spool)  # a new server adopts the dead worker's spool
    assert len(acked) % 48 == 0  # every request of every burst answered
    _check(_wait_for(len(acked)), acked)


def test_sampling_keeps_about_the_given_share(start) -> None:  # type: ignore[no-untyped-def]
    server = start(collect_sample_rate=0.1)
    acked = _send(server, np.zeros((1000, 20), dtype=np.float32))
    assert len(acked) == 1000
    time.sleep(1.5)
    n = len(_wait_for(10_000, timeout=1))
    assert 50 <= n <= 160, n  # binomial(1000, 0.1): mean 100, sd 9.5


def test_scoring_scripts_collect_their_own_records_with_the_request_id(start, tmp_path: Path, workspace: Workspace) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "score.py"
    script.write_text(
        "import json\nimport pandas as pd\nfrom jupyter_mlops.serving import Collector\n"
        "features = Collector('inputs')\n"
        "def init():\n    pass\n"
        "def run(raw):\n    df = pd.DataFrame(json.loads(raw)['data'], columns=['a', 'b'])\n"
        "    features.collect(df)\n    return {'sum': df.sum(axis=1).tolist()}\n"
    )
    app = tmp_path / "scripted"
    write_app_dir(workspace, resolve_models(workspace, ["lr"]), app, script, port=free_port(), deployment="fraud",
                  collect=True, collect_store=workspace.artifacts_url, collect_spool_dir=str(tmp_path / "spool2"),
                  collect_flush_s=0.2, workers=1)
    server = RunningServer(app)
    try:
        server.wait_ready()
        r = httpx.post(f"{server.url}/score", content=json.dumps({"data": [[1, 2], [3, 4]]}))
        assert r.json() == {"sum": [3, 7]}
        deadline = time.monotonic() + 10
        while (custom := _collected(collector="inputs")).empty and time.monotonic() < deadline:
            time.sleep(0.2)
        assert custom["request_id"].tolist() == [r.headers["x-request-id"]]
        assert custom["data"].tolist() == [[{"a": 1, "b": 2}, {"a": 3, "b": 4}]]
    finally:
        server.stop()


def test_bodies_of_every_shape_are_collected_as_sent(start, workspace: Workspace) -> None:  # type: ignore[no-untyped-def]
    from jupyter_mlops.monitoring.data import read_records

    server = start()
    row = [0.5] * 20
    csv = ",".join(f"x{i}" for i in range(20)) + "\n" + ",".join(map(str, row)) + "\n"
    sent = [  # pretty-printed JSON (line breaks inside), a client's own request id, broken JSON with a
        # client's correlation id (and a 400 between two 200s), CSV
        ("/score", json.dumps({"data": [row]}, indent=2), "application/json", {"x-request-id": 'client "id"\\1'}),
        ("/score", '{"data": [[1,', "application/json", {"x-ms-client-request-id": 'corr "7"\\'}),
        ("/invocations", csv, "text/csv", {}),
        ("/score", json.dumps({"data": [row]}), "application/json", {}),
    ]
    answers = []
    for path, body, ctype, extra in sent:
        headers = {"content-type": ctype, **extra}
        answers.append(httpx.post(f"{server.url}{path}", content=body, headers=headers))
    assert [r.status_code for r in answers] == [200, 400, 200, 200]
    deadline = time.monotonic() + 20
    while len(records := read_records(workspace, "fraud")) < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    by_id = {rec["request_id"]: rec for rec in records}
    assert set(by_id) == {r.headers["x-request-id"] for r in answers}
    pretty, broken, from_csv, plain = (by_id[r.headers["x-request-id"]] for r in answers)
    assert pretty["request_id"] == 'client "id"\\1' and pretty["correlation_id"] is None
    assert broken["correlation_id"] == 'corr "7"\\' and from_csv["correlation_id"] is None
    assert [(r["route"], r["status"]) for r in (pretty, broken, from_csv, plain)] == [
        ("score", 200), ("score", 400), ("invocations", 200), ("score", 200)]
    assert pretty["request"] == {"data": [row]} and pretty["response"] == answers[0].json()
    assert broken["request"] == '{"data": [[1,' and broken["status"] == 400 and "Malformed JSON" in broken["response"]["message"]
    assert from_csv["request"] == csv and from_csv["route"] == "invocations" and from_csv["response"] == answers[2].json()


def test_binary_tensors_are_collected_as_sent_and_read_back_as_rows(start, workspace: Workspace) -> None:  # type: ignore[no-untyped-def]
    """A binary request is recorded as it came (its binary part in base64: a copy, not 640 numbers
    formatted as text); reading it back gives the rows exactly, beside a JSON v2 request's."""
    import base64

    import tritonclient.http as triton

    from jupyter_mlops.monitoring.data import read_records

    server = start()
    rows = training_data(20, rows=4, seed=8)[0].astype(np.float32)
    client = triton.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    results = []
    for part, binary in ((rows[:3], True), (rows[3:], False)):
        tensor = triton.InferInput("input", list(part.shape), "FP32")
        tensor.set_data_from_numpy(part, binary_data=binary)
        outputs = [triton.InferRequestedOutput(n, binary_data=binary) for n in ("label", "probabilities")]
        results.append(client.infer("lr", [tensor], outputs=outputs, request_id=f"binary-{binary}"))
    client.close()
    frame = _wait_for(2)
    assert len(frame) == 4 and set(frame["route"]) == {"v2_infer"}
    np.testing.assert_array_equal(frame[[f"x{i}" for i in range(20)]].to_numpy(dtype=np.float32), rows)  # exact: float32 as sent
    for name in ("label", "probabilities"):
        sent = [v for r in results for v in r.as_numpy(name).tolist()]
        assert frame[name].tolist() == sent
    binary = next(r for r in read_records(workspace, "fraud") if r["request"].get("binary_data_base64"))
    assert base64.b64decode(binary["request"]["binary_data_base64"]) == rows[:3].tobytes()
    assert binary["request"]["inputs"][0]["parameters"] == {"binary_data_size": rows[:3].nbytes}
    answer = base64.b64decode(binary["response"]["binary_data_base64"])
    assert answer == results[0].as_numpy("label").tobytes() + results[0].as_numpy("probabilities").tobytes()


def test_a_binary_requests_json_header_is_recorded_byte_for_byte(start, workspace: Workspace) -> None:  # type: ignore[no-untyped-def]
    """Not parsed and written again: its spacing, key order and numbers stay as the client wrote
    them, its line breaks made spaces (one record a line)."""
    rows = training_data(20, rows=2, seed=9)[0].astype(np.float32)
    header = ('{ "id" : "pretty",\n  "inputs": [{"name": "input", "shape": [2, 20], "datatype": "FP32",\n'
              f'    "parameters": {{"binary_data_size": {rows.nbytes}, "note": 1.50e0}}}}] }}\n  ').encode()
    server = start()
    answer = httpx.post(f"{server.url}/v2/models/lr/infer", content=header + rows.tobytes(),
                        headers={"content-type": "application/octet-stream",
                                 "inference-header-content-length": str(len(header))})
    assert answer.status_code == 200, answer.text
    _wait_for(1)
    stored = b"".join(workspace.artifacts.get_bytes(name) for name in workspace.artifacts.list("collected/fraud/"))
    line, = [line for line in stored.split(b"\n") if b'"pretty"' in line]
    expected = header.rstrip().replace(b"\n", b" ")[:-1] + b',"binary_data_base64":"'
    assert expected in line  # before: '{"id":"pretty","inputs":[...'
    assert json.loads(line)["request"]["inputs"][0]["parameters"]["note"] == 1.5


def test_v2_records_read_back_as_rows_and_what_does_not_decode_is_kept_whole() -> None:
    import base64

    from jupyter_mlops.monitoring.data import to_frame

    x = np.array([[0.5, -1.25], [3.0, 7.5]], dtype=np.float32)
    head = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [2, 2], "parameters": {"binary_data_size": 16}}]}
    good = base64.b64encode(x.tobytes()).decode()
    response = {"outputs": [{"name": "label", "datatype": "INT64", "shape": [2], "data": [1, 0]}]}
    records = [{"time": 1.0 + i, "route": "v2_infer", "status": 200, "request_id": str(i),
                "request": {**head, "binary_data_base64": b64}, "response": response}
               for i, b64 in enumerate([good, good[:-4], "not base64!"])]
    frame = to_frame(records)
    rows = frame[frame["request_id"] == "0"]
    assert rows[["x0", "x1"]].to_numpy(dtype=np.float32).tolist() == x.tolist() and rows["label"].tolist() == [1, 0]
    kept = frame[frame["request_id"] != "0"]
    assert kept["request"].tolist() == [r["request"] for r in records[1:]]  # a short or broken binary part: whole
