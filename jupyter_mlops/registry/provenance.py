"""Where a model version came from, as far as this process can tell without a network.

Recorded at registration: the source (the notebook, script or pipeline step), the git commit of its
folder and whether tracked files had changes, the parameters papermill injected, the Python version,
the versions of the packages that matter for the model's framework (and of ML libraries this
process has imported), and the CI run. Nothing else from the environment is read: no variables
beyond the CI systems' own run identifiers, and parameters whose names say secret are masked.
"""

from __future__ import annotations

import ast
import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

FRAMEWORK_PACKAGES = {"onnx": ("onnx", "onnxruntime"), "sklearn": ("scikit-learn", "joblib"), "custom": ()}
ALWAYS = ("numpy", "jupyter-mlops")
# Libraries a notebook may have trained or exported with: recorded when this process imported them.
IMPORTED = {"sklearn": "scikit-learn", "skl2onnx": "skl2onnx", "torch": "torch", "tensorflow": "tensorflow",
            "keras": "keras", "xgboost": "xgboost", "lightgbm": "lightgbm", "catboost": "catboost",
            "transformers": "transformers", "pandas": "pandas", "onnx": "onnx", "onnxruntime": "onnxruntime"}
PAPERMILL_HEADER = "# Parameters\n"  # how papermill's injected-parameters cell begins (Python kernels)
SECRET_NAME = re.compile(r"(?i)key|token|secret|passw|credential|connection_string|auth")


def capture(framework: str, source: str | None = None) -> dict[str, Any]:
    """The provenance of a model registered now, by this process."""
    shell = _ipython()
    found: dict[str, Any] = {"source": source} if source else _detect_source(shell)
    folder = Path(found["source"]).parent if found.get("source") and Path(found["source"]).exists() else Path.cwd()
    git = _git(folder)
    if git:
        root = git.pop("root")
        if found.get("source") and Path(found["source"]).resolve().is_relative_to(root):
            found["source"] = Path(found["source"]).resolve().relative_to(root).as_posix()
        found["git"] = git
    parameters = papermill_parameters(shell)
    if parameters is not None:
        found["papermill"] = parameters
    found["python"] = platform.python_version()
    found["packages"] = _packages(framework)
    ci = _ci()
    if ci:
        found["ci"] = ci
    return found


def _ipython() -> Any:
    """The running IPython shell, if this process has one (never imports IPython itself)."""
    module = sys.modules.get("IPython")
    get = getattr(module, "get_ipython", None)
    return get() if get is not None else None


def _detect_source(shell: Any) -> dict[str, Any]:
    if shell is not None:  # a kernel (Jupyter, papermill) or a terminal IPython
        kind = "notebook" if type(shell).__name__ == "ZMQInteractiveShell" else "ipython"
        notebook = shell.user_ns.get("__session__") or os.environ.get("JPY_SESSION_NAME")
        return {"source": notebook, "kind": kind} if notebook else {"kind": kind}
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if main is None:
        return {"kind": "python"}
    if Path(main).name in ("cli.py", "jupyter-mlops") or Path(sys.argv[0]).name == "jupyter-mlops":
        return {"kind": "cli"}
    return {"source": str(Path(main).resolve()), "kind": "script"}


def _git(folder: Path) -> dict[str, Any] | None:
    """Commit, branch and dirtiness of the repository holding ``folder`` (tracked files only: build
    outputs a CI job leaves beside the sources do not make the tree dirty)."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10,
                                  env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    root, branch, status = git("rev-parse", "--show-toplevel"), git("rev-parse", "--abbrev-ref", "HEAD"), \
        git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "branch": None if branch in (None, "HEAD") else branch, "dirty": bool(status),
            "root": Path(root or folder).resolve()}


def papermill_parameters(shell: Any) -> dict[str, Any] | None:
    """The parameters of papermill's injected cell, as injected (later changes to the variables do
    not count); names that look secret are masked. None when not run by papermill."""
    cells = shell.user_ns.get("_ih") if shell is not None else None
    for cell in reversed(cells or []):
        if isinstance(cell, str) and cell.startswith(PAPERMILL_HEADER):
            return dict(_assignments(cell))
    return None


def _assignments(cell: str) -> list[tuple[str, Any]]:
    try:
        body = ast.parse(cell).body
    except SyntaxError:
        return []
    out = []
    for node in body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            try:
                value: Any = ast.literal_eval(node.value)
            except ValueError:
                value = ast.unparse(node.value)
            out.append((name, "***" if SECRET_NAME.search(name) else value))
    return out


def _packages(framework: str) -> dict[str, str]:
    wanted = {*ALWAYS, *FRAMEWORK_PACKAGES.get(framework, ()),
              *(dist for module, dist in IMPORTED.items() if module in sys.modules)}
    found = {}
    for dist in sorted(wanted):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return found


def _ci() -> dict[str, str] | None:
    """The CI run that registered the model: the CI systems' own identifiers, never other variables."""
    env = os.environ
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_RUN_ID"):
        server, repo = env.get("GITHUB_SERVER_URL", "https://github.com"), env.get("GITHUB_REPOSITORY", "")
        return {"system": "github-actions", "run_url": f"{server}/{repo}/actions/runs/{env['GITHUB_RUN_ID']}",
                "workflow": env.get("GITHUB_WORKFLOW", ""), "ref": env.get("GITHUB_REF", "")}
    if env.get("GITLAB_CI") == "true" and env.get("CI_JOB_URL"):
        return {"system": "gitlab-ci", "run_url": env["CI_JOB_URL"], "pipeline_url": env.get("CI_PIPELINE_URL", ""),
                "ref": env.get("CI_COMMIT_REF_NAME", "")}
    return None
