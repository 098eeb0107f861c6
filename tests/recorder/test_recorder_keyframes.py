"""Keyframes of a recording made of small calls equal the state replayed up to them, whichever
path the writer's ledger notes the rows on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from rec_support import make_scene

import recorder
from gsp.types import Buffer, BufferType
from sessions import LogReader, SceneState
from sessions import ledger as ledger_module


@pytest.fixture(params=["python", "c"])
def ledger_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    default = ledger_module.LEDGER_BACKEND
    ledger_module.use_ledger(request.param)  # ImportError for "c" where sessions._ledger is not built
    yield request.param
    ledger_module.use_ledger(default)


def test_keyframes_of_small_calls_equal_the_replayed_state(tmp_path: Path, ledger_backend: str) -> None:
    path = tmp_path / "small.gsplog"
    n = 64  # 768 bytes a whole write: under 1 KiB, the size the writer batches as rows
    options = {"keyframe_interval_s": 1e9, "keyframe_interval_bytes": 1}  # a keyframe after every chunk
    rng = np.random.default_rng(7)
    with recorder.record(path, flush_interval_s=0.001, writer_options=options) as rec:
        scene = make_scene(n)
        sizes = scene.points.get_sizes()
        for frame in range(40):
            for i in range(int(rng.integers(1, 60))):  # runs of the same setter, then another
                scene.viewport.set_x(int(rng.integers(0, 10)))
                if i % 7 == 0:
                    scene.viewport.set_width(int(rng.integers(10, 64)))
            for _ in range(int(rng.integers(1, 30))):  # small whole writes, then partial ones
                scene.positions.set_data(bytearray(rng.random((n, 3), dtype=np.float32).tobytes()), 0, n)
            at = 0 if frame % 3 == 0 else int(rng.integers(1, n - 2))  # from 0: not a whole write either
            scene.positions.set_data(bytearray(rng.random((2, 3), dtype=np.float32).tobytes()), at, 2)
            sizes.set_data(bytearray(np.full(n, frame + 1.0, np.float32).tobytes()), 0, n)
            scene.render()
            rec.flush()
    with LogReader(path) as reader:
        assert len(_keyframes_equal_to_the_replayed_state(reader)) >= 10


def _keyframes_equal_to_the_replayed_state(reader: LogReader) -> list[SceneState]:
    """The state each keyframe of ``reader`` rebuilds, checked equal to the state the commands
    up to it give."""
    commands = list(reader.commands())
    states = []
    for number in reader.index.keyframes:
        from_keyframe = SceneState()
        for cmd in reader.keyframe_commands(number):
            from_keyframe.apply(cmd)
        seq = reader.index.entries[number].seq_last
        replayed = SceneState()
        for cmd in commands:
            if cmd.seq > seq:
                break
            replayed.apply(cmd)
        assert from_keyframe.state_hash() == replayed.state_hash(), f"keyframe {number} (seq {seq})"
        states.append(from_keyframe)
    return states


def test_objects_the_script_drops_leave_the_log_scene(tmp_path: Path, ledger_backend: str) -> None:
    """A script that makes a new visual over new buffers every frame (a common pattern) made the
    writer's scene, every keyframe and every replay hold every object ever made: memory grew
    without end and keyframes grew with the session. Dropped objects are now released in the
    log: keyframes hold one frame's objects, and each equals the state replayed up to it,
    including keyframes that link big buffers' whole writes (64 KiB and more) of the file."""
    import gc

    from gsp.types import BufferType
    from gsp.utils.bufferx import Bufferx
    from gsp.visuals import Points

    path = tmp_path / "churn.gsplog"
    options = {"keyframe_interval_s": 1e9, "keyframe_interval_bytes": 1}  # a keyframe after every chunk
    rng = np.random.default_rng(3)
    with recorder.record(path, flush_interval_s=0.001, writer_options=options) as rec:
        scene = make_scene(1)  # attributes of one item: any count of positions
        for frame in range(30):
            n = 6000 if frame % 2 else 10  # 72 kB of positions (linked by keyframes), or a few bytes
            points = Points(Bufferx.from_numpy(rng.random((n, 3), dtype=np.float32), BufferType.vec3),
                            scene.points.get_sizes(), scene.points.get_face_colors(),
                            scene.points.get_edge_colors(), scene.points.get_edge_widths())
            scene.renderer.render([scene.viewport], [points], [scene.model], [scene.camera])
            del points
            gc.collect()
            rec.flush()
    with LogReader(path) as reader:
        commands = list(reader.commands())
        released = [c.target for c in commands if c.op.endswith(".release")]
        assert len(released) == 2 * 29  # each frame's Points and positions, but the last's
        states = _keyframes_equal_to_the_replayed_state(reader)
        assert len(states) >= 10
        # The scene's own 12 objects, one frame's 2 (and the last frame's 2, still drawn).
        assert max(len(state) for state in states) <= 16
        final = SceneState()
        for cmd in commands:
            final.apply(cmd)
        assert len(final) <= 14 and not set(released) & set(final.objects)


def test_dropped_buffers_whose_contents_were_lent_are_released(tmp_path: Path) -> None:
    """A whole write of 512 KiB or more is lent, not copied, and the writer's ledger keeps the
    latest one until a keyframe needs it. The loan held its Buffer alive, so a script making new
    big positions every frame never had them released: its memory, every keyframe and every
    replay grew by a frame's data each frame (10 M points, 120 MB a frame)."""
    import gc

    from gsp.utils.bufferx import Bufferx
    from gsp.visuals import Points

    path = tmp_path / "big_churn.gsplog"
    n = 50_000  # 600 kB of positions: over recorder.pool.LEND_MIN_BYTES
    with recorder.record(path, flush_interval_s=0.001) as rec:
        scene = make_scene(1)
        for frame in range(4):
            positions = Bufferx.from_numpy(np.full((n, 3), frame, np.float32), BufferType.vec3)
            points = Points(positions, scene.points.get_sizes(), scene.points.get_face_colors(),
                            scene.points.get_edge_colors(), scene.points.get_edge_widths())
            scene.renderer.render([scene.viewport], [points], [scene.model], [scene.camera])
            del points, positions
            gc.collect()
            rec.flush()
    with LogReader(path) as reader:
        released = [c.op for c in reader.commands() if c.op.endswith(".release")]
    assert released.count("Buffer.release") == 3 and released.count("Points.release") == 3


def test_a_renderer_the_script_drops_unclosed_is_released_with_what_it_drew(tmp_path: Path, ledger_backend: str,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A notebook's setup cell run again makes a new renderer and new visuals each time. The
    dropped renderers were never released (only close() ended them), so each kept its last
    render, and every visual that render drew, in every later keyframe and replay."""
    import gc

    import sessions.writer

    # Keyframes at least this many scenes apart would leave one or two in this small session,
    # cut wherever the load put them: the last one could fall before the last render.
    monkeypatch.setattr(sessions.writer, "KEYFRAME_SPACING", 0)
    path = tmp_path / "rerun.gsplog"
    options = {"keyframe_interval_s": 1e9, "keyframe_interval_bytes": 1}  # a keyframe after every chunk
    dropped: list[str] = []
    with recorder.record(path, flush_interval_s=0.001, writer_options=options) as rec:
        for _run in range(6):  # the cell, run again and again
            scene = make_scene(50)
            scene.render()
            dropped += [scene.renderer.get_uuid(), scene.points.get_uuid(), scene.positions.get_uuid()]
            del scene
            gc.collect()
            rec.flush()
        last = make_scene(50)
        last.render()
        rec.flush()
    with LogReader(path) as reader:
        commands = list(reader.commands())
        assert sum(1 for c in commands if c.op == "Renderer.release") == 6
        states = _keyframes_equal_to_the_replayed_state(reader)
    # one run's render, not every run's; none in a keyframe the writer cut (1 ms interval) after a
    # run's releases and before its render
    assert states and all(len(state.records) <= 1 for state in states) and len(states[-1].records) == 1
    final = SceneState()
    for cmd in commands:
        final.apply(cmd)
    assert list(final.records) == [last.renderer.get_uuid()] and not set(dropped) & set(final.objects)


def test_a_long_recording_of_small_writes_gives_back_its_keyframes_contents(tmp_path: Path) -> None:
    """Each keyframe lends the writer's scene contents to its chunk until the file has it. A
    recording whose writes are all small (copied, no payload in flight) never gave those loans
    back: every keyframe kept its copy of every buffer it held, growing without bound."""
    import tracemalloc

    n = 32768  # 384 KiB of vec3: each keyframe's copy of it is plain to see
    options = {"keyframe_interval_s": 0.0}  # a keyframe after every chunk (as every 5 s of a long session)
    tracemalloc.start()
    try:
        with recorder.record(tmp_path / "long.gsplog", writer_options=options) as rec:
            positions = Buffer(n, BufferType.vec3)  # no contents logged: no payload kept in flight
            small = bytearray(np.ones((4, 3), np.float32).tobytes())
            for frame in range(60):
                positions.set_data(small, frame, 4)  # a small partial write: the scene copies it
                rec.flush()
                if frame == 10:
                    before = tracemalloc.get_traced_memory()[0]
            grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 8 * n * 12, f"{grown} bytes more after 50 keyframes of a {n * 12}-byte buffer"
