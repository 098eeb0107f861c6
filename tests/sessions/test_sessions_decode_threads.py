"""Big BLOCKS chunks decode on several threads: same bytes, same errors, safe after fork."""

from __future__ import annotations

import dataclasses
import itertools
import os
import struct
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import lz4.block
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sessions_testkit import built_c_module

from sessions import LogFormatError, codec, decode_threads, lz4_into, spare
from sessions import blocks as blocks_module
from sessions import shuffle as shuffle_filter
from sessions.blocks import decode_blocks
from sessions.chunk import (
    HEADER_SIZE,
    Chunk,
    ChunkFlags,
    checksum,
    checksum_hasher,
    decode_chunk,
    encode_chunk_rows,
    peek_chunk_header,
)
from sessions.limits import DEFAULT_LIMITS


@pytest.fixture(params=[1, 3])
def threads(request: pytest.FixtureRequest) -> Iterator[int]:
    default = decode_threads.threads()
    decode_threads.set_threads(request.param)
    yield request.param
    decode_threads.set_threads(default)


def _big_rows() -> list[tuple]:
    """Smooth float32 (shuffled) and constant int64 (plain) arrays: ~6 MB, 24 blocks of 256 KiB."""
    x = np.linspace(0, 50, 1_000_000, dtype=np.float32)
    return [
        (1, 1, "Buffer.set_data", "b1", (np.sin(x), 0, len(x)), {}),
        (2, 2, "Buffer.set_data", "b2", (np.full(250_000, 3, np.int64), 0, 250_000), {}),
        (3, 3, "Buffer.set_data", "b3", (np.cos(x), 0, len(x)), {}),
    ]


def test_each_worker_gets_enough_blocks_and_there_is_always_one() -> None:
    default = decode_threads.threads()
    try:
        for count in (1, 2, 4, 7):
            decode_threads.set_threads(count)
            for blocks in (0, 1, 7, 8, 16, 17, 100, 1001):
                workers = decode_threads.workers(blocks)
                assert 1 <= workers <= count
                if workers > 1:
                    assert blocks // workers >= decode_threads.MIN_BLOCKS_PER_THREAD
                # one more worker would be worth it only if there were threads left for it
                assert workers == count or blocks // (workers + 1) < decode_threads.MIN_BLOCKS_PER_THREAD
    finally:
        decode_threads.set_threads(default)
    with pytest.raises(ValueError, match="at least 1"):
        decode_threads.set_threads(0)


def test_a_big_chunk_decodes_the_same_on_one_or_several_threads(threads: int) -> None:
    rows = _big_rows()
    chunk = b"".join(encode_chunk_rows(rows))
    info = peek_chunk_header(chunk)
    assert info.flags & ChunkFlags.BLOCKS and info.flags & ChunkFlags.SHUFFLE
    assert decode_threads.workers(-(-info.raw_size // (256 << 10))) == min(threads, 3)
    for command, row in zip(decode_chunk(chunk).commands(), rows, strict=True):
        assert np.array_equal(command.args[0], row[4][0])


def _with_bad_blocks(payload: bytes, *numbers: int) -> bytes:
    """``payload`` whose lz4 blocks ``numbers`` are garbage of the same size (table intact)."""
    block_size, count, arrays = struct.unpack_from("<III", payload)
    sizes = struct.unpack_from(f"<{count}I", payload, 12)
    damaged = bytearray(payload)
    for number in numbers:
        at = 12 + 4 * count + 24 * arrays + sum(sizes[:number])
        damaged[at : at + sizes[number]] = b"\xff" * sizes[number]
    return bytes(damaged)


def test_a_bad_block_decoded_by_any_thread_is_reported_with_its_number(threads: int) -> None:
    chunk = b"".join(encode_chunk_rows(_big_rows()))
    count = struct.unpack_from("<I", chunk, HEADER_SIZE + 4)[0]
    payload = _with_bad_blocks(chunk[HEADER_SIZE:], count - 1)
    with pytest.raises(LogFormatError, match=f"block {count - 1}: lz4 decompression failed"):
        decode_blocks(memoryview(payload), peek_chunk_header(chunk).raw_size, dict)
    # inside a chunk, the checksum (computed alongside) names the damage first
    with pytest.raises(LogFormatError, match="checksum mismatch"):
        decode_chunk(chunk[:HEADER_SIZE] + payload)


def test_the_hasher_gets_the_whole_payload_in_order_even_with_bad_blocks(threads: int) -> None:
    chunk = b"".join(encode_chunk_rows(_big_rows()))
    raw_size = peek_chunk_header(chunk).raw_size
    count = struct.unpack_from("<I", chunk, HEADER_SIZE + 4)[0]
    intact = chunk[HEADER_SIZE:]
    for payload in (intact, _with_bad_blocks(intact, count - 1), _with_bad_blocks(intact, 0, 5, count // 2)):
        hasher = checksum_hasher()
        try:
            decode_blocks(memoryview(payload), raw_size, dict, hasher)
        except LogFormatError:
            assert payload != intact
        assert hasher.intdigest() == checksum(payload)


def test_of_several_bad_blocks_the_first_is_reported(threads: int) -> None:
    """Threads take blocks in turn and stop at their first bad one: the report must still name
    the payload's first bad block, whichever thread met which."""
    chunk = b"".join(encode_chunk_rows(_big_rows()))
    raw_size = peek_chunk_header(chunk).raw_size
    count = struct.unpack_from("<I", chunk, HEADER_SIZE + 4)[0]
    for bad in [(1, count - 1), (count // 2, count // 2 + 1, count - 1), (0, 5, 9, 13, 17)]:
        payload = _with_bad_blocks(chunk[HEADER_SIZE:], *bad)
        for _ in range(5):  # which thread meets which block varies from run to run
            with pytest.raises(LogFormatError, match=f"block {bad[0]}: lz4 decompression failed"):
                decode_blocks(memoryview(payload), raw_size, dict)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_decodes_on_its_own_pool() -> None:
    """The child inherits the pool object but not its threads: it must make a new one."""
    default = decode_threads.threads()
    decode_threads.set_threads(2)
    try:
        chunk = b"".join(encode_chunk_rows(_big_rows()))
        decode_chunk(chunk).commands()  # the parent's pool exists now
        pid = os.fork()
        if pid == 0:  # child: decode (a hang is killed by the alarm), report by exit status
            import signal

            signal.alarm(20)
            try:
                ok = np.array_equal(decode_chunk(chunk).commands()[2].args[0], _big_rows()[2][4][0])
            except BaseException:
                ok = False
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child status {status}"
    finally:
        decode_threads.set_threads(default)


def test_the_thread_count_comes_from_the_environment() -> None:
    import subprocess

    code = "from sessions import decode_threads; print(decode_threads.threads())"
    default = str(min(decode_threads.MAX_DEFAULT_THREADS, decode_threads._usable_cpus()))
    for value, expected in (("1", "1"), ("6", "6"), ("0", "1"), ("", default), ("lots", default)):
        env = {**os.environ, decode_threads.ENV_THREADS: value}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected
        assert ("not a number of threads" in out.stderr) == (value == "lots")


def test_a_pool_that_takes_no_more_work_leaves_the_decoding_to_the_caller() -> None:
    """At interpreter exit the pool refuses new jobs: a reader thread still decoding then does
    every range itself instead of failing."""
    chunk = b"".join(encode_chunk_rows(_big_rows()))
    default = decode_threads.threads()
    decode_threads.set_threads(3)
    try:
        decode_threads._get_pool().shutdown()
        for command, row in zip(decode_chunk(chunk).commands(), _big_rows(), strict=True):
            assert np.array_equal(command.args[0], row[4][0])
    finally:
        decode_threads.set_threads(default)


def test_errors_are_reported_in_job_order_whatever_thread_ran_them(threads: int) -> None:
    ran: list[int] = []

    def job(number: int, fail: bool) -> Callable[[], None]:
        def run() -> None:
            ran.append(number)
            if fail:
                raise ValueError(f"job {number}")
        return run

    with pytest.raises(ValueError, match="job 2"):
        decode_threads.run([job(0, False), job(1, False), job(2, True), job(3, True)])
    assert sorted(ran) == [0, 1, 2, 3]  # every job ran, failed ones included


def test_blocks_of_a_late_thread_are_decoded_by_the_others(threads: int) -> None:
    """The thread that hashes the payload starts its run of blocks late; the others take them from
    its back. Here it is very late: every block must still be decoded once and the digest whole."""
    chunk = b"".join(encode_chunk_rows(_big_rows()))
    payload = chunk[HEADER_SIZE:]

    class SlowHasher:
        def __init__(self) -> None:
            self.inner = checksum_hasher()

        def update(self, data: memoryview, /) -> None:
            time.sleep(0.02)
            self.inner.update(data)

    hasher = SlowHasher()
    raw = decode_blocks(memoryview(payload), peek_chunk_header(chunk).raw_size, dict, hasher)
    assert hasher.inner.intdigest() == checksum(payload)
    assert bytes(raw) == bytes(decode_chunk(chunk).raw)
    for command, row in zip(decode_chunk(chunk).commands(), _big_rows(), strict=True):
        assert np.array_equal(command.args[0], row[4][0])


def _decoded_on(threads: int, chunk: bytes) -> Chunk:
    default = decode_threads.threads()
    decode_threads.set_threads(threads)
    try:
        return decode_chunk(chunk)
    finally:
        decode_threads.set_threads(default)


def test_commands_made_while_the_last_blocks_decode_are_the_same() -> None:
    """The commands are decoded as soon as their table is in place, on one thread as on several;
    the arrays are views that get their bytes once every block is done. They equal the commands
    made from the whole raw bytes."""
    rows = _big_rows()
    chunk = b"".join(encode_chunk_rows(rows))
    for threads in (1, 3, 3, 3):  # however the threads meet the blocks, block 0 is the caller's
        early = _decoded_on(threads, chunk)
        assert early._early is not None  # made during the decode
    late = _decoded_on(1, chunk)
    late._early = None  # made from the raw bytes
    for a, b, row in zip(early.commands(), late.commands(), rows, strict=True):
        assert (a.seq, a.t_ns, a.op, a.target) == (b.seq, b.t_ns, b.op, b.target)
        assert np.array_equal(a.args[0], b.args[0]) and np.array_equal(a.args[0], row[4][0])


def test_values_copied_from_blocks_not_yet_decoded_wait_for_them() -> None:
    """A big bytes argument is copied out of the blobs when decoded: made early, it would copy
    bytes not decompressed yet. Such a chunk's commands are decoded once every block is in place."""
    x = np.linspace(0, 50, 1_000_000, dtype=np.float32)
    payload = bytes(range(256)) * 4096  # 1 MB, stored out of band, in the chunk's last blocks
    rows = [
        (1, 1, "Buffer.set_data", "b1", (np.sin(x), 0, len(x)), {}),
        (2, 2, "Buffer.set_data", "b2", (payload, 0, 4096), {}),
    ]
    chunk = b"".join(encode_chunk_rows(rows))
    decoded = _decoded_on(3, chunk)
    commands = decoded.commands()
    assert type(commands[1].args[0]) is bytes and commands[1].args[0] == payload
    assert np.array_equal(commands[0].args[0], np.sin(x))


def _bytearray_rows() -> list[tuple]:
    """Bytearrays of many sizes (the GSP API's buffer type), across block edges: ~7 MB, 28 blocks."""
    sizes = (300_000, 70_000, 262_144, 3_000_003, 120_000, 5_000, 400_000, 2_500_000)
    return [(k + 1, k, "Buffer.set_data", f"b{k}", (bytearray((np.arange(n) % 251 + k).astype(np.uint8).tobytes()),
                                                     0, n), {}) for k, n in enumerate(sizes)]


@pytest.mark.parametrize("loop", ["c", "python"])
def test_bytearrays_made_with_the_early_commands_are_filled_by_the_decoding_threads(threads: int, loop: str) -> None:
    """The commands are made once their rows are in place, the bytearrays unfilled; each thread
    fills them from the blocks it places. The commands read back are those written, and no buffer
    export is left on their bytearrays. Unfilled bytearrays are made by the C row reader only."""
    if loop == "c":
        _c_block_run()
    built_c_module("_rows")
    rows = _bytearray_rows()
    chunk = b"".join(encode_chunk_rows(rows))
    default_backend, default_rows = shuffle_filter.BACKEND, codec.ROWS_BACKEND
    codec.use_rows("c")
    if loop == "python":
        shuffle_filter.use("numpy")
    try:
        for _ in range(5):  # however the threads meet the blocks
            decoded = decode_chunk(chunk)
            assert decoded._early is not None
            commands = decoded.commands()
            assert [c.args[0] for c in commands] == [row[4][0] for row in rows]
            assert all(type(c.args[0]) is bytearray for c in commands)
            for command in commands:
                command.args[0].append(1)
    finally:
        shuffle_filter.use(default_backend)
        codec.use_rows(default_rows)


def test_the_raw_bytes_stay_whole_when_bytearrays_are_filled_as_blocks_land(threads: int) -> None:
    """Filling the bytearrays from the blocks must not take their bytes out of the chunk's raw
    bytes: ``Chunk.raw`` is the whole raw body, and commands decoded again from it (other limits
    than the early decode's) are those written."""
    rows = _bytearray_rows()
    chunk = b"".join(encode_chunk_rows(rows))
    info = peek_chunk_header(chunk)
    expected_raw = bytes(decode_blocks(memoryview(chunk)[HEADER_SIZE:], info.raw_size, dict))  # no targets
    spare.release()  # the body is decoded into junk, not into the spare that holds these very bytes
    junk = spare.empty(info.raw_size)
    junk.fill(0xA5)
    del junk
    decoded = decode_chunk(chunk)
    assert decoded._early is not None
    assert bytes(decoded.raw) == expected_raw
    other_limits = dataclasses.replace(DEFAULT_LIMITS, max_commands_per_chunk=1000)
    assert [c.args[0] for c in decoded.commands(other_limits)] == [row[4][0] for row in rows]


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.one_of(st.integers(0, 300), st.integers(200_000, 700_000)), min_size=1, max_size=12),
       threads=st.integers(1, 3), loop=st.sampled_from(["c", "python"]))
def test_bytearrays_of_any_sizes_and_places_read_back_on_any_loop(sizes: list[int], threads: int, loop: str) -> None:
    """Bytearrays inline and in the blob area, starting and ending anywhere in the blocks, among
    arrays: whichever loop and thread count decode them, the commands read back are those written."""
    if loop == "c" and (shuffle_filter.BlockRun is None or lz4_into.decompress_address() is None):
        loop = "python"
    rows = [(k + 1, k, "Buffer.set_data", f"b{k % 3}", (bytearray((np.arange(n) % 253 + k).astype(np.uint8).tobytes()),
                                                         0, n), {}) for k, n in enumerate(sizes)]
    rows.insert(len(rows) // 2, (0, 0, "Buffer.set_data", "a", (np.linspace(0, 1, 300_000, dtype=np.float32), 0, 1), {}))
    chunk = b"".join(encode_chunk_rows(rows))
    default_threads, default_backend = decode_threads.threads(), shuffle_filter.BACKEND
    decode_threads.set_threads(threads)
    if loop == "python":
        shuffle_filter.use("numpy")
    try:
        commands = decode_chunk(chunk).commands()
    finally:
        shuffle_filter.use(default_backend)
        decode_threads.set_threads(default_threads)
    assert [type(c.args[0]) for c in commands] == [type(row[4][0]) for row in rows]
    for command, row in zip(commands, rows, strict=True):
        assert np.array_equal(command.args[0], row[4][0]) if isinstance(row[4][0], np.ndarray) else (
            command.args[0] == row[4][0])


@pytest.mark.parametrize("loop", ["c", "python"])
def test_targets_of_the_early_job_are_filled_even_when_out_of_order_or_overlapping(threads: int, loop: str) -> None:
    """Targets that the per-block copies cannot take (only a damaged chunk's commands make them)
    are filled once every block is in place."""
    if loop == "c":
        _c_block_run()
    chunk = b"".join(encode_chunk_rows(_big_rows()))
    info = peek_chunk_header(chunk)
    expected = bytes(decode_chunk(chunk).raw)
    spans = {"sorted": [(0, 100), (262_100, 100), (1_000_000, 3_000_000), (info.raw_size - 5, 5)],
             "overlapping": [(0, 300_000), (200_000, 100), (5_000_000, 1_000)],
             "out of order": [(5_000_000, 1_000), (10, 10)]}
    default_backend = shuffle_filter.BACKEND
    if loop == "python":
        shuffle_filter.use("numpy")
    try:
        for name, wanted in spans.items():
            targets = [(at, bytearray(n)) for at, n in wanted]
            ran = []

            def job(body: memoryview, ready: int, targets: list = targets, ran: list = ran) -> list:
                ran.append(ready)
                return targets

            decode_blocks(memoryview(chunk)[HEADER_SIZE:], info.raw_size, dict, early=(info.meta_size, job))
            assert len(ran) == 1, name
            for at, buffer in targets:
                assert buffer == expected[at : at + len(buffer)], (name, at)
    finally:
        shuffle_filter.use(default_backend)


@pytest.mark.filterwarnings("ignore:skipping command")  # a flip can turn a value into an unknown type
def test_damage_behind_a_valid_checksum_is_reported_never_crashes(threads: int) -> None:
    """Bit flips anywhere in a big chunk's payload, the checksums then fixed up so that decoding
    goes on past them: every outcome is the intact commands, other commands, or LogFormatError."""
    chunk = b"".join(encode_chunk_rows(_big_rows()))
    rng = np.random.default_rng(7)
    payload_size = len(chunk) - HEADER_SIZE
    table_size = 12 + 4 * struct.unpack_from("<I", chunk, HEADER_SIZE + 4)[0] + 24 * 2
    # half the flips in the table and the first block (the commands' table is there), half anywhere
    offsets = [*rng.integers(0, table_size + 4096, 40), *rng.integers(0, payload_size, 40)]
    outcomes = {"ok": 0, "error": 0}
    for offset in offsets:
        damaged = bytearray(chunk)
        damaged[HEADER_SIZE + int(offset)] ^= 1 << int(rng.integers(0, 8))
        struct.pack_into("<Q", damaged, 72, checksum(damaged[HEADER_SIZE:]))
        struct.pack_into("<Q", damaged, 80, checksum(damaged[:80]))
        try:
            decode_chunk(bytes(damaged)).commands()
        except LogFormatError:
            outcomes["error"] += 1
        else:
            outcomes["ok"] += 1
    assert outcomes["error"] > 0  # the flips did reach the decoder


# --------------------------------------------------------------------------------------------
# The C loop over blocks (sessions._shuffle.BlockRun), which several threads run without the GIL
# --------------------------------------------------------------------------------------------
def _c_block_run() -> Any:
    if shuffle_filter.BlockRun is None or lz4_into.decompress_address() is None:
        pytest.skip("the C shuffle kernel or liblz4's LZ4_decompress_safe is not here")
    return shuffle_filter.BlockRun


def _decode_with(loop: str, payload: bytes, raw_size: int) -> bytes:
    """The payload decoded on 3 threads by the C loop, or by the Python loop (C kernel off)."""
    default_threads, default_backend = decode_threads.threads(), shuffle_filter.BACKEND
    decode_threads.set_threads(3)
    if loop == "python":
        shuffle_filter.use("numpy")
    try:
        return bytes(decode_blocks(memoryview(payload), raw_size, dict))
    finally:
        shuffle_filter.use(default_backend)
        decode_threads.set_threads(default_threads)


def _with_short_block(payload: bytes, number: int) -> bytes:
    """``payload`` whose block ``number`` is a valid lz4 block of half its raw size."""
    block_size, count, arrays = struct.unpack_from("<III", payload)
    sizes = list(struct.unpack_from(f"<{count}I", payload, 12))
    start = 12 + 4 * count + 24 * arrays
    blocks = [payload[start + sum(sizes[:k]) : start + sum(sizes[: k + 1])] for k in range(count)]
    blocks[number] = lz4.block.compress(b"\x07" * (block_size // 2), store_size=False)
    sizes[number] = len(blocks[number])
    return (struct.pack("<III", block_size, count, arrays) + struct.pack(f"<{count}I", *sizes)
            + payload[12 + 4 * count : start] + b"".join(blocks))


@pytest.mark.parametrize("count", [1, 3])
def test_the_c_loop_is_what_one_or_several_threads_run(count: int) -> None:
    _c_block_run()
    chunk = b"".join(encode_chunk_rows(_big_rows()))
    default = decode_threads.threads()
    decode_threads.set_threads(count)
    runs = []
    original = blocks_module._Blocks.decode_part

    def watched(self: Any, part: int) -> None:
        runs.append(self.run)
        original(self, part)

    blocks_module._Blocks.decode_part = watched  # type: ignore[method-assign]
    try:
        decode_chunk(chunk)
    finally:
        blocks_module._Blocks.decode_part = original  # type: ignore[method-assign]
        decode_threads.set_threads(default)
    assert len(runs) == count and all(run is not None and run is runs[0] for run in runs)
    placed_by_c = bytes(decode_chunk(chunk).raw)
    blocks_module.use_c_loop(False)  # what benchmarks compare it with
    runs.clear()
    blocks_module._Blocks.decode_part = watched  # type: ignore[method-assign]
    try:
        assert bytes(decode_chunk(chunk).raw) == placed_by_c
    finally:
        blocks_module._Blocks.decode_part = original  # type: ignore[method-assign]
        blocks_module.use_c_loop(True)
    assert runs and all(run is None for run in runs)


def test_the_c_and_python_loops_place_the_same_bytes_and_report_the_same_damage() -> None:
    _c_block_run()
    chunk = b"".join(encode_chunk_rows(_big_rows()))
    raw_size = peek_chunk_header(chunk).raw_size
    intact = chunk[HEADER_SIZE:]
    count = struct.unpack_from("<I", intact, 4)[0]
    assert _decode_with("c", intact, raw_size) == _decode_with("python", intact, raw_size) == bytes(
        decode_chunk(chunk).raw)
    for damaged in (_with_bad_blocks(intact, 3, count - 1), _with_short_block(intact, 2),
                    _with_short_block(intact, count - 2)):
        reports = set()
        for loop in ("python", "c"):
            with pytest.raises(LogFormatError) as error:
                _decode_with(loop, damaged, raw_size)
            reports.add(str(error.value))
        assert len(reports) == 1, reports
    assert "decompressed to 131072 bytes, expected 262144" in reports.pop()


def test_block_run_refuses_arguments_that_do_not_fit() -> None:
    block_run = _c_block_run()
    address = lz4_into.decompress_address()
    src, body, table = bytes(100), np.empty(600, np.uint8), b""
    good = {"decompress": address, "src": src, "starts": [0, 50, 100], "body": body, "block_size": 512,
            "table": table, "pieces": [(0, 0), (0, 0)], "stream": False, "parts": 2}
    block_run(**good)
    for change in ({"starts": [0, 50]}, {"starts": [0, 60, 50]}, {"starts": [0, 50, 101]},
                   {"pieces": [(0, 0), (0, 1)]}, {"pieces": [(0, 0), (1, 0)]}, {"parts": 0}, {"parts": 3},
                   {"body": np.empty(1025, np.uint8)}, {"body": np.empty(512, np.uint8)}, {"block_size": 0},
                   {"table": bytes(23)}, {"decompress": 0}):
        with pytest.raises((ValueError, TypeError)):
            block_run(**{**good, **change})
    with pytest.raises(TypeError):
        block_run(**{**good, "body": b"read-only" * 67})
    run = block_run(**good)
    with pytest.raises(ValueError, match="part 2 of 2"):
        run.decode(2, 0)


def _block_run_of(chunk: bytes, body: np.ndarray, parts: int) -> Any:
    """A BlockRun of the BLOCKS chunk ``chunk`` into ``body``, in ``parts`` runs."""
    payload = chunk[HEADER_SIZE:]
    info = peek_chunk_header(chunk)
    block_size, count, arrays = struct.unpack_from("<III", payload)
    sizes = struct.unpack_from(f"<{count}I", payload, 12)
    table_end = 12 + 4 * count + 24 * arrays
    table = payload[12 + 4 * count : table_end]
    return _c_block_run()(lz4_into.decompress_address(), np.frombuffer(payload, np.uint8),
                          list(itertools.accumulate(sizes, initial=table_end)), body, block_size, table,
                          shuffle_filter.block_pieces(table, info.raw_size, block_size), False, parts)


@pytest.mark.parametrize("moment", ["before", "between", "after"])
def test_block_run_copies_out_targets_given_before_between_or_after_the_blocks(moment: str) -> None:
    """Blocks placed before copy_out are copied by it, later ones by the thread that places them."""
    _c_block_run()
    chunk = b"".join(encode_chunk_rows(_big_rows()))
    expected = bytes(decode_chunk(chunk).raw)
    body = np.empty(len(expected), np.uint8)
    run = _block_run_of(chunk, body, 2)
    block = 256 << 10
    targets = [(at, bytearray(n)) for at, n in ((0, 1000), (block - 10, 20), (3 * block + 5, 2 * block),
                                                (len(expected) - 7, 7))]
    if moment == "before":
        run.copy_out(targets)
    run.decode(1, 0)  # every block but block 0, which waits for run 0
    if moment == "between":
        run.copy_out(targets)
    run.decode(0, 0)
    if moment == "after":
        run.copy_out(targets)
    assert run.failures() == [] and bytes(body) == expected
    for at, buffer in targets:
        assert buffer == expected[at : at + len(buffer)]
    with pytest.raises(BufferError):
        targets[0][1].append(0)  # held until release()
    run.release()
    targets[0][1].append(0)
    with pytest.raises(ValueError, match="once"):
        run.copy_out([])


def test_block_run_refuses_targets_it_cannot_copy_in_order() -> None:
    _c_block_run()
    chunk = b"".join(encode_chunk_rows(_big_rows()))
    size = peek_chunk_header(chunk).raw_size
    run = _block_run_of(chunk, np.empty(size, np.uint8), 2)
    for targets in ([(10, bytearray(5)), (0, bytearray(5))], [(0, bytearray(10)), (5, bytearray(10))],
                    [(size - 4, bytearray(5))], [(-1, bytearray(2))], [(0, b"read-only")], [(0,)], [5]):
        with pytest.raises((ValueError, TypeError, BufferError)):
            run.copy_out(targets)
    good = bytearray(16)
    run.copy_out([(0, good)])  # the refused calls took nothing
    run.decode(1, 0)
    run.decode(0, 0)
    assert good == bytes(decode_chunk(chunk).raw)[:16]


def test_block_run_alone_decodes_every_block_even_when_asked_to_come_back_early() -> None:
    """A run asked to come back once the prefix is in place waits for the other parts to start;
    when none ever does (all on this thread), it decodes every block first."""
    chunk = b"".join(encode_chunk_rows(_big_rows()))
    block_size, count = struct.unpack_from("<II", chunk, HEADER_SIZE)
    body = np.empty(peek_chunk_header(chunk).raw_size, np.uint8)
    run = _block_run_of(chunk, body, 2)
    ready = run.decode(0, 1)
    assert ready >= block_size
    assert run.decode(1, 0) == count // 2 * block_size  # nothing left for run 1: it placed nothing
    assert run.failures() == []
    assert bytes(body) == bytes(decode_chunk(chunk).raw)
