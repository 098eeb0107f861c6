"""New bytearrays for big contents: no zero fill under the GIL, huge pages where Linux has them.

Buffer storages and the recorder's copies of big payloads are bytearrays (``Buffer.to_bytearray``
hands the storage itself to users). ``bytearray(n)`` writes zeros into every page while holding
the GIL, and Python's allocator leaves big blocks on 4 KiB pages: the first write into 12 MB of
them took 9 ms of CPU in page faults on the 2-core development VM, 4-5 ms once the kernel was
asked for huge pages (``madvise(MADV_HUGEPAGE)``, as numpy does for its own arrays). A recording
pays that for every storage a big buffer adds while its contents are lent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["HUGE_PAGES_MIN_BYTES", "copy_into_new_storage", "new_storage"]

#: Storages at least this big ask for huge pages (they hold at least one aligned 2 MiB page).
HUGE_PAGES_MIN_BYTES = 4 << 20
_HUGE_PAGE = 2 << 20


def _bytearray_allocator() -> Any:
    """``PyByteArray_FromStringAndSize(NULL, n)`` through ctypes: a bytearray whose bytes are
    left as the allocator gives them; None where ctypes cannot reach the C API."""
    try:
        import ctypes

        function = ctypes.pythonapi.PyByteArray_FromStringAndSize
    except (ImportError, AttributeError, OSError):
        return None
    function.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t]
    function.restype = ctypes.py_object
    return function


def _huge_pages_advisor() -> Any:
    """A function advising huge pages for the aligned interior of a memory range, or None off
    Linux (``madvise`` from the C library through ctypes)."""
    try:
        import ctypes
        import mmap
        import sys

        if not sys.platform.startswith("linux") or not hasattr(mmap, "MADV_HUGEPAGE"):
            return None
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (ImportError, AttributeError, OSError):
        return None
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    advice = mmap.MADV_HUGEPAGE

    def advise(address: int, nbytes: int) -> None:
        start = -(-address // _HUGE_PAGE) * _HUGE_PAGE
        end = (address + nbytes) // _HUGE_PAGE * _HUGE_PAGE
        if end > start:
            madvise(start, end - start, advice)  # only advice: a refusal changes nothing

    return advise


_new_bytearray = _bytearray_allocator()
_advise_huge_pages = _huge_pages_advisor()


def new_storage(nbytes: int) -> tuple[bytearray, np.ndarray]:
    """A new bytearray of ``nbytes`` whose contents the caller must write, and a uint8 view of
    it; from :data:`HUGE_PAGES_MIN_BYTES` on, on huge pages where the kernel grants them."""
    storage: bytearray = _new_bytearray(None, nbytes) if _new_bytearray is not None else bytearray(nbytes)
    view = np.frombuffer(storage, np.uint8)
    if nbytes >= HUGE_PAGES_MIN_BYTES and _advise_huge_pages is not None:
        _advise_huge_pages(view.ctypes.data, nbytes)
    return storage, view


def copy_into_new_storage(source: Any) -> bytearray:
    """A new bytearray holding a copy of ``source`` (bytes-like), filled by numpy, which lets other
    threads run meanwhile: a first copy into fresh memory page-faults for milliseconds, and a
    recorder's writer thread must not wait that long for the GIL."""
    src = np.frombuffer(source, np.uint8)
    storage, view = new_storage(src.nbytes)
    view[:] = src  # every byte written: none of the allocator's is left
    return storage
