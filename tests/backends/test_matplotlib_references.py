"""Matplotlib backend: every visual kind, marker shape, cap, join, text alignment and material
rendered and compared with reference images (SSIM >= 0.99; GSP_UPDATE_REFERENCES=1 rewrites them).
"""

from __future__ import annotations

import gsp_scenes as scenes
import pytest
from imagecmp import assert_matches_reference, decode_png

from gsp.types.enums import ImageInterpolation, JoinStyle, MarkerShape
from player.backends.matplotlib import MatplotlibRenderer


def _render(scene: scenes.Scene) -> bytes:
    renderer = MatplotlibRenderer(scene.canvas)
    try:
        png = renderer.render(*scene.args)
    finally:
        renderer.close()
    image = decode_png(png)
    assert image.shape == (scene.canvas.get_height(), scene.canvas.get_width(), 4)
    return png


def test_points() -> None:
    assert_matches_reference(_render(scenes.points_scene()), "matplotlib/points.png")


@pytest.mark.parametrize("shape", list(MarkerShape), ids=lambda s: s.value)
def test_marker_shape(shape: MarkerShape) -> None:
    assert_matches_reference(_render(scenes.marker_scene(shape)), f"matplotlib/marker_{shape.value}.png")


def test_segments_cap_styles() -> None:
    assert_matches_reference(_render(scenes.segments_scene()), "matplotlib/segments_caps.png")


@pytest.mark.parametrize("join", list(JoinStyle), ids=lambda j: j.name.lower())
def test_paths_join_style(join: JoinStyle) -> None:
    assert_matches_reference(_render(scenes.paths_scene(join)), f"matplotlib/paths_{join.name.lower()}.png")


def test_texts_alignments_rotation_font() -> None:
    assert_matches_reference(_render(scenes.texts_scene()), "matplotlib/texts.png")


def test_pixels_groups() -> None:
    assert_matches_reference(_render(scenes.pixels_scene()), "matplotlib/pixels.png")


@pytest.mark.parametrize("interpolation", list(ImageInterpolation), ids=lambda i: i.name.lower())
def test_image_extent_and_interpolation(interpolation: ImageInterpolation) -> None:
    png = _render(scenes.image_scene(interpolation))
    assert_matches_reference(png, f"matplotlib/image_{interpolation.name.lower()}.png")


@pytest.mark.parametrize("material", list(scenes.mesh_materials()))
def test_mesh_material(material: str) -> None:
    scene = scenes.mesh_scene(scenes.mesh_materials()[material])
    assert_matches_reference(_render(scene), f"matplotlib/mesh_{material}.png")
