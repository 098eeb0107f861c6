"""Chunks with the BLOCKS flag (format 1.1): lz4 blocks, float arrays shuffled block by block."""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator
from pathlib import Path

import lz4.block
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_golden import (  # noqa: E402
    BLOCKS_CHUNK,
    SHUFFLE_CHUNK,
    SHUFFLE_PLAIN_CHUNK,
    blocks_arrays,
    build_shuffle_plain_chunk,
    shuffled_1_0_chunk,
)

from sessions import LogFormatError, decode_threads, lz4_into  # noqa: E402
from sessions import shuffle as shuffle_filter  # noqa: E402
from sessions.blocks import decode_blocks, encode_blocks  # noqa: E402
from sessions.chunk import (  # noqa: E402
    HEADER_SIZE,
    ChunkFlags,
    _pack_header,
    checksum,
    decode_chunk,
    encode_chunk_rows,
    peek_chunk_header,
)

BACKENDS = ["numpy"] + (["c"] if shuffle_filter.BACKEND == "c" else [])


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    default = shuffle_filter.BACKEND
    shuffle_filter.use(request.param)
    yield request.param
    shuffle_filter.use(default)


@pytest.fixture(params=["direct", "copy"])
def lz4_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """liblz4 straight into the body (python-lz4's wheels export it) or python-lz4 and a copy."""
    if request.param == "direct" and not lz4_into.AVAILABLE:
        if sys.platform == "linux":  # python-lz4's Linux wheels export it: losing it is a regression
            pytest.fail("LZ4_decompress_safe not found in python-lz4 or a system liblz4")
        pytest.skip("LZ4_decompress_safe not reachable on this platform (decoding copies instead)")
    lz4_into.use(request.param == "direct")
    yield request.param
    lz4_into.use(True)


def _smooth_rows() -> list[tuple]:
    """Arrays of every shuffled itemsize, several 256 KiB blocks long, with other values between."""
    x = np.arange(200_000, dtype=np.float64)
    arrays = [
        np.sort(np.sin(x / 1000.0)).astype(np.float32),  # 800 kB
        np.cumsum(np.cos(x[:60_000] / 30.0)),  # float64
        (x[:150_001] / 1000.0).astype(np.float16),  # odd count
        np.exp(1j * x[:30_000] / 500.0),  # complex128
    ]
    rows: list[tuple] = []
    for seq, array in enumerate(arrays, start=1):
        rows.append((2 * seq - 1, seq, "Buffer.set_data", f"b{seq}", (array, 0, len(array)), {}))
        rows.append((2 * seq, seq, "Canvas.set_background_color", "c", (bytearray(b"\x01\x02\x03\x04"),), {}))
    return rows


def _check_same(chunk: bytes, rows: list[tuple]) -> None:
    commands = decode_chunk(chunk).commands()
    assert [c.seq for c in commands] == [r[0] for r in rows]
    for command, row in zip(commands, rows):
        want = row[4][0]
        got = command.args[0]
        if isinstance(want, np.ndarray):
            assert got.dtype == want.dtype and np.array_equal(got, want)
        else:
            assert bytes(got) == bytes(want)


def test_shuffled_chunks_are_blocked_and_round_trip(backend: str, lz4_path: str) -> None:
    rows = _smooth_rows()
    chunk = b"".join(encode_chunk_rows(rows, shuffle=True))
    info = peek_chunk_header(chunk)
    assert info.flags == ChunkFlags.LZ4 | ChunkFlags.SHUFFLE | ChunkFlags.BLOCKS
    assert info.stored_size < info.raw_size
    _check_same(chunk, rows)


def test_auto_shuffle_of_smooth_data_gives_blocks() -> None:
    rows = _smooth_rows()[:2]
    assert peek_chunk_header(b"".join(encode_chunk_rows(rows))).flags & ChunkFlags.BLOCKS


def test_big_compressible_chunks_are_blocked_without_shuffle(lz4_path: str) -> None:
    """Over one block, plain lz4 chunks are blocks too (no joined copy of the body on writing);
    blocks inside one array, blocks across several values and small chunks all round-trip."""
    constant = np.full(300_000, 1.5, np.float32)  # 1.2 MB: several whole blocks inside one blob
    counts = np.arange(100_000, dtype=np.int64) % 7  # integers: never shuffled
    rows = [
        (1, 1, "Buffer.set_data", "b1", (constant, 0, len(constant)), {}),
        (2, 1, "Canvas.set_background_color", "c", (bytearray(b"\x01\x02\x03\x04"),), {}),
        (3, 2, "Buffer.set_data", "b2", (counts, 0, len(counts)), {}),
    ]
    chunk = b"".join(encode_chunk_rows(rows, shuffle=False))
    info = peek_chunk_header(chunk)
    assert info.flags == ChunkFlags.LZ4 | ChunkFlags.BLOCKS
    assert info.stored_size < info.raw_size // 50
    _check_same(chunk, rows)
    small = b"".join(encode_chunk_rows(rows[1:2] + [(3, 2, "Buffer.set_data", "b2", (counts[:1000], 0, 1000), {})]))
    assert peek_chunk_header(small).flags == ChunkFlags.LZ4  # one lz4 block: nothing to gain below a block


def test_the_golden_blocks_chunk_still_decodes(backend: str) -> None:
    data = BLOCKS_CHUNK.read_bytes()
    assert peek_chunk_header(data).flags & ChunkFlags.BLOCKS
    commands = decode_chunk(data).commands()
    assert len(commands) == 4
    for command, array in zip(commands, blocks_arrays()):
        assert command.args[0].dtype == array.dtype and np.array_equal(command.args[0], array)


@pytest.mark.parametrize(("golden", "flags"), [(SHUFFLE_CHUNK, ChunkFlags.LZ4 | ChunkFlags.SHUFFLE),
                                               (SHUFFLE_PLAIN_CHUNK, ChunkFlags.SHUFFLE)],
                         ids=["lz4", "uncompressed"])
def test_the_golden_whole_array_shuffled_chunks_still_decode(backend: str, golden: Path, flags: int) -> None:
    """SHUFFLE without BLOCKS (the 1.0 layout): float arrays stored whole as byte planes, with
    lz4 (what 1.0 writers made) or without (what compress=False, shuffle=True still writes)."""
    data = golden.read_bytes()
    assert peek_chunk_header(data).flags == flags
    commands = decode_chunk(data).commands()
    assert len(commands) == 4
    for command, array in zip(commands, blocks_arrays()):
        assert command.args[0].dtype == array.dtype and np.array_equal(command.args[0], array)


def test_the_writer_still_writes_the_golden_uncompressed_shuffled_chunk(tmp_path: Path) -> None:
    again = tmp_path / "again.chunk"
    build_shuffle_plain_chunk(again)
    assert again.read_bytes() == SHUFFLE_PLAIN_CHUNK.read_bytes()


def test_format_1_0_shuffled_chunks_still_decode(backend: str) -> None:
    """Before BLOCKS, a shuffled chunk was one lz4 block of whole-array planes (flags LZ4|SHUFFLE)."""
    rows = _smooth_rows()
    chunk = shuffled_1_0_chunk(rows)
    assert peek_chunk_header(chunk).flags == ChunkFlags.LZ4 | ChunkFlags.SHUFFLE
    _check_same(chunk, rows)


def _with_payload(chunk: bytes, payload: bytes, flags: int | None = None) -> bytes:
    """``chunk`` with another payload (checksums recomputed: only the payload's structure is bad)."""
    info = peek_chunk_header(chunk)
    head = _pack_header(info.kind, info.flags if flags is None else flags, info.count,
                        (info.seq_first, info.seq_last), (info.t_first, info.t_last), info.raw_size, len(payload),
                        info.meta_size, checksum(payload))
    return head + payload


def _damaged_payloads(payload: bytes) -> Iterator[tuple[str, bytes]]:
    block_size, blocks, arrays = struct.unpack_from("<III", payload)
    table = 12 + 4 * blocks
    yield "block count", struct.pack("<III", block_size, blocks + 1, arrays) + payload[12:]
    yield "block size", struct.pack("<III", 100, blocks, arrays) + payload[12:]
    yield "array count", struct.pack("<III", block_size, blocks, arrays + 1000) + payload[12:]
    sizes = bytearray(payload)
    struct.pack_into("<I", sizes, 12, struct.unpack_from("<I", payload, 12)[0] + 1)
    yield "block sizes", bytes(sizes)
    itemsize = bytearray(payload)
    struct.pack_into("<I", itemsize, table + 16, 3)
    yield "itemsize", bytes(itemsize)
    overlap = bytearray(payload)
    struct.pack_into("<Q", overlap, table + 24, struct.unpack_from("<Q", payload, table)[0])
    yield "overlapping arrays", bytes(overlap)
    corrupt = bytearray(payload)
    corrupt[-40:] = bytes(40)
    yield "lz4 data", bytes(corrupt)
    yield "truncated table", payload[:10]


def test_malformed_block_tables_raise_the_documented_error(lz4_path: str) -> None:
    chunk = b"".join(encode_chunk_rows(_smooth_rows(), shuffle=True))
    payload = chunk[HEADER_SIZE:]
    for what, bad in _damaged_payloads(payload):
        with pytest.raises(LogFormatError):
            decode_chunk(_with_payload(chunk, bad)).commands()
        assert what
    with pytest.raises(LogFormatError, match="BLOCKS flag without LZ4"):
        peek_chunk_header(_with_payload(chunk, payload, flags=ChunkFlags.SHUFFLE | ChunkFlags.BLOCKS))


def test_a_reader_refuses_blocks_under_its_minimum() -> None:
    """A chunk cut into tiny blocks (valid ones) would cost the reader bookkeeping per 16 bytes: it
    is refused, as payloads of blocks from MIN_BLOCK_BYTES up decode."""
    chunk = b"".join(encode_chunk_rows(_smooth_rows(), shuffle=True))
    info = peek_chunk_header(chunk)
    raw = bytes(decode_chunk(chunk).raw)
    segments = [(0, memoryview(raw), 0)]
    for block_size in (16, 4080):
        tiny = _with_payload(chunk, b"".join(encode_blocks(segments, info.raw_size, block_size)))
        with pytest.raises(LogFormatError, match=f"blocks of {block_size} raw bytes, under the 4096"):
            decode_chunk(tiny, offset=77).commands()
    smallest = _with_payload(chunk, b"".join(encode_blocks(segments, info.raw_size, 4096)))
    assert bytes(decode_chunk(smallest).raw) == raw


@pytest.mark.parametrize("threads", [1, 3])
@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([0, 2, 4, 8, 16]), st.integers(0, 40)), min_size=1, max_size=8),
    st.sampled_from([16, 48, 64, 4096]),
    st.integers(0, 2**32 - 1),
)
def test_any_segments_and_block_size_round_trip(
    threads: int, spec: list[tuple[int, int]], block_size: int, seed: int
) -> None:
    """Runs of plain and shuffled bytes (16-byte aligned, as the codec lays them out) come back
    exactly, whatever the block size, on one decoding thread or several (16-byte blocks give most
    payloads here enough blocks to be split among three)."""
    rng = np.random.default_rng(seed)
    segments = []
    at = 0
    for itemsize, units in spec:
        data = rng.integers(0, 256, 16 * units, dtype=np.uint8).tobytes()
        segments.append((at, memoryview(data), itemsize))
        at += len(data)
    raw = b"".join(bytes(view) for _, view, _ in segments)
    payload = b"".join(encode_blocks(segments, len(raw), block_size))
    default = decode_threads.threads()
    decode_threads.set_threads(threads)
    try:
        assert bytes(decode_blocks(memoryview(payload), len(raw), dict, min_block_size=16)) == raw
    finally:
        decode_threads.set_threads(default)


@pytest.mark.parametrize("direct", [True, False])
def test_block_copier_places_exactly_one_block_and_rejects_bad_ones(direct: bool) -> None:
    lz4_into.use(direct)
    try:
        raw = np.sort(np.random.default_rng(1).random(5000)).astype(np.float32).view(np.uint8)
        packed = np.frombuffer(b"xyz" + lz4.block.compress(raw.tobytes(), store_size=False), np.uint8)
        dst = np.full(raw.nbytes + 32, 7, np.uint8)
        copier = lz4_into.BlockCopier(packed, dst)
        size = packed.nbytes - 3
        copier.decompress(3, size, 16, raw.nbytes)
        assert np.array_equal(dst[16 : 16 + raw.nbytes], raw)
        assert (dst[:16] == 7).all() and (dst[16 + raw.nbytes :] == 7).all()  # nothing outside the range
        with pytest.raises(ValueError, match="expected"):  # a block shorter than declared
            copier.decompress(3, size, 0, raw.nbytes + 16)
        with pytest.raises(ValueError, match="lz4 decompression failed"):  # the output would not fit
            copier.decompress(3, size, 0, raw.nbytes - 16)
        with pytest.raises(ValueError, match="lz4 decompression failed"):  # garbage
            lz4_into.BlockCopier(np.full(64, 0xF0, np.uint8), dst).decompress(0, 64, 0, 1000)
        with pytest.raises(ValueError, match="outside the buffers"):
            copier.decompress(3, packed.nbytes, 0, raw.nbytes)
        with pytest.raises(ValueError, match="outside the buffers"):
            copier.decompress(3, size, 40, raw.nbytes)
    finally:
        lz4_into.use(True)
