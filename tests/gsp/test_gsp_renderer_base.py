"""RendererBase checks, the rendering switch, the registry with entry points, the headless animator."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from gsp_test_backend import ListingAnimator, ListingRenderer, ListingViewportEvents
from gsp_testkit import camera, canvas_and_viewport, f32, rgba, vec3

from gsp.types import Buffer, BufferType
from gsp.types.animator_base import (
    configure_headless,
    headless_settings,
    reset_headless,
)
from gsp.types.renderer_base import rendering_enabled, set_rendering_enabled
from gsp.utils.bufferx import Bufferx
from gsp.utils.renderer_registery import RendererRegistry as AliasRegistry
from gsp.utils.renderer_registry import RendererRegistry
from gsp.visuals import Points


def _scene() -> tuple[ListingRenderer, list, list, list, list]:
    canvas, vp = canvas_and_viewport()
    pts = Points(vec3(3), f32(1.0), rgba(1), rgba(1), f32(1.0))
    return ListingRenderer(canvas), [vp, vp], [pts, pts], [Bufferx.mat4_identity()] * 2, [camera()] * 2


def test_render_checks_sequence_lengths_and_types() -> None:
    renderer, vps, visuals, models, cams = _scene()
    assert renderer.render(vps, visuals, models, cams) == b"Points,Points"
    with pytest.raises(ValueError) as info:
        renderer.render(vps, visuals[:1], models, cams)
    assert str(info.value) == (
        "ListingRenderer.render: the four sequences must have the same length (one entry per visual), "
        "got viewports=2, visuals=1, model_matrices=2, cameras=2"
    )
    with pytest.raises(TypeError, match=r"ListingRenderer.render: cameras\[1\] must be a Camera, got Viewport"):
        renderer.render(vps, visuals, models, [cams[0], vps[0]])
    with pytest.raises(TypeError, match=r"model_matrices\[0\] must be of type mat4, got vec4"):
        renderer.render(vps, visuals, [Buffer(1, BufferType.vec4)] * 2, cams)
    with pytest.raises(TypeError, match=r"visuals must be a sequence"):
        renderer.render(vps, visuals[0], models, cams)  # type: ignore[arg-type]
    assert renderer.renders == 1


def test_rendering_disabled_still_validates_and_returns_a_blank_image_of_the_canvas() -> None:
    """A disabled render returned b"": a script that decodes its frames (`gsp record --no-render`
    of an unmodified script) stopped there."""
    import io

    from PIL import Image

    renderer, vps, visuals, models, cams = _scene()
    set_rendering_enabled(False)
    try:
        assert not rendering_enabled()
        png = renderer.render(vps, visuals, models, cams)
        with Image.open(io.BytesIO(png)) as image:
            pixels = np.asarray(image.convert("RGBA"))
        canvas = renderer.get_canvas()
        assert pixels.shape == (canvas.get_height(), canvas.get_width(), 4) and not pixels.any()
        with pytest.raises(ValueError, match="same length"):
            renderer.render(vps[:1], visuals, models, cams)
    finally:
        set_rendering_enabled(True)
    assert renderer.renders == 0
    assert renderer.render(vps, visuals, models, cams) == b"Points,Points"


def test_registry_register_create_and_unknown_name() -> None:
    RendererRegistry.register_renderer("listing", ListingRenderer, ListingViewportEvents, ListingAnimator)
    try:
        canvas, vp = canvas_and_viewport()
        renderer = RendererRegistry.create_renderer("listing", canvas)
        assert type(renderer) is ListingRenderer and renderer.get_canvas() is canvas
        animator = AliasRegistry.create_animator(renderer)
        assert type(animator) is ListingAnimator and animator.get_renderer() is renderer
        events = RendererRegistry.create_viewport_events(renderer, vp)
        assert type(events) is ListingViewportEvents and events.get_viewport() is vp
        assert "listing" in RendererRegistry.get_renderer_names()
    finally:
        RendererRegistry.unregister_renderer("listing")
    with pytest.raises(ValueError, match=r"unknown renderer 'nope'; known renderers: \[.*\]"):
        RendererRegistry.create_renderer("nope", canvas)
    with pytest.raises(TypeError, match="renderer_cls must be a subclass of RendererBase"):
        RendererRegistry.register_renderer("bad", Points, None, None)  # type: ignore[arg-type]


def test_entry_point_discovery_is_lazy(tmp_path: Path) -> None:
    # A real installed distribution (dist-info on sys.path) offering a backend through entry points.
    pkg = tmp_path / "gsp_demo_backend.py"
    pkg.write_text(textwrap.dedent('''
        from gsp.types.renderer_base import RendererBase
        from gsp.utils.renderer_registry import RendererRegistry
        class DemoRenderer(RendererBase):
            def _render(self, viewports, visuals, model_matrices, cameras):
                return b"demo"
        def register():
            RendererRegistry.register_renderer("demo", DemoRenderer, None, None)
    '''))
    dist = tmp_path / "gsp_demo_backend-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: gsp-demo-backend\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[gsp.renderers]\ndemo = gsp_demo_backend:register\n")
    code = textwrap.dedent('''
        import sys
        from gsp.utils.renderer_registry import RendererRegistry
        from gsp.core import Canvas
        from gsp.constants import Constants
        assert "demo" in RendererRegistry.get_renderer_names()
        print("gsp_demo_backend" in sys.modules)
        r = RendererRegistry.create_renderer("demo", Canvas(2, 2, 72, Constants.Color.white))
        print(type(r).__name__, "gsp_demo_backend" in sys.modules)
    ''')
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["False", "DemoRenderer True"]


def test_a_renderer_made_directly_gets_its_animator_and_events_from_the_registry() -> None:
    """GSP 0.1 scripts make `MatplotlibRenderer(canvas)` themselves, then ask the registry for
    its animator: that said "MatplotlibRenderer is not a registered renderer; known renderers:
    [..., 'matplotlib', ...]" until something had asked for "matplotlib" by name. Its own
    process: this one has long registered every backend. Datoviz is not imported for it."""
    code = textwrap.dedent('''
        import sys
        from gsp.constants import Constants
        from gsp.core import Canvas, Viewport
        from gsp.utils.renderer_registry import RendererRegistry
        from player.backends.matplotlib import MatplotlibRenderer
        renderer = MatplotlibRenderer(Canvas(20, 20, 72.0, Constants.Color.white), offscreen=True)
        animator = RendererRegistry.create_animator(renderer)
        events = RendererRegistry.create_viewport_events(renderer, Viewport(0, 0, 20, 20, Constants.Color.white))
        print(type(animator).__name__, type(events).__name__, "player.backends.datoviz" in sys.modules)
    ''')
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, MPLBACKEND="Agg"),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["MatplotlibAnimator", "MatplotlibViewportEvents", "False"]


def test_the_registry_refuses_a_non_renderer_with_a_type_error() -> None:
    canvas, viewport = canvas_and_viewport()
    with pytest.raises(TypeError, match="RendererRegistry.create_animator: renderer must be a RendererBase, got Canvas"):
        RendererRegistry.create_animator(canvas)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="RendererRegistry.create_viewport_events: renderer must be a RendererBase"):
        RendererRegistry.create_viewport_events(viewport, viewport)  # type: ignore[arg-type]


def test_builtin_backends_are_found_without_installed_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    # A source checkout on PYTHONPATH has no distribution metadata: no entry points at all.
    from gsp.utils import renderer_registry

    monkeypatch.setattr(renderer_registry, "entry_points", lambda group: [])
    monkeypatch.setattr(RendererRegistry, "_entries", {})  # nothing registered yet in this "process"
    assert RendererRegistry.get_renderer_names() == ["datoviz", "matplotlib", "null"]
    canvas, _ = canvas_and_viewport()
    renderer = RendererRegistry.create_renderer("null", canvas)
    assert type(renderer).__module__ == "player.backends.null"
    with pytest.raises(ValueError, match="unknown renderer 'nope'"):
        RendererRegistry.create_renderer("nope", canvas)


def test_builtin_backends_match_the_declared_entry_points() -> None:
    import tomllib

    from gsp.utils.renderer_registry import BUILTIN_BACKENDS

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    declared = tomllib.loads(pyproject.read_text())["project"]["entry-points"]["gsp.renderers"]
    assert declared == BUILTIN_BACKENDS


def test_headless_settings_from_configure_env_and_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GSP_ANIMATOR_FRAMES", raising=False)
    monkeypatch.delenv("GSP_ANIMATOR_FPS", raising=False)
    reset_headless()
    assert headless_settings() is None
    monkeypatch.setenv("GSP_ANIMATOR_FRAMES", "5")
    assert headless_settings() == type(headless_settings())(5, 30.0)  # type: ignore[misc]
    monkeypatch.setenv("GSP_ANIMATOR_FPS", "x")
    with pytest.raises(ValueError, match="GSP_ANIMATOR_FPS='x'"):
        headless_settings()
    configure_headless(None, fps=20.0, duration_s=1.5)
    try:
        settings = headless_settings()
        assert settings is not None and (settings.frames, settings.fps) == (30, 20.0)
        configure_headless(None)
        assert headless_settings().frames == 60  # type: ignore[union-attr]
        with pytest.raises(ValueError, match="fps must be > 0"):
            configure_headless(3, fps=0)
    finally:
        reset_headless()


def test_headless_loop_runs_default_60_frames_without_display(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "GSP_ANIMATOR_FRAMES", "GSP_ANIMATOR_FPS"):
        monkeypatch.delenv(var, raising=False)
    reset_headless()
    renderer, vps, visuals, models, cams = _scene()
    animator = ListingAnimator(renderer)
    deltas: list[float] = []
    animator.add_callback(lambda dt: deltas.append(dt) or [])
    animator.start(vps, visuals, models, cams)
    assert len(deltas) == 60 and renderer.renders == 60 and set(deltas) == {1 / 30}
    assert not animator.is_running()


def test_stop_ends_the_headless_loop_and_remove_callback() -> None:
    renderer, vps, visuals, models, cams = _scene()
    animator = ListingAnimator(renderer)
    frames: list[float] = []

    def cb(dt: float) -> list:
        frames.append(dt)
        if len(frames) == 4:
            animator.stop()
        return []

    animator.add_callback(cb)
    configure_headless(100)
    try:
        animator.start(vps, visuals, models, cams)
        assert len(frames) == 4 and renderer.renders == 4
        animator.remove_callback(cb)
        animator.start(vps, visuals, models, cams)  # a new start runs again, without the callback
        assert len(frames) == 4 and renderer.renders == 104
    finally:
        reset_headless()
    with pytest.raises(ValueError, match="not registered"):
        animator.remove_callback(cb)
    # the error names the call made (it said "<Renderer>.render")
    with pytest.raises(ValueError, match=rf"^{type(animator).__name__}\.start: the four sequences must have the same length"):
        animator.start(vps, visuals[:1], models, cams)
    assert animator.on_video_saved.subscriber_count() == 0


def test_changed_visuals_returned_by_callbacks_are_collected() -> None:
    renderer, vps, visuals, models, cams = _scene()
    animator = ListingAnimator(renderer)
    sizes = visuals[0].get_sizes()
    animator.add_callback(lambda dt: (sizes.set_data(np.array([dt], np.float32), 0, 1), [visuals[0]])[1])
    assert animator._frame(0.5) == [visuals[0]] and sizes.to_numpy()[0] == 0.5


def test_render_checks_each_visual_attributes_together() -> None:
    renderer, vps, _, models, cams = _scene()
    good, bad = (Points(vec3(3), f32(1.0), rgba(1), rgba(1), f32(1.0)) for _ in range(2))
    bad.set_positions(vec3(5))  # sizes etc. are broadcast (1 item): still consistent
    assert renderer.render(vps, [good, bad], models, cams) == b"Points,Points"
    bad.set_attributes(sizes=f32(1, 2, 3, 4, 5))
    bad.set_positions(vec3(2))
    with pytest.raises(ValueError, match=r"ListingRenderer.render: visuals\[1\]: Points: sizes has 5 items, expected 1 or 2"):
        renderer.render(vps, [good, bad], models, cams)


def test_a_gsp_0_1_renderer_that_overrides_render_works() -> None:
    """GSP 0.1 renderers override render and show: they used to fail at creation with "Can't
    instantiate abstract class ... _render"; RendererBase itself stays abstract."""
    from gsp.types.renderer_base import RendererBase

    class OldStyle(RendererBase):
        def render(self, viewports, visuals, model_matrices, cameras):  # type: ignore[no-untyped-def,override]
            return b"drawn by " + type(self).__name__.encode()

        def show(self) -> None:
            pass

    canvas, vp = canvas_and_viewport()
    assert OldStyle(canvas).render([vp], [], [], []) == b"drawn by OldStyle"
    RendererRegistry.register_renderer("old-style-test", OldStyle, None, None)
    try:
        assert RendererRegistry.create_renderer("old-style-test", canvas).render([], [], [], []) == b"drawn by OldStyle"
    finally:
        RendererRegistry.unregister_renderer("old-style-test")
    with pytest.raises(TypeError, match="RendererBase is abstract"):
        RendererBase(canvas)

    class Unfinished(RendererBase):
        pass

    with pytest.raises(NotImplementedError, match="Unfinished: a renderer implements _render"):
        Unfinished(canvas).render([], [], [], [])


def test_a_callback_may_return_its_visuals_in_any_iterable() -> None:
    renderer, vps, visuals, models, cams = _scene()
    animator = ListingAnimator(renderer)
    for result in (set(visuals[:1]), (v for v in visuals), tuple(visuals)):
        animator.add_callback(lambda dt, r=result: r)
    assert animator._frame(0.1) == [visuals[0], *visuals, *visuals]  # a set, a generator, a tuple


@pytest.mark.parametrize("result", [5, [5], "abc"])
def test_a_callback_that_returns_no_visuals_is_named(result: object) -> None:
    """Returning 5 failed with a bare "'int' object is not iterable"; [5] or "abc" were taken."""
    renderer, vps, visuals, models, cams = _scene()
    animator = ListingAnimator(renderer)

    def moves_points(dt: float) -> object:
        return result

    animator.add_callback(moves_points)  # type: ignore[arg-type]
    configure_headless(2)
    try:
        with pytest.raises(TypeError, match=r"ListingAnimator: callback .*moves_points must return the visuals it "
                                            r"changed \(a list of visuals, or None\)"):
            animator.start(vps, visuals, models, cams)
    finally:
        reset_headless()
