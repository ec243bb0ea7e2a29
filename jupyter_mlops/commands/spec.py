"""What a command is: its options, declared once, and how it calls the API.

The CLI, the magics (and the widgets and REST handlers that build on them) are generated from these
declarations, so an option exists in every adapter or in none: adding one is one edit here.
"""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ADAPTERS = ("cli", "magic")


@dataclass(frozen=True)
class Option:
    """One argument of a command.

    ``flags`` empty makes it positional. ``parse`` turns what a user typed (or a JSON value) into
    what the API takes; it raises :class:`~jupyter_mlops.errors.UsageError` with a one-line message.
    ``complete`` names what completes it as you type: model, model_ref, image, image_ref,
    deployment, target or path. ``only`` restricts it to one adapter (``"magic"`` for a notebook-only
    display option); everything else exists everywhere.
    """

    dest: str
    flags: tuple[str, ...] = ()
    help: str = ""
    parse: Callable[[Any], Any] | None = None
    default: Any = None
    many: bool = False
    switch: bool = False
    required: bool = False
    optional: bool = False
    rest: bool = False
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    complete: str | None = None
    only: str | None = None

    @property
    def positional(self) -> bool:
        return not self.flags

    def for_adapter(self, adapter: str) -> bool:
        return self.only is None or self.only == adapter

    def convert(self, value: Any) -> Any:
        if value is None or self.parse is None:
            return value
        if self.many and isinstance(value, list):
            return [self.parse(v) for v in value]
        return self.parse(value)


@dataclass
class Invocation:
    """Where a command runs: the workspace and how to talk back (each adapter fills it in)."""

    workspace: Any = None
    echo: Callable[[str], None] = print  # extra lines (events, logs, 'wrote ...')
    log: Callable[[str], None] | None = None  # streamed build output; None: the API's own display
    progress: bool | None = None  # bars for long transfers; None: large ones only
    notebook: bool = False


@dataclass(frozen=True)
class Command:
    """A user-facing verb: ``jupyter-mlops <verb...>`` and ``%<magic>``."""

    verb: tuple[str, ...]
    help: str
    options: tuple[Option, ...]
    run: Callable[[Invocation, Namespace], Any]
    magic: str | None = None
    cli: bool = True

    @property
    def name(self) -> str:
        return " ".join(self.verb)

    def options_for(self, adapter: str) -> tuple[Option, ...]:
        return tuple(o for o in self.options if o.for_adapter(adapter))

    def values(self, **given: Any) -> Namespace:
        """The options' values from keyword arguments (JSON bodies, widget forms), defaults filled
        in and each converted as a typed value would be from the command line."""
        from ..errors import UsageError

        known = {o.dest: o for o in self.options}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise UsageError(f"Unknown option {unknown[0]!r} for {self.name!r}; it takes: {', '.join(known)}.")
        out = {}
        for dest, opt in known.items():
            if dest in given:
                out[dest] = opt.convert(given[dest])
            elif opt.required:
                raise UsageError(f"{self.name!r} needs {dest!r}.")
            else:
                out[dest] = _fresh(opt.default)
        return Namespace(**out)

    def __call__(self, invocation: Invocation | None = None, **given: Any) -> Any:
        return self.run(invocation or Invocation(), self.values(**given))


def _fresh(default: Any) -> Any:
    return list(default) if isinstance(default, list) else default


@dataclass(frozen=True)
class Done:
    """The result of a command that changes something and has nothing else to show."""

    message: str
    data: dict[str, Any]

    def __repr__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)
