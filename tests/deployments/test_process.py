"""The process target: deploy, score, update (also under load, also to a broken image), delete."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import onnxruntime as ort
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.workspace import Workspace

from ..modelfactory import onnx_logreg, training_data
from .sockets import listening_addresses, listening_inodes

BROKEN = "def init():\n    raise RuntimeError('weights do not match the architecture')\n\ndef run(data):\n    return data\n"


@pytest.fixture
def images(workspace: Workspace, tmp_path: Path) -> tuple[mlops.Image, mlops.Image]:
    m1 = mlops.register_model(onnx_logreg(tmp_path / "a.onnx", seed=0), "lr")
    m2 = mlops.register_model(onnx_logreg(tmp_path / "b.onnx", seed=1), "lr")
    return mlops.build_image("svc", m1, docker=False), mlops.build_image("svc", m2, docker=False)


def _expected(path: Path, rows) -> list:  # type: ignore[no-untyped-def]
    return ort.InferenceSession(str(path)).run(None, {"input": rows})[1].ravel().tolist()


def _proba(answer: dict) -> list:  # type: ignore[type-arg]
    return [p for row in answer["probabilities"] for p in row]


def test_deploy_score_update_score_delete(images, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = training_data(20, rows=3, seed=8)[0]
    dep = mlops.deploy("churn", images[0], target="process", tags={"team": "risk"})
    assert (dep.state, dep.image, dep.models, dep.auth) == ("healthy", "svc:1", ["lr:1"], True)
    assert dep.scoring_uri.startswith("http://127.0.0.1:") and dep.swagger_uri.endswith("/swagger.json")
    assert _proba(dep.score(rows)) == pytest.approx(_expected(tmp_path / "a.onnx", rows))
    updated = mlops.update_deployment("churn", images[1])
    assert (updated.image, updated.scoring_uri, updated.state) == ("svc:2", dep.scoring_uri, "healthy")
    assert _proba(updated.score(rows)) == pytest.approx(_expected(tmp_path / "b.onnx", rows))
    assert [e.kind for e in updated.events] == ["creating", "created", "updating", "updated"]
    mlops.undeploy("churn")
    with pytest.raises(mlops.NotFoundError, match="Deployment 'churn' not found."):
        mlops.get_deployment("churn")
    with pytest.raises(httpx.ConnectError):
        httpx.get(dep.scoring_uri.replace("/score", "/"))


def test_keys_are_never_in_reprs_and_auth_is_enforced(images) -> None:  # type: ignore[no-untyped-def]
    dep = mlops.deploy("secure", images[0], target="process")
    keys = mlops.get_keys("secure")
    shown = repr(dep) + dep._repr_html_() + str(dep.to_dict()) + dep.logs()
    assert keys["primary"] not in shown and keys["secondary"] not in shown
    assert httpx.post(dep.scoring_uri, json={"data": [[0.0] * 20]}).status_code == 401
    mlops.undeploy("secure")


@pytest.mark.parametrize("workers", [1, 2])  # two: each accepts for itself, and stops when it drains
def test_update_under_steady_traffic_fails_no_request(images, workers: int) -> None:  # type: ignore[no-untyped-def]
    dep = mlops.deploy("steady", images[0], target="process", auth=False, workers=workers)
    body = {"data": [[0.1] * 20]}
    stop, counts = threading.Event(), {"ok": 0, "failed": 0, "v1": 0, "v2": 0}
    first = httpx.post(dep.scoring_uri, json=body).json()["probabilities"]

    def client() -> None:
        deadline = time.monotonic() + 60  # bounded even if the update hangs
        with httpx.Client(timeout=10) as c:
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    r = c.post(dep.scoring_uri, json=body)
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                counts["ok" if ok else "failed"] += 1
                if ok:
                    counts["v1" if r.json()["probabilities"] == first else "v2"] += 1

    thread = threading.Thread(target=client)
    thread.start()
    time.sleep(0.5)
    mlops.update_deployment("steady", images[1])
    time.sleep(0.5)
    stop.set()
    thread.join()
    print(f"\nrequests during update: {counts}")
    assert counts["failed"] == 0, counts
    assert counts["v1"] > 0 and counts["v2"] > 0
    mlops.undeploy("steady")


def test_an_update_takes_over_the_listening_socket_of_the_version_before(images) -> None:  # type: ignore[no-untyped-def]
    dep = mlops.deploy("handed", images[0], target="process", workers=2)
    port = dep.config["port"]
    before = listening_inodes(port)
    mlops.update_deployment("handed", images[1])
    after = mlops.get_deployment("handed")
    assert len(before) == 1 and listening_inodes(port) == before  # one socket all along: nothing queued is reset
    assert "on the socket of the version before" in after.logs()
    mlops.update_deployment("handed", images[0])  # and hands it on again
    assert listening_inodes(port) == before
    mlops.undeploy("handed")
    assert listening_inodes(port) == set()


def test_updates_under_many_clients_fail_no_request(images) -> None:  # type: ignore[no-untyped-def]
    """Clients on kept-alive connections and clients that connect for every request, during three
    updates: connections the kernel queued on the old version's listener as it stopped are served too."""
    dep = mlops.deploy("busy", images[0], target="process", auth=False, workers=2)
    body = {"data": [[0.1] * 20]}
    stop, counts, errors = threading.Event(), {"ok": 0, "failed": 0}, []

    def client(fresh: bool) -> None:
        deadline = time.monotonic() + 90  # bounded even if an update hangs
        headers = {"connection": "close"} if fresh else {}
        with httpx.Client(timeout=10, headers=headers) as c:
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    ok = c.post(dep.scoring_uri, json=body).status_code == 200
                except httpx.HTTPError as exc:
                    ok = False
                    errors.append(repr(exc))
                counts["ok" if ok else "failed"] += 1

    threads = [threading.Thread(target=client, args=(i % 2 == 0,)) for i in range(8)]
    for t in threads:
        t.start()
    for image in (images[1], images[0], images[1]):
        time.sleep(0.3)
        mlops.update_deployment("busy", image)
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    print(f"\nrequests during updates: {counts}")
    assert counts["failed"] == 0, (counts, errors[:3])
    assert counts["ok"] > 100
    mlops.undeploy("busy")


def test_update_to_an_image_whose_init_raises_keeps_the_old_serving(images, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "broken.py"
    script.write_text(BROKEN)
    broken = mlops.build_image("svc", "lr:2", script=script, docker=False)
    dep = mlops.deploy("keep", images[0], target="process")
    before = dep.score([[0.2] * 20])
    with pytest.raises(mlops.DeploymentError) as err:
        mlops.update_deployment("keep", broken)
    assert str(err.value) == "init() failed: RuntimeError: weights do not match the architecture"
    after = mlops.get_deployment("keep")
    assert (after.image, after.state) == ("svc:1", "healthy")
    assert after.score([[0.2] * 20]) == before
    failure = after.events[-1]
    assert failure.kind == "update-failed" and "still serving svc:1" in failure.message
    assert "weights do not match" in failure.message  # the log tail that explains it
    mlops.undeploy("keep")


def test_list_deployments_filters_by_model_image_and_tag(images, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = mlops.register_model(onnx_logreg(tmp_path / "o.onnx"), "other")
    other_img = mlops.build_image("other-svc", other, docker=False)
    mlops.deploy("a", images[0], target="process", tags={"env": "prod"})
    mlops.deploy("b", images[1], target="process")
    mlops.deploy("c", other_img, target="process", tags={"env": "prod"})
    try:
        assert [d.name for d in mlops.list_deployments(model="lr")] == ["b", "a"]  # newest first
        assert [d.name for d in mlops.list_deployments(model="lr:2")] == ["b"]
        assert [d.name for d in mlops.list_deployments(image="other-svc")] == ["c"]
        assert [d.name for d in mlops.list_deployments(tags=["env=prod"])] == ["c", "a"]
        page = mlops.list_deployments(limit=2)
        assert [d.name for d in page] == ["c", "b"] and page.has_more
        assert [d.name for d in mlops.list_deployments(limit=2, offset=2)] == ["a"]
        with pytest.raises(mlops.InUseError, match=r"^Image svc:1 is used by deployment a; delete or update"):
            mlops.delete_image("svc", 1)
    finally:
        for name in "abc":
            mlops.undeploy(name)


def test_deploying_a_taken_name_is_refused(images) -> None:  # type: ignore[no-untyped-def]
    mlops.deploy("once", images[0], target="process", auth=False)
    try:
        with pytest.raises(mlops.ConflictError, match="Deployment 'once' already exists"):
            mlops.deploy("once", images[1], target="process")
    finally:
        mlops.undeploy("once")


def test_score_takes_the_data_or_a_full_request_body(images) -> None:  # type: ignore[no-untyped-def]
    rows = [[0.2] * 20]
    dep = mlops.deploy("bodies", images[0], target="process")
    try:
        expected = dep.score(rows)
        assert dep.score({"data": rows}) == expected  # the body the README shows for /score
        assert dep.score(json.dumps({"data": rows})) == expected  # ... as %score passes it: JSON text
        assert dep.score(json.dumps(rows)) == expected
        with pytest.raises(mlops.UsageError) as err:
            dep.score({"inputs": rows})
        assert str(err.value) == ("Cannot score a dict with keys ['inputs']: give the data itself (rows: a list, "
                                  'array or DataFrame) or a /score request body ({"data": ...}).')
        with pytest.raises(mlops.UsageError, match=r"^Cannot score 'data: 1': it is not JSON; give the data itself"):
            dep.score("data: 1")
    finally:
        mlops.undeploy("bodies")


def test_a_deployment_listens_where_its_record_says_whatever_the_environment(
        images: tuple[mlops.Image, mlops.Image], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_HOST", "0.0.0.0")  # as an image's ENV, or a stray variable, would say
    dep = mlops.deploy("local-only", images[0], target="process", auth=False)
    try:
        assert dep.config["host"] == "127.0.0.1"
        assert listening_addresses(dep.config["port"]) == {"127.0.0.1"}
    finally:
        mlops.undeploy("local-only")
