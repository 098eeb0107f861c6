"""sessions._ledger notes rows into a SceneLedger exactly as the ledger's Python path does."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sessions_testkit import built_c_module

from sessions import ledger as ledger_module
from sessions.command import Ref
from sessions.ledger import SceneLedger

HOLD = 32  # HOLD_MIN_BYTES for these tests: payloads on both sides of it stay small
TARGETS = ["a" * 32, "b" * 32, "c" * 32]

_plain = st.one_of(st.integers(-3, 3), st.floats(allow_nan=False, width=32), st.booleans(), st.none(),
                   st.sampled_from(["", "x"]), st.binary(max_size=4))
_not_plain = st.one_of(st.just([1, 2]), st.builds(lambda: Ref(TARGETS[1])), st.just(np.float32(1.5)),
                       st.just(bytearray(b"ab")), st.just((Ref(TARGETS[2]),)))
_kwargs = st.one_of(st.just({}), st.just({}), st.just({}), st.just({"x": 1}), st.just({"ref": Ref(TARGETS[0])}))
_payload = st.one_of(
    st.integers(0, HOLD + 1).map(bytes),
    st.integers(0, HOLD + 1).map(bytearray),
    st.just(memoryview(b"abcd")),
    st.just(np.zeros(4, np.float32)),
)
_offset = st.sampled_from([0, 0, 0, 1, 2, 0.0, False])
_count = st.sampled_from([1, 4, 4, 4, -1, 4.0, True])


def _row(op: str, target: str, args: tuple[Any, ...], kwargs: Any) -> tuple[Any, ...]:
    return (0, 0, op, target, args, kwargs)  # seq and time are filled in in order below


_setter = st.builds(_row, st.sampled_from(["Viewport.set_x", "Viewport.set_y", "Points.set_sizes"]),
                    st.sampled_from(TARGETS), st.lists(st.one_of(_plain, _not_plain), max_size=2)
                    .map(tuple), _kwargs)
_set_data = st.builds(_row, st.just("Buffer.set_data"), st.sampled_from(TARGETS),
                      st.tuples(_payload, _offset, _count) | st.tuples(_payload) | st.just(()), _kwargs)
_whole_write = st.builds(lambda target, size: _row("Buffer.set_data", target, (bytes(size), 0, 4), {}),
                         st.sampled_from(TARGETS), st.integers(0, HOLD + 1))
_other = st.one_of(
    st.builds(_row, st.just("Buffer.new"), st.sampled_from(TARGETS),
              st.tuples(st.sampled_from([4, 4, 1, 4.0]), st.just(3)), st.just({})),
    st.builds(_row, st.just("Renderer.render"), st.just("r" * 32), st.just(([Ref(TARGETS[0])],)), st.just({})),
    st.builds(_row, st.just("Points.new"), st.just("p" * 32), st.just((Ref(TARGETS[1]),)), st.just({})),
    st.builds(_row, st.just("Recorder.mark"), st.just(""), st.just(("here",)), st.just({})),
    st.builds(_row, st.just("Viewport.set_x"), st.just(7), st.just((1,)), st.just({})),  # a target not a str
)
_rows = st.lists(st.one_of(_setter, _setter, _set_data, _whole_write, _whole_write, _other), min_size=1, max_size=80)


def _new(target: str, count: int) -> tuple[Any, ...]:
    return _row("Buffer.new", target, (count, 3), {})


def _state(ledger: SceneLedger) -> dict[str, Any]:
    """Everything a ledger keeps, rows by identity (both ledgers are given the same row objects)."""
    return {
        "pending": [(n, id(row)) for n, row in ledger._pending.items()],
        "latest": list(ledger._latest.items()),
        "touched": list(ledger._touched.items()),
        "counts": list(ledger._counts.items()),
        "held": list(ledger._held.items()),
        "buffer_bytes": list(ledger._buffer_bytes.items()),
        "whole_writes": list(ledger.whole_writes.items()),
        "kinds": list(ledger._kinds.items()),
        "n": ledger._n,
        "scene_bytes": ledger.scene_bytes,
    }


@pytest.fixture
def ledger_c() -> Any:
    return built_c_module("_ledger")


@settings(max_examples=300, deadline=None)
@given(rows=_rows, cuts=st.lists(st.integers(0, 80), max_size=4))
# The first call of each op goes to Python (it classifies it): C meets the later ones.
@example(rows=[_row("Viewport.set_x", TARGETS[0], (1,), {}), _row("Viewport.set_y", TARGETS[0], (2,), {}),
               _row("Viewport.set_x", TARGETS[0], (Ref(TARGETS[1]),), {})], cuts=[])  # an object argument
@example(rows=[_new(TARGETS[0], 4), _row("Buffer.set_data", TARGETS[0], (b"a", 1, 1), {}),
               _row("Buffer.set_data", TARGETS[0], (b"ab", 0, 4), {}),
               _row("Buffer.set_data", TARGETS[0], (b"c", 0, 1), {})], cuts=[])  # whole, then partial from 0
@example(rows=[_new(TARGETS[0], 4), _row("Buffer.set_data", TARGETS[0], (b"a", 1, 1), {}),
               _row("Buffer.set_data", TARGETS[0], (b"ab", 0, 4), {}),
               _row("Buffer.set_data", TARGETS[0], (b"cd", 0, 4), {}), _new(TARGETS[0], 1)], cuts=[3])
@example(rows=[_new(TARGETS[0], 4), _row("Buffer.set_data", TARGETS[0], (b"a", 1, 1), {}),
               _row("Buffer.set_data", TARGETS[0], (b"ab", 0, 4), {}),
               _row("Buffer.set_data", TARGETS[0], (b"c", 2, 4), {})], cuts=[])  # whole, then not from 0
@example(rows=[_new(TARGETS[0], 4), _row("Buffer.set_data", TARGETS[0], (bytes(HOLD), 0, 4), {}),
               _row("Buffer.set_data", TARGETS[0], (b"ab", 0, 4), {}),
               _row("Buffer.set_data", TARGETS[0], (b"c", 2, 4), {})], cuts=[])  # a linked write, then small
def test_c_and_python_note_the_same_rows_the_same_way(rows: list[tuple[Any, ...]], cuts: list[int]) -> None:
    built_c_module("_ledger")
    rows = [(seq, seq * 10, *row[2:]) for seq, row in enumerate(rows, 1)]
    if rows and rows[-1][2] == "Viewport.set_y":
        rows[-1] = list(rows[-1])  # a row of another type: C leaves it (and Python reads it all the same)
    batches = [rows[a:b] for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(rows)], strict=True)]
    saved = ledger_module.LEDGER_BACKEND, ledger_module.HOLD_MIN_BYTES, ledger_module.LINK_MIN_BYTES
    ledger_module.HOLD_MIN_BYTES = ledger_module.LINK_MIN_BYTES = HOLD
    ledgers = {"python": SceneLedger(), "c": SceneLedger()}
    try:
        for batch in batches:
            for backend, ledger in ledgers.items():
                ledger_module.use_ledger(backend)
                ledger.append_rows(batch)
            assert _state(ledgers["c"]) == _state(ledgers["python"])
    finally:
        ledger_module.use_ledger(saved[0])
        ledger_module.HOLD_MIN_BYTES, ledger_module.LINK_MIN_BYTES = saved[1:]
    assert ledgers["c"]._c is not None and ledgers["python"]._c is None


def _ledger_for_c(ledger_c: Any) -> tuple[SceneLedger, Any]:
    ledger = SceneLedger()
    ledger.append_row((1, 0, "Buffer.new", TARGETS[0], (1, 3), {}))
    ledger.append_row((2, 0, "Viewport.set_x", TARGETS[1], (0,), {}))  # puts the ops in the cache
    ledger.append_row((3, 0, "Buffer.set_data", TARGETS[0], (bytes(16), 0, 1), {}))
    coalescer = ledger_c.Coalescer(ledger._kinds, ledger._latest, ledger._touched, ledger._pending, ledger._counts,
                                   ledger._buffer_bytes, ledger.whole_writes, ledger_module._SETTER,
                                   ledger_module._SET_DATA)
    return ledger, coalescer


def test_c_takes_setters_and_small_writes_and_stops_at_anything_else(ledger_c: Any) -> None:
    ledger, coalescer = _ledger_for_c(ledger_c)
    small = [(4 + i, 0, "Viewport.set_x", TARGETS[1], (i,), {}) for i in range(3)]
    small += [(7 + i, 0, "Buffer.set_data", TARGETS[0], (bytes([i] * 16), 0, 1), {}) for i in range(3)]
    render = (10, 0, "Renderer.render", "r" * 32, ([Ref(TARGETS[1])],), {})
    rows = [*small, render, *small]
    assert coalescer.take(ledger, rows, 0, HOLD) == len(small)  # stops at the render
    # Each call replaced the one before: the latest of each is pending, numbered after the first three.
    assert [row[0] for row in ledger._pending.values()] == [1, 6, 9]
    assert ledger._n == 5 and ledger.scene_bytes == 16
    assert coalescer.take(ledger, rows, len(small) + 1, HOLD) == len(rows)
    big = [(20, 0, "Buffer.set_data", TARGETS[0], (bytes(HOLD), 0, 1), {})]
    assert coalescer.take(ledger, big, 0, HOLD) == 0  # a payload the ledger may hold: Python's


def test_c_checks_its_arguments(ledger_c: Any) -> None:
    ledger, coalescer = _ledger_for_c(ledger_c)
    with pytest.raises(TypeError, match="rows must be a list"):
        coalescer.take(ledger, (), 0, HOLD)
    with pytest.raises(TypeError, match="4 arguments"):
        coalescer.take(ledger, [])
    with pytest.raises(TypeError):
        ledger_c.Coalescer({}, {}, {}, {}, {}, {}, [], 1, 2)  # a list where a dict goes
    with pytest.raises(RuntimeError, match="before __init__"):
        ledger_c.Coalescer.__new__(ledger_c.Coalescer).take(ledger, [], 0, HOLD)


def test_the_variable_keeps_c_out_and_use_ledger_checks_its_name(ledger_c: Any) -> None:
    code = "from sessions import ledger; print(ledger.LEDGER_BACKEND)"
    for value, expected in (("1", "python"), ("0", "c")):
        done = subprocess.run([sys.executable, "-c", code], env={**os.environ, ledger_module.ENV_NO_C_LEDGER: value},
                              capture_output=True, text=True, check=True)
        assert done.stdout.strip() == expected
    with pytest.raises(ValueError, match="unknown ledger backend 'rust'"):
        ledger_module.use_ledger("rust")


def test_rows_of_any_sequence_are_noted_the_same(ledger_backend: str) -> None:
    rows = [(1, 0, "Viewport.set_x", TARGETS[0], (1,), {}), (2, 0, "Viewport.set_y", TARGETS[0], (2,), {})]
    as_list, as_tuple = SceneLedger(), SceneLedger()
    as_list.append_rows(rows)
    as_tuple.append_rows(tuple(rows))  # type: ignore[arg-type]
    assert _state(as_tuple) == _state(as_list) and as_list._n == 2
