"""The writer's coalescing keyframe ledger gives the same state as applying every command."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sessions_testkit import Script, final_hash, uid

from sessions import LogWriter, decode_chunk
from sessions import ledger as ledger_module
from sessions.command import Ref
from sessions.ledger import SceneLedger
from sessions.limits import DEFAULT_LIMITS, RECORDER_LIMITS

N = 16

_op = st.one_of(
    st.tuples(st.just("full"), st.integers(3, 6)),  # full set_data of a buffer
    st.tuples(st.just("partial"), st.integers(3, 6), st.integers(0, N - 1), st.integers(1, 4)),
    st.tuples(st.just("vp"), st.sampled_from(["x", "y", "width"]), st.integers(1, 500)),  # width >= 1
    st.tuples(st.just("repoint"), st.sampled_from(["sizes", "edge_widths"]), st.sampled_from([4, 6, 9])),
    st.tuples(st.just("newbuf"),),
    st.tuples(st.just("render"),),
    st.tuples(st.just("clear"),),
    st.tuples(st.just("mark"),),
    st.tuples(st.just("snapshot"),),
)


def _session(ops: list[tuple[Any, ...]]) -> tuple[list[Any], list[int]]:
    """Commands of a random session, and the indices after which a snapshot is taken."""
    from gsp.constants import Constants
    from gsp.types import BufferType

    rng = np.random.default_rng(len(ops))
    s = Script()
    s.add("Canvas.new", uid(1), 200, 150, 100.0, bytearray(Constants.Color.white))
    s.add("Viewport.new", uid(2), 0, 0, 200, 150, bytearray(Constants.Color.white))
    s.buffer(uid(3), rng.random((N, 3), dtype=np.float32), BufferType.vec3)
    s.buffer(uid(4), np.full(N, 3.0, np.float32), BufferType.float32)
    s.buffer(uid(5), np.full((N, 4), 9, np.uint8), BufferType.rgba8)
    s.buffer(uid(6), np.full(N, 1.0, np.float32), BufferType.float32)
    s.buffer(uid(9), np.full(N, 2.0, np.float32), BufferType.float32)
    s.add("Points.new", uid(7), Ref(uid(3)), Ref(uid(4)), Ref(uid(5)), Ref(uid(5)), Ref(uid(6)))
    s.add("Renderer.new", uid(8), Ref(uid(1)))
    sizes = {3: 12, 4: 4, 5: 4, 6: 4}
    snapshots = []
    next_uid = 20
    for op in ops:
        kind = op[0]
        if kind == "full":
            b = op[1]
            data = rng.integers(0, 255, N * sizes[b], np.uint8).tobytes()
            # bytes as the recorder logs small writes (the ledger's inline path), bytearray otherwise
            s.add("Buffer.set_data", uid(b), data if b >= 5 else bytearray(data), 0, N)
        elif kind == "partial":
            b, offset, count = op[1], op[2], min(op[3], N - op[2])
            data = rng.integers(0, 255, count * sizes[b], np.uint8).tobytes()
            s.add("Buffer.set_data", uid(b), bytearray(data), offset, count)
        elif kind == "vp":
            s.add(f"Viewport.set_{op[1]}", uid(2), op[2])
        elif kind == "repoint":
            s.add(f"Points.set_{op[1]}", uid(7), Ref(uid(op[2])))
        elif kind == "newbuf":  # a new buffer, then the visual points at it and it is rewritten
            s.buffer(uid(next_uid), np.full(N, 5.0, np.float32), BufferType.float32)
            s.add("Points.set_sizes", uid(7), Ref(uid(next_uid)))
            s.add("Buffer.set_data", uid(next_uid), bytearray(np.full(N, 7.0, np.float32).tobytes()), 0, N)
            next_uid += 1
        elif kind == "render":
            s.add("Renderer.render", uid(8), [Ref(uid(2))], [Ref(uid(7))], [None], [None])
        elif kind == "clear":
            s.add("Renderer.clear", uid(8))
        elif kind == "mark":
            s.add("Recorder.mark", "", "here")
        else:
            snapshots.append(len(s.commands))
    return s.commands, snapshots


# ledger_backend is set once for all examples of a test: what the health check warns about is intended.
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_op, max_size=40))
@example(ops=[("full", 3), ("partial", 3, 0, 1), ("full", 4), ("snapshot",), ("partial", 4, 2, 3)])
@example(ops=[("vp", "x", 1), ("render",), ("vp", "x", 2), ("clear",), ("render",), ("newbuf",), ("newbuf",)])
@example(ops=[("vp", "x", 1), ("vp", "x", 2), ("vp", "x", 3), ("full", 6), ("full", 6), ("full", 6), ("snapshot",),
              ("full", 6), ("repoint", "sizes", 6), ("full", 6), ("full", 5), ("partial", 6, 0, 2), ("full", 6)])
@pytest.mark.parametrize("as_rows", [False, True])
def test_keyframe_from_the_ledger_equals_replaying_every_command(
    ops: list[tuple[Any, ...]], as_rows: bool, ledger_backend: str
) -> None:
    commands, snapshots = _session(ops)
    writer = LogWriter(None, keyframe_interval_s=1e9, keyframe_interval_bytes=1 << 40)
    done = 0
    for at in [*snapshots, len(commands)]:
        if as_rows:  # the recorder's batched path
            writer.append_rows([(c.seq, c.t_ns, c.op, c.target, c.args, c.kwargs) for c in commands[done:at]])
        else:
            writer.append_many(commands[done:at])
        done = at
        snap = writer.snapshot_chunk()
        assert snap is not None
        assert final_hash(decode_chunk(snap[0]).commands()) == final_hash(commands[:at])
    writer.close()


def test_ledger_coalesces_repeated_full_writes_and_releases_their_payloads(monkeypatch: Any) -> None:
    monkeypatch.setattr(ledger_module, "HOLD_MIN_BYTES", 0)  # track even these small payloads
    commands, _ = _session([("full", 3)] * 5 + [("render",)] * 3 + [("vp", "x", 1), ("vp", "x", 2)])
    ledger = SceneLedger()
    for cmd in commands:
        ledger.append(cmd)
    writes = [c for c in commands if c.op == "Buffer.set_data" and c.target == uid(3)]
    assert ledger.holds(writes[-1].args[0])
    assert not any(ledger.holds(c.args[0]) for c in writes[1:-1])
    kept_ops = [row[2] for row in ledger._pending.values()]  # (seq, t_ns, op, target, args, kwargs)
    assert kept_ops.count("Renderer.render") == 1 and kept_ops.count("Viewport.set_x") == 1
    state = ledger.materialise()
    assert state is not None and len(ledger) == 0 and not ledger.holds(writes[-1].args[0])
    assert state.state_hash() == final_hash(commands)
    # the recorder's own scene: no replay bound on what it may hold
    assert state.limits is RECORDER_LIMITS and RECORDER_LIMITS.max_scene_bytes > DEFAULT_LIMITS.max_scene_bytes << 20


def test_a_released_buffer_s_pending_write_is_not_held(monkeypatch: Any) -> None:
    """A buffer made, written, drawn and released every frame: its big pending write (a lent
    storage of the recorder) stayed held until the next keyframe, which a compressible scene
    reaches late or never, so a recording grew by a frame's data every frame."""
    monkeypatch.setattr(ledger_module, "HOLD_MIN_BYTES", 0)
    commands, _ = _session([("newbuf",), ("render",), ("vp", "x", 1)])
    new = next(c.target for c in reversed(commands) if c.op == "Buffer.new")
    writes = [c for c in commands if c.op == "Buffer.set_data" and c.target == new]
    commands.append(commands[-1].__class__(commands[-1].seq + 1, commands[-1].t_ns, "Points.set_sizes", uid(7),
                                           (Ref(uid(4)),), {}))
    commands.append(commands[-1].__class__(commands[-1].seq + 1, commands[-1].t_ns, "Buffer.release", new, (), {}))
    ledger = SceneLedger()
    for cmd in commands:
        ledger.append(cmd)
    assert not any(ledger.holds(c.args[0]) for c in writes)
    state = ledger.materialise()
    assert state is not None and state.state_hash() == final_hash(commands)


def test_a_write_referenced_in_between_is_not_coalesced(monkeypatch: Any) -> None:
    """set_data, a call that references the buffer (may validate it), set_data: all kept."""
    monkeypatch.setattr(ledger_module, "HOLD_MIN_BYTES", 0)
    commands, _ = _session([("full", 4), ("repoint", "sizes", 4), ("full", 4)])
    ledger = SceneLedger()
    for cmd in commands:
        ledger.append(cmd)
    writes = [c for c in commands if c.op == "Buffer.set_data" and c.target == uid(4)]
    assert all(ledger.holds(c.args[0]) for c in writes[-2:])
