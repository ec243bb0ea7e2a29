"""The example notebooks run top to bottom with papermill, as CI runs them, each in a fresh
workspace; those in RUNS again in that same workspace (notebook 04 with every local target)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from .browser import ARTIFACTS, offline_page, screenshot
from .services import REPO

SECRET = "notebook-demo-key"
NOTEBOOKS = sorted((REPO / "example-notebooks").glob("*.ipynb"))
# Run again in the same workspace and folder, as a user reruns them: 04 finds fraud-svc:1 built
# without Docker by the process run, 05 finds the records of the first run.
RUNS: dict[str, list[dict[str, object]]] = {
    "04-deploy-and-update": [{"target": "process"}, {"target": "docker"}],
    "05-monitor": [{}, {}],
}


def _run(notebook: Path, tmp_path: Path, base_image: str, **parameters: object) -> Path:
    """Run ``notebook`` with papermill in ``tmp_path`` (its workspace: ``tmp_path / "ws"``): no cell
    may fail, and no key may show in an output."""
    import papermill

    out = tmp_path / "executed" / notebook.name
    out.parent.mkdir(exist_ok=True)
    papermill.execute_notebook(
        str(notebook), str(out), cwd=str(tmp_path), kernel_name="python3",
        parameters={"workspace": str(tmp_path / "ws"), "base_image": base_image, **parameters}, progress_bar=False,
    )
    executed = nbformat.read(out, as_version=4)
    cell_outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert [o for o in cell_outputs if o.output_type == "error"] == []
    outputs = nbformat.writes(nbformat.v4.new_notebook(cells=[c for c in executed.cells if c.cell_type == "code"]))
    shown = "".join(str(o) for o in cell_outputs)
    assert outputs and SECRET not in shown  # keys used in a notebook never show in its outputs
    return out


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_example_notebook_runs(notebook: Path, tmp_path: Path, base_image: str, request: pytest.FixtureRequest) -> None:
    runs = RUNS.get(notebook.stem, [{}])
    first = _run(notebook, tmp_path, base_image, **runs[0])
    html = _exported(first, notebook.stem)
    for text in OFFLINE.get(notebook.stem, ()):  # the panels' snapshots, drawn without a kernel
        assert text in html, text
    if notebook.stem.startswith("05"):
        _figures_draw_offline(request.getfixturevalue("browser"), ARTIFACTS / "notebooks" / f"{notebook.stem}.html")
    for parameters in runs[1:]:
        _run(notebook, tmp_path, base_image, **parameters)


# What each notebook's nbconvert HTML shows of its panels (their text/html snapshots).
OFFLINE = {
    "01-register-models": ["data-mlops-snapshot", "<strong>churn</strong>", "stage=production"],
    "03-build-image": ["Built churn-service:1 in", "steps reused from cache", "Build log ("],
    "04-deploy-and-update": ["Deployment fraud", "serving image fraud-svc:1", '<span class="dot healthy"'],
    "05-monitor": ["Live dashboard: credit", 'drifted features: <span class="chip failed">f2</span>'],
}


def _exported(executed: Path, stem: str) -> str:
    """The executed notebook as nbconvert HTML, kept as a CI artifact."""
    from nbconvert import HTMLExporter

    html, _ = HTMLExporter().from_filename(str(executed))
    (ARTIFACTS / "notebooks").mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "notebooks" / f"{stem}.html").write_text(html)
    return html


def _figures_draw_offline(browser: object, path: Path) -> None:
    page = offline_page(browser, path)
    try:  # the static dashboard of %monitor and the live one's snapshot, both drawn by plotly
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4")
        assert page.locator(".js-plotly-plot").count() == 2
        screenshot(page, ARTIFACTS / "notebooks" / f"{path.stem}.png", page.locator(".js-plotly-plot").last)
    finally:
        page.close()
