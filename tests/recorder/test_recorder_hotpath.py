"""The recorder's C fast path (recorder/_hotpath.c) records exactly what its Python twin records."""

from __future__ import annotations

import gc
import sys
from collections import deque
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rec_support import WHITE, read_commands, values_equal

import recorder
from gsp import capture
from gsp.core import Canvas, Viewport
from gsp.types import Buffer, BufferType
from recorder import hotpath
from recorder.queue import SMALL_PAYLOAD


@pytest.fixture(scope="module")
def c_module() -> Any:
    try:  # directly, whatever GSP_NO_C_HOTPATH says: the tests below choose the path themselves
        from recorder import _hotpath as module
    except ImportError:
        if sys.platform == "linux":  # pip install builds it wherever a compiler is: losing it is a regression
            pytest.fail("recorder._hotpath is not built (pip install -e . builds it)")
        pytest.skip("recorder._hotpath is not built on this platform")
    return module


# ---- the same calls through both paths give the same log ------------------------------------
_call = st.one_of(
    st.tuples(st.just("set_x"), st.integers(0, 2**40)),
    st.tuples(st.just("set_x_kw"), st.integers(0, 100)),  # keywords: the general path
    st.tuples(st.just("dpi"), st.floats(1.0, 600.0)),
    st.tuples(st.just("color"), st.binary(min_size=4, max_size=4)),  # a bytearray: converted, general path
    st.tuples(st.just("set_data"), st.integers(0, 7), st.integers(0, 8), st.sampled_from(["bytes", "bytearray"])),
    st.tuples(st.just("set_data_numpy"), st.integers(0, 7)),
    st.tuples(st.just("set_data_kw"), st.integers(0, 7)),
    st.tuples(st.just("big_set_data"),),  # over SMALL_PAYLOAD: general path
    st.tuples(st.just("paused_write"), st.integers(0, 7)),  # unseen by the recorder: its version is lost
    st.tuples(st.just("expose"),),  # a writable view out: writes are hashed, not versioned
    st.tuples(st.just("old_viewport"), st.integers(0, 100)),  # created before recording: snapshot first
    st.tuples(st.just("mark"), st.text(min_size=1, max_size=5)),  # an empty label is refused
)


def _record_calls(path: Path, calls: list[tuple[Any, ...]], use_c: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Record ``calls`` on fresh objects with deterministic UUIDs; return the recorder."""
    monkeypatch.setenv(hotpath.ENV_NO_C_HOTPATH, "" if use_c else "1")
    capture.set_uuid_counter(1)
    try:
        old_viewport = Viewport(0, 0, 10, 10, WHITE)
        with recorder.record(path) as rec:
            assert rec.uses_c_hot_path is use_c
            viewport = Viewport(0, 0, 10, 10, WHITE)
            canvas = Canvas(64, 48, 72.0, WHITE)
            buf = Buffer(8, BufferType.vec4)
            big = Buffer(SMALL_PAYLOAD, BufferType.uint8)
            rng = np.random.default_rng(len(calls))
            for call in calls:
                kind = call[0]
                if kind == "set_x":
                    viewport.set_x(call[1])
                elif kind == "set_x_kw":
                    viewport.set_x(x=call[1])
                elif kind == "dpi":
                    canvas.set_dpi(call[1])
                elif kind == "color":
                    viewport.set_background_color(bytearray(call[1]))
                elif kind == "set_data":
                    offset, count = call[1], min(call[2], 8 - call[1])
                    raw = rng.random((count, 4), dtype=np.float32).tobytes()
                    buf.set_data(raw if call[3] == "bytes" else bytearray(raw), offset, count)
                elif kind == "set_data_numpy":
                    buf.set_data(rng.random((8 - call[1], 4), dtype=np.float32), call[1], 8 - call[1])
                elif kind == "set_data_kw":
                    buf.set_data(bytes(16), call[1], count=1)
                elif kind == "big_set_data":
                    big.set_data(bytes(rng.integers(0, 255, SMALL_PAYLOAD, dtype=np.uint8)), 0, SMALL_PAYLOAD)
                elif kind == "paused_write":
                    with capture.paused():
                        buf.set_data(bytes(16), call[1], 1)
                elif kind == "expose":
                    buf.to_numpy()
                elif kind == "old_viewport":
                    old_viewport.set_y(call[1])
                else:
                    rec.mark(call[1])
        assert rec.error is None
        return rec
    finally:
        capture.set_uuid_counter(None)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls=st.lists(_call, max_size=30))
@example(calls=[("set_data", 0, 1, "bytes"), ("paused_write", 1), ("set_data", 2, 1, "bytearray")])  # version lost
def test_c_and_python_paths_write_the_same_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, c_module: Any, calls: list[tuple[Any, ...]]
) -> None:
    recorders = {}
    logs = {}
    for use_c in (True, False):
        path = tmp_path / f"{'c' if use_c else 'py'}.gsplog"
        recorders[use_c] = _record_calls(path, calls, use_c, monkeypatch)
        logs[use_c] = read_commands(path)
    c_log, py_log = logs[True], logs[False]
    assert [(c.seq, c.op, c.target) for c in c_log] == [(c.seq, c.op, c.target) for c in py_log]
    for mine, theirs in zip(c_log, py_log):
        assert values_equal(list(mine.args), list(theirs.args)) and values_equal(mine.kwargs, theirs.kwargs), (mine, theirs)
    assert [c.t_ns for c in c_log] == sorted(c.t_ns for c in c_log)
    # What the recorder believes the log holds of each buffer is the same too (in-place checks).
    assert recorders[True].tracker.versions == recorders[False].tracker.versions
    assert recorders[True].tracker.known.keys() == recorders[False].tracker.known.keys()


def test_small_set_data_keeps_a_copy_of_a_bytearray(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, c_module: Any) -> None:
    monkeypatch.delenv(hotpath.ENV_NO_C_HOTPATH, raising=False)
    path = tmp_path / "copy.gsplog"
    data = bytearray(np.arange(8, dtype=np.float32).tobytes())
    with recorder.record(path) as rec:
        assert rec.uses_c_hot_path
        buf = Buffer(2, BufferType.vec4)
        buf.set_data(data, 0, 2)
        buf.set_data(data, 0, 2)  # known by now: the fast path
        data[:] = bytes(len(data))  # the caller reuses its bytearray at once
        buf.set_data(data[:16], 1, 1)
    writes = [c for c in read_commands(path) if c.op == "Buffer.set_data"]
    assert [bytes(c.args[0]) for c in writes] == [np.arange(8, dtype=np.float32).tobytes()] * 2 + [bytes(16)]
    assert [type(c.args[0]) for c in writes[1:]] == [bytes, bytes]  # queued as immutable bytes
    assert rec.tracker.versions[buf.get_uuid()] == buf.version  # partial write after a whole one: up to date


@pytest.mark.parametrize("use_c", [True, False], ids=["c", "python"])
def test_refused_calls_are_not_queued(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, c_module: Any, use_c: bool) -> None:
    monkeypatch.setenv(hotpath.ENV_NO_C_HOTPATH, "" if use_c else "1")
    vp = Viewport(0, 0, 10, 10, WHITE)
    with recorder.record(tmp_path / "failed.gsplog") as rec:
        assert rec.uses_c_hot_path is use_c
        vp.set_x(1)
        rec.flush()
        rec._refuse_calls()  # what a write failure does
        for i in range(10):
            vp.set_x(i)
        assert len(rec.queue.items) == 0
    assert [c.args for c in read_commands(tmp_path / "failed.gsplog") if c.op == "Viewport.set_x"] == [(1,)]


class _Known:
    """A target the standalone HotPaths below know (its UUID is in their refs)."""

    _uuid = "u"


def _standalone(c_module: Any, hooks: dict[str, Any], max_commands: int = 100) -> tuple[Any, deque[Any], list[Any]]:
    """A HotPath outside any recorder: (it, its queue, the calls it handed to the general path)."""
    general_calls: list[tuple[Any, ...]] = []
    items: deque[Any] = deque()
    hot = c_module.HotPath({"u": object()}, hooks, items, {}, lambda *a: general_calls.append(a), 0, max_commands,
                           1024, "Buffer.set_data")
    return hot, items, general_calls


def test_a_full_queue_sends_the_call_to_the_blocking_general_path(c_module: Any) -> None:
    hot, items, general_calls = _standalone(c_module, {}, max_commands=2)
    for i in range(4):
        hot.on_call(_Known(), "Viewport.set_x", (i,), {})
    assert [item[1:] for item in items] == [("Viewport.set_x", "u", (0,), {}, 0), ("Viewport.set_x", "u", (1,), {}, 0)]
    assert [call[2] for call in general_calls] == [(2,), (3,)]


def test_hot_path_hands_unusual_calls_to_the_general_path(c_module: Any) -> None:
    hot, items, general_calls = _standalone(c_module, {"Renderer.render": None})

    class Unknown:
        _uuid = "other"

    class NoUuid:
        pass

    class MyInt(int):
        pass

    hot.on_call(_Known(), "Viewport.set_x", (1, 2.5, "s", b"b", None, True), {})  # plain: queued
    unusual = [
        (Unknown(), "Viewport.set_x", (1,), {}),
        (NoUuid(), "Viewport.set_x", (1,), {}),
        (_Known(), "Viewport.set_x", (MyInt(1),), {}),
        (_Known(), "Viewport.set_x", ([1],), {}),
        (_Known(), "Viewport.set_x", (1,), {"x": 1}),
        (_Known(), "Renderer.render", (), {}),
    ]
    for call in unusual:
        hot.on_call(*call)
    assert len(items) == 1 and items[0][3] == (1, 2.5, "s", b"b", None, True)
    assert [call[1:] for call in general_calls] == [call[1:] for call in unusual]
    with pytest.raises(TypeError, match="4 arguments"):
        hot.on_call(_Known(), "Viewport.set_x", (1,))


class _SmallBuffer(_Known):
    """The fields of a Buffer the hot path reads (gsp.types.Buffer's, behind its properties)."""

    _exposed = False
    _version = 1
    _count = 1


def test_a_field_that_raises_goes_to_the_general_path(c_module: Any) -> None:
    hot, items, general_calls = _standalone(c_module, {"Buffer.set_data": None})
    hot.on_call(_SmallBuffer(), "Buffer.set_data", (b"x" * 16, 0, 1), {})
    assert len(items) == 1 and not general_calls  # the fast path, given the fields it reads

    class Broken(_SmallBuffer):
        @property
        def _version(self) -> int:  # type: ignore[override]
            raise RuntimeError("broken")

    hot.on_call(Broken(), "Buffer.set_data", (b"x" * 16, 0, 1), {})
    assert len(items) == 1 and len(general_calls) == 1


def test_take_rows_numbers_small_items_and_stops_at_the_others(c_module: Any) -> None:
    flush = (0, None, "flush", None, None, 0)
    big = (50, "Buffer.set_data", "b", (b"x",), {}, 4096)
    items: deque[Any] = deque([
        (10, "A.set_x", "a", (1,), {}, 0),
        (5, "A.set_x", "a", (2,), {}, 0),  # another thread's older time: kept non-decreasing
        flush,
        (20, "A.set_y", "a", (3,), {}, 100),
        big,
        (60, "A.set_x", "a", (4,), {}, 0),
    ])
    rows: list[Any] = []
    assert c_module.take_rows(items, rows, 7, 0, 1024, 512) == (9, 10, flush)
    assert rows == [(8, 10, "A.set_x", "a", (1,), {}), (9, 10, "A.set_x", "a", (2,), {})]
    assert c_module.take_rows(items, rows, 9, 10, 1024, 512) == (10, 20, big)
    assert rows[-1] == (10, 20, "A.set_y", "a", (3,), {})
    assert c_module.take_rows(items, rows, 10, 20, 1024, len(rows)) == (10, 20, None)  # batch full: nothing taken
    assert len(items) == 1
    assert c_module.take_rows(items, rows, 10, 20, 1024, 512) == (11, 60, None)
    assert not items and rows[-1] == (11, 60, "A.set_x", "a", (4,), {})
    with pytest.raises(TypeError, match="6-tuple"):
        c_module.take_rows(deque([(1, 2)]), [], 0, 0, 1024, 512)


def test_queued_calls_and_rows_of_scalars_are_out_of_the_collectors_sight(c_module: Any) -> None:
    hot, items, _ = _standalone(c_module, {})
    hot.on_call(_Known(), "Viewport.set_x", (1, "s"), {})
    assert not gc.is_tracked(items[0]) and not gc.is_tracked(items[0][3])
    ref = SimpleNamespace()  # what a converted argument may hold: a tracked object
    items.append((5, "A.set_ref", "a", (ref,), {}, 0))
    rows: list[Any] = []
    c_module.take_rows(items, rows, 0, 0, 1024, 512)
    assert [gc.is_tracked(row) for row in rows] == [False, True]  # a row that can reach a cycle stays tracked
    assert rows[1][4][0] is ref
