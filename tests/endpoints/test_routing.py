"""An endpoint's routing through real nginx to real servers: split, header, mirror, reload without loss."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.store.schema import deployments

from .conftest import ROW, Images, answered_by, key_of, state_files


def _send(images: Images, url: str, n: int, threads: int = 4, headers: dict[str, str] | None = None) -> list[Any]:
    """``n`` requests from ``threads`` kept-alive clients: (status, nginx's header, who answered, request id)."""
    key = key_of(images.ws)
    out: list[Any] = []

    def run(count: int) -> None:
        with httpx.Client(timeout=30, headers={"authorization": f"Bearer {key}", **(headers or {})}) as c:
            for _ in range(count):
                r = c.post(url, json={"data": ROW})
                who = answered_by(images, r.json()) if r.status_code == 200 else None
                out.append((r.status_code, r.headers.get("azureml-model-deployment"), who,
                            r.headers.get("x-request-id")))

    workers = [threading.Thread(target=run, args=(n // threads,)) for _ in range(threads)]
    [w.start() for w in workers]
    [w.join() for w in workers]
    return out


def test_2000_requests_split_80_20_within_4_points(images: Images, churn: mlops.Endpoint) -> None:
    ep = mlops.set_traffic("churn", {"blue": 80, "green": 20}, workspace=images.ws)
    assert ep.traffic == {"blue": 80, "green": 20} and ep.mirror == {}
    replies = _send(images, ep.scoring_uri, 2000)
    assert {r[0] for r in replies} == {200}
    assert all(r[1] == r[2] for r in replies)  # nginx's header names the server that really answered
    share = Counter(r[2] for r in replies)["green"] / len(replies)
    assert abs(share - 0.20) <= 0.04, share
    mlops.set_traffic("churn", {"blue": 100}, workspace=images.ws)


def test_the_header_reaches_green_at_0_percent(images: Images, churn: mlops.Endpoint) -> None:
    ep = mlops.get_endpoint("churn", workspace=images.ws)
    assert ep.traffic == {"blue": 100, "green": 0}
    assert {r[2] for r in _send(images, ep.scoring_uri, 40, headers={"azureml-model-deployment": "green"})} == {"green"}
    assert {r[2] for r in _send(images, ep.scoring_uri, 40)} == {"blue"}
    assert answered_by(images, ep.score(ROW, deployment="green")) == "green"
    reply = httpx.post(ep.scoring_uri, json={"data": ROW}, headers={
        "authorization": f"Bearer {key_of(images.ws)}", "azureml-model-deployment": "red"})
    assert reply.status_code == 404 and "it has: blue, green" in reply.json()["message"]


def test_mirrored_requests_reach_green_while_every_answer_comes_from_blue(images: Images,
                                                                           churn: mlops.Endpoint) -> None:
    ws = images.ws
    ep = mlops.set_traffic("churn", {"blue": 100}, mirror={"green": 50}, workspace=ws)
    assert ep.mirror == {"green": 50}
    start = time.time()
    replies = _send(images, ep.scoring_uri, 400)
    assert {(r[0], r[1], r[2]) for r in replies} == {(200, "blue", "blue")}
    sent = {r[3] for r in replies}
    since = datetime.fromtimestamp(start, timezone.utc)
    deadline, mirrored = time.time() + 20, set()
    while time.time() < deadline:  # green's collector writes about every second: wait until it is all there
        frame = mlops.collected_data("green", start=since, workspace=ws)
        seen = set(frame["request_id"]) if len(frame) else set()
        if seen and seen == mirrored:
            break
        mirrored = seen
        time.sleep(1.2)
    assert mirrored <= sent  # what green saw are the clients' requests, by the request id blue answered with
    assert 140 <= len(mirrored) <= 260, len(mirrored)  # 50 % of 400, within 6 standard deviations
    mlops.set_traffic("churn", {"blue": 100}, mirror={}, workspace=ws)


def test_traffic_changes_under_steady_clients_lose_no_request(images: Images, churn: mlops.Endpoint) -> None:
    ws, url, key = images.ws, churn.scoring_uri, key_of(images.ws)
    stop, results, failures = threading.Event(), Counter[str](), []

    def client() -> None:
        with httpx.Client(timeout=30, headers={"authorization": f"Bearer {key}"}) as c:
            while not stop.is_set():
                try:
                    r = c.post(url, json={"data": ROW})
                    results[str(r.status_code)] += 1
                    if r.status_code != 200:
                        failures.append(r.text)
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))

    clients = [threading.Thread(target=client) for _ in range(4)]
    [c.start() for c in clients]
    try:
        for split in [(50, 50), (0, 100), (100, 0)] * 4:
            time.sleep(0.15)
            mlops.set_traffic("churn", dict(zip(("blue", "green"), split)), workspace=ws)
    finally:
        time.sleep(0.2)
        stop.set()
        [c.join() for c in clients]
    assert failures == [] and results["200"] > 200, (results, failures[:3])


def test_bad_traffic_is_a_one_line_error(images: Images, churn: mlops.Endpoint) -> None:
    ws = images.ws
    with pytest.raises(mlops.UsageError, match=r"^Traffic of endpoint 'churn' must sum to 100; blue 90% sums to 90\.$"):
        mlops.set_traffic("churn", {"blue": 90}, workspace=ws)
    with pytest.raises(mlops.UsageError, match=r"^Invalid mirror share 60% for 'green': at most 50%\.$"):
        mlops.set_traffic("churn", {"blue": 100}, mirror={"green": 60}, workspace=ws)
    with pytest.raises(mlops.UsageError, match="mirror only to a deployment with none"):
        mlops.set_traffic("churn", {"blue": 50, "green": 50}, mirror={"green": 10}, workspace=ws)
    with pytest.raises(mlops.NotFoundError, match="^Endpoint 'churn' has no deployment 'red'; it has: blue, green.$"):
        mlops.set_traffic("churn", {"red": 100}, workspace=ws)
    with pytest.raises(mlops.UsageError, match="^Invalid traffic share 'ten' for 'blue'"):
        mlops.set_traffic("churn", {"blue": "ten"}, workspace=ws)  # type: ignore[dict-item]
    with pytest.raises(mlops.ConflictError, match="takes traffic from endpoint 'churn'"):
        mlops.undeploy("blue", workspace=ws)
    assert mlops.get_endpoint("churn", workspace=ws).traffic == {"blue": 100, "green": 0}


def test_a_deployment_that_is_not_healthy_cannot_receive_traffic(images: Images, churn: mlops.Endpoint) -> None:
    ws = images.ws
    mlops.deploy("red", images.green, endpoint="churn", workspace=ws)
    with ws.metadata.read() as conn:
        pid = conn.execute(deployments.select().where(deployments.c.name == "red")).one().handle["pid"]
    os.killpg(pid, signal.SIGKILL)
    time.sleep(0.3)
    with pytest.raises(mlops.ConflictError, match="^Deployment 'red' is failed: only a healthy deployment can receive"):
        mlops.set_traffic("churn", {"blue": 90, "red": 10}, workspace=ws)
    with pytest.raises(mlops.ConflictError, match="^Deployment 'red' is failed"):
        mlops.set_traffic("churn", {"blue": 100}, mirror={"red": 10}, workspace=ws)
    mlops.undeploy("red", workspace=ws)  # no traffic: it leaves the endpoint's routes, then goes
    assert sorted(mlops.get_endpoint("churn", workspace=ws).traffic) == ["blue", "green"]


def test_keys_through_the_endpoint_and_never_in_its_outputs(images: Images, churn: mlops.Endpoint) -> None:
    ws, url = images.ws, churn.scoring_uri
    keys = mlops.get_endpoint_keys("churn", workspace=ws)
    assert mlops.get_keys("blue", workspace=ws) == keys  # the deployments behind it take the endpoint's keys
    for secret, status in ((keys["primary"], 200), (keys["secondary"], 200), ("not-a-key", 401), (None, 401)):
        headers = {"authorization": f"Bearer {secret}"} if secret else {}
        for deployment in ("blue", "green"):  # through the split and by the header alike
            reply = httpx.post(url, json={"data": ROW}, headers={**headers, "azureml-model-deployment": deployment})
            assert reply.status_code == status, (deployment, reply.text)
    ep = mlops.get_endpoint("churn", workspace=ws)
    shown = repr(ep) + ep._repr_html_() + str(ep.to_dict()) + repr(mlops.list_endpoints(workspace=ws))
    shown += state_files(ws, "churn")
    assert keys["primary"] not in shown and keys["secondary"] not in shown
    with pytest.raises(mlops.UsageError, match="uses its endpoint's keys: regenerate them on the endpoint"):
        mlops.regen_key("blue", workspace=ws)
    old = keys["primary"]
    mlops.regen_endpoint_key("churn", workspace=ws)
    time.sleep(1.3)  # the servers re-read the keys file within a second
    assert httpx.post(url, json={"data": ROW}, headers={"authorization": f"Bearer {old}"}).status_code == 401
    assert ep.score(ROW)["label"] in ([0], [1])


def test_an_endpoint_without_traffic_or_deployments_answers_503_in_json(images: Images) -> None:
    ws = images.ws
    ep = mlops.create_endpoint("empty", target="process", auth="none", workspace=ws)
    try:
        reply = httpx.post(ep.scoring_uri, json={"data": ROW})
        assert reply.status_code == 503
        assert reply.json() == {"message": "Endpoint 'empty' sends no traffic to any deployment yet: set its traffic."}
        with pytest.raises(mlops.UsageError, match="^Endpoint 'empty' uses none auth: it has no keys.$"):
            mlops.get_endpoint_keys("empty", workspace=ws)
        with pytest.raises(mlops.ConflictError, match="^Endpoint 'empty' already exists.$"):
            mlops.create_endpoint("empty", workspace=ws)
    finally:
        mlops.delete_endpoint("empty", workspace=ws)
    with pytest.raises(httpx.ConnectError):
        httpx.post(ep.scoring_uri, json={"data": ROW})
    with pytest.raises(mlops.NotFoundError, match="^Endpoint 'empty' not found.$"):
        mlops.get_endpoint("empty", workspace=ws)
