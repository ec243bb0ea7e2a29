"""A deployment that follows a model alias serves what the alias names after each update (process target)."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.workspace import Workspace

from ..modelfactory import onnx_logreg, training_data

ROWS = training_data(20, rows=3, seed=8)[0]


@pytest.fixture
def two_versions(workspace: Workspace, tmp_path: Path) -> dict[int, list[float]]:
    """churn:1 and churn:2 (different weights), an image of each; what each answers for ROWS."""
    expected = {}
    for version, seed in ((1, 0), (2, 1)):
        path = onnx_logreg(tmp_path / f"v{version}.onnx", seed=seed)
        mlops.register_model(path, "churn")
        mlops.build_image("churn-svc", f"churn:{version}", docker=False)
        expected[version] = ort.InferenceSession(str(path)).run(None, {"input": ROWS})[1].ravel().tolist()
    return expected


def _served(dep: mlops.Deployment) -> list[float]:
    return [p for row in dep.score(ROWS)["probabilities"] for p in row]


def test_moving_the_alias_changes_what_the_deployment_serves_after_an_update(two_versions: dict[int, list[float]]) -> None:
    mlops.set_alias("churn", "champion", 1)
    dep = mlops.deploy("prod", "churn-svc", model="churn@champion", target="process")
    try:
        assert (dep.image, dep.follows, dep.models) == ("churn-svc:1", "churn@champion", ["churn:1"])
        assert _served(dep) == pytest.approx(two_versions[1])
        mlops.set_alias("churn", "champion", 2)
        assert _served(mlops.get_deployment("prod")) == pytest.approx(two_versions[1])  # until it is updated
        dep = mlops.update_deployment("prod")
        assert (dep.image, dep.follows) == ("churn-svc:2", "churn@champion")
        assert _served(dep) == pytest.approx(two_versions[2])
        assert [e.message for e in dep.events if e.kind in ("created", "updated")] == [
            "serving image churn-svc:1 on process (churn@champion = churn:1)",
            "now serving image churn-svc:2 (churn@champion = churn:2)"]
        events = len(dep.events)
        assert len(mlops.update_deployment("prod").events) == events  # it serves what the alias names: nothing to do
        mlops.set_alias("churn", "champion", 1)  # a rollback is moving the alias back
        assert _served(mlops.update_deployment("prod")) == pytest.approx(two_versions[1])
        assert [d.name for d in mlops.list_deployments(model="churn@champion")] == ["prod"]
    finally:
        mlops.undeploy("prod")


def test_what_cannot_follow_is_named(two_versions: dict[int, list[float]]) -> None:
    mlops.set_alias("churn", "champion", 2)
    with pytest.raises(mlops.UsageError, match=r"^Image churn-svc:1 does not hold churn@champion \(churn:2\); "
                                               r"it holds churn:1\.$"):
        mlops.deploy("prod", "churn-svc:1", model="churn@champion", target="process")
    with pytest.raises(mlops.NotFoundError, match=r"^No succeeded image other-svc holds model churn:2; build one: "):
        mlops.deploy("prod", "other-svc", model="churn@champion", target="docker")
    dep = mlops.deploy("pinned", "churn-svc:1", target="process")
    try:
        assert dep.follows is None
        with pytest.raises(mlops.UsageError, match=r"^Deployment 'pinned' follows no model alias: give the image"):
            mlops.update_deployment("pinned")
    finally:
        mlops.undeploy("pinned")


def test_deploy_with_update_existing_updates_only_when_the_settings_are_the_same(
        two_versions: dict[int, list[float]]) -> None:
    first = mlops.deploy("ci", "churn-svc:1", target="process", update_existing=True)
    try:
        with pytest.raises(mlops.UsageError, match=r"^Deployment 'ci' has workers=1; updating it changes the image only "
                                                   r"\(given workers=2\): undeploy it to change its settings\.$"):
            mlops.deploy("ci", "churn-svc:2", target="process", workers=2, update_existing=True)
        with pytest.raises(mlops.ConflictError, match="already exists"):
            mlops.deploy("ci", "churn-svc:2", target="process")
        second = mlops.deploy("ci", "churn-svc:2", target="process", update_existing=True, tags={"run": "2"})
        assert (second.image, second.scoring_uri, second.tags) == ("churn-svc:2", first.scoring_uri, {"run": "2"})
        assert _served(second) == pytest.approx(two_versions[2])
    finally:
        mlops.undeploy("ci")



def test_a_deployment_whose_creation_failed_is_not_updated_but_replaced(two_versions: dict[int, list[float]],
                                                                        tmp_path: Path) -> None:
    script = tmp_path / "score.py"
    script.write_text("def init():\n    raise RuntimeError('no weights')\n\ndef run(data):\n    return data\n")
    mlops.build_image("broken", "churn:1", script=script, docker=False)
    with pytest.raises(mlops.DeploymentError):
        mlops.deploy("ci", "broken:1", target="process", ready_timeout=20, update_existing=True)
    assert mlops.get_deployment("ci").state == "failed"
    with pytest.raises(mlops.ConflictError, match=r"^Deployment 'ci' never started \(its creation failed\); "
                                                  r"deploy it again \(deploy --update-existing replaces it\)\.$"):
        mlops.update_deployment("ci", "churn-svc:2")
    try:
        dep = mlops.deploy("ci", "churn-svc:2", target="process", update_existing=True)
        assert (dep.state, dep.image) == ("healthy", "churn-svc:2")
        assert _served(dep) == pytest.approx(two_versions[2])
    finally:
        mlops.undeploy("ci")
