"""Provenance recorded at registration: source, git commit and dirtiness, papermill parameters, versions, CI run."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import nbformat
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.workspace import Workspace

from ..modelfactory import onnx_logreg

SECRET = "s3cret-value-never-recorded"
TRAIN = """import sys
import jupyter_mlops as mlops
mlops.register_model(sys.argv[1], "churn")
"""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository holding a training script, committed."""
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "train.py").write_text(TRAIN)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "train")
    return repo


def _train(repo: Path, model: Path) -> None:
    env = {**os.environ, "MY_API_TOKEN": SECRET, "GITHUB_TOKEN": SECRET}
    subprocess.run([sys.executable, "src/train.py", str(model)], cwd=repo, env=env, check=True, timeout=120)


def test_a_script_records_its_path_commit_dirtiness_and_versions_and_no_secrets(
        workspace: Workspace, repo: Path, tmp_path: Path) -> None:
    model = onnx_logreg(tmp_path / "lr.onnx")
    _train(repo, model)
    (repo / "src" / "train.py").write_text(TRAIN + "# changed, not committed\n")
    (repo / "untracked-output.csv").write_text("1,2\n")
    _train(repo, model)
    clean, dirty = mlops.get_model("churn:1").provenance, mlops.get_model("churn:2").provenance
    commit = _git(repo, "rev-parse", "HEAD")
    assert clean["source"] == "src/train.py" and clean["kind"] == "script"
    assert clean["git"] == {"commit": commit, "branch": "main", "dirty": False}
    assert dirty["git"] == {"commit": commit, "branch": "main", "dirty": True}  # untracked files do not count
    assert clean["python"] == platform.python_version()
    assert clean["packages"]["onnx"] == metadata.version("onnx") and "numpy" in clean["packages"]
    assert "papermill" not in clean and "ci" not in clean
    assert SECRET not in json.dumps([clean, dirty])


def test_papermill_parameters_are_recorded_as_injected_with_secret_names_masked(
        workspace: Workspace, tmp_path: Path) -> None:
    import papermill

    model = onnx_logreg(tmp_path / "lr.onnx")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("alpha = 0.1\napi_token = ''", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(f"import jupyter_mlops as mlops\nalpha = 99\n"
                                  f"mlops.register_model({str(model)!r}, 'churn')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "train.ipynb")
    papermill.execute_notebook(str(tmp_path / "train.ipynb"), str(tmp_path / "out.ipynb"), kernel_name="python3",
                               parameters={"alpha": 0.5, "layers": [8, 4], "api_token": SECRET}, progress_bar=False)
    found = mlops.get_model("churn").provenance
    assert found["kind"] == "notebook"
    assert found["papermill"] == {"alpha": 0.5, "layers": [8, 4], "api_token": "***"}
    assert SECRET not in json.dumps(found)


def test_the_cli_takes_the_source_and_shows_the_provenance(workspace: Workspace, repo: Path, tmp_path: Path) -> None:
    model = onnx_logreg(tmp_path / "lr.onnx")
    env = {**os.environ, "GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com",
           "GITHUB_REPOSITORY": "acme/churn", "GITHUB_RUN_ID": "42", "GITHUB_WORKFLOW": "ci", "GITHUB_REF": "refs/heads/main",
           "GITHUB_TOKEN": SECRET}

    def cli(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "jupyter_mlops.cli", *args], env=env, cwd=tmp_path, check=True,
                              capture_output=True, text=True, timeout=120).stdout

    cli("models", "register", str(model), "--name", "churn", "--source", str(repo / "src" / "train.py"))
    shown = cli("models", "show", "churn@latest")
    commit = _git(repo, "rev-parse", "HEAD")
    assert "source: src/train.py\n" in shown and f"git: {commit} on main (clean)\n" in shown
    assert "CI run: https://github.com/acme/churn/actions/runs/42\n" in shown
    assert f"packages: jupyter-mlops {mlops.__version__}" in shown
    assert SECRET not in cli("models", "show", "churn", "--json")
