"""The capture seam as the gsp classes use it: what observers see, snapshots, deterministic UUIDs.

Tests that observe calls run on both wrapper implementations (C gsp._seam and Python)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from gsp_test_backend import ListingAnimator, ListingRenderer, ListingViewportEvents
from gsp_testkit import camera, canvas_and_viewport, every_visual, f32, rgba, vec3

from gsp import capture
from gsp.capture import Captured, add_observer, paused, remove_observer
from gsp.constants import Constants
from gsp.core import Canvas, Texture, Viewport
from gsp.geometry import Geometry
from gsp.lights import Light
from gsp.transforms import TransformChain, TransformLinkImmediate
from gsp.types import Buffer, BufferType
from gsp.types.animator_base import configure_headless, reset_headless
from gsp.types.viewport_events_types import MouseEvent
from gsp.utils.bufferx import Bufferx
from gsp.visuals import Points


class Recorder:
    """A real observer: keeps (uuid, op, args, kwargs) in call order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, tuple[Any, ...], dict[str, Any]]] = []

    def on_call(self, target: Captured, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.calls.append((target.get_uuid(), op, args, kwargs))

    @property
    def ops(self) -> list[str]:
        return [c[1] for c in self.calls]


@pytest.fixture
def rec(seam: str) -> Iterator[Recorder]:
    observer = Recorder()
    add_observer(observer)
    try:
        yield observer
    finally:
        remove_observer(observer)


def test_constructors_setters_set_data_chain_ops_in_call_order(rec: Recorder) -> None:
    buf = Buffer(3, BufferType.vec3)
    buf.set_data(np.ones((3, 3), np.float32), 0, 3)
    pts = Points(buf, f32(1.0), rgba(1), rgba(1), f32(2.0))
    pts.set_sizes(f32(3.0))
    pts.set_attributes(edge_widths=f32(1.0))
    chain = TransformChain(3, BufferType.vec3)
    link = TransformLinkImmediate(buf)
    chain.add(link)
    chain.remove(link)
    vp = Viewport(0, 0, 10, 10, Constants.Color.white)
    vp.set_x(3)
    created = ["Buffer.new", "Buffer.set_data"]  # from_numpy: a new buffer, then its contents
    assert rec.ops == [
        "Buffer.new",
        "Buffer.set_data",
        *created * 4,  # f32, rgba, rgba, f32 (args built first)
        "Points.new",
        *created,
        "Points.set_sizes",
        *created,
        "Points.set_attributes",
        "TransformChain.new",
        "TransformChain.add",
        "TransformChain.remove",
        "Viewport.new",
        "Viewport.set_x",
    ]
    new_points = rec.calls[rec.ops.index("Points.new")]
    assert new_points[0] == pts.get_uuid() and new_points[2][0] is buf
    assert rec.calls[rec.ops.index("Points.set_attributes")][3] == {"edge_widths": pts.get_edge_widths()}
    assert rec.calls[rec.ops.index("TransformChain.add")][2] == (link,)
    assert rec.calls[-1][2] == (3,)


def test_only_outermost_calls_and_failed_calls_are_not_reported(rec: Recorder) -> None:
    pts = Points(vec3(4), f32(1.0), rgba(1), rgba(1), f32(1.0))
    rec.calls.clear()
    with pytest.raises(ValueError):
        pts.set_sizes(f32(1, 2))
    pts.set_uuid("renamed")  # identity change: deliberately not captured
    assert rec.ops == ["Buffer.new", "Buffer.set_data"]  # only the f32(1, 2) argument's creation


def test_nothing_is_reported_after_removal_and_methods_are_plain_again(seam: str) -> None:
    observer = Recorder()
    plain = Viewport.__dict__["set_x"]
    add_observer(observer)
    assert Viewport.__dict__["set_x"] is not plain
    remove_observer(observer)
    assert Viewport.__dict__["set_x"] is plain
    Viewport(0, 0, 1, 1, Constants.Color.white).set_x(2)
    assert observer.calls == []


def test_paused_hides_calls(rec: Recorder) -> None:
    with paused():
        Canvas(2, 2, 72, Constants.Color.white).set_width(3)
    assert rec.calls == []


def test_paused_nests_and_ends_on_errors(rec: Recorder) -> None:
    canvas = Canvas(2, 2, 72, Constants.Color.white)
    rec.calls.clear()
    with paused():
        with paused():
            canvas.set_width(3)
        canvas.set_width(4)  # still inside the outer pause
    with pytest.raises(ZeroDivisionError), paused():
        1 // 0  # noqa: B018
    canvas.set_width(5)  # both pauses are over, the failed one too
    assert [c[1] for c in rec.calls] == ["Canvas.set_width"] and rec.calls[0][2] == (5,)


def test_renderer_render_clear_close_recorded_as_renderer_family(rec: Recorder) -> None:
    canvas, vp = canvas_and_viewport()
    renderer = ListingRenderer(canvas)
    pts = Points(vec3(2), f32(1.0), rgba(1), rgba(1), f32(1.0))
    cam = camera()
    model = Bufferx.mat4_identity()
    rec.calls.clear()
    assert renderer.render([vp], [pts], [model], [cam]) == b"Points"
    renderer.clear()
    renderer.close()
    assert rec.ops == ["Renderer.render", "Renderer.clear", "Renderer.close"]
    assert renderer.clears == 1  # the subclass's clear ran once, recorded once
    assert rec.calls[0][2] == ([vp], [pts], [model], [cam])


class PixelRenderer(ListingRenderer):
    """A ListingRenderer that also hands out pixels (``pixel_renders`` of its ``renders``)."""

    renders_rgba = True
    pixel_renders = 0

    def _render_rgba(self, viewports, visuals, model_matrices, cameras):  # type: ignore[no-untyped-def]
        self.renders += 1
        self.pixel_renders += 1
        return np.full((self.get_canvas().get_height(), self.get_canvas().get_width(), 4), 7, np.uint8)


def test_render_rgba_is_checked_and_recorded_as_a_render(rec: Recorder) -> None:
    canvas, vp = canvas_and_viewport()
    pts = Points(vec3(2), f32(1.0), rgba(1), rgba(1), f32(1.0))
    args = ([vp], [pts], [Bufferx.mat4_identity()], [camera()])
    renderer = PixelRenderer(canvas)
    rec.calls.clear()
    pixels = renderer.render_rgba(*args)
    assert pixels.shape == (canvas.get_height(), canvas.get_width(), 4) and pixels[0, 0, 0] == 7
    assert rec.ops == ["Renderer.render"] and rec.calls[0][2] == args and renderer.renders == 1
    with pytest.raises(ValueError, match="same length"):
        renderer.render_rgba([vp, vp], *args[1:])
    with pytest.raises(NotImplementedError, match="PNG only"):
        ListingRenderer(canvas).render_rgba(*args)
    assert rec.ops.count("Renderer.render") == 1  # refused calls are not recorded


def test_the_animator_draws_its_frames_as_pixels_where_the_renderer_has_them(rec: Recorder) -> None:
    """Nobody reads an animator frame's picture: the loop draws it through ``render_rgba`` where
    the renderer has one. Through ``render`` it encoded a PNG that was thrown away (most of a
    Matplotlib frame's time: benchmarks/bench_animator.py). Recorded as a render all the same;
    ``render`` called by the script still returns its PNG."""
    canvas, vp = canvas_and_viewport()
    renderer = PixelRenderer(canvas)
    animator = ListingAnimator(renderer)
    pts = Points(vec3(2), f32(1.0), rgba(1), rgba(1), f32(1.0))
    args = ([vp], [pts], [Bufferx.mat4_identity()], [camera()])
    configure_headless(3)
    try:
        rec.calls.clear()
        animator.start(*args)
    finally:
        reset_headless()
    assert rec.ops == ["Animator.frame", "Renderer.render"] * 3 and rec.calls[1][2] == args
    assert renderer.renders == renderer.pixel_renders == 3  # no frame went through the PNG path
    assert renderer.render(*args) == b"Points" and renderer.pixel_renders == 3


def test_animator_frames_callbacks_and_renders_in_order(rec: Recorder) -> None:
    canvas, vp = canvas_and_viewport()
    renderer = ListingRenderer(canvas)
    animator = ListingAnimator(renderer)
    pts = Points(vec3(2), f32(1.0), rgba(1), rgba(1), f32(1.0))
    sizes = f32(1.0)

    @animator.event_listener
    def grow(delta_time: float) -> list[Points]:
        sizes.set_data(np.array([delta_time], np.float32), 0, 1)
        vp.set_x(vp.get_x() + 1)
        return [pts]

    configure_headless(3, fps=10.0)
    try:
        rec.calls.clear()
        animator.start([vp], [pts], [Bufferx.mat4_identity()], [camera()])
    finally:
        reset_headless()
    # start's own arguments (mat4_identity, camera) are built first: skip their creation.
    first_frame = rec.ops.index("Animator.frame")
    ops = rec.ops[first_frame:]
    per_frame = ["Animator.frame", "Buffer.set_data", "Viewport.set_x", "Renderer.render"]
    assert ops == per_frame * 3
    frames = [c for c in rec.calls if c[1] == "Animator.frame"]
    assert [c[2] for c in frames] == [(0.1,)] * 3 and frames[0][0] == animator.get_uuid()
    assert renderer.renders == 3 and vp.get_x() == 3


def test_viewport_events_are_reported_then_dispatched(rec: Recorder) -> None:
    canvas, vp = canvas_and_viewport()
    events = ListingViewportEvents(ListingRenderer(canvas), vp)
    got: list[MouseEvent] = []
    events.mouse_move_event.subscribe(got.append)
    rec.calls.clear()
    payload = MouseEvent(vp.get_uuid(), "mouse_move_event", 0.5, -0.25, left_button=True)
    events._dispatch_event("mouse_move_event", payload)
    assert rec.ops == ["ViewportEvents.event"]
    assert rec.calls[0][2] == ("mouse_move_event", {
        "viewport_uuid": vp.get_uuid(), "event_type": "mouse_move_event", "x_ndc": 0.5, "y_ndc": -0.25,
        "left_button": True, "middle_button": False, "right_button": False, "scroll_steps": 0.0,
    })
    assert got == [payload]
    events.event("mouse_move_event", rec.calls[0][2][1])  # replay path: dispatch, not recorded again
    assert got == [payload, payload] and rec.ops == ["ViewportEvents.event"]
    with pytest.raises(ValueError, match="unknown event 'wheel'"):
        events.event("wheel", {})


# ---- _snapshot_ round trip ---------------------------------------------------------------------
def _rebuild(obj: Captured) -> Captured:
    calls = obj._snapshot_()
    assert calls[0][0] == "__init__"
    with paused():
        new = type(obj)(*calls[0][1], **calls[0][2])
        for method, args, kwargs in calls[1:]:
            getattr(new, method)(*args, **kwargs)
    return new


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Buffer) and isinstance(b, Buffer):
        return a.get_type() == b.get_type() and a.to_bytearray() == b.to_bytearray()
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a is b or a == b


def _all_objects() -> list[Captured]:
    canvas, vp = canvas_and_viewport()
    renderer = ListingRenderer(canvas)
    chain = TransformChain(2, BufferType.vec3)
    chain.add(TransformLinkImmediate(vec3(2)))
    objs: list[Captured] = [canvas, vp, camera(), Texture(rgba(2), 1, 2), vec3(5), chain, renderer,
                            ListingAnimator(renderer), ListingViewportEvents(renderer, vp), Geometry(vec3(3)), Light()]
    for visual in every_visual():
        objs.append(visual)
        for name in ("geometry", "material"):
            if hasattr(visual, f"get_{name}"):
                objs.append(getattr(visual, f"get_{name}")())
        if hasattr(visual, "get_material"):
            objs.extend(getattr(visual.get_material(), "get_lights", list)())  # type: ignore[attr-defined]
    return objs


@pytest.mark.parametrize("obj", _all_objects(), ids=lambda o: type(o).__name__)
def test_snapshot_rebuilds_each_object(obj: Captured) -> None:
    rebuilt = _rebuild(obj)
    assert type(rebuilt) is type(obj)
    assert _same(rebuilt._snapshot_(), obj._snapshot_())
    if isinstance(obj, TransformChain):
        assert _same(rebuilt.run(), obj.run())


def test_every_captured_class_is_covered_by_the_snapshot_test() -> None:
    covered = {type(o)._capture_name_ for o in _all_objects()}
    bases = {"VisualBase", "MarkerVisualBase", "Material", "MeshMaterial", "_LitMaterial", "_EdgedMaterial"}
    gsp_names = {name for name, cls in capture.captured_classes().items() if cls.__module__.startswith("gsp.")}
    assert gsp_names - bases - covered == set()


# ---- deterministic UUIDs ------------------------------------------------------------------------
def test_set_uuid_counter_makes_uuids_deterministic() -> None:
    capture.set_uuid_counter(100)
    try:
        canvas = Canvas(1, 1, 72, Constants.Color.white)
        buf = Buffer(1, BufferType.float32)
        pts = Points(vec3(1), buf, rgba(1), rgba(1), buf)
    finally:
        capture.set_uuid_counter(None)
    assert canvas.get_uuid() == "00000000-0000-0000-0000-000000000100"
    assert buf.get_uuid() == "00000000-0000-0000-0000-000000000101"
    assert pts.get_uuid() == "00000000-0000-0000-0000-000000000105"
    assert Canvas(1, 1, 72, Constants.Color.white).get_uuid().count("0") < 30  # random again


def test_env_counter_and_no_heavy_imports() -> None:
    code = (
        "import sys, gsp, gsp.utils.renderer_registry, gsp.types.animator_base;"
        "from gsp.core import Canvas; from gsp.constants import Constants;"
        "print(Canvas(1, 1, 72, Constants.Color.white).get_uuid());"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('matplotlib', 'datoviz', 'recorder', 'player', 'transports', 'sessions', 'zmq')))"
    )
    env = dict(os.environ, GSP_UUID_COUNTER="7")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "00000000-0000-0000-0000-000000000007"
    assert out[1] == "[]"
