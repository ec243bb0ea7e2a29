"""ModelBrowser: clicks through the real registry, images and deployments."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import jupyter_mlops as mlops
from jupyter_mlops.widgets import ModelBrowser
from jupyter_mlops.widgets.model_browser import parse_query
from jupyter_mlops.workspace import Workspace

from ..modelfactory import onnx_logreg
from .conftest import click


def test_search_words_and_tag_filters_are_told_apart() -> None:
    assert parse_query("churn  stage=prod #team Risk") == ("churn risk", ["stage=prod", "team"])


def test_search_box_filters_by_name_and_tags(workspace: Workspace, lr: mlops.Model, tmp_path: Path) -> None:
    mlops.register_model(onnx_logreg(tmp_path / "c.onnx"), "churn", tags={"stage": "prod"})
    mlops.register_model(onnx_logreg(tmp_path / "c.onnx"), "churn-v2", tags={"stage": "dev"})
    browser = ModelBrowser()
    assert [r["model"].name for r in browser.rows] == ["churn-v2", "churn", "lr"]
    click(browser, "search", query="churn")
    assert [r["model"].name for r in browser.rows] == ["churn-v2", "churn"]
    click(browser, "search", query="stage=dev")
    assert [r["model"].name for r in browser.rows] == ["churn-v2", "lr"]
    click(browser, "filter", "stage=dev", query="churn")  # a tag chip adds its filter to the search
    assert browser.query == "churn stage=dev" and [r["model"].name for r in browser.rows] == ["churn-v2"]
    assert 'data-action="filter" data-arg="stage=dev"' in browser.html


def test_a_model_shows_its_versions_and_what_uses_each(workspace: Workspace, lr: mlops.Model, tmp_path: Path) -> None:
    v2 = mlops.register_model(onnx_logreg(tmp_path / "lr2.onnx", seed=1), "lr", properties={"auc": "0.9"})
    image = mlops.build_image("lr-svc", lr, docker=False)
    mlops.deploy("fraud", image, target="process", auth=False)
    try:
        browser = ModelBrowser()
        click(browser, "open", "lr")
        assert [m.version for m in browser.versions] == [2, 1] and browser.version == 2
        assert [i.ref for i in browser.images[1]] == ["lr-svc:1"] and 2 not in browser.images
        assert [d.name for d in browser.deployments[1]] == ["fraud"]
        click(browser, "version", "1")
        assert browser.current == lr
        assert "lr-svc:1" in browser.html and "fraud (healthy)" in browser.html and "float32" in browser.html
        assert "auc=0.9" in browser.html and v2.ref not in browser.text().split(",")[0]
    finally:
        mlops.undeploy("fraud")


def test_tags_are_edited_in_place(workspace: Workspace, lr: mlops.Model) -> None:
    browser = ModelBrowser()
    click(browser, "open", "lr")
    click(browser, "save_tags", tags="stage=prod, owner=risk")
    assert mlops.get_model("lr:1").tags == {"stage": "prod", "owner": "risk"}
    click(browser, "save_tags", tags="owner=risk")  # a tag left out is removed
    assert mlops.get_model("lr:1").tags == {"owner": "risk"}
    click(browser, "save_tags", tags="no-equals-sign")
    assert browser.error == "Invalid tag 'no-equals-sign': write key=value." and "no-equals-sign" in browser.html
    assert mlops.get_model("lr:1").tags == {"owner": "risk"}


def test_delete_is_confirmed_and_refusals_name_the_image(workspace: Workspace, lr: mlops.Model, tmp_path: Path) -> None:
    mlops.register_model(onnx_logreg(tmp_path / "lr2.onnx"), "lr")
    mlops.build_image("lr-svc", lr, docker=False)
    browser = ModelBrowser()
    click(browser, "open", "lr")
    click(browser, "delete", 1)
    assert browser.confirm == 1 and 'data-action="confirm_delete"' in browser.html
    assert [m.version for m in mlops.list_models("lr")] == [2, 1]  # nothing happens before the confirmation
    click(browser, "confirm_delete")
    assert browser.error == "Model lr:1 is used by image lr-svc:1; delete the image first."
    assert browser.error in browser.html.replace("&#x27;", "'")
    click(browser, "delete", 2)
    click(browser, "confirm_delete")
    assert browser.error == "" and browser.notice == "Deleted lr:2." and [m.version for m in browser.versions] == [1]
    assert [m.version for m in mlops.list_models("lr")] == [1]


def test_download_build_and_deploy_from_a_version(workspace: Workspace, lr: mlops.Model, tmp_path: Path) -> None:
    browser = ModelBrowser()
    click(browser, "open", "lr")
    click(browser, "download", download_dir=str(tmp_path / "out"))
    assert (tmp_path / "out" / "lr.onnx").read_bytes() == (tmp_path / "lr.onnx").read_bytes()
    click(browser, "build", image_name="lr-api", context_only=True)
    assert browser.error == "" and [i.ref for i in browser.images[1]] == ["lr-api:1"]
    assert browser.build is not None and browser.build.image.state == "context"
    assert "Build context of lr-api:1 written" in browser.html
    click(browser, "deploy_form", "lr-api:1")
    assert 'name="deploy_name"' in browser.html
    click(browser, "deploy", deploy_name="lr-live", deploy_target="process")
    try:
        assert browser.error == "" and mlops.get_deployment("lr-live").state == "healthy"
        assert [d.name for d in browser.deployments[1]] == ["lr-live"] and "lr-live" in browser.notice
    finally:
        mlops.undeploy("lr-live")


def test_two_versions_side_by_side(workspace: Workspace, lr: mlops.Model, tmp_path: Path, train: pd.DataFrame) -> None:
    shifted = train + 1.0
    mlops.register_model(onnx_logreg(tmp_path / "lr2.onnx", n_features=20, seed=3), "lr",
                         properties={"auc": "0.91"}, baseline=shifted)
    browser = ModelBrowser()
    click(browser, "open", "lr")
    click(browser, "compare", compare_a="1", compare_b="2")
    a, b, base_a, base_b = browser.comparison
    assert (a.version, b.version) == (1, 2)
    assert base_b["stats"]["f0"]["mean"] - base_a["stats"]["f0"]["mean"] == pytest_approx(1.0)
    html = browser.html
    assert "feature f0" in html and "property auc" in html and "input float32 [None, 20]" in html
    assert html.count("≠") >= 21  # sha256, the auc property, 20 shifted features


def pytest_approx(x: float) -> object:
    import pytest

    return pytest.approx(x, abs=1e-6)


def test_snapshot_shows_the_table_without_controls(workspace: Workspace, lr: mlops.Model) -> None:
    browser = ModelBrowser()
    data, _ = browser._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"] == "ModelBrowser: 1 model(s): lr"
    html = data["text/html"]
    assert "mlops-snapshot" in html and "<strong>lr</strong>" in html and "stage=dev" in html and "<style>" in html
