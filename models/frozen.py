"""Frozen dataclasses that are cheap to build, for values made by the hundred thousand."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import Any, TypeVar

_T = TypeVar("_T")


def quick_init(cls: type[_T]) -> type[_T]:
    """Give a frozen, slotted dataclass an ``__init__`` that fills its slots
    through their descriptors: the generated one goes through
    ``object.__setattr__`` per field, and a run builds hundreds of thousands
    of ``Record``s, ``Call``s and history ops. Same signature and defaults;
    the instance stays frozen (assignment still raises)."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    space: dict[str, Any] = {f"_set_{n}": getattr(cls, n).__set__ for n in names}
    params = []
    for f in fields(cls):  # type: ignore[arg-type]
        if f.default is MISSING:
            params.append(f.name)
        else:
            space[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
    body = "".join(f"    _set_{n}(self, {n})\n" for n in names)
    exec(f"def __init__(self, {', '.join(params)}):\n{body}", space)
    init = space["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


def quick_new(cls: type[_T]) -> Callable[..., _T]:
    """A positional constructor for a frozen, slotted dataclass, filling its slots
    through their descriptors, without touching the class (whose ``__init__``
    its own module owns): for values a run builds by the hundred thousand."""
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__qualname__} has a __post_init__ that quick_new would skip")
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    space: dict[str, Any] = {f"_set_{n}": getattr(cls, n).__set__ for n in names}
    space["_new"] = object.__new__
    space["_cls"] = cls
    params = []
    for f in fields(cls):  # type: ignore[arg-type]
        if f.default is MISSING:
            params.append(f.name)
        else:
            space[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
    body = "".join(f"    _set_{n}(self, {n})\n" for n in names)
    exec(f"def new({', '.join(params)}):\n    self = _new(_cls)\n{body}    return self\n",
         space)
    new: Callable[..., _T] = space["new"]
    new.__qualname__ = f"quick_new({cls.__qualname__})"
    return new
