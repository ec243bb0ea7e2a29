"""Every route of /jupyter-mlops/api/ through a real Jupyter server, over the real registry,
image builder (build context only) and process deployments."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.server.routes import ROUTES

from ..modelfactory import onnx_logreg, training_data

pytestmark = pytest.mark.timeout(120)


def _urls() -> list[tuple[str, str]]:
    fill = {"(?P<name>[^/]+)": "churn", "(?P<version>[^/]+)": "1"}
    out = []
    for pattern, actions in ROUTES.items():
        url = pattern
        for group, value in fill.items():
            url = url.replace(group, value)
        out += [(method, url) for method in actions]
    return [*out, ("GET", "jobs"), ("GET", "jobs/1")]


async def _job(api: Any, answer: tuple[int, Any]) -> dict[str, Any]:
    """Poll a 202 job until it finishes."""
    status, job = answer
    assert status == 202, job
    deadline = time.monotonic() + 90
    while job["state"] == "running" and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        status, job = await api("GET", "jobs", job["id"])
        assert status == 200
    return job


@pytest.fixture
def model_file(jp_root_dir: Path) -> Path:
    (jp_root_dir / "models").mkdir()
    return onnx_logreg(jp_root_dir / "models" / "churn.onnx")


async def test_every_route_refuses_a_request_without_the_server_token(api, model_file: Path) -> None:
    for method, url in _urls():
        body = {"path": "models/churn.onnx", "name": "churn"} if method != "GET" else None
        status, answer = await api(method, *url.split("/"), body=body, headers={"Authorization": ""})
        assert (method, url, status) == (method, url, 403), answer
    assert list(mlops.list_models()) == []


async def test_models_register_list_show_update_delete_change_the_registry(api, model_file: Path) -> None:
    status, model = await api("POST", "models", body={"path": "models/churn.onnx", "name": "churn",
                                                      "tags": ["stage=dev"], "description": "first"})
    assert status == 201 and (model["name"], model["version"], model["framework"]) == ("churn", 1, "onnx")
    assert mlops.get_model("churn:1").tags == {"stage": "dev"}
    await api("POST", "models", body={"path": str(model_file), "name": "churn"})

    status, page = await api("GET", "models", params=[("tags", "stage=dev")])
    assert status == 200 and [m["version"] for m in page["items"]] == [1] and page["has_more"] is False
    status, page = await api("GET", "models", "churn", params={"limit": "1"})
    assert [m["version"] for m in page["items"]] == [2] and page["has_more"] is True
    status, page = await api("GET", "models", params={"latest": "true", "1795896209545": ""})  # Lab's cache buster
    assert [(m["name"], m["version"]) for m in page["items"]] == [("churn", 2)]

    status, one = await api("GET", "models", "churn", "1")
    assert status == 200 and one["description"] == "first" and one["signature"]["inputs"][0]["name"] == "input"
    status, one = await api("PATCH", "models", "churn", "1", body={"tags": ["stage=prod"], "remove_tags": []})
    assert status == 200 and mlops.get_model("churn:1").tags == {"stage": "prod"}

    status, done = await api("DELETE", "models", "churn", "1")
    assert status == 200 and done == {"message": "Deleted model churn:1.", "deleted": "churn:1"}
    assert [m.version for m in mlops.list_models("churn")] == [2]
    assert await api("GET", "models", "churn", "1") == (404, {"message": "Model churn:1 not found."})


@pytest.mark.parametrize(("method", "path", "body", "message"), [
    ("POST", "models", {"path": "models/churn.onnx", "name": "churn", "colour": "red"},
     "Unknown option 'colour' for 'models register'; it takes: path, name, tags, properties, description, framework."),
    ("POST", "models", {"path": "models/churn.onnx"}, "'models register' needs 'name'."),
    ("POST", "models", {"path": "models/churn.onnx", "name": "no spaces"},
     "Invalid model name 'no spaces': use letters, digits, '-', '_' and '.' only."),
    ("POST", "models", {"path": "models/churn.onnx", "name": "churn", "framework": "torch"}, None),
    ("POST", "models", {"path": "models/churn.onnx", "name": "churn", "tags": "stage=dev"},
     "Invalid value 'stage=dev' for 'tags': use a list."),
    ("POST", "deployments", {"name": "svc", "image": "svc", "no_auth": "false"},
     "Invalid value 'false' for 'no_auth': use true or false."),
    ("POST", "deployments", {"name": "svc", "image": "svc", "port": "eighty"}, None),
    ("POST", "deployments/svc/score", {"name": "other", "data": [1]},
     "'name' is given by the URL ('svc'); leave it out of the request."),
    ("GET", "models", {"limit": "many"}, None),
    ("GET", "models", {"latest": "maybe"}, "Invalid value 'maybe' for 'latest': use true or false."),
    ("GET", "models/churn/x", None, "Invalid version 'x': versions are positive integers."),
])
async def test_bad_input_answers_400_with_one_line(api, model_file: Path, method: str, path: str, body: Any,
                                                   message: str | None) -> None:
    params = body if method == "GET" else None
    status, answer = await api(method, *path.split("/"), body=body if method != "GET" else None, params=params)
    assert status == 400, answer
    assert set(answer) == {"message"} and "\n" not in answer["message"]
    if message is not None:
        assert answer["message"] == message
    assert list(mlops.list_models()) == []


async def test_a_body_that_is_not_a_json_object_answers_400(api) -> None:
    assert await api("POST", "models", raw="{nope") == (
        400, {"message": "The request body is not valid JSON: Expecting property name enclosed in double quotes: "
                         "line 1 column 2 (char 1)."})
    assert await api("POST", "models", raw="[1, 2]") == (400, {"message": "The request body must be a JSON object, "
                                                                          "not list."})


async def test_missing_objects_answer_404(api) -> None:
    assert await api("GET", "deployments", "nope") == (404, {"message": "Deployment 'nope' not found."})
    assert (await api("GET", "images", "nope", "1"))[0] == 404
    assert (await api("GET", "jobs", "999"))[0] == 404


async def test_build_deploy_score_regen_update_undeploy_and_in_use_conflicts(api, model_file: Path,
                                                                            jp_root_dir: Path) -> None:
    onnx_logreg(jp_root_dir / "models" / "churn2.onnx", seed=1)
    for path in ("models/churn.onnx", "models/churn2.onnx"):
        await api("POST", "models", body={"path": path, "name": "churn"})
    for version in (1, 2):
        job = await _job(api, await api("POST", "images", body={"name": "svc", "models": [f"churn:{version}"],
                                                                "no_docker": True}))
        assert job["state"] == "succeeded" and job["result"]["state"] == "context", job
        assert job["log"], "the build log streams into the job"
    status, page = await api("GET", "images")
    assert [i["version"] for i in page["items"]] == [2, 1]
    status, answer = await api("DELETE", "models", "churn", "1")
    assert status == 409 and "svc:1" in answer["message"] and mlops.get_model("churn:1")

    job = await _job(api, await api("POST", "deployments", body={"name": "svc", "image": "svc:1",
                                                                 "target": "process"}))
    assert job["state"] == "succeeded", job
    assert (job["result"]["state"], job["result"]["image"]) == ("healthy", "svc:1")
    assert mlops.get_deployment("svc").state == "healthy"
    again = await _job(api, await api("POST", "deployments", body={"name": "svc", "image": "svc:1",
                                                                   "target": "process"}))
    assert again["state"] == "failed" and again["error"]["status"] == 409, again

    rows = training_data(20, rows=2, seed=3)[0].tolist()
    status, answer = await api("POST", "deployments", "svc", "score", body={"data": rows})
    assert status == 200 and len(answer["probabilities"]) == 2

    before = mlops.get_keys("svc")
    status, done = await api("POST", "deployments", "svc", "regen-key", body={"key": "secondary"})
    assert status == 200 and done["regenerated"] == "secondary"
    after = mlops.get_keys("svc")
    assert after["primary"] == before["primary"] and after["secondary"] != before["secondary"]
    assert after["secondary"] not in str(done)

    job = await _job(api, await api("POST", "deployments", "svc", "update", body={"image": "svc:2"}))
    assert job["state"] == "succeeded" and job["result"]["image"] == "svc:2", job
    status, dep = await api("GET", "deployments", "svc", params={"lines": "5"})
    assert status == 200 and [e["kind"] for e in dep["events"]][-2:] == ["updating", "updated"]
    assert dep["output"][0] == "svc: healthy on process, image svc:2"
    status, page = await api("GET", "deployments", params={"refresh": "true"})
    assert [(d["name"], d["state"]) for d in page["items"]] == [("svc", "healthy")]

    status, done = await api("DELETE", "deployments", "svc")
    assert (status, done["message"]) == (200, "Removed deployment svc.")
    assert list(mlops.list_deployments()) == []


async def test_unchanged_lists_answer_304_to_if_none_match(api, jp_fetch, model_file: Path) -> None:
    first = await jp_fetch("jupyter-mlops", "api", "models")
    etag = first.headers["Etag"]
    from tornado.httpclient import HTTPClientError

    with pytest.raises(HTTPClientError) as unchanged:
        await jp_fetch("jupyter-mlops", "api", "models", headers={"If-None-Match": etag})
    assert unchanged.value.code == 304
    await api("POST", "models", body={"path": "models/churn.onnx", "name": "churn"})
    changed = await jp_fetch("jupyter-mlops", "api", "models", headers={"If-None-Match": etag})
    assert changed.code == 200 and changed.headers["Etag"] != etag


async def test_workspace_route_says_which_workspace_and_why(api, workspace: mlops.Workspace) -> None:
    status, ws = await api("GET", "workspace")
    assert status == 200 and ws["name"] == "ws" and ws["source"].startswith("$JUPYTER_MLOPS_WORKSPACE=")
