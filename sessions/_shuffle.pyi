"""Stub of the C kernel of :mod:`sessions.shuffle` (sessions/_shuffle.c)."""

from typing_extensions import Buffer

#: Largest itemsize the kernels accept.
MAX_ITEMSIZE: int
#: 1 when the SSE2 tiles are built in, 0 when only the portable loops are.
SIMD: int

def shuffle_into(dst: Buffer, src: Buffer, itemsize: int, /) -> None:
    """Byte-shuffle ``src`` (``len // itemsize`` items) into ``itemsize`` byte planes in ``dst``."""

def unshuffle_into(dst: Buffer, src: Buffer, itemsize: int, /) -> None:
    """Inverse of :func:`shuffle_into`: byte planes in ``src`` back into items in ``dst``."""

def _shuffle_into_portable(dst: Buffer, src: Buffer, itemsize: int, /) -> None: ...
def _unshuffle_into_portable(dst: Buffer, src: Buffer, itemsize: int, /) -> None: ...

def unshuffle_block(body: Buffer, block: Buffer, block_start: int, arrays: Buffer, stream: bool = False, /) -> None:
    """One decompressed block of a ``BLOCKS`` chunk placed at ``body[block_start:]``: the pieces
    of the arrays in ``arrays`` (records ``<QQII``: offset, length, itemsize, 0; sorted, none
    past the block) unshuffled, every other byte copied; ``stream``: pieces of 8 kB or more
    written with non-temporal stores. ValueError before any write when the block or a record
    does not fit."""

def should_stream(dst: Buffer, /) -> bool:
    """Whether unshuffling into ``dst`` is faster with non-temporal stores: 1 MiB or more, most
    of its pages in memory already."""

def block_pieces(arrays: Buffer, raw_size: int, block_size: int, /) -> list[tuple[int, int]]:
    """The run ``(first, stop)`` of the records of ``arrays`` (``<QQII``) that overlap each block
    of ``block_size`` raw bytes; ValueError naming the first record that is not whole items of 2,
    4, 8 or 16 bytes inside the raw bytes, sorted and apart from the one before."""

class BlockRun:
    """The blocks of one ``BLOCKS`` chunk, decoded into ``body`` by ``parts`` threads, none of them
    holding the GIL between blocks. ``decompress`` is the address of liblz4's
    ``LZ4_decompress_safe``; ``starts`` the stored offset of each block in ``src``, then the end;
    ``pieces`` the ``(first, stop)`` records of ``table`` in each block (:func:`block_pieces`)."""

    def __init__(self, decompress: int, src: Buffer, starts: list[int], body: Buffer, block_size: int,
                 table: Buffer, pieces: list[tuple[int, int]], stream: bool, parts: int) -> None: ...
    def decode(self, part: int, until: int, /) -> int:
        """Decode run ``part`` from its front, then blocks from the back of the runs with the most
        left; with ``until`` > 0, come back once this run has placed the body's first ``until``
        bytes in order and every part has started. The bytes this run placed in order."""
    def failures(self) -> list[tuple[int, int, int]]:
        """``(block, kind, value)`` of each bad block: kind 1 an lz4 error at input byte ``value``,
        2 decompressed to ``value`` bytes, 3 a table piece that does not fit the block."""
