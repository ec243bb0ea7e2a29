"""``jupyter-mlops pipeline run PIPELINE.toml`` (``%run_pipeline``): existing verbs chained as steps.

A pipeline file (TOML)::

    [pipeline]
    artifacts = "mlops-artifacts/churn"      # state file and executed notebooks (this is the default)

    [vars]                                   # values --set NAME=VALUE replaces
    registry = "127.0.0.1:5000"

    [[steps]]
    verb = "register"                        # register, validate, build, smoke_test, push, deploy, update, alias
    path = "churn.onnx"                      # the command's own options, by their names
    name = "churn"

    [[steps]]
    verb = "push"
    ref = "${steps.build.ref}"               # an earlier step's output, or ${vars.NAME}
    registry = "${vars.registry}"

Each step prints one JSON line (``step``, ``verb``, ``status``, ``seconds``, ``outputs`` or ``error``); the
first failure stops the run with a non-zero exit. Every step's outcome goes to a state file, so
``--from STEP`` runs again from that step with the outputs of the steps before it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib

from ..errors import MlopsError, PipelineError, UsageError
from ..names import parse_parameters
from .spec import Command, Invocation, Option
from .steps import STEPS

_ID = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*")
REF = re.compile(r"\$\{(?:steps\.([A-Za-z][A-Za-z0-9_\-]*)\.(\w+)|vars\.(\w+))\}")
STATE = "state.json"


@dataclass(frozen=True)
class PlannedStep:
    id: str
    verb: str
    options: dict[str, Any]


@dataclass(frozen=True)
class Pipeline:
    path: Path
    steps: list[PlannedStep]
    vars: dict[str, Any]
    artifacts: Path
    workspace: str | None


def load(path: str | Path, sets: dict[str, Any] | None = None, artifacts: str | None = None) -> Pipeline:
    """Read and check a pipeline file: verbs, ids, option names and references, before anything runs."""
    file = Path(path).expanduser().resolve()
    try:
        data = tomllib.loads(file.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"Cannot read pipeline {str(path)!r}: {exc}") from None
    _only(data, ("pipeline", "vars", "steps"), "the pipeline file")
    meta = data.get("pipeline", {})
    _only(meta, ("artifacts", "workspace"), "[pipeline]")
    variables = dict(data.get("vars", {}))
    for name in sets or {}:
        if name not in variables:
            raise UsageError(f"Unknown variable {name!r} in --set; the pipeline's [vars]: "
                             f"{', '.join(variables) or 'none'}.")
    variables.update(sets or {})
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise UsageError(f"Pipeline {file.name} has no [[steps]].")
    steps: list[PlannedStep] = []
    for number, raw in enumerate(raw_steps, 1):
        steps.append(_planned(number, dict(raw), steps, variables))
    default = file.parent / meta.get("artifacts", f"mlops-artifacts/{file.stem}")
    folder = Path(artifacts).resolve() if artifacts else default
    workspace = meta.get("workspace")
    return Pipeline(file, steps, variables, folder.resolve(),
                    None if workspace is None else str((file.parent / workspace).resolve()))


def _only(table: Any, allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(table) - set(allowed)) if isinstance(table, dict) else ["(not a table)"]
    if unknown:
        raise UsageError(f"Unknown key {unknown[0]!r} in {where}; it takes: {', '.join(allowed)}.")


def _planned(number: int, raw: dict[str, Any], before: list[PlannedStep], variables: dict[str, Any]) -> PlannedStep:
    verb = raw.pop("verb", None)
    if verb not in STEPS:
        raise UsageError(f"Step {number}: unknown verb {verb!r}; use one of: {', '.join(STEPS)}.")
    sid = raw.pop("id", verb)
    if not isinstance(sid, str) or not _ID.fullmatch(sid):
        raise UsageError(f"Step {number}: invalid id {sid!r}: a letter, then letters, digits, '-' and '_'.")
    if any(s.id == sid for s in before):
        raise UsageError(f"Step {number}: the id {sid!r} is taken; give this step its own (id = \"...\").")
    try:
        STEPS[verb].command.check(raw)
        for ref in _references(raw):
            _check_reference(ref, before, variables)
    except UsageError as exc:
        raise UsageError(f"Step {sid!r}: {exc}") from None
    return PlannedStep(sid, verb, raw)


def _references(value: Any) -> list[re.Match[str]]:
    if isinstance(value, str):
        return list(REF.finditer(value))
    if isinstance(value, dict):
        value = list(value.values())
    return [m for v in value for m in _references(v)] if isinstance(value, list) else []


def _check_reference(ref: re.Match[str], before: list[PlannedStep], variables: dict[str, Any]) -> None:
    step, output, var = ref.groups()
    if var is not None:
        if var not in variables:
            raise UsageError(f"{ref.group(0)} names no variable; [vars] has: {', '.join(variables) or 'none'}.")
        return
    earlier = {s.id: s for s in before}
    if step not in earlier:
        raise UsageError(f"{ref.group(0)} names no earlier step; before it: {', '.join(earlier) or 'none'}.")
    outputs = STEPS[earlier[step].verb].outputs
    if output not in outputs:
        raise UsageError(f"{ref.group(0)}: a {earlier[step].verb} step's outputs are {', '.join(outputs)}.")


def resolve(value: Any, context: dict[str, Any]) -> Any:
    """``${steps.ID.NAME}`` and ``${vars.NAME}`` replaced: a whole-string reference keeps the value's
    type (a version stays a number); one inside text is written into it."""
    if isinstance(value, str):
        whole = REF.fullmatch(value)
        if whole:
            return _lookup(whole, context)
        return REF.sub(lambda m: str(_lookup(m, context)), value)
    if isinstance(value, list):
        return [resolve(v, context) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, context) for k, v in value.items()}
    return value


def _lookup(ref: re.Match[str], context: dict[str, Any]) -> Any:
    step, output, var = ref.groups()
    return context["vars"][var] if var is not None else context["steps"][step][output]


class State:
    """``state.json`` in the artifacts folder: each step's status, seconds and outputs, written as it goes."""

    def __init__(self, pipeline: Pipeline, start: str | None) -> None:
        """A fresh state, or with ``start`` the last run's, less the steps from ``start`` on."""
        self.file = pipeline.artifacts / STATE
        self.data: dict[str, Any] = {"pipeline": str(pipeline.path), "steps": {}}
        if start is not None:
            try:
                self.data = json.loads(self.file.read_text())
            except (OSError, ValueError) as exc:
                raise UsageError(f"Cannot resume: no state of an earlier run in {str(self.file)!r} ({exc}).") from None
            ids = [s.id for s in pipeline.steps]
            for sid in ids[ids.index(start):]:
                self.data["steps"].pop(sid, None)
        self.data["sha256"] = hashlib.sha256(pipeline.path.read_bytes()).hexdigest()

    def outputs(self, step: PlannedStep) -> dict[str, Any]:
        entry = self.data["steps"].get(step.id, {})
        if entry.get("status") != "ok":
            raise UsageError(f"Cannot resume: step {step.id!r} did not succeed in the last run ({self.file}); "
                             "run from it or an earlier step.")
        return dict(entry["outputs"])

    def record(self, line: dict[str, Any]) -> None:
        self.data["steps"][line["step"]] = {k: v for k, v in line.items() if k != "step"}
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=str))
        tmp.replace(self.file)


def run_pipeline(pipeline: Pipeline, inv: Invocation, start: str | None = None) -> list[dict[str, Any]]:
    """Run the steps in order (from ``start``, the earlier ones' outputs read from the state file);
    emits one JSON line per step and raises :class:`PipelineError` at the first failure."""
    ids = [s.id for s in pipeline.steps]
    if start is not None and start not in ids:
        raise UsageError(f"No step {start!r} to start from; the steps: {', '.join(ids)}.")
    state = State(pipeline, start)
    earlier = pipeline.steps[:ids.index(start)] if start is not None else []
    resumed = {s.id: state.outputs(s) for s in earlier}  # every one checked before anything runs
    step_inv = Invocation(workspace=inv.workspace or pipeline.workspace, echo=inv.log or inv.echo, log=inv.log,
                          progress=False if inv.log else inv.progress, notebook=inv.notebook)
    context: dict[str, Any] = {"vars": pipeline.vars, "steps": {}}
    lines = []
    for step in pipeline.steps:
        if step.id in resumed:
            line, cause = _skipped(step, resumed[step.id]), None
        else:
            line, cause = _run_step(pipeline, step, step_inv, context)
        context["steps"][step.id] = line.get("outputs", {})
        state.record(line)
        inv.emit(json.dumps(line, default=str))
        lines.append(line)
        if cause is not None:
            raise PipelineError(f"Step {step.id!r} ({step.verb}) failed: {cause}", step=step.id, cause=cause)
    return lines


def _skipped(step: PlannedStep, outputs: dict[str, Any]) -> dict[str, Any]:
    return {"step": step.id, "verb": step.verb, "status": "skipped", "seconds": 0.0, "outputs": outputs}


def _run_step(pipeline: Pipeline, step: PlannedStep, inv: Invocation,
              context: dict[str, Any]) -> tuple[dict[str, Any], MlopsError | None]:
    """The step's line, and its error when it failed."""
    kind = STEPS[step.verb]
    start = time.monotonic()
    line: dict[str, Any] = {"step": step.id, "verb": step.verb, "status": "ok", "seconds": 0.0}
    try:
        options = {**_defaults(pipeline, step), **resolve(step.options, context)}
        values = kind.command.values(**_paths(kind.command, options, pipeline.path.parent))
        line["outputs"] = kind.outputs_of(kind.command.run(inv, values))
        cause = None
    except MlopsError as exc:
        line.update(status="failed", error=str(exc))
        cause = exc
    line["seconds"] = round(time.monotonic() - start, 3)
    return line, cause


def _defaults(pipeline: Pipeline, step: PlannedStep) -> dict[str, Any]:
    """What a step gets unless it says otherwise: the pipeline as a model's source, the executed copy of
    a validation notebook in the artifacts folder."""
    if step.verb == "register":
        return {"source": str(pipeline.path)}
    if step.verb == "validate":
        return {"output": str(pipeline.artifacts / f"{step.id}.ipynb")}
    return {}


def _paths(command: Command, options: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Relative paths in path options are relative to the pipeline file's folder."""
    out = dict(options)
    for opt in command.options:
        value = out.get(opt.dest)
        if opt.complete == "path" and isinstance(value, str) and not Path(value).expanduser().is_absolute():
            out[opt.dest] = str(folder / value)
    return out


def _run(inv: Invocation, a: Namespace) -> Any:
    run_pipeline(load(a.path, parse_parameters(a.sets), a.artifacts), inv, a.start)
    return None


COMMANDS = (
    Command(("pipeline", "run"), "Run a pipeline file's steps in order, one JSON line each; the first failure stops it "
            "(exit 1).", (
        Option("path", (), "the pipeline file (TOML)", complete="path"),
        Option("start", ("--from",), "run from this step; the earlier ones' outputs come from the last run's state",
               metavar="STEP"),
        Option("sets", ("--set",), "set a [vars] value NAME=VALUE, VALUE read as JSON when it is (repeatable)",
               many=True, default=[], metavar="NAME=VALUE"),
        Option("artifacts", ("--artifacts",), "folder of the state file and executed notebooks (default: "
               "mlops-artifacts/<pipeline>/ beside the file)", complete="path"),
    ), _run, magic="run_pipeline"),
)
