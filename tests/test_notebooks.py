"""The example notebooks run top to bottom with papermill, as CI runs them, each in a fresh
workspace; those in RUNS again in that same workspace (notebook 04 with every local target)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from .services import REPO

SECRET = "notebook-demo-key"
NOTEBOOKS = sorted((REPO / "example-notebooks").glob("*.ipynb"))
# Run again in the same workspace and folder, as a user reruns them: 04 finds fraud-svc:1 built
# without Docker by the process run, 05 finds the records of the first run.
RUNS: dict[str, list[dict[str, object]]] = {
    "04-deploy-and-update": [{"target": "process"}, {"target": "docker"}],
    "05-monitor": [{}, {}],
}


def _run(notebook: Path, tmp_path: Path, base_image: str, **parameters: object) -> None:
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


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_example_notebook_runs(notebook: Path, tmp_path: Path, base_image: str) -> None:
    for parameters in RUNS.get(notebook.stem, [{}]):
        _run(notebook, tmp_path, base_image, **parameters)
