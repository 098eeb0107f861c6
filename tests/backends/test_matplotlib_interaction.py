"""Matplotlib backend: registry, viewport events from real Matplotlib events, headless animator."""

from __future__ import annotations

import numpy as np
import pytest
from gsp_scenes import WHITE, floats, full_viewport, identity, rgba, vec3
from imagecmp import decode_png
from matplotlib.backend_bases import KeyEvent as MplKeyEvent
from matplotlib.backend_bases import MouseEvent as MplMouseEvent
from matplotlib.backend_bases import ResizeEvent as MplResizeEvent

from gsp import capture
from gsp.core.camera import Camera
from gsp.core.canvas import Canvas
from gsp.core.viewport import Viewport
from gsp.types.animator_base import configure_headless, reset_headless
from gsp.utils.renderer_registry import RendererRegistry
from gsp.visuals.points import Points
from player.backends.matplotlib import MatplotlibAnimator, MatplotlibRenderer, MatplotlibViewportEvents


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    def on_call(self, target: object, op: str, args: tuple[object, ...], kwargs: dict[str, object]) -> None:
        self.calls.append((op, args))


def test_registry_creates_the_matplotlib_classes() -> None:
    canvas = Canvas(32, 32, 100.0, WHITE)
    renderer = RendererRegistry.create_renderer("matplotlib", canvas)
    assert isinstance(renderer, MatplotlibRenderer)
    assert isinstance(RendererRegistry.create_animator(renderer), MatplotlibAnimator)
    events = RendererRegistry.create_viewport_events(renderer, full_viewport(canvas))
    assert isinstance(events, MatplotlibViewportEvents)
    events.close()
    renderer.close()


def _events_setup() -> tuple[MatplotlibRenderer, Viewport, MatplotlibViewportEvents]:
    canvas = Canvas(200, 100, 100.0, WHITE)
    renderer = MatplotlibRenderer(canvas)
    viewport = Viewport(100, 0, 100, 100, WHITE)  # the right half
    return renderer, viewport, MatplotlibViewportEvents(renderer, viewport)


def test_mouse_events_carry_viewport_ndc_and_buttons() -> None:
    renderer, viewport, events = _events_setup()
    seen: list[object] = []
    events.button_press_event.subscribe(seen.append)
    events.mouse_move_event.subscribe(seen.append)
    events.mouse_scroll_event.subscribe(seen.append)
    canvas = renderer.get_figure().canvas
    MplMouseEvent("button_press_event", canvas, 175, 25, button=1)._process()
    MplMouseEvent("button_press_event", canvas, 50, 50, button=1)._process()  # other half: ignored
    MplMouseEvent("motion_notify_event", canvas, 150, 50)._process()
    MplMouseEvent("scroll_event", canvas, 110, 90, step=-2)._process()
    assert len(seen) == 3
    press, move, scroll = seen
    assert (press.x_ndc, press.y_ndc, press.left_button, press.right_button) == (0.5, -0.5, True, False)
    assert (move.x_ndc, move.y_ndc) == (0.0, 0.0) and move.left_button  # a drag: the button is still down
    assert scroll.scroll_steps == -2.0 and scroll.x_ndc == pytest.approx(-0.8)
    assert press.viewport_uuid == viewport.get_uuid()
    events.close()
    MplMouseEvent("button_press_event", canvas, 175, 25, button=1)._process()
    assert len(seen) == 3  # disconnected
    renderer.close()


def test_events_of_each_viewport_reach_their_subscribers_without_a_reference_kept() -> None:
    """A dashboard subscribes to the events of each of its viewports in a loop and keeps only
    the handlers: the figure held its ViewportEvents by weak references (bound methods given to
    ``mpl_connect``), so every one but the last was collected and its clicks went nowhere."""
    import gc

    canvas = Canvas(200, 100, 100.0, WHITE)
    renderer = MatplotlibRenderer(canvas)
    seen: list[tuple[int, float]] = []
    for index in range(2):  # the left and the right half
        events = RendererRegistry.create_viewport_events(renderer, Viewport(100 * index, 0, 100, 100, WHITE))
        events.button_press_event.subscribe(lambda event, index=index: seen.append((index, event.x_ndc)))
    del events
    gc.collect()
    figure_canvas = renderer.get_figure().canvas
    MplMouseEvent("button_press_event", figure_canvas, 50, 50, button=1)._process()
    MplMouseEvent("button_press_event", figure_canvas, 175, 50, button=1)._process()
    assert seen == [(0, 0.0), (1, 0.5)]
    renderer.close()


def test_key_and_resize_events_are_reported_to_the_capture_seam() -> None:
    renderer, viewport, events = _events_setup()
    keys: list[object] = []
    events.key_press_event.subscribe(keys.append)
    recorder = _Recorder()
    capture.add_observer(recorder)
    try:
        canvas = renderer.get_figure().canvas
        MplKeyEvent("key_press_event", canvas, "a", 150, 50)._process()
        MplKeyEvent("key_press_event", canvas, "b", 10, 50)._process()  # pointer elsewhere
        MplResizeEvent("resize_event", canvas)._process()
    finally:
        capture.remove_observer(recorder)
    assert [k.key_name for k in keys] == ["a"]
    events_seen = [args for op, args in recorder.calls if op == "ViewportEvents.event"]
    assert [a[0] for a in events_seen] == ["key_press_event", "canvas_resize_event"]
    assert events_seen[0][1]["key_name"] == "a"
    assert events_seen[1][1]["canvas_width_px"] == 200
    events.close()
    renderer.close()


def test_headless_animator_runs_frames_and_renders_each() -> None:
    canvas = Canvas(64, 64, 100.0, WHITE)
    renderer = MatplotlibRenderer(canvas)
    viewport, camera = full_viewport(canvas), Camera(identity(), identity())
    points = Points(vec3([[-0.8, 0.0]]), floats([100.0]), rgba([[255, 0, 0, 255]]), rgba([[255, 0, 0, 255]]), floats([0.0]))
    animator = MatplotlibAnimator(renderer)
    xs: list[float] = []

    @animator.event_listener
    def move(delta_time: float) -> list[object]:
        xs.append(-0.8 + 0.4 * len(xs))
        points.set_positions(vec3([[xs[-1], 0.0]]))
        return [points]

    configure_headless(frames=4, fps=10.0)
    try:
        animator.start([viewport], [points], [identity()], [camera])
    finally:
        reset_headless()
    assert xs == pytest.approx([-0.8, -0.4, 0.0, 0.4])
    # The last frame drawn shows the dot at NDC 0.4 -> x = 44.8 px.
    image = decode_png(renderer.render([viewport], [points], [identity()], [camera]))
    cols = np.nonzero((image[..., 0] > 200) & (image[..., 1] < 60))[1]
    assert cols.mean() == pytest.approx(44.3, abs=0.6)
    renderer.close()
