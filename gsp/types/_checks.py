"""Argument checks shared by the GSP classes: each error names the owner, the argument and what was expected."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

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
    "buffer_fact",
    "first_bad_amount",
    "check_amounts",
    "check_finite",
    "check_font_px",
    "MAX_FONT_PX",
]

_T = TypeVar("_T")


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


# ---- what a renderer can draw: rules on values, used by render's validation and by the backends ----
def buffer_fact(buffer: Buffer, name: str, compute: Callable[[np.ndarray], _T]) -> _T:
    """``compute(buffer.read_view())``, kept on the buffer under ``name`` until its contents may
    have changed: the next call returns it again while :attr:`Buffer.version` is the same and
    the storage was never exposed (the facts the recorder relies on to skip unchanged buffers).

    So an unchanged buffer is checked once, not at every render and again by the backend."""
    if buffer._exposed:  # written through a view without a version: nothing can be kept
        return compute(buffer.read_view())
    version = buffer._version  # read before computing: a write meanwhile makes the fact stale
    facts = buffer._facts
    if facts is not None:
        known = facts.get(name)
        if known is not None and known[0] == version:
            return known[1]  # type: ignore[no-any-return]
    result = compute(buffer.read_view())
    if facts is None:
        facts = buffer._facts = {}
    facts[name] = (version, result)
    return result


#: float32 bit patterns below this one (as uint32) are exactly the finite values >= +0.0.
_FLOAT32_INF_BITS = 0x7F800000


def first_bad_amount(values: np.ndarray) -> float | None:
    """The first value that is not a finite amount >= 0 (a size, width or font size), or None.

    One pass for float32 (the bit patterns of +0.0 .. the largest finite float are the uint32
    values below that of +inf; NaN, infinities and negative numbers are all above); the exact
    test only when it finds one (-0.0 is an amount too)."""
    if not values.size:
        return None
    if values.dtype == np.float32 and int(values.view(np.uint32).max()) < _FLOAT32_INF_BITS:
        return None
    with np.errstate(invalid="ignore"):
        bad = ~((values >= 0) & (values < np.inf))
    return float(values[bad].flat[0]) if bad.any() else None


def _fact(where: str, values: np.ndarray | Buffer | TransformChain, name: str,
          compute: Callable[[np.ndarray], _T]) -> _T:
    if isinstance(values, TransformChain):
        try:
            values = values.run()
        except (ValueError, TypeError) as exc:  # as resolve() says it
            raise type(exc)(f"{where}: {exc}") from None
    return buffer_fact(values, name, compute) if isinstance(values, Buffer) else compute(values)


def check_amounts(where: str, values: np.ndarray | Buffer | TransformChain) -> None:
    """Each value is a finite amount >= 0 (sizes, widths, font sizes); else
    ``ValueError("{where}: nan is not a size (...)")``. Given a Buffer, its contents, and the
    result is kept on it (:func:`buffer_fact`); given a chain, its result."""
    bad = _fact(where, values, "first_bad_amount", first_bad_amount)
    if bad is not None:
        raise ValueError(f"{where}: {bad} is not a size (sizes and widths are finite and >= 0)")


def _first_not_finite(values: np.ndarray) -> float | None:
    if not values.size:
        return None
    with np.errstate(invalid="ignore"):
        if np.isfinite(values.min()) and np.isfinite(values.max()):  # a NaN or infinity shows in one
            return None
    return float(values[~np.isfinite(values)].flat[0])


def check_finite(where: str, values: np.ndarray | Buffer | TransformChain, what: str) -> None:
    """Each value is finite (text angles); else ``ValueError("{where}: nan is not a finite
    {what}")``. A Buffer or chain as in :func:`check_amounts`."""
    bad = _fact(where, values, "first_not_finite", _first_not_finite)
    if bad is not None:
        raise ValueError(f"{where}: {bad} is not a finite {what}")


#: The largest font size drawn, in pixels: a glyph larger than the largest canvas shows nothing
#: useful, FreeType fails from about 55 000 px, and Agg takes seconds per glyph long before.
MAX_FONT_PX = 16384.0


def check_font_px(where: str, sizes_pt: np.ndarray, dpi: float) -> None:
    """Refuse font sizes (pt, already amounts) over :data:`MAX_FONT_PX` pixels at ``dpi``,
    computed as the backends convert them (float32 ``pt × dpi / 72``)."""
    if not sizes_pt.size:
        return
    largest = np.float32(sizes_pt.max())
    px = largest * np.float32(dpi / 72.0)
    if px > MAX_FONT_PX:
        raise ValueError(f"{where}: {float(largest):g} pt is {float(px):.0f} px at {dpi:g} dpi, "
                         f"over the largest font drawn ({MAX_FONT_PX:.0f} px)")
