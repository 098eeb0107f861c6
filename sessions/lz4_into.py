"""lz4 block decompression straight into a caller's buffer.

``lz4.block.decompress`` always returns a new object, so placing its output inside a chunk's
body costs one more pass over every byte (and, for a shuffled block, one more buffer). The
extension module of python-lz4 exports liblz4's own functions; calling ``LZ4_decompress_safe``
from it through ctypes (or from the system's liblz4 when the module hides its symbols) writes
each block where it belongs. ``LZ4_decompress_safe`` never reads or writes outside the two
ranges it is given, whatever the input; ctypes releases the GIL around the call.

Where neither library exposes the function, or ``GSP_NO_LZ4_INTO=1`` is set when this module is
first imported, :class:`BlockCopier` decompresses with python-lz4 and copies: the same bytes,
one pass slower.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import Any

import lz4.block
import numpy as np

__all__ = ["AVAILABLE", "ENV_NO_LZ4_INTO", "BlockCopier", "decompress_address", "use"]

#: Set to "1" to make this module decompress-and-copy even when liblz4's function is found.
ENV_NO_LZ4_INTO = "GSP_NO_LZ4_INTO"


def _find_decompress_safe() -> Any | None:
    """``LZ4_decompress_safe`` from python-lz4's extension module, else the system's liblz4."""
    # find_library runs ldconfig (milliseconds): asked only when python-lz4's module will not do
    candidates = (lambda: getattr(lz4.block._block, "__file__", None), lambda: ctypes.util.find_library("lz4"))
    for candidate in candidates:
        path = candidate()
        if not path:
            continue
        try:
            function = ctypes.CDLL(path).LZ4_decompress_safe
        except (OSError, AttributeError):
            continue
        function.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        function.restype = ctypes.c_int
        return function
    return None


_FOUND = _find_decompress_safe()
#: Whether liblz4's ``LZ4_decompress_safe`` was found (the fast path can be used).
AVAILABLE = _FOUND is not None
_decompress_safe = None if os.environ.get(ENV_NO_LZ4_INTO) == "1" else _FOUND


def use(direct: bool) -> None:
    """Decompress straight into the destination (``True``, needs :data:`AVAILABLE`) or through
    python-lz4 and a copy (``False``); for benchmarks and tests."""
    global _decompress_safe
    if direct and _FOUND is None:
        raise RuntimeError("LZ4_decompress_safe was not found in python-lz4 or a system liblz4")
    _decompress_safe = _FOUND if direct else None


def decompress_address() -> int | None:
    """The address of liblz4's ``LZ4_decompress_safe`` for C code to call, or None when this
    module decompresses through python-lz4 (not found, or switched off)."""
    function = _decompress_safe
    return None if function is None else ctypes.cast(function, ctypes.c_void_p).value


class BlockCopier:
    """Decompresses lz4 blocks from one flat uint8 array into another, at given offsets (the two
    arrays' addresses are taken once: numpy's ``.ctypes.data`` costs about 2 us a call)."""

    def __init__(self, src: np.ndarray, dst: np.ndarray) -> None:
        if src.ndim != 1 or src.dtype != np.uint8 or not src.flags.c_contiguous:
            raise ValueError("src must be a flat C-contiguous uint8 array")
        if dst.ndim != 1 or dst.dtype != np.uint8 or not dst.flags.c_contiguous or not dst.flags.writeable:
            raise ValueError("dst must be a flat, C-contiguous, writable uint8 array")
        self.src = src
        self.dst = dst  # both kept alive while their addresses are in use
        self._src_address = src.ctypes.data
        self._dst_address = dst.ctypes.data

    def decompress(self, src_at: int, src_size: int, dst_at: int, dst_size: int) -> None:
        """Decompress the lz4 block ``src[src_at : src_at + src_size]`` into exactly
        ``dst[dst_at : dst_at + dst_size]``.

        Raises ``ValueError`` when the block is malformed or does not decompress to exactly
        ``dst_size`` bytes (what was written into ``dst`` is then undefined).
        """
        src, dst = self.src, self.dst
        if not (0 <= src_at and 0 <= src_size and src_at + src_size <= src.nbytes
                and 0 <= dst_at and 0 <= dst_size and dst_at + dst_size <= dst.nbytes):
            raise ValueError(f"block range {src_at}+{src_size} -> {dst_at}+{dst_size} outside the buffers "
                             f"({src.nbytes} and {dst.nbytes} bytes)")
        if src_size >= 1 << 31 or dst_size >= 1 << 31:
            raise ValueError(f"an lz4 block holds less than 2 GiB (got {src_size} -> {dst_size} bytes)")
        decompress_safe = _decompress_safe
        if decompress_safe is None:
            try:
                block = lz4.block.decompress(src[src_at : src_at + src_size], uncompressed_size=dst_size)
            except Exception as error:
                raise ValueError(f"lz4 decompression failed: {error}") from None
            written = len(block)
            if written == dst_size:
                dst[dst_at : dst_at + dst_size] = np.frombuffer(block, np.uint8)
        else:
            written = decompress_safe(self._src_address + src_at, self._dst_address + dst_at, src_size, dst_size)
            if written < 0:
                raise ValueError(f"lz4 decompression failed: malformed block (error at input byte {-written - 1})")
        if written != dst_size:
            raise ValueError(f"decompressed to {written} bytes, expected {dst_size}")

