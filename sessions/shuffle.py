"""The byte-shuffle filter of ``.gsplog`` chunks: ``n`` items of ``itemsize`` bytes <-> ``itemsize``
byte planes of ``n`` bytes (plane ``j`` holds byte ``j`` of every item, in item order; see
docs/format.md, "Shuffle filter").

Two implementations give the same bytes:

- the C kernel ``sessions._shuffle`` (built by ``pip install`` when a compiler is there; SIMD
  for itemsizes 2, 4, 8, 16; about memory-copy speed), used when it imports;
- numpy strided copies (about 1.3 GB/s), used otherwise or when the environment variable
  ``GSP_NO_C_SHUFFLE=1`` is set when this module is first imported.

Both check their arguments the same way: ``dst`` and ``src`` are C-contiguous bytes-like objects
of equal length, a multiple of ``itemsize`` (1..16), ``dst`` writable and not overlapping
``src``. A wrong type (not a buffer, ``dst`` read-only, ``itemsize`` not an int) raises
``TypeError``; a wrong size, layout or overlap raises ``ValueError``.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "ARRAY_RECORD",
    "BlockRun",
    "BACKEND",
    "ENV_NO_C",
    "MAX_ITEMSIZE",
    "block_pieces",
    "block_pieces_python",
    "shuffle_into",
    "shuffle_into_numpy",
    "should_stream",
    "should_stream_python",
    "shuffled",
    "unshuffle",
    "unshuffle_block",
    "unshuffle_block_python",
    "unshuffle_into",
    "unshuffle_into_numpy",
    "use",
]

#: Set to "1" to make this module use the numpy code even when the C kernel is built.
ENV_NO_C = "GSP_NO_C_SHUFFLE"
MAX_ITEMSIZE = 16
#: Items per block of the numpy loops: the block's lines stay in cache while planes are copied.
_BLOCK = 65536

Kernel = Callable[[Any, Any, int], None]


# --------------------------------------------------------------------------------------------
# numpy fallback
# --------------------------------------------------------------------------------------------
def _byte_view(obj: Any, func: str, name: str, writable: bool) -> np.ndarray:
    """``obj`` as a flat uint8 array, checked like the C kernel checks its buffers."""
    try:
        view = memoryview(obj)
    except TypeError:
        raise TypeError(f"{func}(): {name} must be a bytes-like object (buffer protocol), "
                        f"not {type(obj).__name__}") from None
    if not view.c_contiguous:
        raise ValueError(f"{func}(): {name} must be C-contiguous")
    if writable and view.readonly:
        raise TypeError(f"{func}(): {name} must be writable (got a read-only {type(obj).__name__})")
    if view.nbytes == 0:
        return np.empty(0, dtype=np.uint8)
    return np.frombuffer(view.cast("B") if view.format != "B" or view.ndim != 1 else view, dtype=np.uint8)


def _check(dst: Any, src: Any, itemsize: int, func: str) -> tuple[np.ndarray, np.ndarray, int]:
    if not isinstance(itemsize, int):  # bool passes, like the C kernel's PyLong_Check
        raise TypeError(f"{func}(): itemsize must be an int, not {type(itemsize).__name__}")
    if not 1 <= itemsize <= MAX_ITEMSIZE:
        raise ValueError(f"{func}(): itemsize must be in 1..{MAX_ITEMSIZE}, got {itemsize!r}")
    d = _byte_view(dst, func, "dst", True)
    s = _byte_view(src, func, "src", False)
    if d.size != s.size:
        raise ValueError(f"{func}(): dst has {d.size} bytes, src has {s.size} (they must be equal)")
    if s.size % itemsize:
        raise ValueError(f"{func}(): length {s.size} is not a multiple of itemsize {itemsize}")
    if s.size and np.may_share_memory(d, s):  # exact for two flat contiguous arrays
        raise ValueError(f"{func}(): dst and src overlap in memory")
    return d, s, s.size // itemsize


def shuffle_into_numpy(dst: Any, src: Any, itemsize: int) -> None:
    """:func:`shuffle_into` with numpy strided copies (the fallback; same bytes and errors)."""
    d, s, n = _check(dst, src, itemsize, "shuffle_into")
    planes = d.reshape(itemsize, n)
    items = s.reshape(n, itemsize)
    for start in range(0, n, _BLOCK):
        planes[:, start : start + _BLOCK] = items[start : start + _BLOCK].T


def unshuffle_into_numpy(dst: Any, src: Any, itemsize: int) -> None:
    """:func:`unshuffle_into` with numpy strided copies (the fallback; same bytes and errors)."""
    d, s, n = _check(dst, src, itemsize, "unshuffle_into")
    planes = s.reshape(itemsize, n)
    items = d.reshape(n, itemsize)
    for start in range(0, n, _BLOCK):
        block = items[start : start + _BLOCK]
        for plane in range(itemsize):  # one plane at a time: contiguous reads, strided writes
            block[:, plane] = planes[plane, start : start + _BLOCK]


#: One array of a ``BLOCKS`` chunk's table, as :func:`unshuffle_block` reads it: u64 offset,
#: u64 length, u32 itemsize, u32 0 (sessions/blocks.py writes them).
ARRAY_RECORD = struct.Struct("<QQII")


def unshuffle_block_python(body: Any, block: Any, block_start: int, arrays: Any, stream: bool = False) -> None:
    """:func:`unshuffle_block` as a Python loop over the pieces (the twin of the C one: the same
    bytes, and ValueError for the same bad arguments, before anything is written; ``stream`` is
    a hint it has no use for)."""
    out, src, table = memoryview(body).cast("B"), memoryview(block).cast("B"), memoryview(arrays).cast("B")
    block_end = block_start + src.nbytes
    if block_start < 0 or block_end > out.nbytes or table.nbytes % ARRAY_RECORD.size:
        raise ValueError(f"unshuffle_block(): a block of {src.nbytes} bytes at {block_start} does not fit a body "
                         f"of {out.nbytes} bytes, or the array table has {table.nbytes} bytes")
    pieces = []
    previous = block_start
    for k, (start, length, itemsize, _zero) in enumerate(ARRAY_RECORD.iter_unpack(table)):
        lo, hi = max(start, block_start), min(start + length, block_end)
        if not 1 <= itemsize <= MAX_ITEMSIZE or lo < previous or lo > hi or (hi - lo) % itemsize \
                or (lo - start) % itemsize:
            raise ValueError(f"unshuffle_block(): array {k} of the table ({length} bytes at {start}, items of "
                             f"{itemsize}) is not a sorted piece of whole items within the block")
        pieces.append((lo, hi, itemsize))
        previous = hi
    copied = block_start  # body bytes of this block placed so far
    for lo, hi, itemsize in pieces:
        if copied < lo:
            out[copied:lo] = src[copied - block_start : lo - block_start]
        unshuffle_into(out[lo:hi], src[lo - block_start : hi - block_start], itemsize)
        copied = hi
    if copied < block_end:
        out[copied:block_end] = src[copied - block_start :]


#: :data:`ARRAY_RECORD` as a numpy record, to read a whole table at once
_RECORD = np.dtype([("start", "<u8"), ("length", "<u8"), ("itemsize", "<u4"), ("zero", "<u4")])
assert _RECORD.itemsize == ARRAY_RECORD.size


def block_pieces_python(arrays: Any, raw_size: int, block_size: int) -> list[tuple[int, int]]:
    """:func:`block_pieces` with numpy (the twin of the C one: the same runs, and ValueError with
    the same message for the same first bad record)."""
    if raw_size < 0 or block_size <= 0:
        raise ValueError("block_pieces(): raw_size must be >= 0 and block_size > 0")
    table = memoryview(arrays).cast("B")
    if table.nbytes % ARRAY_RECORD.size:
        raise ValueError(f"block_pieces(): the array table has {table.nbytes} bytes (not records of "
                         f"{ARRAY_RECORD.size})")
    records = np.frombuffer(table, dtype=_RECORD)
    start, length, itemsize = records["start"], records["length"], records["itemsize"].astype(np.uint64)
    valid_size = (itemsize == 2) | (itemsize == 4) | (itemsize == 8) | (itemsize == 16)
    safe_size = np.where(valid_size, itemsize, 1)
    fits = (length <= raw_size) & (start <= raw_size - np.minimum(length, raw_size))
    end = np.where(fits, start + np.minimum(length, raw_size), 0)
    after_previous = np.ones(len(records), dtype=bool)
    after_previous[1:] = start[1:] >= end[:-1]
    good = valid_size & fits & (start % safe_size == 0) & (length % safe_size == 0) & after_previous
    if not good.all():
        k = int(np.flatnonzero(~good)[0])
        raise ValueError(f"bad shuffled array: {int(length[k])} bytes at {int(start[k])}, items of {int(itemsize[k])}")
    count = -(-raw_size // block_size)
    block_starts = np.arange(count, dtype=np.uint64) * np.uint64(block_size)
    block_ends = np.minimum(block_starts + np.uint64(block_size), np.uint64(raw_size))
    first = np.searchsorted(end, block_starts, side="right")  # first array ending past the block's start
    stop = np.maximum(np.searchsorted(start, block_ends, side="left"), first)  # first starting at its end
    return list(zip(first.tolist(), stop.tolist(), strict=True))


def should_stream_python(dst: Any) -> bool:
    """:func:`should_stream` where the C kernel is not used: numpy's copies have no streamed stores."""
    return False


# --------------------------------------------------------------------------------------------
# Choice of implementation
# --------------------------------------------------------------------------------------------
# The implementation of each function below is chosen by use(), at import and when asked.
#: "c" when the C kernel is used, "numpy" otherwise.
BACKEND: str
#: ``shuffle_into(dst, src, itemsize)``: the items of ``src`` as byte planes in ``dst``.
shuffle_into: Kernel
#: ``unshuffle_into(dst, src, itemsize)``: the byte planes of ``src`` as items in ``dst``.
unshuffle_into: Kernel
#: ``unshuffle_block(body, block, block_start, arrays)``: one decompressed block of a ``BLOCKS``
#: chunk placed at ``body[block_start:]``, the pieces of the arrays in ``arrays`` (the chunk's
#: records of u64 offset, u64 length, u32 itemsize, u32 0, sorted, none past the block)
#: unshuffled, every other byte copied (sessions/blocks.py). An optional fifth argument,
#: ``stream``, writes the pieces with non-temporal stores (see :func:`should_stream`).
unshuffle_block: Callable[..., None]
#: ``block_pieces(arrays, raw_size, block_size)``: a ``BLOCKS`` chunk's table of shuffled arrays
#: (records of u64 offset, u64 length, u32 itemsize, u32 0) checked, whole items of 2, 4, 8 or 16
#: bytes, inside the raw bytes, sorted, not overlapping (else ValueError naming the first bad
#: record), and cut into one run ``(first, stop)`` of records per block: those that overlap it.
block_pieces: Callable[[Any, int, int], list[tuple[int, int]]]
#: ``should_stream(dst)``: whether unshuffling into ``dst`` (a whole chunk's body, asked before
#: its first block) is faster with non-temporal stores: 1 MiB or more, and most of its pages
#: reused memory rather than pages the kernel has just given out (which it zeroes, leaving them
#: in cache for plain stores). Always False with the numpy code.
should_stream: Callable[[Any], bool]
#: ``BlockRun(decompress, src, starts, body, block_size, table, pieces, stream, parts)``: the C
#: loop over the blocks of one ``BLOCKS`` chunk for several threads, none holding the GIL between
#: blocks (sessions/blocks.py); None with the numpy code, whose threads run the Python loop.
BlockRun: Any


def use(backend: str) -> None:
    """Switch this process to ``"c"`` or ``"numpy"`` (benchmarks compare both in one run; the
    chunk encoder and the decoder look the functions up here at each call). ``ValueError`` for
    an unknown name, or ``"c"`` when the kernel is not built."""
    global BACKEND, shuffle_into, unshuffle_into, unshuffle_block, should_stream, block_pieces, BlockRun
    if backend == "numpy":
        shuffle_into, unshuffle_into = shuffle_into_numpy, unshuffle_into_numpy
        unshuffle_block, should_stream = unshuffle_block_python, should_stream_python
        block_pieces, BlockRun = block_pieces_python, None
    elif backend == "c":
        try:
            from sessions import _shuffle
        except ImportError:
            raise ValueError("the C shuffle kernel sessions._shuffle is not built") from None
        shuffle_into, unshuffle_into = _shuffle.shuffle_into, _shuffle.unshuffle_into
        unshuffle_block, should_stream = _shuffle.unshuffle_block, _shuffle.should_stream
        block_pieces, BlockRun = _shuffle.block_pieces, _shuffle.BlockRun
    else:
        raise ValueError(f"unknown shuffle backend {backend!r} (expected 'c' or 'numpy')")
    BACKEND = backend


try:
    use("numpy" if os.environ.get(ENV_NO_C, "") not in ("", "0") else "c")
except ValueError:  # not built (no compiler at install time): the numpy code is used
    use("numpy")


def shuffled(src: Any, itemsize: int) -> bytearray:
    """The byte planes of ``src`` as a new bytearray."""
    out = bytearray(memoryview(src).nbytes)
    shuffle_into(out, src, itemsize)
    return out


def unshuffle(raw: Any, dtype: np.dtype, count: int) -> np.ndarray:
    """Undo the filter: ``dtype.itemsize`` byte planes in ``raw`` back into a new 1-d array of
    ``count`` items (one copy)."""
    out = np.empty(count, dtype=dtype)
    unshuffle_into(out, raw, dtype.itemsize)
    return out
