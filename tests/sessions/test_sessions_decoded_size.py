"""The memory a chunk's msgpack decodes to is estimated before decoding and bounded
(``Limits.max_decoded_bytes``): the estimate in C and in Python agree, it bounds what decoding
really allocates on both row backends, and readers refuse hostile chunks with a clear error."""

from __future__ import annotations

import contextlib
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sessions_testkit import built_c_module, points_scene

from sessions import codec, decoded_size
from sessions.chunk import ChunkKind, _frame, decode_chunk, encode_end_chunk
from sessions.command import Command, Ref
from sessions.errors import LogFormatError
from sessions.limits import DEFAULT_LIMITS, Limits
from sessions.reader import LogReader
from sessions.writer import LogWriter

GiB = 1 << 30


def _both(data: bytes, limit: int = GiB) -> int:
    """The estimate of ``data``, checked to be the same in C and in Python."""
    in_python = decoded_size.estimate(data, limit)
    assert built_c_module("_rows").decoded_size(data, limit) == in_python
    return in_python


# --------------------------------------------------------------------------------------------
# The estimate itself
# --------------------------------------------------------------------------------------------
ext_values = st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=40))
leaves = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=40) \
    | st.binary(max_size=300) | ext_values
msgpack_values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=20) | st.dictionaries(st.text(max_size=8), inner, max_size=8)
    | st.builds(lambda v: msgpack.ExtType(codec.EXT_NDARRAY, msgpack.packb(v)), inner),
    max_leaves=60,
)


@settings(max_examples=150, deadline=None)
@given(msgpack_values, st.integers(0, 4000))
def test_c_and_python_estimates_agree(value: Any, limit: int) -> None:
    data = msgpack.packb(value, use_bin_type=True)
    assert _both(data) >= len(data) // 10 or _both(data) == -1  # -1: arrays nested in arrays too deep
    _both(data, limit)  # stopping early at the same place too


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 4000))
def test_c_and_python_estimates_agree_on_any_bytes(data: bytes, limit: int) -> None:
    _both(data, limit)


S = 48  # every value's allowance, paid by its container (covers an int or a float)


@pytest.mark.parametrize(("data", "expected"), [
    (msgpack.packb(5), S),  # ints and floats cost their allowance only
    (msgpack.packb(None), S),
    (msgpack.packb(-100), S),
    (msgpack.packb(2**40), S),
    (msgpack.packb(1.5), S),
    (msgpack.packb("ab"), S + 96 + 4 * 2),
    (msgpack.packb(b"xyz", use_bin_type=True), S + 48 + 3),
    (msgpack.packb([]), S + 64),
    (msgpack.packb([1, 2.5]), S + 64 + 2 * (16 + S)),  # a list pays its items' slots and allowances
    (msgpack.packb([[], []]), S + 64 + 2 * (16 + S) + 2 * 64),
    (msgpack.packb({"a": 1}), S + 192 + (48 + 2 * S) + 96 + 4),
    (msgpack.packb(msgpack.ExtType(codec.EXT_REF, b"abcd")), S + 512 + 4 * 4),  # a reference's payload is text
    (msgpack.packb(msgpack.ExtType(codec.EXT_NDARRAY, msgpack.packb([]))), S + 512 + 4 * 1 + S + 64),
    (b"\xdd\x00\x01\x00\x00", S + 64 + (16 + S) * 65536),  # a header is charged its declared items at once
    (b"\xdd\x00\x01\x00\x00" * 3, S + 3 * (64 + (16 + S) * 65536)),  # ... nested ones too
    (b"\xdb\x00\x01\x00\x00ab", S + 96 + 4 * 2),  # a truncated str costs only what is there
])
def test_estimate_charges_each_value_its_cost(data: bytes, expected: int) -> None:
    assert _both(data) == expected


def test_estimate_stops_past_the_limit() -> None:
    data = msgpack.packb([[]] * 100_000)
    full = _both(data)
    assert full == S + 64 + (16 + S) * 100_000 + 64 * 100_000
    early = _both(data, 9_000_000)  # past the header's charge, then 64 bytes a list
    assert 9_000_000 < early <= 9_000_000 + 64


def test_extension_values_nested_too_deep() -> None:
    value: Any = []
    for _ in range(decoded_size.MAX_EXT_NESTING):
        value = msgpack.ExtType(codec.EXT_NDARRAY, msgpack.packb(value))
    assert _both(msgpack.packb(value)) > 0
    assert _both(msgpack.packb(msgpack.ExtType(codec.EXT_NDARRAY, msgpack.packb(value)))) == -1


# --------------------------------------------------------------------------------------------
# The estimate bounds what decoding allocates
# --------------------------------------------------------------------------------------------
N = 5_000


def _rows_with_args(args: list[Any]) -> list[Any]:
    return [[1, 0, "Buffer.set_data", "b0", args, {}]]


SHAPES: dict[str, Callable[[], tuple[list[Any], bytes]]] = {
    "empty lists": lambda: (_rows_with_args([[]] * N), b""),
    "empty maps": lambda: (_rows_with_args([{}] * N), b""),
    "small maps": lambda: (_rows_with_args([{"a": 1, "b": [2]}] * N), b""),
    "ints": lambda: (_rows_with_args([100_000, -100] * (N // 2)), b""),
    "int64": lambda: (_rows_with_args([2**40] * N), b""),
    "floats": lambda: (_rows_with_args([1.5] * N), b""),
    "short str": lambda: (_rows_with_args(["ab"] * N), b""),
    "wide str": lambda: (_rows_with_args(["a" * 40 + "\U0001f600"] * (N // 10)), b""),
    "bins": lambda: (_rows_with_args([b"xy"] * N), b""),
    "refs": lambda: (_rows_with_args([msgpack.ExtType(codec.EXT_REF, b"obj-1")] * N), b""),
    "inline arrays": lambda: (_rows_with_args(
        [msgpack.ExtType(codec.EXT_NDARRAY, msgpack.packb(["<f4", [1], b"\0\0\0\0"]))] * N), b""),
    "blob arrays": lambda: (_rows_with_args(
        [msgpack.ExtType(codec.EXT_NDARRAY, msgpack.packb(["<f4", [1], [0, 4]]))] * N), bytes(16)),
    "unknown extension values": lambda: (_rows_with_args([msgpack.ExtType(42, b"??")] * N), b""),
    "small commands": lambda: ([[k, k * 1000, "Visual.set_x", "f" * 36, [0.5 * k], {}] for k in range(N)], b""),
    "empty commands": lambda: ([[0, 0, "", "", [], {}]] * N, b""),
}


def _peak_allocated(decode: Callable[[], Any]) -> int:
    decode()  # caches (allow-lists, interned names) filled before measuring
    tracemalloc.start()
    try:
        decode()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_estimate_bounds_what_decoding_allocates(shape: str, rows_backend: str) -> None:
    rows, blobs = SHAPES[shape]()
    meta = msgpack.packb(rows, use_bin_type=True)

    def decode() -> list[Any]:
        with pytest.warns() if shape == "unknown extension values" else contextlib.nullcontext():
            return codec.decode_commands(meta, blobs)

    allocated = _peak_allocated(decode)
    estimated = _both(meta)
    assert allocated <= estimated, f"{shape}: {allocated} bytes allocated, {estimated} estimated"
    assert estimated <= 16 * allocated + 4096  # and not so loose that real chunks are refused


def test_estimate_bounds_failed_decodes_of_nested_headers(rows_backend: str) -> None:
    """Array headers declaring many slots, each inside the one before, truncated: both readers
    allocate slots before they fail, the estimate charges them all first."""
    head = b"\x91\x96\x01\x00\xa1a\xa1b" + b"\xdc\xff\xff" * 20
    meta = head + b"\x00" * 70_000

    def decode() -> None:
        with pytest.raises(LogFormatError):
            codec.decode_commands(meta, b"")

    assert _peak_allocated(decode) <= _both(meta)


def _read_by_c_reader(meta: bytes, blobs: bytes, limit: int) -> list[Any] | None:
    rows_module, default = built_c_module("_rows"), codec.ROWS_BACKEND
    codec.use_rows("c")  # its extension hook too, whatever GSP_NO_C_ROWS says
    try:
        decoder = codec._Decoder(blobs, False, Limits())
        return rows_module.decode_rows(meta, decoder._c_ext_hook(), Command, limit)
    finally:
        codec.use_rows(default)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_c_row_reader_charges_what_the_estimate_gives(shape: str) -> None:
    """The C reader charges each value as the estimate does, and declines once past its limit:
    it reads rows estimated at exactly its limit, and declines them a byte under it. Only the
    payloads of the extension values it builds itself (arrays, references) it does not charge."""
    rows, blobs = SHAPES[shape]()
    meta = msgpack.packb(rows, use_bin_type=True)
    estimated = _both(meta)
    assert _read_by_c_reader(meta, blobs, estimated) is not None
    payloads = {"inline arrays": _both(msgpack.packb(["<f4", [1], b"\0\0\0\0"])),
                "blob arrays": _both(msgpack.packb(["<f4", [1], [0, 4]]))}
    charged = estimated - N * payloads.get(shape, 0)
    assert _read_by_c_reader(meta, blobs, charged) is not None
    assert _read_by_c_reader(meta, blobs, charged - 1) is None


simple_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)
    | st.text(max_size=20) | st.binary(max_size=300) | st.builds(Ref, st.text(min_size=1, max_size=8))
    | st.builds(lambda n: np.arange(n, dtype=np.float32), st.integers(0, 100)),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)
commands = st.lists(st.builds(
    lambda seq, op, target, args, kwargs: Command(seq, seq * 10, op, target, tuple(args), kwargs),
    st.integers(0, 2**40), st.sampled_from(["Visual.set_x", "Buffer.set_data", "é"]), st.text(max_size=40),
    st.lists(simple_values, max_size=4), st.dictionaries(st.text(max_size=5), simple_values, max_size=3),
), min_size=1, max_size=20)


@settings(max_examples=60, deadline=None)
@given(commands)
def test_the_c_row_reader_charges_what_the_estimate_gives_for_any_commands(written: list[Command]) -> None:
    batch = codec.encode_commands(written)
    blobs = b"".join(batch.blobs)
    estimated = _both(batch.meta)
    read = _read_by_c_reader(batch.meta, blobs, estimated)
    assert read is not None and codec.encode_commands(read).meta == batch.meta
    if not any(isinstance(v, (np.ndarray, Ref, bytes)) for c in written for v in _leaves(c)):
        assert _read_by_c_reader(batch.meta, blobs, estimated - 1) is None


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, Command):
        yield from _leaves([value.args, value.kwargs])
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, dict):
        yield from _leaves(list(value.values()))
    else:
        yield value


# --------------------------------------------------------------------------------------------
# Readers refuse what is over the limit, with a clear error, and read real logs as before
# --------------------------------------------------------------------------------------------
def _chunk_of_meta(meta: bytes) -> bytes:
    return _frame(ChunkKind.COMMANDS, meta, len(meta), 1, (1, 1), (0, 0), 0, True)


def _peak_while_refused(chunk: bytes, limits: Limits = DEFAULT_LIMITS) -> int:
    tracemalloc.start()
    try:
        with pytest.raises(LogFormatError, match="max_decoded_bytes") as error:
            decode_chunk(chunk, offset=1234).commands(limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert error.value.offset == 1234
    return peak


def test_a_small_chunk_cannot_ask_for_gigabytes(rows_backend: str) -> None:
    """Array headers nested in one another, each declaring as many slots as there are bytes after
    it: 70 kB of chunk that would make the readers allocate 128 MB per header, 1.6 GB in all."""
    meta = b"\x91\x96\x01\x00\xa1a\xa1b" + b"\xdd\x00\xff\xff\x00" * 12 + bytes(1 << 24)
    chunk = _chunk_of_meta(meta)
    assert len(chunk) < 100_000
    assert _peak_while_refused(chunk) <= Limits().max_decoded_bytes


def test_many_small_values_are_refused_past_the_limit(rows_backend: str) -> None:
    """One row of 16 Mi empty lists (1 byte each, 80 bytes of memory each, and lz4 packs them 255
    to 1): refused once past the limit, without building more than it."""
    lists = 16 << 20
    chunk = _chunk_of_meta(msgpack.packb(_rows_with_args([[]] * lists)))
    assert len(chunk) < 100_000
    limit = 64 << 20
    assert _peak_while_refused(chunk, Limits(max_decoded_bytes=limit)) <= limit + 2 * lists
    # fewer of them decode, and the limit is the caller's to set
    few = _chunk_of_meta(msgpack.packb(_rows_with_args([[]] * 1000)))
    assert len(decode_chunk(few).commands()[0].args) == 1000
    with pytest.raises(LogFormatError, match=r"more than 48.8 KiB \(50000 bytes\) of memory"):
        decode_chunk(few).commands(Limits(max_decoded_bytes=50_000))


def test_real_chunks_are_far_below_the_limit() -> None:
    """A chunk of small commands as big as the writer cuts them (4 MiB) is estimated at a small
    part of the default limit, and so is a keyframe of a scene."""
    rows = [(k, k * 1000, "Visual.set_x", "f" * 36, (0.5 * k,), {}) for k in range(80_000)]
    batch = codec.encode_rows(rows)
    assert len(batch.meta) > 3 << 20
    assert _both(batch.meta) < Limits().max_decoded_bytes // 8
    scene = codec.encode_commands(points_scene(frames=50, n=1000))
    assert _both(scene.meta) < 10 << 20


def test_reader_reports_the_chunk_over_the_limit(tmp_path: Any, rows_backend: str) -> None:
    path = tmp_path / "s.gsplog"
    commands = points_scene(frames=20)
    with LogWriter(path) as writer:
        for cmd in commands:
            writer.append(cmd)
    assert len(list(LogReader(path).commands())) == len(commands)
    tight = Limits(max_decoded_bytes=2000)
    with pytest.raises(LogFormatError, match="max_decoded_bytes") as error:
        list(LogReader(path, limits=tight).commands())
    assert error.value.offset is not None


def test_header_metadata_and_footer_are_bounded_too(tmp_path: Any) -> None:
    path = tmp_path / "s.gsplog"
    with LogWriter(path, metadata={"notes": ["x" * 10] * 100}) as writer:
        for cmd in points_scene(frames=2):
            writer.append(cmd)
    with pytest.raises(LogFormatError, match="the header metadata would take more than"):
        LogReader(path, limits=Limits(max_decoded_bytes=5000))
    end = decode_chunk(encode_end_chunk({"chunks": [[0] * 500]}))
    assert end.payload_object() == {"chunks": [[0] * 500]}
    with pytest.raises(LogFormatError, match="the END chunk would take more than"):
        end.payload_object(Limits(max_decoded_bytes=1000))
