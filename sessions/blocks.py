"""The payload of a chunk with the ``BLOCKS`` flag: lz4 blocks of a fixed raw size, each with
its float arrays byte-shuffled on their own.

Shuffling whole arrays and compressing the chunk as one lz4 block makes a reader decompress
everything into fresh memory and then make one more pass to unshuffle it. Cutting the raw bytes
into blocks of :data:`BLOCK_BYTES` (cache-sized) and shuffling each array's part inside each
block lets the reader decompress one block into cache and unshuffle it straight into the final
raw bytes: one pass over fresh memory, as plain lz4 makes. Chunks with nothing to shuffle use
the same layout when they span several blocks (``array_count`` 0): each block is compressed
straight from the commands' arrays, with no joined copy of the whole body. Layout
(little-endian, also in docs/format.md)::

    u32 block_size    raw bytes per block (a multiple of 16; the last block may be shorter)
    u32 block_count   ceil(raw_size / block_size)
    u32 array_count
    u32 stored size of each block, block_count times
    (u64 offset, u64 length, u32 itemsize, u32 0) per shuffled array, array_count times, sorted:
        a byte range of the raw bytes holding items of ``itemsize`` bytes (2, 4, 8 or 16; offset
        and length multiples of it)
    the lz4 blocks (no size prefix), one after the other

Inside block ``i`` (raw bytes ``[i * block_size, ...)``), the part of each array that falls in
the block is stored as ``itemsize`` byte planes; every other byte is stored as it is. Array
offsets are multiples of 16 in the raw bytes (the codec aligns blobs), so no item straddles a
block edge.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import struct
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import lz4.block
import numpy as np

from sessions import decode_threads, lz4_into, spare
from sessions import shuffle as shuffle_filter
from sessions.errors import LogFormatError

__all__ = ["BLOCK_BYTES", "MIN_BLOCK_BYTES", "Hasher", "Segment", "Target", "encode_blocks", "decode_blocks", "use_c_loop"]

#: Raw bytes per block when encoding (fits a core's L2 cache along with its compressed form).
BLOCK_BYTES = 256 << 10
#: The smallest block a reader takes (the last block of a payload may be shorter): each block
#: costs the reader some bookkeeping, which a payload of tiny blocks would multiply.
MIN_BLOCK_BYTES = 4096

# A block's state in _Blocks, as in BlockRun: taken before copy_out gave the targets (copy_out
# copies it if it is done by then), taken after (its thread copies it), placed.
_BLOCK_TAKEN, _BLOCK_TAKEN_OWES_COPY, _BLOCK_DONE = 1, 2, 3

_HEAD = struct.Struct("<III")
_ARRAY = shuffle_filter.ARRAY_RECORD
_ITEMSIZES = (2, 4, 8, 16)

#: A run of the raw bytes: (offset in the raw bytes, its bytes, itemsize to shuffle or 0).
Segment = tuple[int, memoryview, int]


def encode_blocks(segments: Sequence[Segment], raw_size: int, block_size: int = BLOCK_BYTES) -> list[bytes]:
    """The stored payload for raw bytes given as consecutive ``segments`` (table first)."""
    if block_size <= 0 or block_size % 16:
        raise ValueError(f"block_size must be a positive multiple of 16, got {block_size}")
    arrays = [(start, view.nbytes, itemsize) for start, view, itemsize in segments if itemsize]
    for start, length, itemsize in arrays:
        if itemsize not in _ITEMSIZES or start % itemsize or length % itemsize:
            raise ValueError(f"cannot shuffle {length} bytes at {start} in items of {itemsize}")
    scratch = memoryview(bytearray(min(block_size, raw_size)))
    blocks: list[bytes] = []
    index = 0  # first segment that may still overlap the current block
    for block_start in range(0, raw_size, block_size):
        block_end = min(block_start + block_size, raw_size)
        while segments[index][0] + segments[index][1].nbytes <= block_start:
            index += 1
        start, view, itemsize = segments[index]
        if not itemsize and start + view.nbytes >= block_end:  # inside one plain run: no copy
            blocks.append(lz4.block.compress(view[block_start - start : block_end - start], store_size=False))
            continue
        i = index
        while i < len(segments) and segments[i][0] < block_end:
            start, view, itemsize = segments[i]
            lo, hi = max(start, block_start), min(start + view.nbytes, block_end)
            if lo < hi:
                dst, src = scratch[lo - block_start : hi - block_start], view[lo - start : hi - start]
                if itemsize:
                    shuffle_filter.shuffle_into(dst, src, itemsize)
                else:
                    dst[:] = src
            i += 1
        blocks.append(lz4.block.compress(scratch[: block_end - block_start], store_size=False))
    table = [_HEAD.pack(block_size, len(blocks), len(arrays)), struct.pack(f"<{len(blocks)}I", *map(len, blocks))]
    table += [_ARRAY.pack(start, length, itemsize, 0) for start, length, itemsize in arrays]
    return [b"".join(table), *blocks]


class Hasher(Protocol):
    """A running checksum (``xxhash.xxh3_64()`` for chunks)."""

    def update(self, data: memoryview, /) -> object: ...


#: (raw offset, writable buffer): raw bytes to copy into the buffer as they are decoded.
Target = tuple[int, Any]
#: (prefix, job): see :func:`decode_blocks`.
EarlyJob = tuple[int, Callable[[memoryview, int], Sequence[Target]]]


def decode_blocks(
    payload: memoryview,
    raw_size: int,
    where: Callable[[], dict[str, Any]],
    hasher: Hasher | None = None,
    early: EarlyJob | None = None,
    min_block_size: int = MIN_BLOCK_BYTES,
) -> memoryview:
    """The raw bytes (unshuffled) of a ``BLOCKS`` payload; LogFormatError when malformed (blocks
    under ``min_block_size`` raw bytes included).

    ``hasher``, when given, is fed the whole payload in order. Its digest is the caller's to
    check; it is complete even when a block is bad.

    ``early`` = ``(prefix, job)``: the calling thread runs ``job(body, ready)`` as soon as it has
    placed the first ``ready >= prefix`` raw bytes (if its own blocks cover the prefix and none of
    them is bad; else never), while any other threads decode the rest. ``job`` must not raise.
    It returns targets, ``(offset, buffer)`` pairs sorted by offset: each buffer gets the raw
    bytes from its offset on, by the time this returns. Each thread copies them from the blocks
    it places, while they are in cache (a copy of the whole body afterwards would read it back
    from memory)."""

    def bad(reason: str) -> LogFormatError:
        return LogFormatError(f"blocked payload: {reason}", **where())

    if payload.nbytes < _HEAD.size:
        raise bad("shorter than its table")
    block_size, block_count, array_count = _HEAD.unpack_from(payload)
    if block_size < min_block_size:
        raise bad(f"blocks of {block_size} raw bytes, under the {min_block_size} a reader takes")
    if block_size <= 0 or block_size % 16 or block_count != -(-raw_size // block_size):
        raise bad(f"{block_count} blocks of {block_size} bytes cannot hold {raw_size} raw bytes")
    table_end = _HEAD.size + 4 * block_count + _ARRAY.size * array_count
    if table_end > payload.nbytes:
        raise bad(f"table of {block_count} blocks and {array_count} arrays is past the payload's end")
    sizes = struct.unpack_from(f"<{block_count}I", payload, _HEAD.size)
    if table_end + sum(sizes) != payload.nbytes:
        raise bad(f"blocks add up to {table_end + sum(sizes)} bytes, the payload has {payload.nbytes}")
    table = payload[_HEAD.size + 4 * block_count : table_end]
    try:
        pieces = shuffle_filter.block_pieces(table, raw_size, block_size)
    except ValueError as error:
        raise bad(str(error)) from None
    src = np.frombuffer(payload, dtype=np.uint8)
    body = spare.empty(raw_size)  # no zero fill: every block writes its own bytes
    if hasher is not None:
        hasher.update(payload[:table_end])
    workers = decode_threads.workers(block_count)
    c_loop = _c_loop_address()
    # The Python loop on one thread hashes each block as it takes it: the checksum reads it from
    # memory, lz4 from cache. The C loop (one thread or several) and the Python loop on several
    # threads (which would queue for the lock that keeps the blocks in order) have the stored
    # blocks hashed in one go instead: by the caller's thread, or by a pool thread before it
    # joins the others. The C loop is faster on one thread too (VM, a recorded 10 000-point
    # session: 0.64-0.67x -> 0.70-0.75x lz4's speed, paired medians; `bench_sessions.py --only loops`).
    hash_as_taken = hasher if workers == 1 and c_loop is None else None
    blocks = _Blocks(src, list(itertools.accumulate(sizes, initial=table_end)), table, pieces, array_count > 0,
                     body, block_size, workers, hash_as_taken, early, c_loop)
    if workers == 1:
        if hasher is not None and hash_as_taken is None:
            hasher.update(payload[table_end:])
        blocks.decode_part(0)
    else:

        def hash_then_decode() -> None:
            if hasher is not None:
                hasher.update(payload[table_end:])
            blocks.decode_part(1)

        jobs: list[Callable[[], None]] = [functools.partial(blocks.decode_part, part) for part in range(workers)]
        jobs[1] = hash_then_decode
        decode_threads.run(jobs)
    blocks.finish()
    if blocks.failures:
        number, reason = min(blocks.failures)
        raise bad(f"block {number}: {reason}")
    return body.data


_c_loop_on = True


def use_c_loop(enabled: bool) -> None:
    """Let the C loop over blocks run where it can (the default), or always run the Python loop;
    for benchmarks and tests."""
    global _c_loop_on
    _c_loop_on = enabled


def _c_loop_address() -> int | None:
    """liblz4's ``LZ4_decompress_safe`` for :class:`sessions._shuffle.BlockRun`, or None when the
    C loop cannot run (the extension is not built, lz4 decompresses through python-lz4, or
    :func:`use_c_loop` turned it off)."""
    return lz4_into.decompress_address() if _c_loop_on and shuffle_filter.BlockRun is not None else None


def _in_order_within(views: list[tuple[int, memoryview]], size: int) -> bool:
    """Whether the (offset, view) pairs are sorted, none overlapping the next, all in [0, size)."""
    end = 0
    for offset, view in views:
        if offset < end:
            return False
        end = offset + view.nbytes
    return end <= size


class _Blocks:
    """One payload's blocks, decoded into ``body`` by several threads.

    The blocks are cut into ``parts`` runs, one per thread, which each thread decodes from its
    front; a thread done with its own run takes blocks from the back of the run with the most
    left. Each thread thus writes one stretch of the body (fresh memory: its page faults stay
    apart), and none sits idle while another is late (a pool thread can take most of a
    millisecond to wake up, and the one hashing the payload starts its run late). Given
    ``c_loop`` (see :func:`_c_loop_address`), ``sessions._shuffle.BlockRun`` runs this loop
    without the GIL; the Python loop below is its twin, which alone can hash blocks as it takes
    them (``hasher``)."""

    def __init__(self, src: np.ndarray, starts: list[int], table: memoryview, pieces: list[tuple[int, int]],
                 shuffles: bool, body: np.ndarray, block_size: int, parts: int, hasher: Hasher | None,
                 early: EarlyJob | None = None, c_loop: int | None = None) -> None:
        if hasher is not None and (parts != 1 or c_loop is not None):
            raise ValueError("blocks are hashed as they are taken only when the Python loop takes them all, in order")
        self.src = src
        self.stored = src.data
        self.hasher = hasher
        self.starts = starts  # stored offset of each block in the payload, then the payload's end
        self.table = table  # the arrays' records as stored: a block's run of them goes to unshuffle_block
        self.body = body
        self.block_size = block_size
        count = len(starts) - 1
        self.pieces = pieces  # the run [first, stop) of table records of each block's arrays
        self.shuffles = shuffles
        # asked once, before any block lands: each block written makes more of the body resident
        self.stream = self.shuffles and shuffle_filter.should_stream(body)
        bounds = [count * k // parts for k in range(parts + 1)]
        self._untaken = [[bounds[k], bounds[k + 1]] for k in range(parts)]  # [first, stop) of each run
        self._caller_came = False  # whether run 0's thread has taken a block yet
        self._taking = threading.Lock()
        self.early = early  # run by the thread of run 0 (see decode_blocks)
        #: (block number, reason) of each bad block, in the order threads met them
        self.failures: list[tuple[int, str]] = []
        # copy_out's targets: (offset, byte view) sorted, none overlapping the next; each block is
        # copied into them by whichever of its thread and copy_out comes second (see _BLOCK_*)
        self._targets: list[tuple[int, memoryview]] | None = None
        self._states = bytearray(count)
        self._late_targets: Sequence[Target] = ()  # targets copy_out could not take: filled by finish
        # The C loop, where it is built: on several threads, the Python loop would need the GIL
        # between blocks, which the caller's thread holds for milliseconds at a time while it
        # builds the early commands, so the other threads would mostly wait; on one, it saves
        # the Python loop's own time (about 10 us a block).
        self.run: Any = None
        if c_loop is not None:
            try:
                self.run = shuffle_filter.BlockRun(c_loop, src, starts, body, block_size, table, pieces,
                                                   self.stream, parts)
            except ValueError:  # sizes beyond what C ints hold: the Python loop says what is wrong
                self.run = None

    def copy_out(self, targets: Sequence[Target]) -> None:
        """Fill each target with the raw bytes from its offset: now for the blocks already placed,
        and each later block's part by its thread as it lands. Targets out of order, overlapping
        or past the body (only a damaged chunk makes those) are filled by :meth:`finish`."""
        if self.run is not None:
            try:
                self.run.copy_out(targets)
                return
            except ValueError:
                self._late_targets = targets
                return
        views = [(offset, memoryview(buffer).cast("B")) for offset, buffer in targets]
        if not _in_order_within(views, self.body.nbytes):
            self._late_targets = targets
            return
        with self._taking:
            self._targets = views
            done = [number for number, state in enumerate(self._states) if state == _BLOCK_DONE]
            for number, state in enumerate(self._states):
                if state == _BLOCK_TAKEN:
                    self._states[number] = _BLOCK_TAKEN_OWES_COPY
        for number in done:
            self._copy_to_targets(number)

    def _copy_to_targets(self, number: int) -> None:
        """Block ``number``'s raw bytes copied into the parts of the targets it overlaps."""
        assert self._targets is not None
        start = number * self.block_size
        end = min(start + self.block_size, self.body.nbytes)
        out = self.body.data
        # the last target starting before the block may reach into it; ends are sorted like starts
        first = max(0, bisect.bisect_right(self._targets, start, key=lambda target: target[0]) - 1)
        for offset, view in itertools.islice(self._targets, first, None):
            if offset >= end:
                break
            lo, hi = max(offset, start), min(offset + view.nbytes, end)
            if lo < hi:
                view[lo - offset : hi - offset] = out[lo:hi]

    def finish(self) -> None:
        """Once every thread is done: fill the targets left to the end, let go of those of the C
        loop, and add the bad blocks it met to :attr:`failures`."""
        out = self.body.data
        for offset, buffer in self._late_targets:
            target = memoryview(buffer).cast("B")
            target[:] = out[offset : offset + target.nbytes]
        if self.run is None:
            return
        self.run.release()
        raw_size = self.body.nbytes
        for number, kind, value in self.run.failures():
            if kind == 1:
                reason = f"lz4 decompression failed: malformed block (error at input byte {value})"
            elif kind == 2:
                expected = min(self.block_size, raw_size - number * self.block_size)
                reason = f"decompressed to {value} bytes, expected {expected}"
            else:
                reason = "its pieces of the shuffled arrays do not fit it"
            self.failures.append((number, reason))

    def _take(self, part: int) -> int | None:
        """The next block for the thread of run ``part`` (None once every block is taken)."""
        with self._taking:
            self._caller_came = self._caller_came or part == 0
            run = self._untaken[part]
            if run[0] < run[1]:
                run[0] += 1
                number = run[0] - 1
                if self.hasher is not None:  # one run only: blocks come in payload order
                    self.hasher.update(self.stored[self.starts[number] : self.starts[number + 1]])
            else:
                run = max(self._untaken, key=self._left_to_take)
                if self._left_to_take(run) <= 0:
                    return None
                run[1] -= 1
                number = run[1]
            self._states[number] = _BLOCK_TAKEN if self._targets is None else _BLOCK_TAKEN_OWES_COPY
            return number

    def _left_to_take(self, run: list[int]) -> int:
        """Blocks another thread may take from the back of ``run``: block 0 waits for the caller's
        thread (run 0) until it comes, as its early commands need it in place."""
        left = run[1] - run[0]
        return left - 1 if run is self._untaken[0] and run[0] == 0 and not self._caller_came else left

    def _placed(self, number: int) -> None:
        """Mark block ``number`` done, and copy it into the targets if this thread owes that."""
        with self._taking:
            owes_copy = self._states[number] == _BLOCK_TAKEN_OWES_COPY
            self._states[number] = _BLOCK_DONE
        if owes_copy:
            self._copy_to_targets(number)

    def decode_part(self, part: int) -> None:
        """Decode run ``part``, then help with the others until every block is taken; bad blocks
        are recorded in :attr:`failures` (and the others still decoded and hashed)."""
        if self.run is not None:
            early = self.early if part == 0 else None
            ready = self.run.decode(part, max(1, early[0]) if early is not None else 0)
            if early is not None and ready >= early[0]:  # back early: the prefix is in place
                targets = early[1](self.body.data, ready)
                if targets:
                    self.copy_out(targets)
                self.run.decode(part, 0)
            return
        src, starts, body, block_size = self.src, self.starts, self.body, self.block_size
        raw_size = body.nbytes
        out = body.data
        scratch = np.empty(min(block_size, raw_size), dtype=np.uint8) if self.shuffles else body
        to_body, to_scratch = lz4_into.BlockCopier(src, body), lz4_into.BlockCopier(src, scratch)
        block = scratch.data
        early = self.early if part == 0 else None
        in_order = 0  # raw bytes this thread has placed from the body's start, one block after another
        while (number := self._take(part)) is not None:
            block_start = number * block_size
            block_end = min(block_start + block_size, raw_size)
            first, stop = self.pieces[number]
            shuffled_here = first < stop
            at, size = starts[number], starts[number + 1] - starts[number]
            try:  # a block with nothing shuffled goes straight to its place; else into cache first
                if shuffled_here:
                    to_scratch.decompress(at, size, 0, block_end - block_start)
                else:
                    to_body.decompress(at, size, block_start, block_end - block_start)
            except ValueError as error:
                self.failures.append((number, str(error)))
                continue
            if shuffled_here:  # its array pieces unshuffled, the bytes between them copied
                shuffle_filter.unshuffle_block(out, block[: block_end - block_start], block_start,
                                               self.table[first * _ARRAY.size : stop * _ARRAY.size], self.stream)
            self._placed(number)
            if block_start == in_order:  # after a bad or stolen block, in_order stays behind for good
                in_order = block_end
                if early is not None and in_order >= early[0]:
                    targets = early[1](out, in_order)
                    if targets:
                        self.copy_out(targets)
                    early = None
