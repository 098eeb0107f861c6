"""Buffer: a typed, fixed-count array of bytes, the data carrier of every visual."""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np

from gsp.capture import Captured, new_uuid
from gsp.types.buffer_type import BufferType
from gsp.types.storage import HUGE_PAGES_MIN_BYTES, copy_into_new_storage, new_storage

__all__ = ["Buffer", "BytesLike", "ContentsLoan"]

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
    if dtype.kind in "iu" and arr.dtype.kind in "iu" and arr.dtype != dtype and arr.size:
        # numpy would wrap them round (300 -> 44 for rgba8, -1 -> 4294967295 for uint32)
        limits = np.iinfo(dtype)
        low, high = int(arr.min()), int(arr.max())
        if low < limits.min or high > limits.max:
            bad = low if low < limits.min else high
            raise ValueError(f"{owner}: value {bad} does not fit {buffer_type.name} "
                             f"({limits.min}..{limits.max})")
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


#: Guards the loan bookkeeping of every Buffer (held only for a few attribute moves).
_loan_lock = threading.Lock()
#: From this size on, a copy on write into new storage is made outside the lock and the GIL.
_BIG_COPY_BYTES = 1 << 20


#: Returned storages a buffer keeps for later copies on write, until :meth:`Buffer.drop_spares`
#: (fresh memory costs page faults). With at most N loans out, a buffer never holds more than N + 1
#: storages as long as N <= MAX_SPARES: it allocates only when every other storage is lent.
MAX_SPARES = 4


class ContentsLoan:
    """A read-only view of a Buffer's contents that no later write changes, until released.

    Made by :meth:`Buffer.lend`. While a loan is out, the buffer writes its next change into
    other storage (copy on write), so another thread (the recorder's writer) can encode
    :attr:`array` without copying it and without racing the script. :meth:`release` hands the
    storage back; the buffer then reuses it for a later write instead of allocating.
    """

    __slots__ = ("array", "_buffer", "_storage")

    def __init__(self, buffer: Buffer, storage: bytearray, array: np.ndarray) -> None:
        self.array = array  #: the contents in numpy form (read-only)
        # Weak: a loan may be held long (the recorder's ledger keeps a buffer's latest lent write
        # until a keyframe needs it); a strong reference kept every buffer the script dropped
        # alive, so its release was never logged. The storage itself stays with the loan.
        self._buffer: weakref.ref[Buffer] | None = weakref.ref(buffer)
        self._storage: bytearray | None = storage

    def release(self) -> None:
        """Give the storage back (idempotent, any thread). Do not use :attr:`array` afterwards."""
        with _loan_lock:
            ref, storage = self._buffer, self._storage
            self._buffer = self._storage = None
            buffer = ref() if ref is not None else None
            if buffer is not None and storage is not None:
                buffer._return_storage(storage)


class Buffer(Captured):
    """A typed, fixed-count array of items stored as bytes (a ``bytearray``).

    ``Buffer(count, buffer_type)`` starts zero-filled. Bytes are little-endian. Use
    :meth:`set_data` to write items, :meth:`get_data` to copy items out, and
    :meth:`to_numpy` / :meth:`from_numpy` for numpy views and conversions.

    Two facts let a recorder skip work: :attr:`version` counts writes through :meth:`set_data`,
    and :attr:`storage_exposed` tells whether a writable view of the storage was ever handed out
    (:meth:`to_numpy`, :meth:`to_bytearray`); until then the contents change only through
    ``set_data``. :meth:`read_view` gives readers a view that does not expose the storage.
    (The recorder's C hot path reads the fields behind them, ``_version``, ``_exposed`` and
    ``_count``, directly: a property is a Python call on every recorded small write.)
    """

    # Class-level defaults: buffers made through __new__ (get_data) start the same way.
    _version = 0
    _exposed = False
    _loans: dict[int, list[Any]] | None = None  # id(storage) -> [storage, loans out], while lent
    _loans_out = 0  # sum of the counts in _loans (read without the lock by lenders)
    _spares: list[bytearray] | None = None  # returned storages, reused by the next copies on write
    _facts: dict[str, tuple[int, Any]] | None = None  # name -> (version, value): see gsp.types._checks.buffer_fact

    def __init__(self, count: int, buffer_type: BufferType) -> None:
        self._uuid = new_uuid()
        self._type = _check_type("Buffer", buffer_type)
        self._count = _check_count("Buffer", "count", count)
        self._item_size = BufferType.get_item_size(self._type)
        nbytes = self._count * self._item_size
        if nbytes >= HUGE_PAGES_MIN_BYTES:
            self._data, view = new_storage(nbytes)
            view.fill(0)
        else:
            self._data = bytearray(nbytes)

    def __repr__(self) -> str:
        return f"Buffer(count={self._count}, type={self._type.name}, uuid={self.get_uuid()})"

    def __copy__(self) -> Buffer:
        """A new Buffer, under a UUID of its own, holding a copy of the contents: two buffers
        never share storage (a write to one would change the other behind the log's back)."""
        new = object.__new__(type(self))
        new.__dict__.update({name: value for name, value in self.__dict__.items() if not name.startswith("_")})
        new._uuid = new_uuid()
        new._type, new._count, new._item_size = self._type, self._count, self._item_size
        new._data = copy_into_new_storage(self._data) if len(self._data) >= HUGE_PAGES_MIN_BYTES \
            else bytearray(self._data)
        return new

    def __deepcopy__(self, memo: dict[int, Any]) -> Buffer:
        new = self.__copy__()
        memo[id(self)] = new
        return new

    # ---- GSP 0.1 API ---------------------------------------------------------------------
    def get_count(self) -> int:
        """Number of items."""
        return self._count

    def get_type(self) -> BufferType:
        """Element type."""
        return self._type

    @property
    def nbytes(self) -> int:
        """Size of the contents in bytes (``count`` times the item size)."""
        return self._count * self._item_size

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

        ``data`` is bytes, bytearray, memoryview or a flat uint8 numpy array holding at least
        ``count`` items' bytes, or a numpy array of at least ``count`` items in numpy form
        (converted to this buffer's dtype; float data for an integer type is refused). As in
        GSP 0.1, the first ``count`` items of ``data`` are written and the rest is ignored.
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
            if self._loans is None or not self._swap_lent_storage(data, count == self._count):
                self._data[offset * size : (offset + count) * size] = data
            self._version += 1
            return
        owner = "Buffer.set_data"
        offset, count = self._check_range(owner, offset, count)
        if isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 1:
            # A flat uint8 array is raw bytes (as a decoded bytes payload may arrive).
            view = memoryview(np.ascontiguousarray(data))  # type: ignore[arg-type]
        elif isinstance(data, np.ndarray):
            arr = array_for_type(owner, data, self._type)
            if arr.shape[0] < count:
                raise ValueError(f"{owner}: data has {arr.shape[0]} items, expected at least count={count}")
            arr = arr[:count]
            view = memoryview(arr.reshape(-1).view(np.uint8))  # type: ignore[arg-type]
        elif isinstance(data, (bytes, bytearray, memoryview)):
            view = memoryview(data)
            if view.format != "B" or view.ndim != 1:
                view = view.cast("B") if view.nbytes else memoryview(b"")
        else:
            raise TypeError(
                f"{owner}: data must be bytes, bytearray, memoryview or a numpy array, got {type(data).__name__}"
            )
        if view.nbytes < count * size:
            raise ValueError(
                f"{owner}: data has {view.nbytes} bytes, expected at least {count * size} "
                f"({count} items of {self._type.name}, {size} bytes each)"
            )
        view = view[: count * size]  # GSP 0.1 writes the first `count` items of longer data
        start = offset * size
        if self._loans is None or not self._swap_lent_storage(view, count == self._count):
            if view.nbytes >= 65536:  # numpy copies big blocks about twice as fast as bytearray slicing
                np.frombuffer(self._data, np.uint8)[start : start + view.nbytes] = np.frombuffer(view, np.uint8)
            else:
                self._data[start : start + view.nbytes] = view
        self._version += 1

    def to_bytearray(self) -> bytearray:
        """The buffer's own storage (not a copy): writing into it changes the buffer."""
        return self._expose()

    @staticmethod
    def from_bytearray(data: bytes | bytearray | memoryview, buffer_type: BufferType) -> Buffer:
        """A new Buffer whose items are a copy of ``data`` (its length must be a whole number of items)."""
        _check_type("Buffer.from_bytearray", buffer_type)
        size = BufferType.get_item_size(buffer_type)
        try:
            raw = memoryview(data)
        except TypeError:  # not bytes-like (a list of ints...): whatever bytearray() makes of it
            raw = memoryview(bytearray(data))
        if not raw.c_contiguous:  # a strided view: its bytes in order, as bytearray(data) gave them
            raw = memoryview(raw.tobytes())
        if raw.nbytes % size:
            raise ValueError(
                f"Buffer.from_bytearray: {raw.nbytes} bytes is not a whole number of {buffer_type.name} "
                f"items ({size} bytes each)"
            )
        out = Buffer(raw.nbytes // size, buffer_type)
        out.set_data(raw, 0, raw.nbytes // size)  # the one copy (set_data reads any memoryview as bytes)
        return out

    # ---- numpy ---------------------------------------------------------------------------
    def to_numpy(self, copy: bool = False) -> np.ndarray:
        """The items in numpy form (see :class:`BufferType`).

        By default a writable view sharing the buffer's memory (zero copy): writing into it
        changes the buffer. ``copy=True`` returns an independent array.
        """
        if copy:
            return self.read_view().copy()
        dtype = BufferType.numpy_dtype(self._type)
        return np.frombuffer(self._expose(), dtype=dtype).reshape(BufferType.numpy_shape(self._type, self._count))

    # ---- reading without exposing, lending, versions ---------------------------------------
    def read_view(self) -> np.ndarray:
        """The items in numpy form as a read-only view of the storage (zero copy).

        For readers (renderers, validation): unlike :meth:`to_numpy` it does not expose the
        storage. The view shows the current contents; keep it no longer than the current call.
        """
        dtype = BufferType.numpy_dtype(self._type)
        view = memoryview(self._data).toreadonly()
        return np.frombuffer(view, dtype=dtype).reshape(BufferType.numpy_shape(self._type, self._count))

    @property
    def version(self) -> int:
        """Number of writes made through :meth:`set_data` (writes through exposed views do not count)."""
        return self._version

    @property
    def storage_exposed(self) -> bool:
        """Whether a writable view of the storage was handed out (to_numpy/to_bytearray): from
        then on the contents may change without a :meth:`set_data` call."""
        return self._exposed

    @property
    def loans_out(self) -> int:
        """Number of :class:`ContentsLoan` of this buffer not released yet."""
        return self._loans_out

    def lend(self) -> ContentsLoan | None:
        """A :class:`ContentsLoan` of the current contents (zero copy), or None once the storage
        is exposed (writes through exposed views cannot be redirected, so nothing is guaranteed)."""
        if self._exposed:
            return None
        with _loan_lock:
            storage = self._data
            loans = self._loans
            if loans is None:
                loans = self._loans = {}
            entry = loans.get(id(storage))
            if entry is None:
                loans[id(storage)] = [storage, 1]
            else:
                entry[1] += 1
            self._loans_out += 1
        dtype = BufferType.numpy_dtype(self._type)
        view = memoryview(storage).toreadonly()
        array = np.frombuffer(view, dtype=dtype).reshape(BufferType.numpy_shape(self._type, self._count))
        return ContentsLoan(self, storage, array)

    def _swap_lent_storage(self, data: Any, whole: bool) -> bool:
        """Copy on write: if the current storage is lent, move to other storage before a write.

        ``whole``: ``data`` is about to replace every byte. Returns True when the new storage
        was made from ``data`` (the write is done); False when the caller still has to write
        into ``self._data`` (not lent, or moved to a spare holding the old contents).
        """
        with _loan_lock:
            storage = self._data
            loans = self._loans
            if loans is None or id(storage) not in loans:
                return False
            spares = self._spares
            fresh = spares.pop() if spares else None
            if fresh is not None:
                if not whole:
                    fresh[:] = storage
                self._data = fresh
                return False
            if len(storage) < _BIG_COPY_BYTES:  # no spare: one allocation, filled in one pass
                self._data = bytearray(data) if whole else bytearray(storage)
                return whole
        # No spare for a big buffer: copy outside the lock (the writer thread releases loans
        # meanwhile; the lent storage stays as it is). Only this buffer's writer replaces _data.
        copy = copy_into_new_storage(data if whole else storage)
        with _loan_lock:
            self._data = copy
        return whole

    def _return_storage(self, storage: bytearray) -> None:
        # Called by ContentsLoan.release with _loan_lock held.
        loans = self._loans
        entry = loans.get(id(storage)) if loans is not None else None
        if entry is None:
            return
        entry[1] -= 1
        self._loans_out -= 1
        if entry[1] > 0:
            return
        del loans[id(storage)]  # type: ignore[union-attr]
        if not loans:  # nothing lent: writes go in place again
            self._loans = None
        if storage is not self._data and not self._exposed:  # retired by a copy on write:
            spares = self._spares  # warm memory for the next one
            if spares is None:
                spares = self._spares = []
            if len(spares) < MAX_SPARES:
                spares.append(storage)

    def drop_spares(self) -> None:
        """Free the storages kept for later copies on write (once the lender is done lending)."""
        with _loan_lock:
            self._spares = None

    def _expose(self) -> bytearray:
        """The storage, for a caller that may write into it: never lent from now on."""
        if self._loans is not None:
            self._swap_lent_storage(None, whole=False)  # lent bytes must stay as they are
        self._exposed = True
        self._spares = None
        return self._data

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
    @classmethod
    def _new_footprint_(cls, count: Any = 0, buffer_type: Any = None, *args: Any, **kwargs: Any) -> int:
        """The contents of a buffer of ``count`` items of ``buffer_type``."""
        try:
            return _check_count("Buffer", "count", count) * BufferType.get_item_size(_check_type("Buffer", buffer_type))
        except (TypeError, ValueError):
            return 0

    def _footprint_(self) -> int:
        """The contents."""
        return self.nbytes

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
