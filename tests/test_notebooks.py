"""The example notebooks run top to bottom with papermill, as CI runs them."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from .services import REPO

SECRET = "notebook-demo-key"
NOTEBOOKS = sorted((REPO / "example-notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_example_notebook_runs(notebook: Path, tmp_path: Path, base_image: str) -> None:
    import papermill

    out = tmp_path / notebook.name
    papermill.execute_notebook(
        str(notebook), str(out), cwd=str(tmp_path), kernel_name="python3",
        parameters={"workspace": str(tmp_path / "ws"), "base_image": base_image}, progress_bar=False,
    )
    executed = nbformat.read(out, as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    outputs = nbformat.writes(nbformat.v4.new_notebook(cells=[c for c in executed.cells if c.cell_type == "code"]))
    shown = "".join(str(o) for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert outputs and SECRET not in shown  # keys used in a notebook never show in its outputs
