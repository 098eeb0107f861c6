"""A canvas the script changes between renders (background, DPI), replayed with --size, after a
keyframe in the stream (a live node) and on a second --loop pass: every frame shows the canvas
as it was at that frame's render. Checked by pixels of real Matplotlib renders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import recorder
from gsp.core import Camera, Canvas, Viewport
from gsp.types import Buffer, BufferType
from gsp.utils.renderer_registry import RendererRegistry
from gsp.visuals import Points
from player import replay
from player.engine import ReplayEngine
from sessions import Command, LogReader

BLUE = (0, 0, 255)
GREEN = (0, 255, 0)
W, H = 40, 30


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two renders of a dashboard of two canvases; between them canvas 1 turns from blue to green
    and doubles its DPI (its disc doubles its diameter). A keyframe follows every chunk."""
    path = tmp_path_factory.mktemp("canvas") / "canvas.gsplog"
    options = {"keyframe_interval_bytes": 1, "keyframe_interval_s": 0.001}
    with recorder.record(path, writer_options=options) as rec:
        canvas = Canvas(W, H, 72.0, bytearray([*BLUE, 255]))
        other = Canvas(20, 20, 72.0, bytearray([255, 255, 255, 255]))
        viewport = Viewport(0, 0, W, H, bytearray([0, 0, 0, 0]))  # transparent: the canvas shows
        white = Buffer.from_numpy(np.array([[255, 255, 255, 255]], np.uint8), BufferType.rgba8)
        disc = Points(
            Buffer.from_numpy(np.zeros((1, 3), np.float32), BufferType.vec3),
            Buffer.from_numpy(np.array([64.0], np.float32), BufferType.float32),  # 8 pt: 8 px at 72 dpi
            white,
            white,
            Buffer.from_numpy(np.array([0.0], np.float32), BufferType.float32),
        )
        identity = Buffer.from_numpy(np.eye(4, dtype=np.float32).reshape(1, 4, 4), BufferType.mat4)
        camera = Camera(identity, identity)
        first = RendererRegistry.create_renderer("null", canvas)
        second = RendererRegistry.create_renderer("null", other)
        first.render([viewport], [disc], [identity], [camera])
        second.render([viewport], [disc], [identity], [camera])
        rec.flush()  # a keyframe between the frames, after the first renderer drew
        canvas.set_background_color(bytearray([*GREEN, 255]))
        canvas.set_dpi(144.0)
        first.render([viewport], [disc], [identity], [camera])
    return path


def _corner(rgba: np.ndarray) -> tuple[int, int, int]:
    return tuple(int(v) for v in rgba[0, 0, :3])  # type: ignore[return-value]


def _disc_width(rgba: np.ndarray) -> int:
    row = rgba[rgba.shape[0] // 2]
    return int(np.count_nonzero(row[:, :3].min(axis=1) > 200))


def _frames(engine: ReplayEngine, commands: list[Command]) -> list[np.ndarray]:
    """The pictures the engine draws of the session's first renderer (whose canvas changes)."""
    first = next(cmd.target for cmd in commands if cmd.op == "Renderer.new")
    frames = [frame.rgba for frame in engine.frames(commands) if frame.renderer == first]
    return [rgba for rgba in frames if rgba is not None]


def test_size_follows_the_canvas_background_and_dpi(session: Path, tmp_path: Path) -> None:
    plain = replay(session, "matplotlib", tmp_path / "plain")
    sized = replay(session, "matplotlib", tmp_path / "sized", size=f"{2 * W}x{2 * H}")
    import imageio.v3 as iio3

    before, after = (iio3.imread(plain.outputs[i]) for i in (0, 2))
    big_before, big_after = (iio3.imread(sized.outputs[i]) for i in (0, 2))
    assert _corner(before) == BLUE and _corner(after) == GREEN
    assert _corner(big_before) == BLUE and _corner(big_after) == GREEN  # was blue: the first colour, kept
    assert _disc_width(after) >= 1.8 * _disc_width(before)
    # at twice the size, each frame's disc is twice as wide as in the plain replay (the DPI set at
    # the second frame included)
    for small, big in ((before, big_before), (after, big_after)):
        assert abs(_disc_width(big) - 2 * _disc_width(small)) <= 2


def test_a_keyframe_in_the_stream_keeps_the_canvas_live(session: Path) -> None:
    """A live node applies the publisher's keyframes as they come: each one rebuilds the scene,
    canvases included, and the canvas changes after it must still reach the picture."""
    reader = LogReader(session)
    keyframe = next(k for k in reader.index.keyframes if reader.index.entries[k].seq_last > 0)
    synthetic = reader.keyframe_commands(keyframe)
    at = synthetic[0].seq
    plain = list(reader.commands())
    stream = [c for c in plain if c.seq <= at] + synthetic + [c for c in plain if c.seq > at]
    assert any(c.op == "Renderer.render" and c.seq <= at for c in plain), "no frame drawn before the keyframe"
    assert any(c.op == "Canvas.set_background_color" and c.seq > at for c in plain), "no change after it"
    engine = ReplayEngine("matplotlib", image="rgba")
    try:
        frames = _frames(engine, stream)
    finally:
        engine.close()
    assert [_corner(f) for f in frames] == [BLUE, GREEN]
    assert _disc_width(frames[1]) >= 1.8 * _disc_width(frames[0])


def test_a_second_loop_pass_starts_from_the_recorded_canvas(session: Path) -> None:
    commands = list(LogReader(session).commands())
    engine = ReplayEngine("matplotlib", image="rgba")
    try:
        first = _frames(engine, commands)
        engine.reset()  # what --loop does between passes
        second = _frames(engine, commands)
    finally:
        engine.close()
    assert [_corner(f) for f in first] == [BLUE, GREEN]
    assert [_corner(f) for f in second] == [BLUE, GREEN]  # was [GREEN, GREEN]: the canvas of pass 1's end
    assert _disc_width(second[0]) == _disc_width(first[0])


def test_a_live_keyframe_at_the_snapshots_seq_draws_nothing_again(session: Path) -> None:
    """A node joins from a snapshot at seq S and then meets the publisher's own keyframe of S
    (gsp serve publishes the log's keyframes; a recorder publishes its periodic ones): the scene
    it holds is already S's, so nothing is drawn again. Each of the snapshot's renders was drawn
    twice (a dashboard of two canvases: four pictures of the scene at the join)."""
    reader = LogReader(session)
    keyframe = next(k for k in reader.index.keyframes if reader.index.entries[k].seq_last > 0)
    synthetic = reader.keyframe_commands(keyframe)
    at = synthetic[0].seq
    after = [c for c in reader.commands() if c.seq > at]
    renders = sum(1 for c in synthetic if c.op == "Renderer.render")
    assert renders == 2, "the snapshot holds the last render of each canvas"
    engine = ReplayEngine("null", image="none", joined_live=True)
    try:
        drawn = [frame.renderer for frame in engine.frames(synthetic + synthetic + after)]
    finally:
        engine.close()
    later = sum(1 for c in after if c.op == "Renderer.render")
    assert len(drawn) == renders + later  # was 2 * renders + later
