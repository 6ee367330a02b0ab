"""Checking values that come from outside (files, flags, users' designs) against their types.

A scenario file is JSON and a flag is text, so a value can arrive as the wrong
type (``"servers": "2"``), as NaN or infinity, or out of range. Every door
reads through these functions, so the same rules hold whichever door a value
comes in by, and the error is one line naming the field.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Callable
from typing import Any


class ValueProblem(ValueError):
    """A value that does not fit its field: one line naming the field and why."""


Checker = Callable[[Any, bool], "str | None"]


def check(name: str, value: Any, hint: Any) -> None:
    """Raise ValueProblem unless ``value`` fits the type ``hint`` (finite numbers only)."""
    problem = _checker(hint)(value, False)
    if problem:
        raise ValueProblem(f"{name}: {problem}")


def check_fields(obj: Any, loose: bool = False) -> None:
    """Check every field of a dataclass instance against its annotation.

    ``loose`` lets an integral float stand for an int (lock parameters).
    """
    cls: type = type(obj)
    for name, checker in field_checkers(cls):
        problem = checker(getattr(obj, name), loose)
        if problem:
            raise ValueProblem(f"{name}: {problem}")


@functools.cache
def field_checkers(cls: type) -> tuple[tuple[str, Checker], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, _checker(hints.get(f.name, Any))) for f in dataclasses.fields(cls))


def _ok(value: Any, loose: bool) -> str | None:
    return None


def _bool(value: Any, loose: bool) -> str | None:
    return None if isinstance(value, bool) else f"expected true or false, got {_show(value)}"


def _int(value: Any, loose: bool) -> str | None:
    if type(value) is int:
        return None
    if loose and isinstance(value, float) and value.is_integer():
        return None  # a design's duration scaled by --time-scale
    if isinstance(value, bool) or not isinstance(value, int):
        return f"expected an integer, got {_show(value)}"
    return None


def _float(value: Any, loose: bool) -> str | None:
    if type(value) is float and value - value == 0.0:  # the commonest: a finite float
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected a number, got {_show(value)}"
    if not math.isfinite(value):
        return f"expected a finite number, got {value}"
    return None


def _str(value: Any, loose: bool) -> str | None:
    return None if isinstance(value, str) else f"expected a string, got {_show(value)}"


def _none(value: Any, loose: bool) -> str | None:
    return None if value is None else f"expected null, got {_show(value)}"


@functools.cache
def _checker(hint: Any) -> Checker:
    """One function per type hint, built once: validation runs on every run's scenario."""
    simple = {bool: _bool, int: _int, float: _float, str: _str, type(None): _none}
    if hint is Any or hint is object:
        return _ok
    if hint in simple:
        return simple[hint]
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        label = _name(hint)
        classes = typing.get_args(hint)
        if all(isinstance(c, type) and c not in simple for c in classes):
            def one_of(value: Any, loose: bool) -> str | None:  # one isinstance, not N
                if isinstance(value, classes):
                    return None
                return f"expected {label}, got {_show(value)}"
            return one_of
        options = tuple(_checker(o) for o in classes)

        def union(value: Any, loose: bool) -> str | None:
            if any(o(value, loose) is None for o in options):
                return None
            return f"expected {label}, got {_show(value)}"
        return union
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            each = _checker(args[0])

            def items(value: Any, loose: bool) -> str | None:
                if not isinstance(value, tuple | list):
                    return f"expected a list, got {_show(value)}"
                for i, item in enumerate(value):
                    inner = each(item, loose)
                    if inner:
                        return f"item {i}: {inner}"
                return None
            return items
        fixed = tuple(_checker(a) for a in args)

        def record(value: Any, loose: bool) -> str | None:
            if not isinstance(value, tuple | list):
                return f"expected a list, got {_show(value)}"
            if len(value) != len(fixed):
                return f"expected {len(fixed)} items, got {len(value)}"
            for i, (item, c) in enumerate(zip(value, fixed, strict=True)):
                inner = c(item, loose)
                if inner:
                    return f"item {i}: {inner}"
            return None
        return record
    if isinstance(hint, type):
        def instance(value: Any, loose: bool) -> str | None:
            if isinstance(value, hint):
                return None
            return f"expected {hint.__name__}, got {_show(value)}"
        return instance
    return _ok


def at_least(name: str, value: float, low: float) -> None:
    if value < low:
        raise ValueProblem(f"{name} must be at least {low:g}, not {value:g}")


def at_most(name: str, value: float, high: float) -> None:
    if value > high:
        raise ValueProblem(f"{name} must be at most {high:g}, not {value:g}")


def positive(name: str, value: float | None) -> None:
    """A duration or rate that must be finite and above zero (None: not set)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueProblem(f"{name} must be a positive number, not {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueProblem(f"{name} must be a positive number, not {value}")


def _name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("NoneType", "null")


def _show(value: Any) -> str:
    text = repr(value)
    kind = "null" if value is None else type(value).__name__
    return f"{kind} {text[:40]}" if value is not None else "null"
