"""SceneState with real gsp objects: apply, resolve, snapshot (keyframes), state_hash, errors."""

from __future__ import annotations

import numpy as np
import pytest
from sessions_testkit import Script, points_scene, uid

from sessions import decode_chunk, encode_chunk
from sessions.command import Command, Ref
from sessions.errors import CommandError
from sessions.limits import DEFAULT_LIMITS, Limits
from sessions.scene import KEYFRAME_OP, SceneState


def applied(commands: list[Command], limits: Limits = DEFAULT_LIMITS) -> SceneState:
    state = SceneState(limits)
    for cmd in commands:
        state.apply(cmd)
    return state


def test_objects_are_real_gsp_objects_under_their_recorded_uuids() -> None:
    from gsp.types import Buffer
    from gsp.visuals import Points

    state = applied(points_scene(frames=3, n=10))
    points = state.get(uid(7))
    assert isinstance(points, Points) and points.get_uuid() == uid(7)
    assert isinstance(state.get(uid(3)), Buffer) and state.resolve(Ref(uid(3))) is state.get(uid(3))
    assert state.resolve([Ref(uid(3)), (1, Ref(uid(4)))])[1][1] is state.get(uid(4))
    assert uid(8) in state.records and state.last_render[uid(8)].op == "Renderer.render"


def test_snapshot_rebuilds_the_same_state_in_dependency_order() -> None:
    cmds = points_scene(frames=5, n=20)
    state = applied(cmds)
    snap = state.snapshot(seq=99, t_ns=123)
    assert snap[0].op == KEYFRAME_OP and all(c.seq == 99 and c.t_ns == 123 for c in snap)
    order = [c.target for c in snap]
    assert order.index(uid(3)) < order.index(uid(7)) and order.index(uid(5)) < order.index(uid(7))
    assert [c.op for c in snap][-2:] == ["Renderer.new", "Renderer.render"]
    rebuilt = applied(snap)
    assert rebuilt.state_hash() == state.state_hash()
    # through the chunk bytes, as a keyframe travels
    again = applied(decode_chunk(encode_chunk(snap)).commands())
    assert again.state_hash() == state.state_hash()
    # a keyframe applied over another scene replaces it
    other = applied(points_scene(frames=2, n=5, seed=9))
    for cmd in snap:
        other.apply(cmd)
    assert other.state_hash() == state.state_hash()


def test_a_snapshot_leaves_no_reference_cycle_behind() -> None:
    """A snapshot's recursive visitor referred to itself: each keyframe left a cycle holding
    every command it made, so the writer's keyframes (each buffer's contents, lent or copied)
    waited for the cyclic collector, which the recorder runs seldom: a recording of new 1M-point
    positions every frame grew to 1.2 GB with 330 MB of live data."""
    import gc

    state = applied(points_scene(frames=2, n=20))
    gc.collect()
    gc.disable()
    try:
        loans: list = []
        state.snapshot(seq=9, loans=loans)
        for loan in loans:
            loan.release()
        del loans
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_state_hash_sees_buffer_bytes_and_is_stable() -> None:
    cmds = points_scene(frames=2, n=10)
    a, b = applied(cmds), applied(cmds)
    assert a.state_hash() == b.state_hash() and len(a.state_hash()) == 64
    b.apply(Command(100, 0, "Buffer.set_data", uid(4), (bytearray(np.float32([5.0]).tobytes()), 3, 1)))
    assert a.state_hash() != b.state_hash()


def test_transform_chains_and_links_survive_snapshots() -> None:
    from gsp.transforms import TransformLinkImmediate
    from gsp.types import Buffer, BufferType

    src = Buffer(2, BufferType.float32)
    src.set_data(bytearray(np.float32([1, 2]).tobytes()), 0, 2)
    s = Script()
    s.add("TransformChain.new", uid(20), 2, BufferType.float32)
    s.add("TransformChain.add", uid(20), TransformLinkImmediate(src))
    cmds = decode_chunk(encode_chunk(s.commands)).commands()  # the link travels by value
    state = applied(cmds)
    chain = state.get(uid(20))
    np.testing.assert_array_equal(np.frombuffer(chain.run().to_bytearray(), np.float32), [1, 2])
    assert applied(state.snapshot()).state_hash() == state.state_hash()


def test_renderer_close_and_clear_update_the_records() -> None:
    cmds = points_scene(frames=1)
    state = applied(cmds)
    state.apply(Command(50, 0, "Renderer.clear", uid(8)))
    assert uid(8) not in state.last_render and uid(8) in state.records
    state.apply(Command(51, 0, "Renderer.close", uid(8)))
    assert uid(8) not in state.records
    state.apply(Command(52, 0, "Animator.frame", "a", (0.1,)))  # events change nothing
    state.apply(Command(53, 0, "Recorder.mark", "", ("x",)))


@pytest.mark.parametrize(
    "cmd, message",
    [
        (Command(41, 0, "Buffer.set_data", "nope", (bytearray(4), 0, 1)), "seq 41 Buffer.set_data: unknown target object nope"),
        (Command(42, 0, "Points.new", "p", (Ref("missing"),)), "seq 42 Points.new: unknown object missing"),
        (Command(43, 0, "Buffer.new", "b", (-5, None)), "seq 43 Buffer.new"),
        (Command(44, 0, "Buffer.set_data", uid(4), (bytearray(4), 1000, 1)), "seq 44 Buffer.set_data"),
        # references after plain values, inside containers and in keywords are all resolved
        (Command(45, 0, "Buffer.set_data", uid(4), (bytearray(4), 0, Ref("gone"))), "seq 45 Buffer.set_data: unknown object gone"),
        (Command(46, 0, "Points.set_sizes", uid(7), ([1, (2, Ref("gone"))],)), "seq 46 Points.set_sizes: unknown object gone"),
        (Command(47, 0, "Points.set_sizes", uid(7), (), {"sizes": Ref("gone")}), "seq 47 Points.set_sizes: unknown object gone"),
    ],
)
def test_bad_commands_raise_command_error_naming_seq_and_op(cmd: Command, message: str) -> None:
    state = applied(points_scene(frames=1))
    with pytest.raises(CommandError, match=message):
        state.apply(cmd)


def test_references_in_keywords_are_resolved() -> None:
    state = applied(points_scene(frames=1))
    positions = state.get(uid(3))
    state.apply(Command(60, 0, "Points.set_positions", uid(7), (), {"positions": Ref(uid(3))}))
    assert state.get(uid(7)).get_positions() is positions


def test_unknown_types_and_uncaptured_methods_are_skipped_with_a_warning() -> None:
    state = applied(points_scene(frames=1))
    before = state.state_hash()
    with pytest.warns(UserWarning, match="unknown type 'Hologram'"):
        state.apply(Command(60, 0, "Hologram.new", "h", ()))
    with pytest.warns(UserWarning, match="not a recordable method"):
        state.apply(Command(61, 0, "Buffer.__class__", uid(4), ()))
    with pytest.warns(UserWarning, match="not a recordable method"):
        state.apply(Command(62, 0, "Buffer.to_bytearray", uid(4), ()))
    assert state.state_hash() == before


# --------------------------------------------------------------------------------------------
# The bytes a scene holds are bounded (Limits.max_scene_bytes)
# --------------------------------------------------------------------------------------------
def _scene_bytes(n: int) -> int:
    """What points_scene(n=n) holds: the 200x150 canvas's frame and four buffers."""
    return 4 * 200 * 150 + n * (12 + 4 + 4 + 4)


def test_the_scene_counts_the_bytes_its_buffers_and_canvases_hold() -> None:
    from gsp.types import BufferType

    state = applied(points_scene(frames=2, n=100))
    assert state.footprint == _scene_bytes(100)
    # a buffer made again under the same uuid replaces the first one
    state.apply(Command(50, 0, "Buffer.new", uid(3), (10, BufferType.vec3)))
    assert state.footprint == _scene_bytes(100) - 100 * 12 + 10 * 12
    state.apply(Command(51, 0, "Canvas.set_width", uid(1), (400,)))
    assert state.footprint == _scene_bytes(100) - 90 * 12 + 4 * 200 * 150
    state.apply(Command(52, 0, KEYFRAME_OP, "", (52,)))
    assert state.footprint == 0


def test_a_scene_over_the_limit_is_refused_before_it_allocates() -> None:
    import tracemalloc

    from gsp.types import BufferType

    exact = Limits(max_scene_bytes=_scene_bytes(100))
    assert applied(points_scene(frames=2, n=100), exact).footprint == exact.max_scene_bytes
    with pytest.raises(CommandError, match=r"seq \d+ Buffer.new .*Limits.max_scene_bytes"):
        applied(points_scene(frames=2, n=100), Limits(max_scene_bytes=_scene_bytes(100) - 1))
    # a log asking for a 128 GiB buffer (2**33 vec4) is refused with the default limits, at once
    state = applied(points_scene(frames=1, n=10))
    tracemalloc.start()
    try:
        with pytest.raises(CommandError, match=r"seq 99 Buffer.new \(target big\): the scene would hold 128 GiB .* over the "
                                               r"limit of 8 GiB \(8589934592 bytes\) \(Limits.max_scene_bytes; "
                                               r"--max-scene-gib of gsp-replay, trim, node and relay\)"):
            state.apply(Command(99, 0, "Buffer.new", "big", (2**33, BufferType.vec4)))
        assert tracemalloc.get_traced_memory()[1] < 1 << 20
    finally:
        tracemalloc.stop()
    assert "big" not in state.objects and state.footprint == _scene_bytes(10)
    # canvases count their frames, made big or resized big
    with pytest.raises(CommandError, match="Canvas.new"):
        state.apply(Command(100, 0, "Canvas.new", "c2", (200_000, 200_000, 100.0, bytearray(b"\0\0\0\xff"))))
    with pytest.raises(CommandError, match="Canvas.set_height"):
        state.apply(Command(101, 0, "Canvas.set_height", uid(1), (10**10,)))
    # arguments the constructor refuses keep its own error
    with pytest.raises(CommandError, match="count must be >= 0"):
        state.apply(Command(102, 0, "Buffer.new", "neg", (-1, BufferType.vec4)))



def _released(uuid: str, seq: int, kind: str = "Points") -> Command:
    return Command(seq, 0, f"{kind}.release", uuid)


def test_a_released_object_leaves_the_scene_once_no_latest_render_draws_it() -> None:
    """Objects the recorded script dropped used to stay to the end: memory, keyframes and
    --max-scene-gib grew with every object ever made. A release drops one at once, or, while a
    renderer's latest render still draws it, at the next render (keyframes repeat that render)."""
    cmds = points_scene(frames=2, n=10)
    state = applied(cmds)
    count, held = len(state), state.footprint
    state.apply(_released(uid(6), 100, "Buffer"))  # held by the Points: its own release drops it
    assert uid(6) not in state.objects and len(state) == count - 1 and state.footprint == held - 40
    state.apply(_released(uid(7), 101))  # the latest render draws it: kept, released again in keyframes
    assert uid(7) in state.objects and state.releasing == {uid(7): "Points.release"}
    snap = state.snapshot()
    assert snap[-1].op == "Points.release" and snap[-1].target == uid(7)
    rebuilt = applied(snap)
    assert rebuilt.releasing == state.releasing and rebuilt.state_hash() == state.state_hash()
    state.apply(Command(102, 0, "Renderer.render", uid(8), ([Ref(uid(2))], [], [], [])))
    assert uid(7) not in state.objects and not state.releasing
    state.apply(_released(uid(7), 103))  # again, or never known: nothing to do
    state.apply(_released("never-made", 104))
    assert not state.releasing


@pytest.mark.parametrize("end", ["release", "close", "clear"])
def test_a_renderer_released_closed_or_cleared_no_longer_keeps_what_it_drew(end: str) -> None:
    """A renderer dropped unclosed (a notebook cell run again with a new one) kept its latest
    render, and with it every released object that render drew, in every later keyframe."""
    cmds = points_scene(frames=2, n=10)
    state = applied(cmds)
    state.apply(_released(uid(7), 100))  # the latest render draws it: kept
    assert uid(7) in state.objects
    state.apply(Command(101, 0, f"Renderer.{end}", uid(8)))
    assert uid(7) not in state.objects and not state.releasing
    assert (uid(8) in state.records) == (end == "clear") and not state.last_render
    assert not any(c.target == uid(7) for c in state.snapshot())
