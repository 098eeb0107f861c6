"""The byte-shuffle filter: the C kernel (SIMD and portable loops) and the numpy fallback give the
same bytes as the definition, invert each other, refuse bad arguments alike, and a log written
with one implementation reads with the other (real files, real subprocesses)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sessions_testkit import built_c_module

from sessions import shuffle
from sessions.shuffle import shuffle_into_numpy, unshuffle_into_numpy

Kernel = Callable[[Any, Any, int], None]


def _c_module() -> Any:
    return built_c_module("_shuffle")


def _implementations() -> dict[str, tuple[Kernel, Kernel]]:
    c = _c_module()
    return {
        "c": (c.shuffle_into, c.unshuffle_into),
        "c-portable": (c._shuffle_into_portable, c._unshuffle_into_portable),
        "numpy": (shuffle_into_numpy, unshuffle_into_numpy),
    }


def reference_planes(data: bytes, itemsize: int) -> bytes:
    """The filter's definition: plane j = byte j of every item."""
    items = np.frombuffer(data, dtype=np.uint8).reshape(-1, itemsize)
    return np.ascontiguousarray(items.T).tobytes()


ITEMSIZES = [1, 2, 3, 4, 8, 16]
# 16-item SIMD tiles, 4096-item C blocks, 65536-item numpy blocks, on both sides of each edge
EDGES = [0, 1, 2, 3, 7, 15, 16, 17, 31, 33, 255, 4095, 4096, 4097, 65535, 65536, 65537]


def _check_all(data: bytes, itemsize: int, offset: int) -> None:
    expected = reference_planes(data, itemsize)
    size = len(data)
    for name, (fwd, inv) in _implementations().items():
        # unaligned views inside bigger buffers: the kernels must not assume alignment
        src_store = bytearray(offset) + bytearray(data)
        dst_store = bytearray(size + offset + 1)
        dst = memoryview(dst_store)[offset : offset + size]
        fwd(dst, memoryview(src_store)[offset:], itemsize)
        assert bytes(dst) == expected, f"{name} shuffle, itemsize {itemsize}, {size} bytes"
        assert dst_store[offset + size] == 0, f"{name} wrote past dst"
        back = bytearray(size)
        inv(back, bytes(dst), itemsize)
        assert bytes(back) == data, f"{name} unshuffle, itemsize {itemsize}, {size} bytes"


@pytest.mark.parametrize("itemsize", ITEMSIZES)
@pytest.mark.parametrize("count", EDGES)
def test_every_implementation_matches_the_definition_at_block_edges(itemsize: int, count: int) -> None:
    data = np.random.default_rng(count * 31 + itemsize).integers(0, 256, count * itemsize, dtype=np.uint8).tobytes()
    _check_all(data, itemsize, offset=(count % 3) * 5)


@settings(max_examples=150, deadline=None)
@given(
    itemsize=st.sampled_from(ITEMSIZES),
    count=st.one_of(st.integers(0, 300), st.integers(300, 20_000), st.sampled_from(EDGES)),
    seed=st.integers(0, 2**32 - 1),
    offset=st.integers(0, 17),
)
def test_implementations_agree_on_random_data(itemsize: int, count: int, seed: int, offset: int) -> None:
    data = np.random.default_rng(seed).integers(0, 256, count * itemsize, dtype=np.uint8).tobytes()
    _check_all(data, itemsize, offset)


def test_typed_and_multidimensional_buffers_count_in_bytes() -> None:
    a = np.random.default_rng(0).random((1000, 3)).astype(np.float32)  # 2-d, format "f"
    for name, (fwd, inv) in _implementations().items():
        planes = np.empty(a.nbytes, np.uint8)
        fwd(planes, a, 4)
        assert planes.tobytes() == reference_planes(a.tobytes(), 4), name
        out = np.empty_like(a)
        inv(out, planes, 4)
        np.testing.assert_array_equal(out, a, err_msg=name)


def test_module_level_helpers_use_the_selected_backend() -> None:
    a = np.linspace(0, 1, 1001, dtype=np.float64)
    planes = shuffle.shuffled(a, 8)
    assert bytes(planes) == reference_planes(a.tobytes(), 8)
    back = shuffle.unshuffle(memoryview(planes), np.dtype("<f8"), a.size)
    np.testing.assert_array_equal(back, a)
    assert back.flags.writeable and back.flags.c_contiguous
    assert shuffle.BACKEND == ("numpy" if os.environ.get(shuffle.ENV_NO_C, "") not in ("", "0") else "c")


BAD_ARGUMENTS: list[tuple[str, Callable[[], tuple[Any, Any, Any]], type[Exception], str]] = [
    ("dst not a buffer", lambda: ([0] * 8, bytes(8), 4), TypeError, "dst must be a bytes-like"),
    ("src not a buffer", lambda: (bytearray(8), "abcdefgh", 4), TypeError, "src must be a bytes-like"),
    ("dst read-only", lambda: (bytes(8), bytes(8), 4), TypeError, "dst must be writable"),
    ("dst read-only array", lambda: (_readonly(np.zeros(8, np.uint8)), bytes(8), 4), TypeError, "dst must be writable"),
    ("dst not contiguous", lambda: (np.zeros(16, np.uint8)[::2], bytes(8), 4), ValueError, "dst must be C-contiguous"),
    ("src not contiguous", lambda: (bytearray(8), np.zeros(16, np.uint8)[::2], 4), ValueError, "src must be C-contiguous"),
    ("lengths differ", lambda: (bytearray(8), bytes(12), 4), ValueError, "dst has 8 bytes, src has 12"),
    ("not a multiple", lambda: (bytearray(10), bytes(10), 4), ValueError, "not a multiple of itemsize 4"),
    ("itemsize 0", lambda: (bytearray(8), bytes(8), 0), ValueError, r"itemsize must be in 1\.\.16"),
    ("itemsize 17", lambda: (bytearray(17), bytes(17), 17), ValueError, r"itemsize must be in 1\.\.16"),
    ("itemsize negative", lambda: (bytearray(8), bytes(8), -4), ValueError, r"itemsize must be in 1\.\.16"),
    ("itemsize huge", lambda: (bytearray(8), bytes(8), 2**80), ValueError, r"itemsize must be in 1\.\.16"),
    ("itemsize float", lambda: (bytearray(8), bytes(8), 4.0), TypeError, "itemsize must be an int"),
    ("same buffer", lambda: _same_buffer(), ValueError, "overlap"),
    ("overlapping views", lambda: _overlapping_views(), ValueError, "overlap"),
]


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _same_buffer() -> tuple[Any, Any, int]:
    buf = bytearray(16)
    return buf, buf, 4


def _overlapping_views() -> tuple[Any, Any, int]:
    view = memoryview(bytearray(24))
    return view[8:24], view[0:16], 4


@pytest.mark.parametrize("case", BAD_ARGUMENTS, ids=[case[0] for case in BAD_ARGUMENTS])
@pytest.mark.parametrize("direction", [0, 1], ids=["shuffle_into", "unshuffle_into"])
def test_bad_arguments_raise_the_documented_errors(case: tuple[str, Callable[[], tuple[Any, Any, Any]], type[Exception], str],
                                                   direction: int) -> None:
    _, make, error, message = case
    for name, kernels in _implementations().items():
        dst, src, itemsize = make()
        with pytest.raises(error, match=message):
            kernels[direction](dst, src, itemsize)
        if isinstance(dst, bytearray) and dst is not src:
            assert not any(dst), f"{name} wrote into dst before refusing"


@pytest.mark.parametrize("undefine", ["__SSE2__", "__linux__"], ids=["no-sse2", "no-mincore"])
def test_c_kernel_compiles_without_the_x86_and_linux_parts(undefine: str) -> None:
    """The kernel must still build where SSE2 (ARM) or mincore() is missing: a build failure there
    silently leaves the slow numpy code. Checked with this host's compiler, the macro removed."""
    import sysconfig

    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler")
    source = Path(shuffle.__file__).with_name("_shuffle.c")
    result = subprocess.run([compiler, "-fsyntax-only", "-Wall", "-Werror", f"-U{undefine}",
                             f"-I{sysconfig.get_paths()['include']}", str(source)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_c_kernel_wrong_argument_count() -> None:
    c = _c_module()
    with pytest.raises(TypeError, match="takes 3 arguments"):
        c.shuffle_into(bytearray(4), bytes(4))


# --------------------------------------------------------------------------------------------
# Logs across implementations (subprocesses, each with its own GSP_NO_C_SHUFFLE)
# --------------------------------------------------------------------------------------------
CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    from sessions import Command, LogReader, LogWriter, shuffle
    from sessions.chunk import ChunkFlags

    def arrays():
        rng = np.random.default_rng(7)
        walk = np.cumsum(rng.normal(0, 1e-3, (20_001, 3)), axis=0)
        return [
            walk.astype(np.float32),
            walk[:5_003, 0].copy(),  # float64
            walk[:4_099, :2].astype(np.float16),
            (walk[:3_001, 0] + 1j * walk[:3_001, 1]).astype(np.complex64),
            (walk[:1_001, 0] + 1j * walk[:1_001, 2]).astype(np.complex128),
            bytearray(rng.integers(0, 255, 777, dtype=np.uint8).tobytes()),  # not shuffled, between floats
            walk[:101, 1].astype(np.float32),  # 404 bytes: blob area, padding after it
        ]

    mode, path = sys.argv[1], sys.argv[2]
    print(shuffle.BACKEND)
    if mode == "write":
        writer = LogWriter(path, shuffle=True, keyframes=False)
        for seq, value in enumerate(arrays(), 1):
            writer.append(Command(seq, seq * 1000, "Buffer.set_data", "b", (value, 0, len(value))))
        writer.close()
    else:
        with LogReader(path) as reader:
            flags = [chunk.info.flags for chunk in reader.chunks()]
            got = [c.args[0] for c in reader.commands()]
        assert any(f & ChunkFlags.SHUFFLE for f in flags), flags
        want = arrays()
        assert len(got) == len(want), (len(got), len(want))
        for g, w in zip(got, want):
            if isinstance(w, bytearray):
                assert bytes(g) == bytes(w)
            else:
                assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, g.shape, w.dtype, w.shape)
                assert g.tobytes() == w.tobytes()
        print("ok", len(got))
    """
)


def _child(mode: str, path: Path, numpy_only: bool) -> str:
    env = dict(os.environ)
    env.pop(shuffle.ENV_NO_C, None)
    if numpy_only:
        env[shuffle.ENV_NO_C] = "1"
    result = subprocess.run([sys.executable, "-c", CHILD, mode, str(path)], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("writer_numpy", [False, True], ids=["c-writes", "numpy-writes"])
def test_a_log_written_with_one_implementation_reads_with_the_other(tmp_path: Path, writer_numpy: bool) -> None:
    _c_module()
    path = tmp_path / "shuffled.gsplog"
    out = _child("write", path, numpy_only=writer_numpy)
    assert out.split()[0] == ("numpy" if writer_numpy else "c")
    out = _child("read", path, numpy_only=not writer_numpy)
    assert out.split() == ["c" if writer_numpy else "numpy", "ok", "7"]


def test_both_implementations_write_the_same_chunk_bytes(tmp_path: Path) -> None:
    """encode_chunk's shuffled output does not depend on the implementation (format unchanged)."""
    _c_module()
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        from sessions import Command, encode_chunk, shuffle
        rng = np.random.default_rng(3)
        walk = np.cumsum(rng.normal(0, 1e-3, (30_001, 3)), axis=0)
        cmds = [Command(1, 0, "Buffer.set_data", "b", (walk.astype(np.float32),)),
                Command(2, 1, "Buffer.set_data", "c", (walk[:, 0].copy(),))]
        sys.stdout.buffer.write(shuffle.BACKEND.encode() + b" " + encode_chunk(cmds, shuffle=True))
        """
    )
    outputs = {}
    for numpy_only in (False, True):
        env = dict(os.environ)
        env.pop(shuffle.ENV_NO_C, None)
        if numpy_only:
            env[shuffle.ENV_NO_C] = "1"
        result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=120)
        assert result.returncode == 0, result.stderr.decode()
        backend, _, chunk = result.stdout.partition(b" ")
        outputs[backend.decode()] = chunk
    assert set(outputs) == {"c", "numpy"}
    assert outputs["c"] == outputs["numpy"]
    assert len(outputs["c"]) > 1000


def test_use_switches_the_encoder_and_decoder_in_process() -> None:
    from sessions import Command, decode_chunk, encode_chunk

    _c_module()
    walk = np.cumsum(np.random.default_rng(5).normal(0, 1e-3, (9_999, 3)), axis=0).astype(np.float32)
    cmds = [Command(1, 0, "Buffer.set_data", "b", (walk,))]
    before = shuffle.BACKEND
    chunks = {}
    try:
        for backend in ("numpy", "c"):
            shuffle.use(backend)
            assert shuffle.BACKEND == backend
            chunks[backend] = encode_chunk(cmds, shuffle=True)
            other = "c" if backend == "numpy" else "numpy"
            if other in chunks:  # decode the other backend's chunk with this one
                np.testing.assert_array_equal(decode_chunk(chunks[other]).commands()[0].args[0], walk)
        with pytest.raises(ValueError, match="unknown shuffle backend 'simd'"):
            shuffle.use("simd")
    finally:
        shuffle.use(before)
    assert chunks["c"] == chunks["numpy"]


@pytest.mark.parametrize("itemsize", [4, 8])
@pytest.mark.parametrize("aligned", [True, False])
def test_large_outputs_streamed_past_the_cache_are_exact(itemsize: int, aligned: bool) -> None:
    """Outputs of 1 MiB and more into memory in use take the non-temporal store path of the C
    kernel when aligned."""
    count = (3 << 20) // itemsize + 13  # 3 MiB and a tail that is not a whole SIMD tile
    data = np.random.default_rng(itemsize).integers(0, 256, count * itemsize, dtype=np.uint8)
    planes = np.frombuffer(reference_planes(data.tobytes(), itemsize), dtype=np.uint8)
    for name, (_, inv) in _implementations().items():
        store = np.empty(data.size + 16, dtype=np.uint8)
        store[:] = 0  # every page written: resident, so the C kernel streams
        start = 0 if aligned else 3
        if aligned:
            start = (-store.ctypes.data) % 16
        dst = store[start : start + data.size]
        if sys.platform == "linux" and _c_module().SIMD:
            assert _c_module().should_stream(dst)
        inv(dst, planes, itemsize)
        assert np.array_equal(dst, data), name
        assert not store[:start].any() and not store[start + data.size :].any(), f"{name} wrote outside dst"


# ---- one block of a BLOCKS chunk: its array pieces unshuffled, the rest copied -----------------
def _records(arrays: list[tuple[int, int, int]]) -> bytes:
    import struct

    return b"".join(struct.pack("<QQII", start, length, itemsize, 0) for start, length, itemsize in arrays)


def _expected_block(block: bytes, block_start: int, arrays: list[tuple[int, int, int]]) -> bytes:
    out = bytearray(block)
    block_end = block_start + len(block)
    for start, length, itemsize in arrays:
        lo, hi = max(start, block_start), min(start + length, block_end)
        piece = block[lo - block_start : hi - block_start]
        items = np.frombuffer(piece, dtype=np.uint8).reshape(itemsize, -1).T  # planes back into items
        out[lo - block_start : hi - block_start] = items.tobytes()
    return bytes(out)


def _block_functions() -> dict[str, Callable[[Any, Any, int, Any], None]]:
    return {"c": _c_module().unshuffle_block, "python": shuffle.unshuffle_block_python}


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_unshuffle_block_implementations_place_the_same_bytes(data: st.DataObject) -> None:
    block_start = 16 * data.draw(st.integers(0, 8))
    block_len = 16 * data.draw(st.integers(1, 64))
    arrays: list[tuple[int, int, int]] = []
    at = data.draw(st.integers(0, block_start + 32)) // 16 * 16
    while at < block_start + block_len and len(arrays) < 12:
        itemsize = data.draw(st.sampled_from([2, 4, 8, 16]))
        length = itemsize * data.draw(st.integers(1, 40))
        if at + length > block_start:  # only pieces overlapping the block are handed over
            arrays.append((at, length, itemsize))
        at = (at + length + data.draw(st.integers(0, 40)) + 15) // 16 * 16
    arrays = [a for a in arrays if a[0] < block_start + block_len]
    block = np.random.default_rng(len(arrays)).integers(0, 256, block_len, dtype=np.uint8).tobytes()
    expected = _expected_block(block, block_start, arrays)
    for name, function in _block_functions().items():
        body = bytearray(b"\xee" * (block_start + block_len + 8))
        function(body, block, block_start, _records(arrays))
        assert bytes(body[block_start : block_start + block_len]) == expected, name
        assert body[:block_start] == b"\xee" * block_start and body[-8:] == b"\xee" * 8, f"{name} wrote outside"


@pytest.mark.parametrize("misaligned", [0, 4], ids=["aligned", "misaligned"])
def test_streamed_blocks_place_the_same_bytes(misaligned: int) -> None:
    """Pieces of 8 kB and more are written with non-temporal stores when asked: the bytes are
    the same as plain stores and the Python twin place, small pieces and gaps included."""
    block_start, block_len = 1 << 20, 256 << 10
    arrays = [(block_start - 4096, 12288, 4), (block_start + 8208, 4000, 4), (block_start + 12288, 100000, 8),
              (block_start + 112304, 9000, 2), (block_start + 122000, 120000, 4), (block_start + 243712, 40000, 16)]
    block = np.random.default_rng(7).integers(0, 256, block_len, dtype=np.uint8).tobytes()
    expected = _expected_block(block, block_start, arrays)
    store = np.empty(block_start + block_len + 64, dtype=np.uint8)
    offset = (-store.ctypes.data) % 16 + misaligned
    body = store[offset : offset + block_start + block_len + 32]
    calls = [("c streamed", _c_module().unshuffle_block, True), ("c", _c_module().unshuffle_block, False),
             ("python", shuffle.unshuffle_block_python, True)]
    for name, function, stream in calls:
        body[:] = 0xEE
        function(body, block, block_start, _records(arrays), stream)
        assert body[block_start : block_start + block_len].tobytes() == expected, name
        assert (body[:block_start] == 0xEE).all() and (body[-32:] == 0xEE).all(), f"{name} wrote outside"


@pytest.mark.parametrize("itemsize", [2, 4, 8])
@pytest.mark.parametrize("line_offset", [0, 16, 32, 48])
@pytest.mark.parametrize("extra_items", [0, 1, 15, 17, 33])
def test_streamed_pieces_keep_their_partial_lines_exact(itemsize: int, line_offset: int, extra_items: int) -> None:
    """A streamed piece writes its whole cache lines streamed and its partial first and last
    lines plain: every start within a line and every tail length lands the same bytes."""
    length = 8192 + extra_items * itemsize
    block = np.random.default_rng(length + line_offset).integers(0, 256, length, dtype=np.uint8).tobytes()
    expected = _expected_block(block, 0, [(0, length, itemsize)])
    store = np.empty(length + 256, dtype=np.uint8)
    start = (-store.ctypes.data) % 64 + line_offset
    for stream in (True, False):
        store[:] = 0xEE
        body = store[start : start + length + 64]
        _c_module().unshuffle_block(body, block, 0, _records([(0, length, itemsize)]), stream)
        assert body[:length].tobytes() == expected, f"stream={stream}"
        assert (store[:start] == 0xEE).all() and (store[start + length :] == 0xEE).all(), "wrote outside the piece"


@pytest.mark.skipif(sys.platform != "linux", reason="mincore() answers are checked where they are known")
def test_should_stream_only_into_big_memory_already_in_use() -> None:
    import mmap

    c = _c_module()
    if not c.SIMD:
        pytest.skip("streamed stores are part of the SSE2 tiles, not built here")
    fresh = mmap.mmap(-1, 4 << 20)  # anonymous pages, none touched: the kernel has not given them out yet
    view = np.frombuffer(fresh, dtype=np.uint8)
    try:
        assert not c.should_stream(view)
        view[::4096] = 1  # one write per page: each page now resident
        assert c.should_stream(view)
        assert not c.should_stream(view[: 1 << 19]), "half a MiB stays in cache: plain stores"
    finally:
        del view
        fresh.close()
    assert shuffle.should_stream_python(np.ones(4 << 20, dtype=np.uint8)) is False


def _pieces_outcome(function: Callable[..., Any], table: bytes, raw_size: int, block_size: int) -> Any:
    try:
        return ("ok", function(table, raw_size, block_size))
    except ValueError as error:
        return ("error", str(error))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_block_pieces_twins_agree_on_tables_good_and_bad(data: st.DataObject) -> None:
    """The table of shuffled arrays is checked and cut among the blocks the same way by the C
    function and its numpy twin, hostile records included (the same first bad record named)."""
    block_size = 16 * data.draw(st.integers(1, 64))
    arrays: list[tuple[int, int, int]] = []
    at = 0
    for _ in range(data.draw(st.integers(0, 12))):
        itemsize = data.draw(st.sampled_from([2, 4, 8, 16]))
        at = (at + data.draw(st.integers(0, 40)) + 15) // 16 * 16
        length = itemsize * data.draw(st.integers(0, 100))
        arrays.append((at, length, itemsize))
        at += length
    raw_size = at + data.draw(st.integers(0, 200))
    if arrays and data.draw(st.booleans()):  # spoil one record
        k = data.draw(st.integers(0, len(arrays) - 1))
        start, length, itemsize = arrays[k]
        arrays[k] = data.draw(st.sampled_from([
            (start, length, 3), (start, length, 0), (start + 1, length, itemsize), (start, length + 1, itemsize),
            (start, raw_size + 16, itemsize), (2**64 - 16, 32, 16), (max(0, start - 32), length + 64, itemsize),
            (raw_size // 16 * 16, 16, 16),  # ends past the raw bytes
        ]))
    table = _records(arrays)
    c = _pieces_outcome(_c_module().block_pieces, table, raw_size, block_size)
    python = _pieces_outcome(shuffle.block_pieces_python, table, raw_size, block_size)
    assert c == python
    if c[0] == "ok":  # each block's run: exactly the arrays that overlap it (or are empty inside it)
        for number, (first, stop) in enumerate(c[1]):
            lo, hi = number * block_size, min((number + 1) * block_size, raw_size)
            overlapping = [k for k, (start, length, _) in enumerate(arrays) if start < hi and start + length > lo]
            assert set(overlapping) <= set(range(first, stop))
            assert all(arrays[k][0] + arrays[k][1] > lo or arrays[k][1] == 0 for k in range(first, stop))


def test_block_pieces_refuses_bad_arguments_alike() -> None:
    for function in (_c_module().block_pieces, shuffle.block_pieces_python):
        with pytest.raises(ValueError, match="records of 24"):
            function(b"\x00" * 10, 100, 16)
        with pytest.raises(ValueError, match="block_size"):
            function(b"", 100, 0)


BAD_BLOCK_CALLS: list[tuple[str, int, int, list[tuple[int, int, int]], bytes]] = [
    ("block past the body", 32, 90, [], b""),
    ("table not whole records", 0, 64, [], b"\x00" * 10),
    ("itemsize 0", 0, 64, [(0, 16, 0)], b""),
    ("itemsize 17", 0, 64, [(0, 34, 17)], b""),
    ("not sorted", 0, 64, [(32, 16, 4), (0, 16, 4)], b""),
    ("overlapping", 0, 64, [(0, 32, 4), (16, 16, 4)], b""),
    ("not in the block", 0, 64, [(80, 16, 4)], b""),
    ("length not whole items", 0, 64, [(0, 6, 4)], b""),
    ("offset not whole items inside the block", 16, 64, [(14, 8, 4)], b""),
]


@pytest.mark.parametrize(("case", "block_start", "body_len", "arrays", "table"), BAD_BLOCK_CALLS,
                         ids=[c[0] for c in BAD_BLOCK_CALLS])
def test_unshuffle_block_refuses_bad_tables_before_writing(
    case: str, block_start: int, body_len: int, arrays: list[tuple[int, int, int]], table: bytes
) -> None:
    for name, function in _block_functions().items():
        body = bytearray(b"\xee" * body_len)
        with pytest.raises(ValueError, match="unshuffle_block"):
            function(body, bytes(range(64)), block_start, table or _records(arrays))
        assert body == b"\xee" * body_len, f"{name} wrote before refusing ({case})"
