"""IPython magics, generated from :mod:`jupyter_mlops.commands`: parse a line, run, return the result.

Lines are split as a shell would (``--tag "team=data science"`` keeps its space); an unknown flag is
named with the close known one. An :class:`~jupyter_mlops.errors.MlopsError` becomes IPython's
``UsageError``: one line, no traceback, and a papermill run still fails. ``-o/--out NAME`` binds the
result in the notebook.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from traitlets import Bool, Unicode
from traitlets.config import Configurable

from .commands import BY_MAGIC, Command, Done, Invocation, Option, get
from .commands.argparser import ArgumentParser, add_options, parse
from .errors import MlopsError

WORKSPACE = get("workspace")
OUT = Option("out", ("-o", "--out"), "store the result in this notebook variable", metavar="VAR")


def build_parser(command: Command, name: str) -> ArgumentParser:
    parser = ArgumentParser(prog=f"%{name}", description=command.help, add_help=False)
    add_options(parser, (*command.options_for("magic"), OUT))
    parser.set_defaults(command_spec=command)
    return parser


def split_line(line: str, command: Command) -> list[str]:
    """Shell-like tokens. A ``rest`` option (``%score NAME {"data": [[1, 2]]}``) takes the raw rest
    of the line after the positionals before it, less a trailing ``-o VAR``."""
    rest = next((o for o in command.options if o.rest), None)
    try:
        if rest is None:
            return shlex.split(line)
        return _split_rest(line, command, rest)
    except ValueError as exc:  # an unclosed quote
        raise UsageError(f"Cannot parse the line: {exc}.") from None


def _split_rest(line: str, command: Command, rest: Option) -> list[str]:
    before = [o for o in command.options[: command.options.index(rest)] if o.positional]
    takes_value = {f for o in (*command.options, OUT) if not o.switch for f in o.flags}
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    tokens: list[str] = []
    seen = 0
    while seen < len(before):
        token = lexer.get_token()
        if token is None:
            return tokens
        tokens.append(token)
        if token in takes_value:
            tokens.append(lexer.get_token() or "")
        elif not token.startswith("-"):
            seen += 1
    tail = line[lexer.instream.tell():].strip()  # type: ignore[attr-defined]
    out: list[str] = []
    words = tail.rsplit(None, 2)
    if len(words) == 3 and words[1] in OUT.flags and words[2].isidentifier():
        tail, out = words[0], words[1:]
    if len(tail) >= 2 and tail[0] == tail[-1] and tail[0] in "'\"":
        tail = tail[1:-1]
    return [*tokens, *out, "--", tail] if tail else [*tokens, *out]


@magics_class
class MlopsMagics(Magics, Configurable):
    """Registry, image, deployment and monitoring magics over :mod:`jupyter_mlops.api`."""

    workspace = Unicode(
        None, allow_none=True, config=True,
        help="Workspace path or config file; unset means automatic resolution.",
    ).tag(config=True)
    progress = Bool(
        None, allow_none=True, help="Show progress bars: True, False, or None for large transfers only."
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        Configurable.__init__(self, config=shell.config if shell is not None else None)
        Magics.__init__(self, shell=shell, **kwargs)
        for name, command in BY_MAGIC.items():
            self.magics["line"][name] = self._magic(name, command)

    def _magic(self, name: str, command: Command) -> Callable[[str], Any]:
        parser = build_parser(command, name)

        def magic(line: str = "") -> Any:
            return self.run_command(command, parser, line)

        magic.__name__ = name
        magic.__doc__ = parser.format_help()
        return magic

    @property
    def _user_ns(self) -> dict[str, Any]:
        assert self.shell is not None, "magics run in a shell"
        return self.shell.user_ns

    def _invocation(self) -> Invocation:
        return Invocation(workspace=self.workspace or None, progress=self.progress, notebook=True)

    def run_command(self, command: Command, parser: ArgumentParser, line: str) -> Any:
        if any(tok in ("-h", "--help") for tok in line.split()):
            print(parser.format_help())
            return None
        try:
            args = parse(parser, split_line(line, command))
            self._resolve_variables(command, args)
            values = argparse.Namespace(**{o.dest: getattr(args, o.dest) for o in command.options_for("magic")})
            result = self._panel(command, values) or command.run(self._invocation(), values)
        except MlopsError as exc:
            raise UsageError(str(exc)) from None
        if args.out:
            if not args.out.isidentifier():
                raise UsageError(f"Invalid -o name {args.out!r}: it must be a Python identifier.")
            self._user_ns[args.out] = result
        if isinstance(result, Done):
            print(result.message)
            return None
        return result

    def _panel(self, command: Command, values: argparse.Namespace) -> Any:
        """The notebook-only display flags (``--panel``, ``--live``): a live panel instead of a snapshot."""
        from . import widgets

        ws = self.workspace or None
        if getattr(values, "panel", False):
            if command.name == "models list":
                query = " ".join([values.name or "", *values.tags]).strip()
                return widgets.models(query, workspace=ws)
            return widgets.deployment(values.name, workspace=ws)
        if getattr(values, "live", False):
            return widgets.LiveDashboard(values.name, since=values.since, threshold=values.threshold, workspace=ws)
        return None

    def _resolve_variables(self, command: Command, args: argparse.Namespace) -> None:
        """A ``rest`` value (data to score) that is a Python identifier names a notebook variable."""
        for opt in command.options:
            value = getattr(args, opt.dest, None)
            if not opt.rest:
                continue
            if isinstance(value, str) and value.isidentifier():
                if value not in self._user_ns:
                    raise UsageError(f"No variable named {value!r} in the notebook.")
                value = self._user_ns[value]
            setattr(args, opt.dest, opt.convert(value))

    @line_magic
    def mlops(self, line: str = "") -> Any:
        """``%mlops workspace [--use PATH]``: the workspace in use and why; --use switches to another."""
        parser = ArgumentParser(prog="%mlops", add_help=False)
        parser.add_argument("command", choices=["workspace"], help="workspace: show the workspace in use and why")
        parser.add_argument("--use", metavar="PATH", help="switch to this workspace folder or config file")
        add_options(parser, (OUT,))
        if any(tok in ("-h", "--help") for tok in line.split()):
            print(parser.format_help())
            return None
        try:
            args = parse(parser, shlex.split(line))
            if args.use:
                self.workspace = args.use
            result = WORKSPACE.run(self._invocation(), argparse.Namespace())
        except MlopsError as exc:
            raise UsageError(str(exc)) from None
        if args.out:
            self._user_ns[args.out] = result
        return result


def completions(command: Command, line: str, workspace: Any = None) -> list[str]:
    """What may come next on a magic's line: a flag, a flag's value, or the next positional
    (model, image and deployment names, ``NAME:VERSION``, targets), as the command declares them."""
    from .completion import complete

    words = line.split()[1:]  # the magic itself first
    current = "" if line.endswith(" ") or not words else words.pop()
    options = (*command.options_for("magic"), OUT)
    if current.startswith("-"):
        return sorted(f for o in options for f in o.flags if f.startswith(current))
    by_flag = {f: o for o in options for f in o.flags}
    previous = by_flag.get(words[-1]) if words else None
    if previous is not None and not previous.switch:
        opt: Option | None = previous
    else:
        taken = sum(1 for i, w in enumerate(words) if not w.startswith("-")
                    and not (i and words[i - 1] in by_flag and not by_flag[words[i - 1]].switch))
        positionals = [o for o in options if o.positional]
        opt = positionals[taken] if taken < len(positionals) else None
    if opt is not None and opt.choices:
        return [c for c in opt.choices if c.startswith(current)]
    if opt is None or opt.complete is None or opt.complete == "path":
        return []
    kind = opt.complete.removesuffix("_ref")
    return complete(kind, current, versions=opt.complete.endswith("_ref"), workspace=workspace)


def load_ipython_extension(ipython: Any) -> None:
    magics = MlopsMagics(shell=ipython)
    ipython.register_magics(magics)
    for name, command in BY_MAGIC.items():  # complete as you type: names, versions, flags, targets
        ipython.set_hook("complete_command", lambda _shell, event, c=command: completions(
            c, event.line, magics.workspace or None), str_key=f"%{name}")
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
