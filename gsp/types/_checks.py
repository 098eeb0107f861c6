"""Argument checks shared by the GSP classes: each error names the owner, the argument and what was expected."""

from __future__ import annotations

from enum import Enum
from typing import Any

import numpy as np

from gsp.transforms.transform_chain import TransformChain
from gsp.types.buffer import Buffer
from gsp.types.buffer_type import BufferType

__all__ = [
    "check_transbuf",
    "check_count",
    "check_enum",
    "check_int",
    "check_number",
    "check_bool",
    "resolve",
]


def _type_names(types: tuple[BufferType, ...]) -> str:
    return " or ".join(t.name for t in types)


def resolve(owner: str, name: str, value: Buffer | TransformChain) -> Buffer:
    """The Buffer behind a TransBuf (a chain is run, its errors prefixed with owner and argument)."""
    if isinstance(value, Buffer):
        return value
    try:
        return value.run()
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{owner}: {name}: {exc}") from None


def check_transbuf(
    owner: str,
    name: str,
    value: Any,
    types: tuple[BufferType, ...],
    *,
    resolve_chain: bool = False,
    allow_none: bool = False,
) -> int | None:
    """Check that ``value`` is a Buffer/TransformChain of one of ``types``; return its item count.

    A chain whose type or count is not declared yet is accepted and returns None, unless
    ``resolve_chain`` is set: then the chain runs and its real result is checked.
    """
    if value is None and allow_none:
        return None
    if not isinstance(value, (Buffer, TransformChain)):
        raise TypeError(
            f"{owner}: {name} must be a Buffer or TransformChain of {_type_names(types)}, got {type(value).__name__}"
        )
    if isinstance(value, TransformChain) and resolve_chain:
        value = resolve(owner, name, value)
    kind: BufferType | None
    count: int | None
    if isinstance(value, Buffer):
        kind, count = value.get_type(), value.get_count()
    else:
        kind = value.get_buffer_type()
        count = value.get_buffer_count() if value.get_buffer_count() >= 0 else None
    if kind is not None and kind not in types:
        raise TypeError(f"{owner}: {name} must be of type {_type_names(types)}, got {kind.name}")
    return count


def check_count(owner: str, name: str, count: int | None, expected: int | None, what: str, *, one_ok: bool) -> None:
    """Check a per-item count: ``expected`` items (one per ``what``), or 1 (broadcast) when ``one_ok``."""
    if count is None or expected is None or count == expected or (one_ok and count == 1):
        return
    wanted = f"1 or {expected}" if one_ok and expected != 1 else f"{expected}"
    raise ValueError(f"{owner}: {name} has {count} items, expected {wanted} (one per {what})")


def check_enum(owner: str, name: str, value: Any, enum_cls: type[Enum]) -> Any:
    """Check that ``value`` is a member of ``enum_cls``."""
    if not isinstance(value, enum_cls):
        names = ", ".join(m.name for m in enum_cls)
        raise TypeError(f"{owner}: {name} must be a {enum_cls.__name__} ({names}), got {value!r}")
    return value


def check_int(owner: str, name: str, value: Any, *, minimum: int | None = None) -> int:
    """Check an int (bools refused) with an optional lower bound."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: {name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value}")
    return int(value)


def check_number(owner: str, name: str, value: Any, *, positive: bool = False, minimum: float | None = None) -> float:
    """Check a finite real number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{owner}: {name} must be a number, got {type(value).__name__} {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{owner}: {name} must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{owner}: {name} must be > 0, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value}")
    return float(value)


def check_bool(owner: str, name: str, value: Any) -> bool:
    """Check a bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)
