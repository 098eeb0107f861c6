"""Turning GSP values (Buffer, TransformChain, Color, enums) into plain numpy arrays.

Part of the shared render preparation (:mod:`player.backends.prepare`). Every function names
the visual and the argument in its errors, e.g. ``"Points.sizes: expected a float32 buffer"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gsp.types._checks import check_amounts, check_finite
from gsp.types.buffer import Buffer

# BufferType name -> (numpy dtype, shape of one item). Scalars are 1-D arrays (N,).
_LAYOUT: dict[str, tuple[type[np.generic], tuple[int, ...]]] = {
    "float32": (np.float32, ()),
    "uint32": (np.uint32, ()),
    "uint8": (np.uint8, ()),
    "int32": (np.int32, ()),
    "int8": (np.int8, ()),
    "vec1": (np.float32, ()),
    "vec2": (np.float32, (2,)),
    "vec3": (np.float32, (3,)),
    "vec4": (np.float32, (4,)),
    "uvec4": (np.uint32, (4,)),
    "mat4": (np.float32, (4, 4)),
    "rgba8": (np.uint8, (4,)),
}


def resolve_transbuf(value: Any, what: str) -> Any:
    """Return the Buffer behind a TransBuf: a Buffer as is, a TransformChain through ``run()``."""
    if value is None:
        raise ValueError(f"{what}: no buffer given")
    if hasattr(value, "to_bytearray") and hasattr(value, "get_type"):
        return value
    run = getattr(value, "run", None)
    if callable(run):
        try:
            buffer = run()
        except (TypeError, ValueError) as error:  # the chain's own words, and which slot it fills
            kind = ValueError if isinstance(error, ValueError) else TypeError
            raise kind(f"{what}: {error}") from error
        if not (hasattr(buffer, "to_bytearray") and hasattr(buffer, "get_type")):
            raise TypeError(f"{what}: the transform chain produced {type(buffer).__name__}, not a Buffer")
        return buffer
    raise TypeError(f"{what}: expected a Buffer or a TransformChain, got {type(value).__name__}")


def drawing_error(renderer: Any, index: int, error: TypeError | ValueError) -> TypeError | ValueError:
    """``error``, raised while a backend drew ``visuals[index]``, as a new error of its kind
    that starts as ``render``'s own checks do: ``"MatplotlibRenderer.render: visuals[2]: "``.
    Raise it ``from error``."""
    kind = ValueError if isinstance(error, ValueError) else TypeError
    return kind(f"{type(renderer).__name__}.render: visuals[{index}]: {error}")


def buffer_type_name(buffer: Any) -> str:
    """The BufferType name of a Buffer (``"vec3"``, ``"rgba8"``...)."""
    kind = buffer.get_type()
    return str(getattr(kind, "name", kind))


def transbuf_array(value: Any, what: str, expected: Sequence[str] | None = None) -> np.ndarray:
    """A TransBuf as a read-only numpy array: (N,) for scalar types, (N, k) for vectors,
    (N, 4, 4) for mat4, (N, 4) uint8 for rgba8. ``expected`` lists the accepted BufferType names.
    """
    buffer = resolve_transbuf(value, what)
    name = buffer_type_name(buffer)
    if expected is not None and name not in expected:
        raise TypeError(f"{what}: expected a {' or '.join(expected)} buffer, got {name}")
    if name not in _LAYOUT:
        raise TypeError(f"{what}: unknown buffer type {name!r}")
    dtype, shape = _LAYOUT[name]
    count = int(buffer.get_count())
    raw = buffer.read_view().reshape(-1).view(np.uint8)  # read-only, and leaves the storage unexposed
    itemsize = int(np.dtype(dtype).itemsize * int(np.prod(shape, dtype=np.int64)))
    if len(raw) != count * itemsize:
        raise ValueError(f"{what}: buffer holds {len(raw)} bytes, expected {count} × {itemsize}")
    return raw.view(dtype).reshape((count, *shape))


def mat4(value: Any, what: str) -> np.ndarray:
    """A mat4 TransBuf (count 1) as a (4, 4) float64 matrix acting on column vectors."""
    if isinstance(value, np.ndarray):
        array = value
    else:
        array = transbuf_array(value, what, ("mat4",))
    return np.asarray(array, dtype=np.float64).reshape(4, 4)


def amounts(value: Any, what: str) -> np.ndarray:
    """A float32 TransBuf as a 1-D array, once every value is a finite amount >= 0 (sizes,
    widths, font sizes): ValueError naming it otherwise, so that both backends refuse what they
    would each draw their own way (Matplotlib nothing and a warning, Datoviz something).

    The rule is gsp's (:func:`gsp.types._checks.check_amounts`), the one ``render`` checks
    first; a buffer found right there (unchanged since) is not scanned again."""
    buffer = resolve_transbuf(value, what)
    array = transbuf_array(buffer, what, ("float32", "vec1")).reshape(-1)
    check_amounts(what, buffer if isinstance(buffer, Buffer) else array)
    return array


def angles(value: Any, what: str) -> np.ndarray:
    """A float32 TransBuf of angles as a 1-D array, once every value is finite (gsp's rule,
    :func:`gsp.types._checks.check_finite`: text drawing fails on NaN or infinite angles)."""
    buffer = resolve_transbuf(value, what)
    array = transbuf_array(buffer, what, ("float32", "vec1")).reshape(-1)
    check_finite(what, buffer if isinstance(buffer, Buffer) else array, "angle")
    return array


def broadcast(array: np.ndarray, count: int) -> np.ndarray:
    """An attribute of 1 or ``count`` items (``render`` checked which) as ``count`` items: a
    count-1 one broadcast (a zero-copy view, stride 0).

    Backends may test ``is_uniform(array)`` to send one value instead of ``count``.
    """
    if array.shape[0] == 1 and count != 1:
        return np.broadcast_to(array, (count, *array.shape[1:]))
    return array


def is_uniform(array: np.ndarray) -> bool:
    """True when every item is the same view of one value (a broadcast count-1 attribute)."""
    return array.ndim >= 1 and (array.shape[0] <= 1 or array.strides[0] == 0)


def rgba_float(colors: np.ndarray) -> np.ndarray:
    """rgba8 (N, 4) uint8 -> float32 RGBA 0..1, keeping a broadcast (stride-0) view cheap."""
    if is_uniform(colors) and colors.shape[0] > 1:
        one = colors[:1].astype(np.float32) / np.float32(255.0)
        return np.broadcast_to(one, (colors.shape[0], 4))
    return colors.astype(np.float32) / np.float32(255.0)


def color_float(color: Any, what: str) -> np.ndarray:
    """A Color (bytearray of 4 bytes RGBA 0..255) as a float32 (4,) RGBA 0..1."""
    if isinstance(color, (bytes, bytearray, memoryview)):
        data = bytes(color)
        if len(data) != 4:
            raise ValueError(f"{what}: a Color has 4 bytes (RGBA), got {len(data)}")
        return np.frombuffer(data, dtype=np.uint8).astype(np.float32) / np.float32(255.0)
    if hasattr(color, "get_type") or hasattr(color, "run"):
        return rgba_float(transbuf_array(color, what, ("rgba8",)))[0]
    if isinstance(color, (list, tuple, np.ndarray)) and len(color) == 4:
        values = np.asarray(color, dtype=np.float32)
        return values / np.float32(255.0) if values.max(initial=0.0) > 1.0 else values
    raise TypeError(f"{what}: expected a Color (bytearray of 4 bytes), got {type(color).__name__}")


def colors_any(value: Any, what: str) -> np.ndarray:
    """A Color or an rgba8 TransBuf as float32 (N, 4) RGBA 0..1 (N = 1 for a single Color)."""
    if isinstance(value, (bytes, bytearray, memoryview, list, tuple)):
        return color_float(value, what)[None, :]
    return rgba_float(transbuf_array(value, what, ("rgba8",)))


def vec3_any(value: Any, what: str) -> np.ndarray:
    """A position given as a vec3 TransBuf (first item) or a 3-sequence, as float64 (3,)."""
    if hasattr(value, "get_type") or hasattr(value, "run"):
        return np.asarray(transbuf_array(value, what, ("vec3",))[0], dtype=np.float64)
    return np.asarray(value, dtype=np.float64).reshape(3)


def enum_name(value: Any, what: str) -> str:
    """The lower-case name of a GSP enum member (``CapStyle.ROUND`` -> ``"round"``)."""
    name = getattr(value, "name", None)
    if name is None:
        if isinstance(value, str):
            return value.lower()
        raise TypeError(f"{what}: expected an enum member, got {type(value).__name__}")
    return str(name).lower()


def getter(obj: Any, *names: str) -> Any:
    """Call the first ``get_<name>`` method that exists on ``obj`` (API spelling variants)."""
    for name in names:
        method = getattr(obj, f"get_{name}", None)
        if callable(method):
            return method()
    raise AttributeError(f"{type(obj).__name__} has none of get_{', get_'.join(names)}")
