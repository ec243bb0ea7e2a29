"""``jupyter-mlops``: the command line for CI, generated from :mod:`jupyter_mlops.commands`.

Thin: parse, run the command, print text or JSON. Every error is one line on stderr and exit 1.
Imports no IPython.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from .commands import COMMANDS, Command, Invocation
from .commands.argparser import ArgumentParser, add_options, parse
from .display import text_table
from .errors import MlopsError


def build_parser() -> ArgumentParser:
    common = ArgumentParser(add_help=False)
    common.add_argument("--workspace", "-w", help="workspace folder or config file")
    common.add_argument("--json", action="store_true", help="print JSON")
    parser = ArgumentParser(prog="jupyter-mlops", description="Manage, deploy and monitor models.")
    groups: dict[tuple[str, ...], Any] = {(): parser.add_subparsers(dest="command", required=True)}
    for command in COMMANDS:
        if not command.cli:
            continue
        *group, verb = command.verb
        sub = groups.get(tuple(group))
        if sub is None:
            sub = groups[()].add_parser(group[0], help=f"{group[0]} commands").add_subparsers(
                dest="action", required=True)
            groups[tuple(group)] = sub
        p = sub.add_parser(verb, parents=[common], help=command.help.rstrip("."), description=command.help)
        add_options(p, command.options_for("cli"))
        p.set_defaults(command_spec=command)
    return parser


def _subparser(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.ArgumentParser:
    """The parser of the verb named in ``argv`` (to check its flags), else the top one."""
    node = parser
    for word in argv:
        actions = [a for a in node._actions if isinstance(a, argparse._SubParsersAction)]
        if not actions or word not in actions[0].choices:
            break
        node = actions[0].choices[word]
    return node


def render(result: Any, as_json: bool) -> str | None:
    if result is None:
        return None
    if as_json:
        return json.dumps(_jsonable(result), indent=2, default=str)
    if isinstance(result, list):
        text = text_table([r.summary() for r in result])
        if getattr(result, "has_more", False):
            text += f"\n(more: --offset {getattr(result, 'offset', 0) + len(result)})"
        return text
    if hasattr(result, "summary"):
        return text_table([result.summary()])
    if isinstance(result, dict):
        return text_table([result])
    return str(result)


def _jsonable(result: Any) -> Any:
    if isinstance(result, list):
        return [_jsonable(r) for r in result]
    if hasattr(result, "to_dict"):
        return result.to_dict()
    return result


def _stdin_data(command: Command, args: argparse.Namespace) -> None:
    """A ``rest`` value (data to score) of ``-`` is read from standard input."""
    for opt in command.options:
        if opt.rest:
            value = getattr(args, opt.dest)
            setattr(args, opt.dest, opt.convert(sys.stdin.read() if value == "-" else value))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parse(parser, argv, check=_subparser(parser, argv))
        command: Command = args.command_spec
        _stdin_data(command, args)
        to_stderr = lambda line: print(line, file=sys.stderr, flush=True)
        invocation = Invocation(workspace=args.workspace, echo=to_stderr if args.json else print, log=to_stderr,
                                progress=False if args.json else None)
        values = argparse.Namespace(**{o.dest: getattr(args, o.dest) for o in command.options_for("cli")})
        text = render(command.run(invocation, values), args.json)
    except MlopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if text is not None:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
