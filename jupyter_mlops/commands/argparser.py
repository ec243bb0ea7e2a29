"""argparse parsers built from command declarations, for the CLI and the magics alike.

Errors never exit or print a usage block: they raise :class:`UsageError` with one line, and an
unknown flag is named, with the closest known one suggested (argparse itself would first complain
that a required option is missing when the required one was only mistyped).
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Sequence
from typing import Any, NoReturn

from ..errors import UsageError
from .spec import Option

_FLAG = re.compile(r"--?[A-Za-z][\w-]*")


class ArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one-line UsageErrors."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}.")


def add_options(parser: argparse.ArgumentParser, options: Sequence[Option]) -> None:
    for opt in options:
        kwargs: dict[str, Any] = {"help": opt.help.replace("%", "%%")}
        if opt.switch:
            kwargs.update(action="store_true", default=opt.default)
        else:
            kwargs.update(default=opt.default, metavar=opt.metavar, choices=opt.choices)
            if opt.parse is not None and not opt.rest:  # a rest value is converted once the adapter resolved it
                kwargs["type"] = opt.parse
            if opt.many:
                kwargs["action"] = "append" if opt.flags else None
                if opt.positional:
                    kwargs["nargs"] = "+"
                kwargs["default"] = None
        if opt.positional:
            if opt.optional:
                kwargs["nargs"] = "*" if opt.many else "?"
            kwargs = {k: v for k, v in kwargs.items() if v is not None or k == "default"}
            parser.add_argument(opt.dest, **kwargs)
        else:
            kwargs = {k: v for k, v in kwargs.items() if v is not None or k == "default"}
            parser.add_argument(*opt.flags, dest=opt.dest, required=opt.required, **kwargs)


def known_flags(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def check_flags(parser: argparse.ArgumentParser, tokens: Sequence[str]) -> None:
    """Name the first unknown flag (and the close known one) before argparse looks at anything."""
    known = known_flags(parser)
    for token in tokens:
        if token == "--":
            return
        flag = token.split("=", 1)[0]
        if _FLAG.fullmatch(flag) and flag not in known:
            close = difflib.get_close_matches(flag, sorted(known), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else f"; known: {', '.join(sorted(known))}."
            raise UsageError(f"{parser.prog}: unknown option {flag}{hint}")


def parse(parser: argparse.ArgumentParser, tokens: Sequence[str],
          check: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    """Parse ``tokens``; ``check`` is the (sub)parser whose flags the tokens must use. Repeatable
    options not given come back as empty lists."""
    check_flags(check or parser, tokens)
    args = parser.parse_args(list(tokens))
    command = getattr(args, "command_spec", None)
    for opt in command.options if command else ():
        if opt.many and getattr(args, opt.dest, None) is None:
            setattr(args, opt.dest, [] if opt.default is None else list(opt.default))
    return args
