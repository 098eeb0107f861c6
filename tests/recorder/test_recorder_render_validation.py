"""``gsp record --no-render`` records only renders that can be drawn: a render refused when drawn
is refused at the call without drawing too (the script sees the same error), so the log replays
every frame it holds. Before, the render was recorded and the replay stopped at it (exit 2)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from rec_support import run_python

from sessions import LogReader

#: Three renders through the Matplotlib backend; the 2nd with one bad value (a sensor glitch),
#: which the script's try/except reports, as a direct run shows.
SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from gsp.constants import Constants
    from gsp.core import Camera, Canvas, Viewport
    from gsp.types import BufferType
    from gsp.utils.bufferx import Bufferx
    from gsp.utils.renderer_registry import RendererRegistry
    from gsp.visuals import Points

    slot, bad = sys.argv[1], float(sys.argv[2])
    I = Bufferx.mat4_identity
    f32 = lambda values: Bufferx.from_numpy(np.array(values, np.float32), BufferType.float32)
    values = {"sizes": f32([400.0, 400.0]), "edge_widths": f32([1.0, 1.0])}
    pts = Points(Bufferx.from_numpy(np.array([[-0.5, 0, 0], [0.5, 0, 0]], np.float32), BufferType.vec3),
                 values["sizes"], Bufferx.from_numpy(np.array([[0, 0, 200, 255]], np.uint8), BufferType.rgba8),
                 Bufferx.from_numpy(np.array([[0, 0, 0, 255]], np.uint8), BufferType.rgba8), values["edge_widths"])
    canvas = Canvas(60, 40, 100.0, Constants.Color.white)
    vp = Viewport(0, 0, 60, 40, Constants.Color.white)
    cam = Camera(I(), I())
    r = RendererRegistry.create_renderer("matplotlib", canvas)
    for f, v in enumerate([2.0, bad, 3.0]):
        values[slot].set_data(np.array([v, 2.0], np.float32), 0, 2)
        try:
            r.render([vp], [pts], [I()], [cam])
            print("frame", f, "ok")
        except Exception as e:
            print("frame", f, "error:", type(e).__name__, e)
    """
)

CASES = [("sizes", "nan"), ("edge_widths", "-1.0")]


def _record_no_render(tmp_path: Path, slot: str, value: str) -> tuple[Path, list[str]]:
    script = tmp_path / "glitch.py"
    script.write_text(SCRIPT)
    direct = run_python([str(script), slot, value])
    assert direct.returncode == 0, direct.stderr
    log = tmp_path / "glitch.gsplog"
    recorded = run_python(["-m", "gsplog_cli.main", "record", str(script), "-o", str(log), "--no-render",
                           "--", slot, value])
    assert recorded.returncode == 0, recorded.stderr
    # The script sees what a direct run (drawing) shows: the same error at the same render.
    assert recorded.stdout == direct.stdout
    assert recorded.stdout.splitlines() == [
        "frame 0 ok",
        f"frame 1 error: ValueError MatplotlibRenderer.render: visuals[0]: Points: {slot}: {float(value)} is not a "
        "size (sizes and widths are finite and >= 0)",
        "frame 2 ok",
    ]
    with LogReader(log) as reader:
        assert [c.op for c in reader.commands()].count("Renderer.render") == 2  # the refused one is not in it
    return log, direct.stdout.splitlines()


@pytest.mark.parametrize(("slot", "value"), CASES)
def test_a_no_render_recording_refuses_what_cannot_be_drawn_and_replays_every_frame(
    tmp_path: Path, slot: str, value: str
) -> None:
    log, _ = _record_no_render(tmp_path, slot, value)
    assert run_python(["-m", "gsplog_cli.main", "verify", str(log)]).returncode == 0
    frames = tmp_path / "frames"
    replayed = run_python(["-m", "gsplog_cli.main", "replay", str(log), "-o", f"{frames}/"])
    assert replayed.returncode == 0, replayed.stderr
    assert sorted(p.name for p in frames.iterdir()) == ["frame_000001.png", "frame_000002.png"]


@pytest.mark.datoviz
def test_a_no_render_recording_replays_every_frame_through_datoviz(tmp_path: Path) -> None:
    from player.backends.datoviz import datoviz_available

    if not datoviz_available():
        pytest.skip("datoviz cannot be imported here")
    log, _ = _record_no_render(tmp_path, "sizes", "nan")
    frames = tmp_path / "frames"
    replayed = run_python(["-m", "gsplog_cli.main", "replay", str(log), "-b", "datoviz", "-o", f"{frames}/"])
    assert replayed.returncode == 0, replayed.stderr
    assert sorted(p.name for p in frames.iterdir()) == ["frame_000001.png", "frame_000002.png"]


@pytest.mark.datoviz
@pytest.mark.parametrize("method", ["render", "render_rgba"])
def test_a_render_the_backend_fails_to_draw_is_not_recorded(tmp_path: Path, method: str) -> None:
    """Datoviz draws at most 16384 pixels a side, a limit of its own that ``render``'s checks
    leave to it (docs/gsp_api.md): a canvas a pixel wider passes them and fails in the backend.
    ``render_rgba`` recorded the call before drawing: the log held a render the script never got
    and that its replay failed at (exit 2). Both entry points now record a render once drawn."""
    import numpy as np

    from gsp.core import Camera, Canvas, Viewport
    from gsp.types import BufferType
    from gsp.utils.bufferx import Bufferx
    from gsp.visuals import Points
    from player.backends.datoviz import datoviz_available
    from recorder import Recorder

    if not datoviz_available():
        pytest.skip("datoviz cannot be imported here")
    from player.backends.datoviz.renderer import MAX_IMAGE_SIDE, DatovizRenderer

    def buffer(values: list[list[float]] | list[float], kind: BufferType, dtype: type = np.float32) -> object:
        return Bufferx.from_numpy(np.array(values, dtype), kind)

    log = tmp_path / "wide.gsplog"
    with Recorder(log):
        white = bytearray([255, 255, 255, 255])
        canvas = Canvas(MAX_IMAGE_SIDE + 1, 48, 100.0, white)
        viewport = Viewport(0, 0, 64, 48, white)
        points = Points(buffer([[-0.5, 0.0, 0.0], [0.5, 0.0, 0.0]], BufferType.vec3), buffer([400.0], BufferType.float32),
                        buffer([[0, 0, 200, 255]], BufferType.rgba8, np.uint8),
                        buffer([[0, 0, 0, 255]], BufferType.rgba8, np.uint8), buffer([1.0], BufferType.float32))
        identity = Bufferx.mat4_identity()
        scene = ([viewport], [points], [identity], [Camera(identity, identity)])
        renderer = DatovizRenderer(canvas)
        try:
            with pytest.raises(ValueError, match=f"at most {MAX_IMAGE_SIDE} pixels a side"):
                getattr(renderer, method)(*scene)
            canvas.set_width(64)
            drawn = getattr(renderer, method)(*scene)
        finally:
            renderer.close()
    with LogReader(log) as reader:
        assert [c.op for c in reader.commands()].count("Renderer.render") == 1  # the drawn one only
    frames = tmp_path / "frames"
    replayed = run_python(["-m", "gsplog_cli.main", "replay", str(log), "-b", "datoviz", "-o", f"{frames}/"])
    assert replayed.returncode == 0, replayed.stderr
    assert sorted(p.name for p in frames.iterdir()) == ["frame_000001.png"]
    import imageio.v3 as iio

    replayed_pixels = iio.imread(frames / "frame_000001.png")
    live = drawn if method == "render_rgba" else iio.imread(drawn)
    assert replayed_pixels.shape == live.shape == (48, 64, 4)
    assert np.array_equal(replayed_pixels, live)  # the frame drawn live, drawn again
