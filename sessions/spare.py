"""Big decode buffers on reused memory: chunk bodies and the compressed chunks read from files.

A decoded chunk's arrays are views of its body, so the body lives as long as the caller keeps any
of them. Once nothing refers to it, its memory is kept as a *spare* and the next body of about
the same size is decoded into it. New memory costs more than lz4 itself: glibc gives blocks of
32 MiB or more new pages every time (smaller ones too, once it has returned freed memory to the
kernel), and the kernel zeroes each page and takes a fault on its first write. On the 2-core
development VM a 32 MB chunk decoded at 0.5x lz4 speed into new pages, 0.75-0.83x into spares.

The C module ``sessions._spare`` keeps the spares: it sees a buffer's last reference go, which
Python code cannot. At most :data:`MAX_SPARES` spares, :data:`MAX_SPARE_BYTES` in all, are kept
(the oldest go first); :func:`release` frees them. Buffers under :data:`MIN_SPARE_BYTES`, builds
without the C module, and processes started with ``GSP_NO_SPARE=1`` get plain ``np.empty``.
"""

from __future__ import annotations

import os
from types import ModuleType

import numpy as np

__all__ = ["ENV_NO_SPARE", "MAX_SPARES", "MAX_SPARE_BYTES", "MIN_SPARE_BYTES", "empty", "held", "release"]

#: Set to "1" (before this module is imported) to decode into new memory every time.
ENV_NO_SPARE = "GSP_NO_SPARE"


def _load() -> ModuleType | None:
    if os.environ.get(ENV_NO_SPARE) == "1":
        return None
    try:
        from sessions import _spare
    except ImportError:  # built without a C compiler
        return None
    return _spare


_spare = _load()
MIN_SPARE_BYTES: int = _spare.MIN_SPARE_BYTES if _spare is not None else 1 << 20
MAX_SPARE_BYTES: int = _spare.MAX_SPARE_BYTES if _spare is not None else 0
MAX_SPARES: int = _spare.MAX_SPARES if _spare is not None else 0


def empty(nbytes: int) -> np.ndarray:
    """A new uint8 array of ``nbytes``, not initialised; from :data:`MIN_SPARE_BYTES` on, on a
    spare's memory when one of ``nbytes`` to twice that is free."""
    if _spare is None or nbytes < MIN_SPARE_BYTES:
        return np.empty(nbytes, dtype=np.uint8)
    return np.frombuffer(_spare.take(nbytes), dtype=np.uint8)


def held() -> tuple[int, int]:
    """(number of spares, bytes they hold): memory kept for reuse and not in use."""
    return _spare.held() if _spare is not None else (0, 0)


def release() -> int:
    """Free every spare (buffers in use are not affected); returns the bytes freed."""
    return _spare.release() if _spare is not None else 0
