"""Validate a model version with a notebook: papermill runs it with parameters, and an exception in it
(a failed ``assert accuracy >= min_accuracy``, say) fails the validation with that exception's line.

The notebook runs in a separate papermill process, in its own folder (as Jupyter runs it), with the
parameters ``model`` (the ``NAME:VERSION`` validated) and the caller's. It uses the caller's workspace:
the kernel gets a workspace config that names the stores through environment variables, so no
password or connection string is written to disk. The executed copy is kept, passed or failed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..display import fmt_kv, html_table
from ..errors import UsageError, ValidationError
from ..names import parse_parameters
from ..workspace import ENV_VAR, Workspace
from .records import Model

CONFIG = """[workspace]
name = {name}
root = {root}
metadata = "${{JUPYTER_MLOPS_KERNEL_METADATA}}"
artifacts = "${{JUPYTER_MLOPS_KERNEL_ARTIFACTS}}"
base_image = {base_image}
default_target = {target}
"""


@dataclass(frozen=True)
class Validation:
    """A validation notebook that ran to its end for a model version."""

    model: str
    notebook: str
    output: str  # the executed copy
    parameters: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ref(self) -> str:
        return self.model

    def summary(self) -> dict[str, object]:
        parameters = fmt_kv({k: str(v) for k, v in self.parameters.items()})
        return {"model": self.model, "notebook": self.notebook, "passed": True, "parameters": parameters,
                "seconds": round(self.seconds, 1), "executed": self.output}

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "notebook": self.notebook, "output": self.output, "parameters": self.parameters,
                "seconds": self.seconds, "passed": True}

    def _repr_html_(self) -> str:
        return html_table([self.summary()], title=f"Validated {self.model}")


def validate(ws: Workspace, model: Model, notebook: str | os.PathLike[str], parameters: Any = None,
             output: str | os.PathLike[str] | None = None, timeout: float | None = None) -> Validation:
    """Run ``notebook`` for ``model``; raises :class:`ValidationError` with the first error it raised."""
    if importlib.util.find_spec("papermill") is None:
        raise UsageError("Validation notebooks run with papermill: pip install 'jupyter-mlops[ci]'.")
    source = Path(notebook).expanduser().resolve()
    if not source.is_file():
        raise UsageError(f"Validation notebook {str(notebook)!r} does not exist.")
    params = parse_parameters(parameters)
    if "model" in params:
        raise UsageError("The parameter 'model' is the version being validated; validate sets it.")
    params["model"] = model.ref
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = Path(output).expanduser().resolve() if output is not None else (
        ws.state_dir / "validations" / model.name / str(model.version) / f"{source.stem}-{stamp}.ipynb")
    dest.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mlops-validate-") as tmp:
        (Path(tmp) / "parameters.json").write_text(json.dumps(params))  # not on the command line: ps shows that
        argv = [sys.executable, "-m", "papermill", str(source), str(dest), "-f", str(Path(tmp) / "parameters.json"),
                "--cwd", str(source.parent), "--no-progress-bar", "--log-level", "ERROR"]
        if timeout is not None:
            argv += ["--execution-timeout", str(int(timeout))]
        done = subprocess.run(argv, capture_output=True, text=True, env=_kernel_env(ws, Path(tmp)))
    if done.returncode != 0:
        raise ValidationError(f"{source.name} failed for {model.ref}: {_first_error(dest, done.stderr)} "
                              f"(executed copy: {dest})", detail=done.stderr.strip()[-2000:] or None)
    return Validation(model.ref, str(source), str(dest), {k: v for k, v in params.items() if k != "model"},
                      round(time.monotonic() - start, 3))


def _kernel_env(ws: Workspace, folder: Path) -> dict[str, str]:
    """The environment of the papermill process and its kernel: this workspace, by a config file whose
    stores are environment variables (secrets stay off the disk)."""
    config = folder / "jupyter-mlops.toml"
    q = json.dumps  # TOML basic strings are JSON strings
    config.write_text(CONFIG.format(name=q(ws.name), root=q(str(ws.state_dir)), base_image=q(ws.base_image),
                                    target=q(ws.default_target)))
    env = {**os.environ, ENV_VAR: str(config), "JUPYTER_MLOPS_KERNEL_METADATA": ws.metadata_url,
           "JUPYTER_MLOPS_KERNEL_ARTIFACTS": ws.artifacts_url}
    if ws.azure_connection_string:
        env["AZURE_STORAGE_CONNECTION_STRING"] = ws.azure_connection_string
    return env


def _first_error(executed: Path, stderr: str) -> str:
    """``AssertionError: accuracy 0.61 is below 0.9``: the first error output of the executed copy (else
    the last line papermill printed)."""
    try:
        import nbformat

        nb = nbformat.read(executed, as_version=4)
    except Exception:
        lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        return lines[-1][:300] if lines else "papermill failed"
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                value = (str(out.get("evalue", "")).strip().splitlines() or [""])[0]
                return f"{out.get('ename', 'Error')}: {value}"[:300] if value else str(out.get("ename", "Error"))
    return "papermill failed"
