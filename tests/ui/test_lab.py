"""The panels in a real JupyterLab: deploy from the model browser, score and undeploy from the
deployment panel, watch the live dashboard add points. Screenshots: test-artifacts/ui/."""

from __future__ import annotations

import re
from typing import Any

import nbformat
from playwright.sync_api import expect

import jupyter_mlops as mlops

from .conftest import Lab, shot

SETUP = """\
import numpy as np, pandas as pd
from pathlib import Path
import jupyter_mlops as mlops
from tests.modelfactory import onnx_logreg, training_data

train = pd.DataFrame(training_data(20, rows=1000)[0], columns=[f"f{i}" for i in range(20)])
model = mlops.register_model(onnx_logreg(Path("lr.onnx")), "lr", baseline=train, tags={"stage": "dev"})
image = mlops.build_image("lr-svc", model, docker=False)
credit = mlops.deploy("credit", image, target="process", collect=True, auth=False)"""
TRAFFIC = """\
rows = training_data(20, rows=40, seed=3)[0]
rows[:, 5] += 2.0
for row in rows:
    credit.score([row.tolist()])"""
CELLS = [SETUP, "mlops.ui.models()", 'mlops.ui.deployment("fraud")',
         'board = mlops.dashboard("credit", live=True, interval=1)\nboard', TRAFFIC, "mlops.ui.deployments()"]


def cell(page: Any, i: int) -> Any:
    return page.locator(".jp-Notebook .jp-Cell").nth(i)


def run(page: Any, i: int, timeout: float = 60_000) -> Any:
    """Run cell ``i`` as a person would (click it, Shift+Enter) and wait until it is done."""
    c = cell(page, i)
    prompt = c.locator(".jp-InputArea-prompt")
    for _ in range(3):  # a key pressed while the editor is still being set up can go astray: press again
        c.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        try:
            expect(prompt).not_to_have_text("[ ]:", timeout=5_000)
            break
        except AssertionError:
            continue
    expect(prompt).to_have_text(re.compile(r"^\[\d+\]:"), timeout=timeout)
    return c


def live(c: Any) -> Any:
    """The live panel of a cell; its snapshot (for readers without a kernel) is hidden by then."""
    expect(c.locator("[data-mlops-snapshot]")).to_be_hidden()
    return c.locator(".mlops-panel:not(.mlops-snapshot)")


# Requests drawn in the live dashboard's first chart: plotly's own data on the live plot (not the snapshot's).
REQUESTS_DRAWN = """() => {
    const gd = [...document.querySelectorAll('.jp-Notebook .js-plotly-plot')].find(p => !p.closest('[data-mlops-snapshot]'));
    if (!gd || !gd.data) return -1;
    return gd.data.filter(t => t.name === 'status 200').reduce((n, t) => n + t.y.reduce((a, b) => a + b, 0), 0);
}"""


def test_deploy_score_undeploy_and_a_live_dashboard(lab: Lab, page: Any) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab.root / "panels.ipynb")
    lab.open(page, "panels.ipynb")
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=60_000)  # the kernel is up

    setup = run(page, 0, timeout=120_000)
    build_log = setup.locator(".mlops-panel")  # the summary has replaced the live view
    build_log.get_by_text("Build context of lr-svc:1 written").wait_for()

    # the model browser: open the model, open its image's deploy form, deploy on the process target
    browser = live(run(page, 1))
    browser.locator("tr", has_text="lr").first.click()
    browser.get_by_text("Compare versions").or_(browser.get_by_role("button", name="Deploy…")).first.wait_for()
    browser.get_by_role("button", name="Deploy…").click()
    browser.locator('input[name="deploy_name"]').fill("fraud")
    browser.locator('select[name="deploy_target"]').select_option("process")
    shot(page, "model-browser", browser)
    browser.get_by_role("button", name="Deploy", exact=True).click()
    browser.get_by_text("Deployed fraud (healthy)").wait_for()
    assert mlops.get_deployment("fraud", workspace=lab.workspace).state == "healthy"

    # the deployment panel: a test score, then undeploy
    panel = live(run(page, 2))
    panel.get_by_role("button", name="Send").click()
    panel.get_by_text(re.compile(r"HTTP 200")).wait_for()
    assert "probabilities" in panel.locator("pre").nth(0).inner_text() or "probabilities" in panel.inner_text()
    shot(page, "deployment-panel", panel)

    # the live dashboard adds points while traffic arrives
    run(page, 3)
    page.wait_for_function(f"() => ({REQUESTS_DRAWN})() >= 0")
    before = page.evaluate(REQUESTS_DRAWN)
    run(page, 4)
    page.wait_for_function(f"() => ({REQUESTS_DRAWN})() >= {before + 40}", timeout=30_000)
    live(cell(page, 3))
    dashboard = cell(page, 3).locator(".jp-OutputArea-output:not(.jp-RenderedHTML)")  # the widget, not the snapshot
    dashboard.get_by_text("f5").first.wait_for()  # the drifted feature, named above the charts
    shot(page, "live-dashboard", dashboard)

    # every deployment, with its state dot
    deployments = live(run(page, 5))
    assert deployments.locator(".dot.healthy").count() == 2
    shot(page, "deployment-list", deployments)

    panel.get_by_role("button", name="Undeploy", exact=True).click()
    panel.locator(".error", has_text="Undeploy fraud?").get_by_role("button", name="Undeploy").click()  # confirmed
    panel.get_by_text("Undeployed fraud.").wait_for()
    assert [d.name for d in mlops.list_deployments(workspace=lab.workspace)] == ["credit"]
    shot(page, "build-log", build_log)
    mlops.undeploy("credit", workspace=lab.workspace)
