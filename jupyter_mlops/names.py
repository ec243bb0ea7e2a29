"""Validation and parsing of the small strings users type: names, references, tag filters."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .errors import InvalidNameError, UsageError

_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
MAX_NAME = 255


def validate_name(name: object, kind: str = "model") -> str:
    """Return ``name`` if it is a valid object name, else raise a one-line error showing it."""
    if not isinstance(name, str) or not name:
        raise InvalidNameError(f"Invalid {kind} name {name!r}: it must be a non-empty string.")
    if len(name) > MAX_NAME:
        raise InvalidNameError(
            f"Invalid {kind} name {name[:40]!r}...: {len(name)} characters, at most {MAX_NAME}."
        )
    if not _NAME.fullmatch(name) or name in {".", ".."}:
        raise InvalidNameError(
            f"Invalid {kind} name {name!r}: use letters, digits, '-', '_' and '.' only."
        )
    return name


def parse_version(text: object) -> int:
    """Parse a version number (a positive integer)."""
    if isinstance(text, int) and not isinstance(text, bool) and text > 0:
        return text
    if isinstance(text, str) and text.isdigit() and int(text) > 0:
        return int(text)
    raise UsageError(f"Invalid version {text!r}: versions are positive integers.")


LATEST = "latest"  # the built-in alias: always the newest version
_ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*")


def validate_alias(alias: object) -> str:
    """An alias name (``champion``, ``prod-eu``): a letter, then letters, digits, '-' and '_'."""
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias) or len(alias) > MAX_NAME:
        raise UsageError(f"Invalid alias {alias!r}: a letter, then letters, digits, '-' and '_' "
                         f"(at most {MAX_NAME} characters).")
    return alias


@dataclass(frozen=True)
class Ref:
    """``NAME``, ``NAME:VERSION`` or ``NAME@ALIAS`` (models only; ``NAME@latest`` is the newest)."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name if self.version is None else f"{self.name}:{self.version}"


def parse_ref(text: str, kind: str = "model") -> Ref:
    """Parse ``NAME[:VERSION]``, or for models ``NAME@ALIAS`` too."""
    if not isinstance(text, str):
        raise UsageError(f"Invalid {kind} {text!r}: give NAME or NAME:VERSION.")
    name, at, alias = text.partition("@")
    if at:
        if kind != "model":
            raise UsageError(f"Invalid {kind} {text!r}: only models have aliases; give NAME or NAME:VERSION.")
        if ":" in name:
            raise UsageError(f"Invalid model {text!r}: give NAME:VERSION or NAME@ALIAS, not both.")
        return Ref(validate_name(name, kind), alias=validate_alias(alias))
    name, sep, version = text.partition(":")
    validate_name(name, kind)
    return Ref(name, parse_version(version) if sep else None)


def ref_of(obj: object, kind: str = "model") -> Ref:
    """A :class:`Ref` from a record (a Model or an Image: anything with a name and a version) or
    from ``NAME[:VERSION]`` (or ``NAME@ALIAS``) text."""
    if isinstance(obj, str):
        return parse_ref(obj, kind)
    name, version = getattr(obj, "name", None), getattr(obj, "version", None)
    if isinstance(name, str) and isinstance(version, int):
        return Ref(name, version)
    raise UsageError(f"Invalid {kind} {obj!r}: give NAME, NAME:VERSION or a registered {kind}.")


def parse_exact_ref(text: str, kind: str = "model") -> tuple[str, int]:
    """``NAME:VERSION`` where the version is required (deletes name one version, never "the latest")."""
    ref = parse_ref(text, kind)
    if ref.alias is not None:
        raise UsageError(f"Give the version, not an alias: {ref.name}:VERSION (an alias moves; this names one).")
    if ref.version is None:
        raise UsageError(f"Give the version to delete: {ref.name}:VERSION.")
    return ref.name, ref.version


@dataclass(frozen=True)
class KeyFilter:
    """A filter written ``key`` (has the key) or ``key=value``."""

    key: str
    value: str | None = None


def parse_filter(text: str, what: str = "tag") -> KeyFilter:
    key, sep, value = text.partition("=")
    key = key.strip()
    if not key:
        raise UsageError(f"Invalid {what} {text!r}: write key or key=value.")
    return KeyFilter(key, value if sep else None)


def parse_filters(filters: object, what: str = "tag") -> list[KeyFilter]:
    """Accept a dict ({key: value or None}), a string, or a list of strings."""
    if filters is None:
        return []
    if isinstance(filters, dict):
        return [KeyFilter(str(k), None if v is None else str(v)) for k, v in filters.items()]
    if isinstance(filters, str):
        filters = [filters]
    if not isinstance(filters, (list, tuple)):
        raise UsageError(f"Invalid {what} filters {filters!r}: a dict, a string or a list of strings.")
    return [parse_filter(str(f), what) for f in filters]


def parse_pairs(pairs: object, what: str = "tag") -> dict[str, str]:
    """Turn ``key=value`` strings (or a dict) into a dict; a missing ``=`` is an error."""
    if pairs is None:
        return {}
    if isinstance(pairs, dict):
        out = {str(k): str(v) for k, v in pairs.items()}
    else:
        if isinstance(pairs, str):
            pairs = [pairs]
        if not isinstance(pairs, (list, tuple)):
            raise UsageError(f"Invalid {what}s {pairs!r}: a dict, a string or a list of key=value strings.")
        out = {}
        for pair in map(str, pairs):
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise UsageError(f"Invalid {what} {pair!r}: write key=value.")
            out[key.strip()] = value
    for key in out:
        if len(key) > MAX_NAME:
            raise UsageError(f"Invalid {what} key {key[:40]!r}...: at most {MAX_NAME} characters.")
    return out


def parse_parameters(value: object) -> dict[str, Any]:
    """A dict, or ``K=V`` strings whose values are read as JSON when they are JSON (``0.9``, ``true``,
    ``[1, 2]``) and as text otherwise (``data/test.csv``)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    out: dict[str, Any] = {}
    for pair in [value] if isinstance(value, str) else list(value):  # type: ignore[call-overload]
        key, sep, text = str(pair).partition("=")
        if not sep or not key.strip().isidentifier():
            raise UsageError(f"Invalid parameter {pair!r}: write NAME=VALUE with a Python name.")
        try:
            out[key.strip()] = json.loads(text)
        except ValueError:
            out[key.strip()] = text
    return out


def parse_autoscale(value: object) -> dict[str, int] | None:
    """``MIN:MAX[:CPU%]`` (or a dict of the same) -> ``{"min", "max"[, "target_cpu"]}``."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        value = ":".join(str(value[k]) for k in ("min", "max", "target_cpu") if k in value)
    parts = str(value).split(":")
    if len(parts) not in (2, 3) or not all(p.isascii() and p.isdigit() for p in parts):
        raise UsageError(f"Invalid autoscale {value!r}: write MIN:MAX or MIN:MAX:CPU_PERCENT, e.g. 1:5:70.")
    lo, hi = int(parts[0]), int(parts[1])
    if not 1 <= lo <= hi:
        raise UsageError(f"Invalid autoscale {value!r}: MIN must be at least 1 and at most MAX.")
    out = {"min": lo, "max": hi}
    if len(parts) == 3:
        out["target_cpu"] = int(parts[2])
    return out


def parse_int(value: object, what: str = "number", minimum: int = 0) -> int:
    """An integer typed by a user (or given as one), at least ``minimum``."""
    if isinstance(value, bool):
        raise UsageError(f"Invalid {what} {value!r}: a whole number.")
    if isinstance(value, str) and value.strip().lstrip("-").isascii() and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int) or value < minimum:
        raise UsageError(f"Invalid {what} {value!r}: a whole number, at least {minimum}.")
    return value


def parse_float(value: object, what: str = "number") -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UsageError(f"Invalid {what} {value!r}: a number.") from None
    if out != out or out in (float("inf"), float("-inf")):
        raise UsageError(f"Invalid {what} {value!r}: a finite number.")
    return out


def parse_share(value: object) -> tuple[str, int]:
    """``NAME=PERCENT`` (a deployment's share of an endpoint's traffic) -> (name, percent)."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        name, pct = value
    else:
        name, sep, pct = str(value).partition("=")
        if not sep:
            raise UsageError(f"Invalid share {value!r}: write DEPLOYMENT=PERCENT, e.g. blue=90.")
    return validate_name(str(name).strip(), "deployment"), parse_int(pct, what=f"share of {name}")


def parse_steps(value: object) -> list[int]:
    """``10,50,100`` (or a list) -> [10, 50, 100]."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return [parse_int(str(v).strip(), what="step", minimum=1) for v in items]
