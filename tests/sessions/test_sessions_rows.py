"""Commands appended as rows (the recorder's hot path) read back equal to Commands appended one by
one; the C row packer (sessions._rows) and the Python path of encode_rows give the same bytes and
the same errors."""

from __future__ import annotations

import enum
import functools
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sessions_testkit import final_hash, points_scene

from sessions import LogFormatError, LogReader, LogWriter, codec
from sessions.codec import INLINE_MAX, decode_commands, encode_commands, encode_rows
from sessions.command import Command, Ref
from sessions.index import MARK_OP

GiB = 1 << 30  # the limit of decoded memory given to the C row reader where it is not the subject

def _mixed() -> list[Command]:
    return [
        Command(1, 10, "Viewport.set_x", "v", (3,), {}),
        Command(2, 11, "Viewport.set_x", "v", (4,), {}),
        Command(3, 12, "Buffer.set_data", "b", (bytearray(b"\x01" * 16), 0, 1), {}),
        Command(4, 13, "Points.set_sizes", "p", (Ref("b"),), {}),
        Command(5, 14, "Viewport.set_attributes", "v", (), {"x": 1.5, "name": "a"}),
        Command(6, 15, "Buffer.set_data", "b", (np.arange(100, dtype=np.float32), 0, 100), {}),
        Command(7, 16, MARK_OP, "", ("here",), {}),
        Command(8, 16, "Viewport.set_x", "v", (2**40,), {}),
        Command(9, 17, "Canvas.set_bytes", "c", (b"\x00" * 300,), {}),
    ]


def _row(c: Command) -> tuple:
    return (c.seq, c.t_ns, c.op, c.target, c.args, c.kwargs)


def test_encode_rows_gives_the_bytes_of_encode_commands(rows_backend: str) -> None:
    commands = _mixed()
    by_rows = encode_rows([_row(c) for c in commands])
    by_commands = encode_commands(commands)
    assert by_rows.meta == by_commands.meta
    assert [bytes(b) for b in by_rows.blobs] == [bytes(b) for b in by_commands.blobs]


def test_append_rows_reads_back_what_append_writes(rows_backend: str, tmp_path: Path) -> None:
    commands = _mixed()
    one = LogWriter(tmp_path / "one.gsplog", keyframes=False)
    for cmd in commands:
        one.append(cmd)
    one.close()
    rows = LogWriter(tmp_path / "rows.gsplog", keyframes=False)
    rows.append_rows([_row(c) for c in commands[:4]])
    rows.append(commands[4])
    rows.append_rows([_row(c) for c in commands[5:]])
    rows.close()
    got_one = list(LogReader(tmp_path / "one.gsplog").commands())
    got_rows = list(LogReader(tmp_path / "rows.gsplog").commands())
    assert [c.op for c in got_rows] == [c.op for c in commands]
    assert [(c.seq, c.t_ns, c.op, c.target, repr(c.args), c.kwargs) for c in got_rows] == [
        (c.seq, c.t_ns, c.op, c.target, repr(c.args), c.kwargs) for c in got_one
    ]
    assert type(got_rows[2].args[0]) is bytearray and type(got_rows[8].args[0]) is bytes
    index = LogReader(tmp_path / "rows.gsplog").index
    assert [m.label for m in index.markers] == ["here"]


def test_keyframe_of_a_scene_appended_as_rows_equals_replaying_it(tmp_path: Path) -> None:
    commands = points_scene()
    writer = LogWriter(tmp_path / "k.gsplog")
    writer.append_rows([_row(c) for c in commands])
    writer.write_keyframe()
    writer.close()
    reader = LogReader(tmp_path / "k.gsplog")
    assert any(e.kind == 2 for e in reader.index.entries)
    assert final_hash(list(reader.commands())) == final_hash(commands)
    keyframe = [c for chunk in reader.chunks() if chunk.info.is_keyframe for c in chunk.commands()]
    assert final_hash(keyframe) == final_hash(commands)


# --------------------------------------------------------------------------------------------
# The C row packer (sessions._rows) and the Python path give the same bytes and errors
# --------------------------------------------------------------------------------------------
def _c_rows() -> Any:
    try:
        from sessions import _rows
    except ImportError:
        # Linux (CI included) has a compiler: the module missing there is a regression
        if sys.platform == "linux" or shutil.which("cc") or shutil.which("gcc"):
            pytest.fail("sessions._rows is not built (pip install -e . builds it)")
        pytest.skip("sessions._rows not built (no C compiler)")
    return _rows


def _outcome(rows: list[Any], backend: str, out_of_band: bool = True) -> tuple[Any, ...]:
    """What encode_rows gives on ``backend``: its whole batch, or its error's type, text and cause."""
    default = codec.ROWS_BACKEND
    codec.use_rows(backend)
    try:
        batch = encode_rows(rows, out_of_band=out_of_band)
    except Exception as error:
        return ("error", type(error), str(error), type(error.__cause__))
    finally:
        codec.use_rows(default)
    return ("ok", batch.meta, [bytes(b) for b in batch.blobs], batch.blob_size, batch.float_blobs, batch.count)


def _same_on_both(rows: list[Any], out_of_band: bool = True) -> tuple[Any, ...]:
    _c_rows()
    python = _outcome(rows, "python", out_of_band)
    c = _outcome(rows, "c", out_of_band)
    assert c == python
    return python


def test_the_c_row_packer_is_built_and_used() -> None:
    rows_module = _c_rows()
    assert rows_module.INLINE_MAX == codec.INLINE_MAX  # short bytes mean the same on both sides
    disabled = os.environ.get(codec.ENV_NO_C_ROWS, "") not in ("", "0")
    assert codec.ROWS_BACKEND == ("python" if disabled else "c")


def test_the_environment_variable_turns_the_c_row_packer_off() -> None:
    _c_rows()
    code = "from sessions import codec; print(codec.ROWS_BACKEND)"
    for value, expected in (("1", "python"), ("0", "c")):
        env = {**os.environ, codec.ENV_NO_C_ROWS: value}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected


def test_use_rows_refuses_unknown_backends() -> None:
    with pytest.raises(ValueError, match="unknown row packer"):
        codec.use_rows("fortran")


class _Str(str):
    pass


class _Int(int):
    pass


class _Float(float):
    pass


class _Level(enum.IntEnum):  # not in the protocol allow-list: refused
    LOW = 1


INT_EDGES = [0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1,
             -1, -32, -33, -128, -129, -32768, -32769, -(2**31), -(2**31) - 1, -(2**63)]
LENGTH_EDGES = [0, 1, 31, 32, 255, 256, 65535, 65536]


def _plain_edge_rows() -> list[tuple]:
    rows: list[tuple] = [(n, -n if n <= 2**63 else n, "A.b", "t", (n, -n if n <= 2**63 else 0), {})
                         for n in INT_EDGES]
    rows += [(1, 2, "x" * n, "é" * n, ("\U0001f600" * n, b"\xff" * min(n, INLINE_MAX - 1)), {})
             for n in LENGTH_EDGES]
    rows += [(3, 4, "A.b", "t", (None, True, False, 0.0, -0.0, 1.5, float("inf"), float("-inf"), float("nan")), {}),
             (5, 6, "A.b", "", [], {}), (5, 6, "A.b", "", [1, "a", b"b"], {}),
             (7, 8, "A.b", "t", tuple(range(15)), {}), (7, 8, "A.b", "t", tuple(range(16)), {}),
             (7, 8, "A.b", "t", tuple(range(65535)), {}), (7, 8, "A.b", "t", tuple(range(65536)), {})]
    return rows


def test_plain_rows_are_packed_in_c_exactly_as_msgpack_packs_them() -> None:
    rows_module = _c_rows()
    rows = _plain_edge_rows()

    def never(row: Any) -> bytes:
        raise AssertionError(f"a plain row went to pack_other: {str(row)[:200]}")

    assert rows_module.pack_rows(rows, never) == msgpack.packb(rows, use_bin_type=True)
    for count in (0, 1, 15, 16, 65535, 65536):  # array header forms of the batch
        batch = [(i, i, "A.b", "t", (i,), {}) for i in range(count)]
        assert rows_module.pack_rows(batch, never) == msgpack.packb(batch, use_bin_type=True)


def test_rows_that_are_not_plain_go_to_pack_other_in_order() -> None:
    rows_module = _c_rows()
    not_plain = [
        [1, 0, "A.b", "t", (), {}],  # a list row
        (1, 0, "A.b", "t", (), {}, 7),  # 7 fields
        (True, 0, "A.b", "t", (), {}),  # bool seq
        (_Int(1), 0, "A.b", "t", (), {}),
        (2**64, 0, "A.b", "t", (), {}),
        (1, -(2**63) - 1, "A.b", "t", (), {}),
        (1, 0, _Str("A.b"), "t", (), {}),
        (1, 0, "A.b", None, (), {}),
        (1, 0, "A.b", "t", "ab", {}),  # args a str
        (1, 0, "A.b", "t", (), {"x": 1}),
        (1, 0, "A.b", "t", (), []),
        (1, 0, "A.b", "t", (1, bytearray(2)), {}),
        (1, 0, "A.b", "t", (1, b"x" * INLINE_MAX), {}),
        (1, 0, "A.b", "t", (1, _Level.LOW), {}),
        (1, 0, "A.b", "t", (1, _Float(1.0)), {}),
        (1, 0, "A.b", "t", (1, np.float64(1.0)), {}),
        (1, 0, "A.b", "t", (1, (2, 3)), {}),
        (1, 0, "A.b", "t", (1, 2**64), {}),
        (1, 0, "A.b", "t", (1, 2, "ok", "\ud800"), {}),  # a lone surrogate after packed items: rewound
        (1, 0, "A.b\udfff", "t", (), {}),
    ]
    plain = (9, 9, "A.b", "t", (1,), {})
    rows: list[Any] = []
    for row in not_plain:
        rows += [plain, row]
    seen: list[Any] = []

    def pack_other(row: Any) -> bytes:
        seen.append(row)
        return msgpack.packb(len(seen))  # a stand-in: this row's number

    packed = rows_module.pack_rows(rows, pack_other)
    assert [id(r) for r in seen] == [id(r) for r in not_plain]
    expected = msgpack.packb([None] * len(rows))[: -len(rows)]  # the batch's array header (None packs as 1 byte)
    for i in range(len(not_plain)):
        expected += msgpack.packb(plain, use_bin_type=True) + msgpack.packb(i + 1)
    assert packed == expected


def test_errors_of_pack_other_propagate_unchanged() -> None:
    rows_module = _c_rows()
    failure = KeyError("mine")

    def raises(row: Any) -> bytes:
        raise failure

    rows = [(1, 0, "A.b", "t", (), {}), (2, 0, "A.b", "t", (bytearray(1),), {})]
    with pytest.raises(KeyError) as info:
        rows_module.pack_rows(rows, raises)
    assert info.value is failure
    with pytest.raises(TypeError, match="pack_other must return bytes, not str"):
        rows_module.pack_rows(rows, lambda row: "x")
    with pytest.raises(TypeError, match="rows must be a list"):
        rows_module.pack_rows(tuple(rows), raises)
    with pytest.raises(TypeError, match="pack_other must be callable"):
        rows_module.pack_rows(rows, None)
    with pytest.raises(TypeError, match="takes 2 arguments"):
        rows_module.pack_rows(rows)

    def shrinks(row: Any) -> bytes:
        rows.clear()
        return b"\xc0"

    rows.append((3, 0, "A.b", "t", (), {}))
    with pytest.raises(RuntimeError, match="rows changed size"):
        rows_module.pack_rows(rows, shrinks)


def test_pack_rows_keeps_reference_counts() -> None:
    rows_module = _c_rows()
    op, target, text, blob = "Op." + "x" * 40, "t" * 36, "é" * 50, b"z" * 100
    rows = [(i, i, op, target, (text, blob, i, 1.5), {}) for i in range(100)]
    rows += [(1, 0, op, target, (bytearray(3), text), {}), (1, 0, op, target, (text, "\ud800"), {})]
    tracked = [op, target, text, blob, rows[0], rows[0][4], rows[-1], rows[-2]]
    before = [sys.getrefcount(x) for x in tracked]
    for _ in range(50):
        rows_module.pack_rows(rows, lambda row: b"\xc0")
        with pytest.raises(ZeroDivisionError):
            rows_module.pack_rows(rows, lambda row: 1 // 0)
    assert [sys.getrefcount(x) for x in tracked] == before


ERROR_CASES: list[tuple[str, list[Any], str]] = [
    ("foreign object", [(4, 0, "A.a", "t", (1,), {}), (5, 0, "A.b", "t", (object(),), {})],
     r"^cannot encode command seq=5 op=A\.b: cannot encode a value of type builtins\.object$"),
    ("enum not allowed", [(5, 0, "A.b", "t", (_Level.LOW,), {})], r"^cannot encode command seq=5 op=A\.b: enum "),
    ("bad kwargs key", [(6, 0, "A.b", "t", (), {1: 2})], r"^cannot encode command seq=6 op=A\.b: dict keys"),
    ("args not iterable", [(6, 0, "A.b", "t", None, {})], r"^cannot encode command seq=6 op=A\.b: 'NoneType'"),
    ("int over 64 bits", [(1, 0, "A.b", "t", (2**64,), {}), (2, 0, "A.b", "t", (1,), {})],
     r"^cannot encode commands 1\.\.2: Integer value out of range$"),
    ("int under -2**63", [(1, 0, "A.b", "t", (-(2**63) - 1,), {})], r"^cannot encode commands 1\.\.1: Integer"),
    ("seq over 64 bits", [(2**70, 0, "A.b", "t", (), {}), (3, 0, "A.b", "t", (), {})],
     rf"^cannot encode commands {2**70}\.\.3: Integer"),
    ("int over 64 bits in kwargs", [(1, 0, "A.b", "t", (), {"x": 2**65})], r"^cannot encode commands 1\.\.1: Integer"),
    ("surrogate op", [(1, 0, "A\ud800", "t", (), {})], r"^cannot encode commands 1\.\.1: 'utf-8' codec"),
    ("surrogate arg", [(1, 0, "A.b", "t", (1, "\udfff"), {})], r"^cannot encode commands 1\.\.1: 'utf-8' codec"),
    # every row is converted before msgpack packs any: a later conversion error wins
    ("big int, then a foreign object", [(1, 0, "A.b", "t", (2**64,), {}), (7, 0, "A.c", "t", (object(),), {})],
     r"^cannot encode command seq=7 op=A\.c: cannot encode a value"),
]


@pytest.mark.parametrize("name, rows, message", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_errors_name_the_command_or_the_batch_on_both_paths(
    rows_backend: str, name: str, rows: list[Any], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        encode_rows(rows)
    _same_on_both(rows)


def test_rows_of_the_wrong_shape_fail_alike() -> None:
    for rows in ([(1, 0, "A.b", "t", (1,))], [5], [(object(), 0, "A.b", "t", (), {})]):
        assert _same_on_both(rows)[0] == "error"


def test_deep_nesting_hits_the_same_limits() -> None:
    def nest(depth: int) -> Any:
        x: Any = 1
        for _ in range(depth):
            x = [x]
        return x

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)  # past Python's limit: msgpack's own nesting limit decides
    try:
        verdicts = {_same_on_both([(1, 0, "A.b", "t", (nest(d),), {})])[0] for d in range(1015, 1030)}
    finally:
        sys.setrecursionlimit(limit)
    assert verdicts == {"ok", "error"}


def test_encode_rows_takes_any_sequence(rows_backend: str) -> None:
    rows = [(1, 0, "A.b", "t", (1,), {}), (2, 0, "A.b", "t", (bytearray(2),), {})]
    assert encode_rows(tuple(rows)).meta == encode_rows(rows).meta
    assert encode_rows([]).meta == b"\x90"


# Hypothesis: random batches mixing plain and other rows ------------------------------------
_gsp_enums = st.sampled_from(["vec3", "float32", "rgba8"]).map(lambda name: getattr(_buffer_type(), name))
plain_values = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)
    | st.text(max_size=40) | st.binary(max_size=INLINE_MAX - 1)
)
other_values = (
    st.binary(min_size=INLINE_MAX - 1, max_size=INLINE_MAX + 300)  # big bytes go out of band
    | st.binary(max_size=400).map(bytearray)
    | st.text(min_size=1, max_size=36).map(Ref)
    | _gsp_enums
    | st.text(max_size=10).map(_Str) | st.integers(-5, 5).map(_Int) | st.floats(allow_nan=False).map(_Float)
    | st.integers(-1000, 1000).map(np.int32) | st.floats(width=32, allow_nan=False).map(np.float32)
    | st.sampled_from(["<f4", "<f8", "<i2", "|u1"]).flatmap(
        lambda dt: st.integers(0, 200).map(lambda n: np.arange(n, dtype=dt)))
)
values = st.recursive(
    plain_values | other_values,
    lambda inner: st.lists(inner, max_size=4) | st.lists(inner, max_size=4).map(tuple)
    | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
plain_rows = st.tuples(
    st.integers(0, 2**64 - 1), st.integers(-(2**63), 2**64 - 1), st.text(max_size=40), st.text(max_size=40),
    st.lists(plain_values, max_size=6).flatmap(lambda items: st.sampled_from([tuple(items), items])),
    st.just({}),
)
other_rows = st.tuples(
    st.integers(0, 2**62), st.integers(0, 2**62), st.text(min_size=1, max_size=20), st.text(max_size=36),
    st.lists(values, max_size=4).flatmap(lambda items: st.sampled_from([tuple(items), items])),
    st.dictionaries(st.text(max_size=8), values, max_size=3),
)
batches = st.lists(plain_rows | other_rows, max_size=40)
hostile_values = (
    st.integers(2**64, 2**70) | st.integers(-(2**70), -(2**63) - 1) | st.just(_Level.LOW) | st.just(object())
    | st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)  # lone surrogates
)
hostile_rows = st.tuples(
    st.integers(0, 100), st.integers(0, 100), st.sampled_from(["A.b", "A.\ud800"]), st.text(max_size=5),
    st.lists(plain_values | hostile_values, max_size=3).map(tuple), st.sampled_from([{}, {"k": 2**64}]),
)


def _buffer_type() -> Any:
    from gsp.types import BufferType

    return BufferType


def _normalize(value: Any) -> Any:
    """What the codec promises: tuples come back as lists, subclasses and numpy scalars as the
    plain type."""
    if type(value) in (bool, int, float, str, bytes, bytearray, type(None)) or isinstance(value, enum.Enum):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_normalize(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items()}
    for plain in (str, int, float):
        if isinstance(value, plain):
            return plain(value)
    return value


def _same_value(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, list):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    return bool(a == b)


@settings(max_examples=150, deadline=None)  # new examples every run: CI covers more over time
@given(batches, st.booleans())
def test_c_and_python_paths_give_the_same_batch_and_it_round_trips(rows: list[Any], out_of_band: bool) -> None:
    ok, meta, blobs, *_ = _same_on_both(rows, out_of_band)
    assert ok == "ok"
    back = decode_commands(meta, bytearray(b"".join(blobs)))
    assert len(back) == len(rows)
    for got, row in zip(back, rows):
        assert (got.seq, got.t_ns, got.op, got.target) == row[:4]
        assert _same_value(list(got.args), _normalize(row[4])), (got.args, row[4])
        assert _same_value(got.kwargs, _normalize(row[5]))


@settings(max_examples=200, deadline=None)
@given(st.lists(plain_rows | other_rows | hostile_rows, min_size=1, max_size=12))
def test_c_and_python_paths_fail_alike(rows: list[Any]) -> None:
    _same_on_both(rows)


# ---- building Commands from unpacked rows (decode_commands) ---------------------------------
def _decoded_on(backend: str, meta: bytes, blobs: bytes = b"") -> tuple[Any, ...]:
    """What decode_commands gives on ``backend``: the commands' fields, or the error's type and text."""
    default = codec.ROWS_BACKEND
    codec.use_rows(backend)
    try:
        commands = decode_commands(meta, bytearray(blobs))
    except Exception as error:
        return ("error", type(error), str(error))
    finally:
        codec.use_rows(default)
    return ("ok", [(c.seq, c.t_ns, c.op, c.target, c.args, c.kwargs, type(c)) for c in commands])


def test_c_and_python_builders_give_the_same_commands() -> None:
    _c_rows()
    batch = encode_commands(_mixed())
    python, c = _decoded_on("python", batch.meta, b"".join(batch.blobs)), _decoded_on("c", batch.meta, b"".join(batch.blobs))
    assert python[0] == c[0] == "ok"
    for got, want in zip(c[1], python[1]):
        assert got[:4] == want[:4] and got[6] is want[6] is Command and type(got[4]) is tuple
        assert _same_value(list(got[4]), list(want[4])) and _same_value(got[5], want[5])


def test_c_builder_leaves_atomic_argument_tuples_to_no_collection_and_tracks_the_rest() -> None:
    """Argument tuples of numbers, strings, arrays and bytes are untracked as they are built (the
    collector would untrack them itself after walking them once); a tuple holding a container
    stays tracked, and a cycle through it is still collected."""
    import gc

    from sessions.chunk import decode_chunk, encode_chunk

    _c_rows()
    commands = [Command(1, 0, "Buffer.set_data", "b", (np.arange(4, dtype=np.float32), 0, 4)),
                Command(2, 1, "Viewport.set_x", "v", (3.5, "text", b"raw")),
                Command(3, 2, "Visual.set", "p", ([1, 2], {"k": 1})),
                Command(4, 3, "Visual.set", "p", (Ref("uuid-1"),)),
                Command(5, 4, "Visual.set", "p", ({},))]
    chunk = encode_chunk(commands)
    default = codec.ROWS_BACKEND
    codec.use_rows("c")
    try:
        decoded = decode_chunk(chunk).commands()
    finally:
        codec.use_rows(default)
    assert [gc.is_tracked(c.args) for c in decoded] == [False, False, True, True, True]
    # so are the commands of atomic fields (their kwargs an empty dict, untracked too)
    assert [gc.is_tracked(c) for c in decoded] == [False, False, True, True, True]
    assert decoded[0].args[0].tolist() == [0, 1, 2, 3] and decoded[1:] == commands[1:]
    holder = decoded[2].args[0]
    holder.append(decoded[2])  # a cycle: command -> args -> list -> command
    del decoded, holder
    gc.collect()
    cycles = [o for o in gc.get_objects() if type(o) is list and len(o) == 3 and o[:2] == [1, 2] and type(o[2]) is Command]
    assert not cycles, "the cycle was not collected"


def test_c_builder_keeps_one_string_per_distinct_op_and_target() -> None:
    rows_module = _c_rows()
    written = [Command(i, i, "Viewport.set_x" if i % 7 else "Buffer.set_data", f"v{i // 4 % 3}", (i,))
               for i in range(30)]
    meta = encode_commands(written).meta
    rows = msgpack.unpackb(meta, raw=False)
    assert rows[1][2] is not rows[2][2]  # msgpack makes a new str for every row
    built, _ = rows_module.build_commands(rows, Command)
    read = rows_module.decode_rows(meta, rows_module.ExtHook(b"", False, 32, codec._DTYPE_ENTRIES, np.frombuffer,
                                                             Ref, lambda code, data: None), Command, GiB)
    for commands in (built, read):  # runs of the same op or target, and ones that come back later
        assert len({id(c.op) for c in commands}) == 2 and len({id(c.target) for c in commands}) == 3
        assert [(c.op, c.target) for c in commands] == [(c.op, c.target) for c in written]


MALFORMED_ROWS: list[Any] = [
    [1, 2, "A.b", "t", [], {}, "extra"],
    [1, 2, "A.b", "t", []],
    (1, 2, "A.b", "t", [], {}),  # packed as an array too: fine
    [1.0, 2, "A.b", "t", [], {}],
    [1, True, "A.b", "t", [], {}],
    [1, 2, b"A.b", "t", [], {}],
    [1, 2, "A.b", None, [], {}],
    [1, 2, "A.b", "t", {}, {}],
    [1, 2, "A.b", "t", [], []],
    "not a row",
    None,
]


@pytest.mark.parametrize("bad", MALFORMED_ROWS)
def test_c_and_python_builders_refuse_a_malformed_row_alike(bad: Any) -> None:
    _c_rows()
    meta = msgpack.packb([[1, 0, "A.a", "t", [1], {}], bad, [3, 0, "A.c", "t", [], {}]], use_bin_type=True)
    python, c = _decoded_on("python", meta), _decoded_on("c", meta)
    assert c == python
    if isinstance(bad, tuple):
        assert c[0] == "ok" and [row[0] for row in c[1]] == [1, 1, 3]
    else:
        assert c[:2] == ("error", codec.LogFormatError) and "command #1 is malformed" in c[2]


def test_build_commands_keeps_reference_counts_and_refuses_bad_arguments() -> None:
    rows_module = _c_rows()
    op, target, kwargs = "Op." + "x" * 40, "t" * 36, {"k": 1}
    args = ["é" * 50, 1.5]
    rows = [[i, i, op, target, args, kwargs] for i in range(100)]
    bad = [*rows[:3], [1, 2, op, target, args]]
    tracked = [op, target, kwargs, args, args[0], rows[0]]
    before = [sys.getrefcount(x) for x in tracked]
    for _ in range(50):
        built, index = rows_module.build_commands(rows, Command)
        assert index == -1 and len(built) == 100 and built[7].seq == 7 and built[7].args == ("é" * 50, 1.5)
        assert built[7].kwargs is kwargs
        del built
        assert rows_module.build_commands(bad, Command) == (None, 3)
    assert [sys.getrefcount(x) for x in tracked] == before
    with pytest.raises(TypeError, match="is not a slot"):
        rows_module.build_commands(rows, type("NoSlots", (), {"seq": 1}))
    with pytest.raises(AttributeError):
        rows_module.build_commands(rows, int)
    with pytest.raises(TypeError, match="must be a list"):
        rows_module.build_commands(tuple(rows), Command)
    bare = rows_module.ExtHook.__new__(rows_module.ExtHook)
    with pytest.raises(RuntimeError, match="not initialised"):
        bare(codec.EXT_REF, b"x")


# ---- extension values built in C (sessions._rows.ExtHook) -----------------------------------
def _array_cases() -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    cases: list[np.ndarray] = []
    for name in sorted(codec.ALLOWED_DTYPES):
        dtype = np.dtype(name)
        for shape in [(), (0,), (3,), (2, 3), (100,), (4, 0, 2), (2, 2, 2, 2)]:
            raw = rng.integers(0, 256, int(np.prod(shape)) * dtype.itemsize, dtype=np.uint8).tobytes()
            cases.append(np.frombuffer(raw, dtype=dtype).reshape(shape))
    return cases


@pytest.mark.parametrize("shuffle", [False, True])
def test_c_and_python_ext_hooks_build_the_same_values(shuffle: bool) -> None:
    from sessions.chunk import decode_chunk, encode_chunk

    _c_rows()
    arrays = _array_cases()
    commands = [Command(i + 1, i, "Buffer.set_data", "b", (a, Ref(f"uuid-{i}"), bytearray([i % 256] * (i % 5))),
                        {"k": [a, Ref("é")]})
                for i, a in enumerate(arrays)]
    chunk = encode_chunk(commands, shuffle=shuffle)
    decoded: dict[str, list[Command]] = {}
    for backend in ("python", "c"):
        default = codec.ROWS_BACKEND
        codec.use_rows(backend)
        try:
            decoded[backend] = decode_chunk(chunk).commands()
        finally:
            codec.use_rows(default)
    for want, got_python, got_c in zip(commands, decoded["python"], decoded["c"]):
        for got in (got_python, got_c):
            array, ref, color = got.args
            assert type(color) is bytearray and color == want.args[2]
            assert array.dtype == want.args[0].dtype and array.shape == want.args[0].shape
            assert array.tobytes() == want.args[0].tobytes() and array.flags.writeable
            assert type(ref) is Ref and ref == want.args[1]
            assert got.kwargs["k"][1] == Ref("é") and got.kwargs["k"][0].tobytes() == want.args[0].tobytes()
        assert got_c.args[0].flags.c_contiguous == got_python.args[0].flags.c_contiguous


def _ext(code: int, payload: bytes) -> msgpack.ExtType:
    return msgpack.ExtType(code, payload)


HOSTILE_EXT_VALUES: list[Any] = [
    _ext(codec.EXT_NDARRAY, msgpack.packb(["<f4", [2], [0, 8]])),  # fine: the reference case
    _ext(codec.EXT_NDARRAY, msgpack.packb(["<f4", [2], b"\x00" * 8])),  # fine, inline
    _ext(codec.EXT_NDARRAY, msgpack.packb(["<f4", [2], [2, 8]])),  # fine, at an offset not a multiple of 4
    _ext(codec.EXT_NDARRAY, msgpack.packb(["<i2", [3], [1, 6]])),  # fine, odd offset
    _ext(codec.EXT_NDARRAY, msgpack.packb(["<f8", [2, 2], [32, 32]])),  # fine, ends with the blob area
    _ext(codec.EXT_NDARRAY, msgpack.packb(["<f4", [16], [0, 64]])),  # fine, the whole blob area
    _ext(codec.EXT_NDARRAY, msgpack.packb(["<f4", [3], [0, 8]])),  # size does not match
    _ext(codec.EXT_NDARRAY, msgpack.packb(["<f4", [2], [60, 8]])),  # outside the blob area
    _ext(codec.EXT_NDARRAY, msgpack.packb(["<f4", [2], [2**63, 8]])),
    _ext(codec.EXT_NDARRAY, msgpack.packb(["<f4", [-2], [0, 8]])),  # negative dimension
    _ext(codec.EXT_NDARRAY, msgpack.packb(["<f4", [2**62, 2**62], [0, 8]])),  # count overflows 64 bits
    _ext(codec.EXT_NDARRAY, msgpack.packb(["<f4", [1] * 33, [0, 4]])),  # too many dimensions
    _ext(codec.EXT_NDARRAY, msgpack.packb(["<U4", [1], [0, 16]])),  # dtype not allowed
    _ext(codec.EXT_NDARRAY, msgpack.packb(["<f4", [2], [0, 8], "extra"])),
    _ext(codec.EXT_NDARRAY, msgpack.packb(["<f4", [2], [0, 8]]) + b"\xc0"),  # trailing bytes
    _ext(codec.EXT_NDARRAY, msgpack.packb(["<f4", [2], [0, 8]])[:-1]),  # truncated
    _ext(codec.EXT_NDARRAY, msgpack.packb(["<f4", [2.0], [0, 8]])),
    _ext(codec.EXT_NDARRAY, msgpack.packb(["<f4", [True, 2], [0, 8]])),
    _ext(codec.EXT_NDARRAY, msgpack.packb([b"<f4", [2], [0, 8]], use_bin_type=True)),
    _ext(codec.EXT_NDARRAY, msgpack.packb(["<f4", [2], [0]])),
    _ext(codec.EXT_NDARRAY, b"\x93\xa3<f4\x91\x02\x92\x00"),  # ends inside the location
    _ext(codec.EXT_NDARRAY, b""),
    _ext(codec.EXT_BYTEARRAY, b"\xc4\x04abcd"),  # fine: a colour, inline
    _ext(codec.EXT_BYTEARRAY, b"\xc4\x00"),
    _ext(codec.EXT_BYTEARRAY, msgpack.packb([0, 8])),  # fine: in the blob area (the Python hook's)
    _ext(codec.EXT_BYTEARRAY, msgpack.packb([60, 8])),  # outside the blob area
    _ext(codec.EXT_BYTEARRAY, b"\xc4\x04abcd\xc0"),  # trailing bytes
    _ext(codec.EXT_BYTEARRAY, b"\xc4\x05abcd"),  # truncated
    _ext(codec.EXT_BYTEARRAY, b"\xa4abcd"),  # a str, not bytes
    _ext(codec.EXT_REF, b"uuid-1"),
    _ext(codec.EXT_REF, b"\xff\xfe"),  # not UTF-8
    _ext(codec.EXT_REF, b""),
    _ext(99, b"whatever"),
]


@pytest.mark.parametrize("value", HOSTILE_EXT_VALUES, ids=range(len(HOSTILE_EXT_VALUES)))
def test_c_and_python_ext_hooks_accept_and_refuse_alike(value: Any) -> None:
    _c_rows()
    meta = msgpack.packb([[1, 0, "A.b", "t", [value], {}]], use_bin_type=True)
    blobs = bytes(range(64))
    outcomes = []
    for backend in ("python", "c"):
        default = codec.ROWS_BACKEND
        codec.use_rows(backend)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                commands = decode_commands(meta, bytearray(blobs))
            got = commands[0].args[0] if commands else None
            outcomes.append(("ok", repr(got), [str(w.message) for w in caught]))
        except Exception as error:
            outcomes.append(("error", type(error), str(error)))
        finally:
            codec.use_rows(default)
    assert outcomes[0] == outcomes[1]


def test_ext_hook_keeps_reference_counts_and_is_collected_with_its_decoder() -> None:
    import gc
    import weakref

    rows_module = _c_rows()
    blobs = bytearray(64)
    fallback_calls: list[int] = []

    class Owner:
        def fallback(self, code: int, data: bytes) -> Any:
            fallback_calls.append(code)
            return None

    owner = Owner()
    hook = rows_module.ExtHook(memoryview(blobs), False, 32, codec._DTYPE_ENTRIES, np.frombuffer, Ref, owner.fallback)
    owner.hook = hook  # type: ignore[attr-defined]  # the decoder's cycle: owner -> hook -> bound method -> owner
    payload = msgpack.packb(["<f4", [2, 2], [16, 16]])
    before = sys.getrefcount(payload)
    for _ in range(100):
        array = hook(codec.EXT_NDARRAY, payload)
        assert array.shape == (2, 2) and array.base is not None
        assert hook(codec.EXT_REF, b"abc") == Ref("abc")
        assert hook(codec.EXT_ENUM, b"x") is None
    assert sys.getrefcount(payload) == before and fallback_calls == [codec.EXT_ENUM] * 100
    alive = weakref.ref(owner)
    del owner, hook, array
    gc.collect()
    assert alive() is None


def test_ext_hook_copies_blob_bytearrays_and_lists_those_not_decompressed_yet() -> None:
    """A bytearray in the blob area is copied in C when its bytes are in place; past ``ready`` it
    is made unfilled and listed for the decoding threads, or left to the fallback (which raises
    BlobsNotReady) when the hook has no list."""
    rows_module = _c_rows()
    blobs = memoryview(bytes(range(256)) * 4)
    fallback_calls: list[int] = []

    def fallback(code: int, data: bytes) -> Any:
        fallback_calls.append(code)
        return "fallback"

    def hook(**options: Any) -> Any:
        return rows_module.ExtHook(blobs, False, 32, codec._DTYPE_ENTRIES, np.frombuffer, Ref, fallback, **options)

    early, late = msgpack.packb([16, 100]), msgpack.packb([600, 300])
    copied = hook()(codec.EXT_BYTEARRAY, early)
    assert type(copied) is bytearray and copied == blobs[16:116] and fallback_calls == []
    assert hook(ready=116)(codec.EXT_BYTEARRAY, early) == blobs[16:116]
    unfilled: list[tuple[int, bytearray]] = []
    waiting = hook(ready=700, unfilled=unfilled)
    assert waiting(codec.EXT_BYTEARRAY, early) == blobs[16:116] and unfilled == []
    made = waiting(codec.EXT_BYTEARRAY, late)
    assert type(made) is bytearray and len(made) == 300 and len(unfilled) == 1
    assert unfilled[0][0] == 600 and unfilled[0][1] is made
    assert hook(ready=700)(codec.EXT_BYTEARRAY, late) == "fallback" and fallback_calls == [codec.EXT_BYTEARRAY]
    for odd in ([1000, 100], [-1, 4], [0, 1, 2], "x"):  # past the area, negative, malformed: Python's to say
        assert hook(unfilled=[])(codec.EXT_BYTEARRAY, msgpack.packb(odd)) == "fallback"
    with pytest.raises(TypeError, match="unfilled must be a list"):
        hook(unfilled=())


def test_bytearrays_are_made_early_and_filled_as_blocks_decode_on_both_paths(rows_backend: str) -> None:
    """While a chunk's blocks decode, the C hook makes the bytearrays past the decoded bytes
    unfilled (and lists them); the Python hook raises BlobsNotReady and the commands are made once
    every block is in place. Either way the commands read back are those written."""
    from sessions.chunk import ChunkFlags, decode_chunk, encode_chunk_rows, peek_chunk_header

    payloads = [bytearray((np.arange(n) % 251 + k).astype(np.uint8).tobytes())
                for k, n in enumerate((70_000, 262_144, 1_000_003, 5_000, 400_000))]
    rows = [(k + 1, k, "Buffer.set_data", f"b{k}", (p, 0, len(p)), {}) for k, p in enumerate(payloads)]
    chunk = b"".join(encode_chunk_rows(rows))
    assert peek_chunk_header(chunk).flags & ChunkFlags.BLOCKS
    decoded = decode_chunk(chunk)
    assert (decoded._early is not None) == (rows_backend == "c")
    commands = decoded.commands()
    assert [c.args[0] for c in commands] == payloads
    assert all(type(c.args[0]) is bytearray for c in commands)
    commands[0].args[0].append(1)  # no buffer export left on it


def _chunk_referencing_one_blob(kind: str, rows: int, blob: int = 1 << 20) -> bytes:
    """A hostile COMMANDS chunk: ``rows`` values of ``kind`` all at the same blob of ``blob`` bytes
    (a few kB of rows asking for ``rows`` copies of it)."""
    from sessions.chunk import ChunkFlags, ChunkKind, _frame

    if kind == "float32":
        value = msgpack.ExtType(codec.EXT_NDARRAY, msgpack.packb(["<f4", [blob // 4], [0, blob]]))
    else:
        value = msgpack.ExtType(codec.EXT_BYTES if kind == "bytes" else codec.EXT_BYTEARRAY, msgpack.packb([0, blob]))
    meta = msgpack.packb([[k + 1, k, "Buffer.set_data", "b", [value, 0, 1], {}] for k in range(rows)])
    raw = meta + bytes(-len(meta) % codec.ALIGN) + b"\x07" * blob
    flags = ChunkFlags.SHUFFLE if kind == "float32" else 0  # shuffled floats are copied to be unshuffled
    return _frame(ChunkKind.COMMANDS, raw, len(meta), rows, (1, rows), (0, rows - 1), flags, True)


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "float32"])
def test_values_cannot_copy_one_blob_over_and_over(kind: str, rows_backend: str) -> None:
    """Values copied out of the blob area (bytes, bytearrays, shuffled floats) add up to its size at
    most: 64 rows asking for a 1 MiB blob each are refused, where one is decoded."""
    from sessions.chunk import decode_chunk

    assert len(decode_chunk(_chunk_referencing_one_blob(kind, 1)).commands()) == 1
    hostile = _chunk_referencing_one_blob(kind, 64)
    assert len(hostile) < 40_000
    with pytest.raises(LogFormatError, match="a blob referenced more than once"):
        decode_chunk(hostile, offset=1234).commands()


def test_ext_hook_counts_the_blob_bytes_it_copies_in_the_buffer_it_shares() -> None:
    rows_module = _c_rows()
    copied = np.zeros(1, np.int64)
    hook = rows_module.ExtHook(memoryview(bytes(1000)), False, 32, codec._DTYPE_ENTRIES, np.frombuffer, Ref,
                               lambda code, data: None, copied=copied)
    assert hook(codec.EXT_BYTES, msgpack.packb([0, 600])) == bytes(600) and copied[0] == 600
    assert hook(codec.EXT_BYTEARRAY, msgpack.packb([600, 400])) == bytes(400) and copied[0] == 1000
    with pytest.raises(ValueError, match="more than the blob area's 1000 bytes"):
        hook(codec.EXT_BYTES, msgpack.packb([0, 1]))
    assert hook(codec.EXT_BYTES, msgpack.packb(b"inline")) == b"inline" and copied[0] == 1000
    with pytest.raises(ValueError, match="one int64"):
        rows_module.ExtHook(b"", False, 32, codec._DTYPE_ENTRIES, np.frombuffer, Ref, lambda c, d: None,
                            copied=bytearray(4))


def _exporter(array: np.ndarray) -> Any:
    """The object that owns an array's memory, through numpy bases and memoryviews."""
    owner: Any = array
    while True:
        if isinstance(owner, np.ndarray) and owner.base is not None:
            owner = owner.base
        elif isinstance(owner, memoryview):
            owner = owner.obj
        else:
            return owner


@pytest.mark.parametrize("backend", ["python", "c"])
def test_a_decoded_chunk_is_freed_as_soon_as_its_commands_are_dropped(backend: str) -> None:
    """No reference cycle holds a chunk's body: else every chunk would wait for the cyclic
    collector, and the next one be decoded into fresh pages."""
    import gc
    import weakref

    from sessions.chunk import decode_chunk, encode_chunk

    _c_rows()
    data = np.linspace(0, 1, 200_000, dtype=np.float32)  # several blocks, shuffled
    chunk = encode_chunk([Command(1, 0, "Buffer.set_data", "b", (data, Ref("r"), 0), {"k": Ref("s")})])
    default = codec.ROWS_BACKEND
    codec.use_rows(backend)
    gc.disable()
    try:
        commands = decode_chunk(chunk).commands()
        assert commands[0].args[0].tobytes() == data.tobytes()
        body = _exporter(commands[0].args[0])
        assert isinstance(body, np.ndarray) and body.nbytes >= data.nbytes
        freed = weakref.ref(body)
        del commands, body
        assert freed() is None
    finally:
        gc.enable()
        codec.use_rows(default)


_VALID_PAYLOADS = [
    b"\xc4\x04\x10\x20\x30\xff",
    msgpack.packb([16, 8]),
    msgpack.packb(["<f4", [2, 3], [0, 24]]),
    msgpack.packb(["<u2", [4], b"\x01\x02" * 4]),
    msgpack.packb(["<c16", [], [16, 16]]),
    msgpack.packb(["|b1", [0], b""]),
]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(_VALID_PAYLOADS), st.lists(st.tuples(st.integers(0, 40), st.integers(0, 255)), max_size=4),
       st.integers(0, 40), st.sampled_from([codec.EXT_NDARRAY, codec.EXT_BYTEARRAY, codec.EXT_REF]), st.booleans())
def test_c_and_python_ext_hooks_agree_on_damaged_payloads(
    payload: bytes, edits: list[tuple[int, int]], cut: int, code: int, shuffled: bool
) -> None:
    """Random byte edits and truncations of real payloads: the C hook reads only inside them, and
    builds what the Python hook builds or hands over (same value, same error)."""
    rows_module = _c_rows()
    damaged = bytearray(payload)
    for at, value in edits:
        if at < len(damaged):
            damaged[at] = value
    damaged = damaged[: max(0, len(damaged) - cut % 8)]
    blobs = bytearray(range(64))
    decoder = codec._Decoder(blobs, shuffled, codec.DEFAULT_LIMITS)
    hook = rows_module.ExtHook(decoder.blobs, shuffled, 32, codec._DTYPE_ENTRIES, np.frombuffer, Ref,
                               decoder.python_ext_hook)
    outcomes = []
    for function in (decoder.python_ext_hook, hook):
        try:
            value = function(code, bytes(damaged))
            outcomes.append(("ok", type(value), getattr(value, "dtype", None), getattr(value, "shape", None),
                             value.tobytes() if isinstance(value, np.ndarray) else value))
        except Exception as error:
            outcomes.append(("error", type(error), str(error)))
    assert outcomes[0] == outcomes[1]


# ---- the C row reader (decode_rows) against msgpack and the C builder ----------------------------
def _decoded_both_ways(meta: bytes, blobs: bytes, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """decode_commands through the C row reader, then through msgpack (the reader switched off):
    each outcome is the commands' fields and warnings, or the error's type and text."""
    _c_rows()
    outcomes = []
    for reader in ("c", "msgpack"):
        with monkeypatch.context() as patch:
            if reader == "msgpack":
                patch.setattr(codec._Decoder, "commands", lambda self, meta: None)
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    commands = decode_commands(meta, bytearray(blobs))
            except Exception as error:
                outcomes.append(("error", type(error), str(error)))
                continue
        assert all(type(c) is Command and type(c.args) is tuple for c in commands)
        outcomes.append(("ok", [[c.seq, c.t_ns, c.op, c.target, list(c.args), c.kwargs] for c in commands],
                         [str(w.message) for w in caught]))
    return outcomes


def _same_outcome(outcomes: list[tuple[Any, ...]]) -> None:
    c, reference = outcomes
    assert c[0] == reference[0], outcomes
    if c[0] == "error":
        assert c == reference
    else:
        assert _same_value(c[1], reference[1]) and c[2] == reference[2], outcomes


@settings(max_examples=200, deadline=None)
@given(batches)
def test_the_c_row_reader_reads_what_msgpack_reads(rows: list[Any]) -> None:
    batch = encode_rows(rows)
    outcomes = _decoded_both_ways(batch.meta, b"".join(batch.blobs), pytest.MonkeyPatch())
    assert outcomes[0][0] == "ok"
    _same_outcome(outcomes)


def _pack_any(value: Any, draw: Any) -> bytes:
    """``value`` in msgpack, each item in a form drawn among those that hold it (msgpack-python
    writes the shortest; other writers may not)."""
    def be(v: int, size: int) -> bytes:
        return (v % (1 << (8 * size))).to_bytes(size, "big")

    if value is None:
        return b"\xc0"
    if value is True or value is False:
        return b"\xc3" if value else b"\xc2"
    if isinstance(value, int):
        forms = [(0xcc + k, 1 << k) for k in range(4) if 0 <= value < 1 << (8 << k)]
        forms += [(0xd0 + k, 1 << k) for k in range(4) if -(1 << ((8 << k) - 1)) <= value < 1 << ((8 << k) - 1)]
        fixed = [bytes([value & 0xFF])] if -32 <= value <= 127 else []
        choice = draw(st.integers(0, len(forms) + len(fixed) - 1))
        if choice < len(fixed):
            return fixed[0]
        marker, size = forms[choice - len(fixed)]
        return bytes([marker]) + be(value, size)
    if isinstance(value, float):
        with np.errstate(over="ignore"):
            exact_in_float32 = float(np.float32(value)) == value
        if exact_in_float32 and draw(st.booleans()):
            return b"\xca" + np.array(value, ">f4").tobytes()
        return b"\xcb" + np.array(value, ">f8").tobytes()
    if isinstance(value, (str, bytes)):
        raw = value.encode() if isinstance(value, str) else value
        markers = [0xd9, 0xda, 0xdb] if isinstance(value, str) else [0xc4, 0xc5, 0xc6]
        k = draw(st.integers(0 if len(raw) < 256 else 1, 2))
        if isinstance(value, str) and len(raw) < 32 and draw(st.booleans()):
            return bytes([0xa0 | len(raw)]) + raw
        return bytes([markers[k]]) + be(len(raw), 1 << k) + raw
    if isinstance(value, msgpack.ExtType):
        n = len(value.data)
        if n in (1, 2, 4, 8, 16) and draw(st.booleans()):
            return bytes([0xd4 + n.bit_length() - 1, value.code & 0xFF]) + value.data
        k = draw(st.integers(0 if n < 256 else 1, 2))
        return bytes([0xc7 + k]) + be(n, 1 << k) + bytes([value.code & 0xFF]) + value.data
    items = list(value.items()) if isinstance(value, dict) else list(value)
    k = draw(st.integers(-1 if len(items) < 16 else 0, 1))
    fix, big = (0x80, 0xde) if isinstance(value, dict) else (0x90, 0xdc)
    head = bytes([fix | len(items)]) if k < 0 else bytes([big + k]) + be(len(items), 2 << k)
    if isinstance(value, dict):
        return head + b"".join(_pack_any(key, draw) + _pack_any(item, draw) for key, item in items)
    return head + b"".join(_pack_any(item, draw) for item in items)


@settings(max_examples=150, deadline=None)  # new examples every run: CI covers more over time
@given(st.data(), batches)
def test_the_c_row_reader_reads_every_msgpack_form_as_msgpack_does(data: st.DataObject, rows: list[Any]) -> None:
    batch = encode_rows(rows)
    unpacked = msgpack.unpackb(batch.meta, raw=False, strict_map_key=True, ext_hook=msgpack.ExtType)
    meta = _pack_any(unpacked, data.draw)
    assert msgpack.unpackb(meta, raw=False, ext_hook=msgpack.ExtType) == unpacked
    outcomes = _decoded_both_ways(meta, b"".join(batch.blobs), pytest.MonkeyPatch())
    assert outcomes[0][0] == "ok"
    _same_outcome(outcomes)


DECLINED_ROWS = [
    msgpack.packb([[1, 0, "A.b", "t", [], {}]]) + b"\xc0",  # bytes after the rows
    msgpack.packb([[1, 0, "A.b", "t", [], {1: 2}]]),  # a key msgpack refuses
    msgpack.packb([[1, 0, "A.b", "t", [], {b"k": 2}]], use_bin_type=True),  # bytes key: msgpack's to read
    msgpack.packb([[1, 0, "A.b", "t", [msgpack.Timestamp(1, 2)], {}]]),  # a timestamp
    b"\x91\x96\x01\x00\xa3A.b\xa1t\x91\xa2\xff\xfe\x80",  # not UTF-8
    msgpack.packb([[1, 0, "A.b", "t", [functools.reduce(lambda inner, _: [inner], range(40), 1)], {}]]),  # deep
    msgpack.packb([[True, 0, "A.b", "t", [], {}]]),  # not a row
    msgpack.packb([[1, 0, "A.b", "t", {}, []]]),
    msgpack.packb([[1, 0, "A.b", "t", []]]),
    msgpack.packb({"rows": 1}),
    b"\x91\x96\x01\x00\xa3A.b\xa1t\x91\xc1\x80",  # 0xc1, never used
    b"\x91\x96\x01\x00\xa3A.b\xa1t\x91\xdd\xff\xff\xff\xff\x80",  # an array longer than the data
    b"\x91\x96\x01\x00\xa3A.b\xa1t\x91\xdf\x7f\xff\xff\xff\x80",  # a map longer than the data
    b"\x91\x96\x01\x00\xa3A.b\xa1t\x91\xc9\xff\xff\xff\xf0\x01\x80",  # an ext longer than the data
    b"\xdd\xff\xff\xff\xff",  # rows longer than the data
    b"",
]


@pytest.mark.parametrize("meta", DECLINED_ROWS, ids=range(len(DECLINED_ROWS)))
def test_the_c_row_reader_declines_what_it_does_not_read_as_msgpack_does(meta: bytes) -> None:
    rows_module = _c_rows()
    decoder = codec._Decoder(b"", False, codec.DEFAULT_LIMITS)
    hook = rows_module.ExtHook(decoder.blobs, False, 32, codec._DTYPE_ENTRIES, np.frombuffer, Ref,
                               decoder.python_ext_hook)
    assert rows_module.decode_rows(meta, hook, Command, GiB) is None
    _same_outcome(_decoded_both_ways(meta, b"", pytest.MonkeyPatch()))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=3), st.integers(0, 30))
def test_the_c_row_reader_and_msgpack_agree_on_damaged_rows(edits: list[tuple[int, int]], cut: int) -> None:
    """Random byte edits and truncations of real rows: the reader reads only inside them, and gives
    what msgpack and the C builder give (same commands, same error)."""
    batch = encode_commands(_mixed())
    damaged = bytearray(batch.meta)
    for at, value in edits:
        damaged[at % len(damaged)] = value
    damaged = damaged[: len(damaged) - cut % 12]
    _same_outcome(_decoded_both_ways(bytes(damaged), b"".join(batch.blobs), pytest.MonkeyPatch()))


def test_decode_rows_keeps_reference_counts_and_refuses_bad_arguments() -> None:
    rows_module = _c_rows()
    batch = encode_commands(_mixed())
    blobs = bytearray(b"".join(batch.blobs))
    decoder = codec._Decoder(blobs, False, codec.DEFAULT_LIMITS)
    hook = rows_module.ExtHook(decoder.blobs, False, 32, codec._DTYPE_ENTRIES, np.frombuffer, Ref,
                               decoder.python_ext_hook)
    before = (sys.getrefcount(hook), sys.getrefcount(Command), sys.getrefcount(batch.meta))
    for _ in range(50):
        assert len(rows_module.decode_rows(batch.meta, hook, Command, GiB)) == len(_mixed())
    assert (sys.getrefcount(hook), sys.getrefcount(Command), sys.getrefcount(batch.meta)) == before
    with pytest.raises(TypeError):
        rows_module.decode_rows(batch.meta, decoder.python_ext_hook, Command, GiB)
    with pytest.raises(TypeError):
        rows_module.decode_rows(batch.meta, hook, Command)
    with pytest.raises(TypeError):
        rows_module.decode_rows(42, hook, Command, GiB)
    with pytest.raises(OverflowError):
        rows_module.decode_rows(batch.meta, hook, Command, -1)
