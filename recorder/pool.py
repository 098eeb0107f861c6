"""Big ``Buffer.set_data`` payloads without fresh allocations: lent contents and recycled copies.

The recorder's first choice is no copy at all: a buffer whose storage was never exposed lends
its contents (:meth:`gsp.types.Buffer.lend`, copy on write), and :class:`LoanBook` keeps each
loan until the writer thread has written the chunk holding it.

Otherwise the recorder must copy what the caller passes (the caller may mutate it right after
the call) and keep the copy until the writer thread has encoded it. Allocating a fresh multi-megabyte
array for every call makes the kernel hand out and zero new pages each time; in the development
VM that costs about 15 times the copy itself. The writer thread gives each copy back once the
chunk holding it is written, and the next call of the same shape copies into it instead:
warm memory, no page faults.

Only copies made by the recorder are pooled (numpy arrays and bytearrays of at least
``min_bytes``; never the caller's objects, never immutable ``bytes``), and only the first
argument of ``Buffer.set_data``, which the log writer's scene state copies in turn.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from gsp.types.storage import copy_into_new_storage

__all__ = ["CopyPool", "LoanBook", "PayloadRecycler", "POOL_MIN_BYTES", "LEND_MIN_BYTES", "MAX_LOANS_PER_BUFFER"]

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
            if dst is None:  # a big one is made without zero fill or the GIL, on huge pages
                return copy_into_new_storage(value) if len(value) >= self.min_bytes else bytearray(value)
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

    def clear(self) -> None:
        """Free every copy kept for reuse (the recording is over)."""
        self._free = {}

    def give_back(self, value: Any) -> None:
        """Writer side: ``value`` is no longer referenced by any pending command."""
        key = _key(value)
        if key is None:
            return
        free = self._free.setdefault(key, deque())
        if len(free) < self.max_per_key:
            free.append(value)


#: Whole-contents writes at least this big are lent rather than copied. Below it a copy into a
#: recycled buffer is cheaper than the loan's bookkeeping and the buffer's copy on write
#: (whole-buffer set_data in a loop, to a closed log, on the 2-core VM: 320 kB copied 690 MB/s
#: vs lent 560 MB/s; 1 MB even; 4 MB lent 1.2x faster; and lending halves the caller's time).
LEND_MIN_BYTES = 512 << 10
#: Loans of one buffer outstanding at most; a caller wanting more waits for the writer (the
#: backpressure that keeps every lent storage warm instead of allocating fresh memory per call).
MAX_LOANS_PER_BUFFER = 3
#: ... or as many as fit in this many bytes, for smaller buffers (a round trip through the writer
#: per few frames would throttle a buffer rewritten thousands of times a second).
LOANS_BYTES_PER_BUFFER = 32 << 20
#: Longest wait for a loan to come back before copying instead (a stalled writer).
LOAN_WAIT_S = 1.0


def max_loans(buffer: Any) -> int:
    """Loans of ``buffer`` allowed out at once (see MAX_LOANS_PER_BUFFER, LOANS_BYTES_PER_BUFFER)."""
    nbytes = max(1, buffer.nbytes)
    return max(MAX_LOANS_PER_BUFFER, LOANS_BYTES_PER_BUFFER // nbytes)


class LoanBook:
    """Contents lent by buffers (:class:`gsp.types.ContentsLoan`), by the lent array, until written.

    The caller's thread lends, the writer's releases. A buffer with :func:`max_loans` loans out
    makes the next :meth:`lend` ask the writer to write its pending chunk and wait until a loan
    comes back: its storages then cycle instead of new memory being paged in for every frame,
    which costs several times the copy itself.
    """

    def __init__(self, flush_writer: Callable[[], Any] | None = None) -> None:
        self._loans: dict[int, Any] = {}
        self._lenders: dict[int, weakref.ref[Any]] = {}  # buffers that keep spares for us, by id
        self._returned = threading.Condition()
        self._flush_writer = flush_writer  # makes the writer write its pending chunk now
        self.waits = 0  # statistics: lends that had to wait

    def __len__(self) -> int:
        return len(self._loans)

    def lend(self, buffer: Any) -> np.ndarray | None:
        """The buffer's contents as a read-only array that stays valid until :meth:`release`;
        None when the buffer cannot lend (its storage is exposed) or no loan came back in time."""
        if buffer.storage_exposed:
            return None
        most = max_loans(buffer)
        if buffer.loans_out >= most:
            deadline = time.monotonic() + LOAN_WAIT_S
            self.waits += 1
            with self._returned:
                while buffer.loans_out >= most:
                    if self._flush_writer is not None:
                        self._flush_writer()
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return None
                    self._returned.wait(min(left, 0.01))
        return self._lend_now(buffer)

    def try_lend(self, buffer: Any) -> np.ndarray | None:
        """:meth:`lend` without waiting: None also when the buffer has :func:`max_loans` out."""
        if buffer.loans_out >= max_loans(buffer):
            return None
        return self._lend_now(buffer)

    def _lend_now(self, buffer: Any) -> np.ndarray | None:
        loan = buffer.lend()
        if loan is None:
            return None
        known = self._lenders.get(id(buffer))
        if known is None or known() is not buffer:
            self._lenders[id(buffer)] = weakref.ref(buffer)
        self._loans[id(loan.array)] = loan
        return loan.array  # type: ignore[no-any-return]

    def owns(self, payload: Any) -> bool:
        """Whether ``payload`` is an array lent through this book and not released yet."""
        return id(payload) in self._loans

    def release(self, payload: Any) -> None:
        """Give ``payload``'s storage back to its buffer (no-op for anything else)."""
        loan = self._loans.pop(id(payload), None)
        if loan is not None:
            loan.release()
            with self._returned:
                self._returned.notify_all()

    def release_all(self) -> None:
        """Give every outstanding loan back and let the buffers free their spares (the recording
        is over)."""
        while self._loans:
            self._loans.popitem()[1].release()
        for ref in list(self._lenders.values()):
            buffer = ref()
            if buffer is not None:
                buffer.drop_spares()
        self._lenders = {}
        with self._returned:
            self._returned.notify_all()


class PayloadRecycler:
    """What the writer thread calls for each big payload once no written chunk needs it."""

    def __init__(self, pool: CopyPool, loans: LoanBook) -> None:
        self.pool = pool
        self.loans = loans

    def eligible(self, value: Any) -> bool:
        """Whether ``value`` is the recorder's to recycle (a pooled copy or a loan)."""
        return self.loans.owns(value) or self.pool.eligible(value)

    def give_back(self, value: Any) -> None:
        """Release a loan, or return a copy to the pool."""
        if self.loans.owns(value):
            self.loans.release(value)
        else:
            self.pool.give_back(value)
