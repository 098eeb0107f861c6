"""Recycled copy buffers for big ``Buffer.set_data`` payloads.

The recorder must copy what the caller passes (the caller may mutate it right after the call)
and keep the copy until the writer thread has encoded it. Allocating a fresh multi-megabyte
array for every call makes the kernel hand out and zero new pages each time; in the development
VM that costs about 15 times the copy itself. The writer thread gives each copy back once the
chunk holding it is written, and the next call of the same shape copies into it instead:
warm memory, no page faults.

Only copies made by the recorder are pooled (numpy arrays and bytearrays of at least
``min_bytes``; never the caller's objects, never immutable ``bytes``), and only the first
argument of ``Buffer.set_data``, which the log writer's scene state copies in turn.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

__all__ = ["CopyPool", "POOL_MIN_BYTES"]

POOL_MIN_BYTES = 256 * 1024


def _key(obj: Any) -> tuple[Any, ...] | None:
    if type(obj) is bytearray:
        return ("bytearray", len(obj))
    if type(obj) is np.ndarray and obj.flags.c_contiguous and obj.flags.writeable and obj.base is None:
        return (obj.dtype.str, obj.shape)
    return None


class CopyPool:
    """Free copies by (kind or dtype, shape); thread-safe through atomic deque operations."""

    def __init__(self, min_bytes: int = POOL_MIN_BYTES, max_per_key: int = 3) -> None:
        self.min_bytes = min_bytes
        self.max_per_key = max_per_key
        self._free: dict[tuple[Any, ...], deque[Any]] = {}
        self.reused = 0  # statistics

    def copy(self, value: Any) -> Any:
        """A private copy of a numpy array or bytearray (recycled when one of its shape is free)."""
        if type(value) is bytearray:
            dst = self._take(("bytearray", len(value)), len(value))
            if dst is None:
                return bytearray(value)
            dst[:] = value
        else:
            dst = self._take((value.dtype.str, value.shape), value.nbytes)
            if dst is None:
                return np.array(value, copy=True, order="C")
            np.copyto(dst, value)
        self.reused += 1
        return dst

    def _take(self, key: tuple[Any, ...], nbytes: int) -> Any:
        """A free copy for ``key``, or None (too small to pool, or none free)."""
        free = self._free.get(key) if nbytes >= self.min_bytes else None
        if not free:
            return None
        try:
            return free.pop()
        except IndexError:  # another thread took the last one
            return None

    def eligible(self, value: Any) -> bool:
        """Whether ``value`` (a copy the recorder made) may be given back."""
        return _key(value) is not None and (len(value) if type(value) is bytearray else value.nbytes) >= self.min_bytes

    def give_back(self, value: Any) -> None:
        """Writer side: ``value`` is no longer referenced by any pending command."""
        key = _key(value)
        if key is None:
            return
        free = self._free.setdefault(key, deque())
        if len(free) < self.max_per_key:
            free.append(value)
