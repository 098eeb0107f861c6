"""The null backend: validates like every renderer, draws nothing."""

from __future__ import annotations

import pytest
from gsp_scenes import WHITE, points_scene
from imagecmp import decode_png

from gsp.core.canvas import Canvas
from gsp.utils.renderer_registry import RendererRegistry
from player.backends.null import NullAnimator, NullRenderer, NullViewportEvents


def test_null_renders_nothing_but_counts() -> None:
    scene = points_scene()
    renderer = NullRenderer(scene.canvas)
    assert renderer.render(*scene.args) == b""
    frame = renderer.render_rgba(*scene.args)
    assert frame.shape == (128, 128, 4) and not frame.any()
    assert renderer.render_count == 2
    renderer.show()
    renderer.clear()
    renderer.close()


def test_null_blank_png_has_the_canvas_size() -> None:
    renderer = NullRenderer(Canvas(33, 17, 100.0, WHITE), blank_png=True)
    scene = points_scene()
    image = decode_png(renderer.render(*scene.args))
    assert image.shape == (17, 33, 4) and not image.any()


def test_null_still_validates() -> None:
    scene = points_scene()
    renderer = NullRenderer(scene.canvas)
    with pytest.raises(ValueError, match="same length"):
        renderer.render(scene.viewports, scene.visuals, [], scene.cameras)
    with pytest.raises(ValueError, match="same length"):
        renderer.render_rgba(scene.viewports, [], scene.model_matrices, scene.cameras)


def test_null_is_registered_by_name() -> None:
    renderer = RendererRegistry.create_renderer("null", Canvas(8, 8, 100.0, WHITE))
    assert isinstance(renderer, NullRenderer)
    assert isinstance(RendererRegistry.create_animator(renderer), NullAnimator)
    assert isinstance(RendererRegistry.create_viewport_events(renderer, points_scene().viewports[0]), NullViewportEvents)
