"""Spare decode buffers (sessions.spare, sessions/_spare.c): memory is reused only once nothing
refers to its buffer, whatever refers to it (slices, typed views, memoryviews, decoded commands,
other threads), the spares stay within their bounds, and decoding into spares gives the same
commands as decoding into new memory (a real log, real subprocess)."""

from __future__ import annotations

import gc
import os
import random
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sessions_testkit import built_c_module

from sessions import Command, LogReader, LogWriter, decode_chunk, encode_chunk, spare

MiB = 1 << 20


def _c_module() -> Any:
    return built_c_module("_spare")


@pytest.fixture(autouse=True)
def no_spares() -> Iterator[None]:
    """Every test starts and ends with no spares (they are process-wide). Garbage of earlier tests
    is collected first: a cycle holding a decoded body (an exception's traceback) would otherwise
    hand it back as a spare whenever the collector runs, in the middle of a test."""
    _c_module()
    if os.environ.get(spare.ENV_NO_SPARE) == "1":
        pytest.skip(f"{spare.ENV_NO_SPARE}=1: spares are switched off in this process")
    gc.collect()
    spare.release()
    yield
    spare.release()


def address(array: np.ndarray) -> int:
    return int(array.ctypes.data)


def test_memory_is_reused_once_the_last_reference_goes() -> None:
    first = spare.empty(4 * MiB)
    assert first.dtype == np.uint8 and first.shape == (4 * MiB,) and first.flags.writeable
    where = address(first)
    assert spare.held() == (0, 0)
    del first
    assert spare.held() == (1, 4 * MiB)
    second = spare.empty(3 * MiB)  # 4 MiB is at most twice 3 MiB: reused
    assert address(second) == where and second.nbytes == 3 * MiB
    assert spare.held() == (0, 0)


@pytest.mark.parametrize(
    "keep",
    [
        lambda a: a[100:200],
        lambda a: a.view(np.float32)[5:],
        lambda a: memoryview(a)[1:],
        lambda a: np.frombuffer(memoryview(a), dtype=np.int64),
        lambda a: np.asarray(memoryview(a).cast("B")[64:]).reshape(-1, 4),
    ],
    ids=["slice", "typed view", "memoryview", "frombuffer of a memoryview", "reshaped view"],
)
def test_memory_is_not_reused_while_anything_refers_to_it(keep: Any) -> None:
    array = spare.empty(2 * MiB)
    array[:] = 7
    kept = keep(array)
    del array
    assert spare.held() == (0, 0)
    other = spare.empty(2 * MiB)
    other[:] = 9  # would overwrite `kept` if its memory had been handed out again
    assert np.all(np.frombuffer(kept, dtype=np.uint8) == 7)
    del other, kept
    assert spare.held() == (2, 4 * MiB)


def test_a_spare_much_bigger_or_smaller_is_not_used() -> None:
    big = spare.empty(10 * MiB)
    big_at = address(big)
    del big
    small = spare.empty(4 * MiB)  # 10 MiB is more than twice 4 MiB: left for a bigger buffer
    larger = spare.empty(11 * MiB)  # bigger than the spare: new memory
    assert big_at not in (address(small), address(larger))
    same = spare.empty(10 * MiB)
    assert address(same) == big_at
    del small, larger, same
    assert spare.held() == (3, 25 * MiB)


def test_the_smallest_spare_that_fits_is_taken() -> None:
    buffers = [spare.empty(size * MiB) for size in (8, 5, 6)]
    places = {array.nbytes: address(array) for array in buffers}
    del buffers
    assert address(spare.empty(5 * MiB)) == places[5 * MiB]


def test_spares_stay_within_their_bounds() -> None:
    count, most = spare.MAX_SPARES, spare.MAX_SPARE_BYTES
    buffers = [spare.empty(2 * MiB) for _ in range(count + 3)]
    newest = {address(array) for array in buffers[-count:]}
    while buffers:  # freed first to last: the oldest spares go first
        buffers.pop(0)
    assert spare.held() == (count, count * 2 * MiB)
    again = [spare.empty(2 * MiB) for _ in range(count)]
    assert {address(array) for array in again} == newest
    del again
    two_thirds = [spare.empty(most * 2 // 3) for _ in range(2)]
    while two_thirds:
        two_thirds.pop(0)
    assert spare.held() == (1, most * 2 // 3)  # both would be more than the most: the older went
    too_big = spare.empty(most + MiB)
    del too_big
    assert spare.held() == (1, most * 2 // 3)


def test_small_buffers_are_plain_memory() -> None:
    small = spare.empty(spare.MIN_SPARE_BYTES - 1)
    assert small.base is None and small.nbytes == spare.MIN_SPARE_BYTES - 1
    del small
    assert spare.held() == (0, 0)


def test_release_frees_every_spare() -> None:
    buffers = [spare.empty(2 * MiB), spare.empty(3 * MiB)]
    del buffers
    assert spare.held() == (2, 5 * MiB)
    assert spare.release() == 5 * MiB
    assert spare.held() == (0, 0)


def test_bad_sizes_are_refused() -> None:
    module = _c_module()
    with pytest.raises(ValueError, match="size must be >= 0"):
        module.take(-1)
    with pytest.raises(TypeError):
        module.take("big")
    with pytest.raises(TypeError):
        module.SpareBuffer()
    assert module.take(0).nbytes == 0


def test_threads_never_share_a_buffer() -> None:
    errors: list[str] = []

    def work(mark: int) -> None:
        rng = random.Random(mark)
        held: list[np.ndarray] = []
        for _ in range(200):
            array = spare.empty(rng.randrange(MiB, 3 * MiB))
            array[:] = mark
            held.append(array)
            if len(held) > 2:
                gone = held.pop(rng.randrange(len(held)))
                if not np.all(gone == mark):
                    errors.append(f"thread {mark}: a buffer it held was written by another thread")
        if not all(np.all(array == mark) for array in held):
            errors.append(f"thread {mark}: a buffer it held was written by another thread")

    threads = [threading.Thread(target=work, args=(mark,)) for mark in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert spare.held()[0] <= spare.MAX_SPARES


def big_chunk(seed: int, arrays: int = 4, floats: int = 600_000) -> bytes:
    rng = np.random.default_rng(seed)
    commands = [Command(k + 1, k, "Buffer.set_data", "b", (np.sort(rng.random(floats, dtype=np.float32)), 0, floats))
                for k in range(arrays)]
    return encode_chunk(commands)


def test_decoded_arrays_keep_their_bytes_while_later_chunks_decode() -> None:
    first_bytes, second_bytes = big_chunk(1), big_chunk(2)
    first = decode_chunk(first_bytes).commands()
    expected = [command.args[0].copy() for command in first]
    for _ in range(3):  # the first chunk's arrays are alive: its body must not be reused
        second = decode_chunk(second_bytes).commands()
        assert all(np.array_equal(a.args[0], b.args[0]) for a, b in zip(second, decode_chunk(second_bytes).commands(),
                                                                         strict=True))
    assert all(np.array_equal(command.args[0], want) for command, want in zip(first, expected, strict=True))
    del second
    assert spare.held()[0] >= 1  # the second chunk's bodies are spares now
    again = decode_chunk(first_bytes).commands()
    assert all(np.array_equal(command.args[0], want) for command, want in zip(again, expected, strict=True))


def test_a_body_decoded_on_several_threads_is_a_spare_once_its_commands_go() -> None:
    """The pool's threads let go of a chunk's blocks when they are done with them, not when they
    take their next work: the body comes back at once, not at some later moment."""
    from sessions import decode_threads

    chunk = big_chunk(1)
    default = decode_threads.threads()
    decode_threads.set_threads(3)
    try:
        for _ in range(20):
            spare.release()
            commands = decode_chunk(chunk).commands()
            assert spare.held() == (0, 0)
            del commands
            count, held = spare.held()
            assert count == 1 and held >= 4 * MiB, (count, held)
    finally:
        decode_threads.set_threads(default)


def test_a_log_reads_the_same_with_and_without_spares(tmp_path: Path) -> None:
    path = tmp_path / "big.gsplog"
    rng = np.random.default_rng(3)
    with LogWriter(path, keyframes=False) as writer:
        for frame in range(6):
            floats = np.sort(rng.random(700_000, dtype=np.float32))
            writer.append(Command(2 * frame + 1, frame, "Buffer.set_data", "b", (floats, 0, 700_000)))
            writer.append(Command(2 * frame + 2, frame, "Buffer.set_data", "c", (bytearray(rng.bytes(MiB)), 0, MiB)))
            writer.flush()
    script = textwrap.dedent(f"""
        import hashlib, numpy as np
        from sessions import LogReader
        digest = hashlib.sha256()
        with LogReader({str(path)!r}) as reader:
            for command in reader.commands():
                digest.update(command.op.encode())
                for arg in command.args:
                    digest.update(memoryview(arg).cast("B") if isinstance(arg, (np.ndarray, bytearray)) else repr(arg).encode())
        print(digest.hexdigest())
    """)
    digests = set()
    for switched_off in ("0", "1"):
        env = dict(os.environ, **{spare.ENV_NO_SPARE: switched_off})
        result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        digests.add(result.stdout.strip())
    with LogReader(path) as reader:
        assert sum(1 for _ in reader.commands()) == 12
    assert len(digests) == 1
