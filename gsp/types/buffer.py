"""Buffer: a typed, fixed-count array of bytes, the data carrier of every visual."""

from __future__ import annotations

from typing import Any

import numpy as np

from gsp.capture import Captured, new_uuid
from gsp.types.buffer_type import BufferType

__all__ = ["Buffer", "BytesLike"]

BytesLike = bytes | bytearray | memoryview | np.ndarray


def _check_type(owner: str, buffer_type: Any) -> BufferType:
    if not isinstance(buffer_type, BufferType):
        raise TypeError(f"{owner}: buffer_type must be a BufferType, got {type(buffer_type).__name__} {buffer_type!r}")
    return buffer_type


def _check_count(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: {name} must be an int, got {type(value).__name__} {value!r}")
    if value < 0:
        raise ValueError(f"{owner}: {name} must be >= 0, got {value}")
    return int(value)


def array_for_type(owner: str, array: Any, buffer_type: BufferType) -> np.ndarray:
    """``array`` as a C-contiguous array of the components of ``buffer_type``, shape (N, *item).

    Accepts the item shape exactly, a 1-D array of scalars as ``(N, 1)``, and a single item
    without the leading axis (``(3,)`` for one vec3, ``(4, 4)`` for one mat4). Float data for an
    integer type is refused (a common mistake: colors given as floats 0..1 for rgba8).
    """
    arr = np.asarray(array)
    dtype = BufferType.numpy_dtype(buffer_type)
    item = BufferType.item_shape(buffer_type)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{owner}: expected a numeric array for {buffer_type.name}, got dtype {arr.dtype}")
    if dtype.kind in "iu" and arr.dtype.kind == "f":
        raise TypeError(
            f"{owner}: got float data (dtype {arr.dtype}) for integer type {buffer_type.name}; "
            f"convert it explicitly (rgba8 colors are 0..255 uint8)"
        )
    if item == ():
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        elif arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.ndim != 1:
            raise ValueError(f"{owner}: expected shape (N,) or (N, 1) for {buffer_type.name}, got {arr.shape}")
    else:
        if arr.shape == item:
            arr = arr.reshape((1, *item))
        if arr.ndim != 1 + len(item) or arr.shape[1:] != item:
            shape = ", ".join(str(n) for n in item)
            raise ValueError(f"{owner}: expected shape (N, {shape}) for {buffer_type.name}, got {arr.shape}")
    return np.ascontiguousarray(arr, dtype=dtype)


class Buffer(Captured):
    """A typed, fixed-count array of items stored as bytes (a ``bytearray``).

    ``Buffer(count, buffer_type)`` starts zero-filled. Bytes are little-endian. Use
    :meth:`set_data` to write items, :meth:`get_data` to copy items out, and
    :meth:`to_numpy` / :meth:`from_numpy` for numpy views and conversions.
    """

    def __init__(self, count: int, buffer_type: BufferType) -> None:
        self._uuid = new_uuid()
        self._type = _check_type("Buffer", buffer_type)
        self._count = _check_count("Buffer", "count", count)
        self._item_size = BufferType.get_item_size(self._type)
        self._data = bytearray(self._count * self._item_size)

    def __repr__(self) -> str:
        return f"Buffer(count={self._count}, type={self._type.name}, uuid={self.get_uuid()})"

    # ---- GSP 0.1 API ---------------------------------------------------------------------
    def get_count(self) -> int:
        """Number of items."""
        return self._count

    def get_type(self) -> BufferType:
        """Element type."""
        return self._type

    def get_data(self, offset: int, count: int) -> Buffer:
        """A new Buffer holding a copy of items ``offset .. offset+count``."""
        offset, count = self._check_range("Buffer.get_data", offset, count)
        size = BufferType.get_item_size(self._type)
        out = Buffer.__new__(Buffer)
        out._uuid = new_uuid()
        out._type, out._count, out._item_size = self._type, count, size
        out._data = self._data[offset * size : (offset + count) * size]
        return out

    def set_data(self, data: BytesLike, offset: int, count: int) -> None:
        """Write ``count`` items at item ``offset`` from ``data``.

        ``data`` is bytes, bytearray, memoryview or a flat uint8 numpy array holding exactly
        ``count`` items' bytes, or a numpy array of ``count`` items in numpy form (converted to
        this buffer's dtype; float data for an integer type is refused).
        """
        size = self._item_size
        # Fast path for small writes (plain ints in range, raw bytes of the right length): the
        # same checks as below, without the generic conversions. Big blocks go to numpy below.
        if (
            type(offset) is int
            and type(count) is int
            and 0 <= offset
            and 0 <= count
            and offset + count <= self._count
            and type(data) in (bytes, bytearray)
            and len(data) == count * size
            and len(data) < 65536
        ):
            self._data[offset * size : (offset + count) * size] = data
            return
        owner = "Buffer.set_data"
        offset, count = self._check_range(owner, offset, count)
        if isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 1:
            # A flat uint8 array is raw bytes (as a decoded bytes payload may arrive).
            view = memoryview(np.ascontiguousarray(data))  # type: ignore[arg-type]
        elif isinstance(data, np.ndarray):
            arr = array_for_type(owner, data, self._type)
            if arr.shape[0] != count:
                raise ValueError(f"{owner}: data has {arr.shape[0]} items, expected count={count}")
            view = memoryview(arr.reshape(-1).view(np.uint8))  # type: ignore[arg-type]
        elif isinstance(data, (bytes, bytearray, memoryview)):
            view = memoryview(data)
            if view.format != "B" or view.ndim != 1:
                view = view.cast("B") if view.nbytes else memoryview(b"")
        else:
            raise TypeError(
                f"{owner}: data must be bytes, bytearray, memoryview or a numpy array, got {type(data).__name__}"
            )
        if view.nbytes != count * size:
            raise ValueError(
                f"{owner}: data has {view.nbytes} bytes, expected {count * size} "
                f"({count} items of {self._type.name}, {size} bytes each)"
            )
        start = offset * size
        if view.nbytes >= 65536:  # numpy copies big blocks about twice as fast as bytearray slicing
            np.frombuffer(self._data, np.uint8)[start : start + view.nbytes] = np.frombuffer(view, np.uint8)
        else:
            self._data[start : start + view.nbytes] = view

    def to_bytearray(self) -> bytearray:
        """The buffer's own storage (not a copy): writing into it changes the buffer."""
        return self._data

    @staticmethod
    def from_bytearray(data: bytes | bytearray | memoryview, buffer_type: BufferType) -> Buffer:
        """A new Buffer whose items are a copy of ``data`` (its length must be a whole number of items)."""
        _check_type("Buffer.from_bytearray", buffer_type)
        size = BufferType.get_item_size(buffer_type)
        raw = bytearray(data)
        if len(raw) % size:
            raise ValueError(
                f"Buffer.from_bytearray: {len(raw)} bytes is not a whole number of {buffer_type.name} "
                f"items ({size} bytes each)"
            )
        out = Buffer(len(raw) // size, buffer_type)
        out.set_data(raw, 0, len(raw) // size)
        return out

    # ---- numpy ---------------------------------------------------------------------------
    def to_numpy(self, copy: bool = False) -> np.ndarray:
        """The items in numpy form (see :class:`BufferType`).

        By default a writable view sharing the buffer's memory (zero copy): writing into it
        changes the buffer. ``copy=True`` returns an independent array.
        """
        dtype = BufferType.numpy_dtype(self._type)
        arr = np.frombuffer(self._data, dtype=dtype).reshape(BufferType.numpy_shape(self._type, self._count))
        return arr.copy() if copy else arr

    @staticmethod
    def from_numpy(array: Any, buffer_type: BufferType) -> Buffer:
        """A new Buffer holding a copy of ``array`` converted to ``buffer_type``."""
        _check_type("Buffer.from_numpy", buffer_type)
        arr = array_for_type("Buffer.from_numpy", array, buffer_type)
        out = Buffer(arr.shape[0], buffer_type)
        # Through set_data, so that a recorder sees the contents as one command.
        out.set_data(memoryview(arr.reshape(-1).view(np.uint8)), 0, arr.shape[0])  # type: ignore[arg-type]
        return out

    # ---- capture -------------------------------------------------------------------------
    def _snapshot_(self) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
        return [
            ("__init__", (self._count, self._type), {}),
            ("set_data", (bytearray(self._data), 0, self._count), {}),
        ]

    def _check_range(self, owner: str, offset: Any, count: Any) -> tuple[int, int]:
        offset = _check_count(owner, "offset", offset)
        count = _check_count(owner, "count", count)
        if offset + count > self._count:
            raise ValueError(
                f"{owner}: offset {offset} + count {count} is past the end of the buffer ({self._count} items)"
            )
        return offset, count
