"""Completion candidates for the magics: names, NAME:VERSION, targets, from the real registry."""

from __future__ import annotations

from pathlib import Path

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.completion import complete
from jupyter_mlops.workspace import Workspace

from ..modelfactory import onnx_logreg


@pytest.fixture
def registry(workspace: Workspace, tmp_path: Path) -> None:
    path = onnx_logreg(tmp_path / "m.onnx")
    for name in ("churn", "churn", "churn-big", "fraud"):
        mlops.register_model(path, name)
    mlops.build_image("churn-svc", "churn:1", docker=False)
    mlops.build_image("churn-svc", "churn:2", docker=False)


def test_model_names_and_versions(registry: None) -> None:
    assert complete("model", "ch") == ["churn", "churn-big"]
    assert complete("model", "churn:") == ["churn:2", "churn:1"]
    assert complete("model", "churn:1") == ["churn:1"]
    assert complete("model", "fraud") == ["fraud", "fraud:1"]  # a whole name offers its versions
    assert complete("model", "fraud", versions=False) == ["fraud"]
    assert complete("model", "") == ["churn", "churn-big", "fraud"]


def test_image_and_deployment_names(registry: None) -> None:
    assert complete("image", "c") == ["churn-svc"]
    assert complete("image", "churn-svc:") == ["churn-svc:2", "churn-svc:1"]
    assert complete("deployment", "") == []
    mlops.deploy("churn-live", "churn-svc:2", target="process", auth=False)
    try:
        assert complete("deployment", "churn") == ["churn-live"]
    finally:
        mlops.undeploy("churn-live")


def test_targets_and_bad_prefixes(workspace: Workspace) -> None:
    assert complete("target", "") == ["docker", "edge", "kubernetes", "process"]
    assert complete("target", "k") == ["kubernetes"]
    assert complete("model", "no such!") == [] and complete("model", "x:") == []
    with pytest.raises(ValueError, match="Unknown completion kind 'flavour'"):
        complete("flavour", "")
