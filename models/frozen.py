"""Frozen dataclasses that are cheap to build, for values made by the hundred thousand."""

from __future__ import annotations

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
