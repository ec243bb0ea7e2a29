"""The CLI and the magics are generated from one declaration per command: same options, same errors."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from jupyter_mlops import cli, magics
from jupyter_mlops.commands import BY_MAGIC, COMMANDS, Command

# Options that belong to one adapter by nature, not by drift.
CLI_ONLY = {"--workspace", "-w", "--json", "-h", "--help"}
MAGIC_ONLY = {"-o", "--out"}


def _signature(parser: argparse.ArgumentParser, skip: set[str]) -> dict[str, tuple[object, ...]]:
    """Every argument a parser accepts: option strings (or the positional's name) -> what it does."""
    out: dict[str, tuple[object, ...]] = {}
    for action in parser._actions:
        if set(action.option_strings) & skip or isinstance(action, argparse._SubParsersAction):
            continue
        key = "/".join(sorted(action.option_strings)) or action.dest
        out[key] = (action.dest, action.default, action.nargs, action.required, type(action).__name__,
                    tuple(action.choices or ()))
    return out


def _cli_parser(command: Command) -> argparse.ArgumentParser:
    node: argparse.ArgumentParser = cli.build_parser()
    for word in command.verb:
        sub = next(a for a in node._actions if isinstance(a, argparse._SubParsersAction))
        node = sub.choices[word]
    return node


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.magic], ids=lambda c: c.magic)
def test_every_cli_verb_and_its_magic_take_the_same_options(command: Command) -> None:
    cli_options = _signature(_cli_parser(command), CLI_ONLY)
    magic_options = _signature(magics.build_parser(command, command.magic or ""), MAGIC_ONLY)
    notebook_only = {"/".join(sorted(o.flags)) for o in command.options if o.only == "magic"}
    assert {k: v for k, v in magic_options.items() if k not in notebook_only} == cli_options


def test_every_magic_is_a_cli_verb_and_the_names_are_unique() -> None:
    assert len({c.verb for c in COMMANDS}) == len(COMMANDS)
    assert set(BY_MAGIC) == {c.magic for c in COMMANDS if c.magic}
    assert all(c.cli for c in BY_MAGIC.values())


def test_the_cli_never_imports_ipython() -> None:
    code = "import jupyter_mlops.cli, sys; assert 'IPython' not in sys.modules, 'IPython imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jupyter_mlops.cli", *args], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize(("args", "message"), [
    (("deploy", "x", "--image", "img", "--autoscale", "bad"),
     "error: Invalid autoscale 'bad': write MIN:MAX or MIN:MAX:CPU_PERCENT, e.g. 1:5:70.\n"),
    (("models", "register", "m.onnx", "--nmae", "lr"),
     "error: jupyter-mlops models register: unknown option --nmae; did you mean --name?\n"),
    (("models", "list", "--limit", "x"), "error: Invalid limit 'x': a whole number, at least 1.\n"),
    (("models", "list", "--limit", "0"), "error: Invalid limit 0: a whole number, at least 1.\n"),
    (("deploy", "x"), "error: Give the image to deploy, or a model to follow (NAME@ALIAS).\n"),
    (("teleport",), "error: jupyter-mlops: argument command: invalid choice: 'teleport' (choose from "),
    (("deployments", "regen-key", "x", "tertiary"), "error: jupyter-mlops deployments regen-key: argument key: "
     "invalid choice: 'tertiary' (choose from 'primary', 'secondary').\n"),
])
def test_every_bad_argument_is_one_line_on_stderr_and_exit_1(args: tuple[str, ...], message: str,
                                                            workspace: object) -> None:
    result = run_cli(*args)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr


def test_an_unsupported_setting_is_one_line_naming_the_setting_and_the_target(workspace: object) -> None:
    result = run_cli("deploy", "x", "--image", "img", "--target", "process", "--replicas", "3")
    assert result.returncode == 1
    assert result.stderr.startswith("error: Setting 'replicas' is not supported by the 'process' target; it supports:")
    assert result.stderr.count("\n") == 1
