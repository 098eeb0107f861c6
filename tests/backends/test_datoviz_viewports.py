"""Datoviz viewports against the Matplotlib backend: viewports past the canvas edges, viewports
sharing a rectangle, and canvases with alpha. Every test renders for real with both backends.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from player.backends.datoviz import datoviz_available

pytestmark = pytest.mark.datoviz

if not datoviz_available() and os.environ.get("GSP_REQUIRE_DATOVIZ") != "1":
    pytest.skip("datoviz cannot be imported here", allow_module_level=True)

import gsp_scenes as scenes  # noqa: E402
from imagecmp import FAILED_DIR, save_png, ssim  # noqa: E402

from gsp.core import Canvas, Viewport  # noqa: E402
from gsp.visuals.points import Points  # noqa: E402
from player.backends.datoviz.renderer import DatovizRenderer  # noqa: E402
from player.backends.matplotlib.renderer import MatplotlibRenderer  # noqa: E402

WHITE = bytearray([255, 255, 255, 255])
CYAN = bytearray([0, 255, 255, 255])
YELLOW = bytearray([255, 255, 0, 255])


def _disc(xy: tuple[float, float], color: list[int], size_pt2: float = 400.0) -> Points:
    return Points(scenes.vec3([xy]), scenes.floats([size_pt2]), scenes.rgba([color]),
                  scenes.rgba([[0, 0, 0, 0]]), scenes.floats([0.0]))


def _render_both(scene: scenes.Scene, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(Matplotlib, Datoviz) RGBA frames of ``scene``; both saved under FAILED_DIR for a look."""
    mpl = MatplotlibRenderer(scene.canvas)
    dvz = DatovizRenderer(scene.canvas)
    try:
        reference = np.array(mpl.render_rgba(*scene.args))
        actual = dvz.render_rgba(*scene.args)
    finally:
        mpl.close()
        dvz.close()
    if os.environ.get("GSP_SAVE_IMAGES") == "1":
        save_png(reference, FAILED_DIR / f"viewports_{name}_matplotlib.png")
        save_png(actual, FAILED_DIR / f"viewports_{name}_datoviz.png")
    return reference, actual


def _mask(frame: np.ndarray, rgb: tuple[int, int, int]) -> np.ndarray:
    return (np.abs(frame[..., :3].astype(int) - np.array(rgb)).max(axis=2) <= 2)


def _center(coverage: np.ndarray) -> tuple[float, float]:
    ys, xs = np.mgrid[0 : coverage.shape[0], 0 : coverage.shape[1]] + 0.5
    return float((coverage * xs).sum() / coverage.sum()), float((coverage * ys).sum() / coverage.sum())


# -- viewports past the canvas edges --------------------------------------------------------
# A 64 × 48 canvas; viewports 40 × 32 (GSP: x from the left, y from the bottom) sticking out of
# each edge, a corner, and one wholly outside. A red disc sits at NDC (0, 0.6) of the viewport.
OFF_CANVAS = {
    "left": (-16, 8),
    "top": (12, 28),
    "top_left": (-20, 30),
    "right": (40, 8),
    "bottom": (12, -12),
    "bottom_right": (44, -20),
    "inside": (12, 8),
    "outside": (70, 8),
}


@pytest.mark.parametrize("name", list(OFF_CANVAS))
def test_viewport_past_the_canvas_edge_draws_its_visible_part(name: str) -> None:
    x, y = OFF_CANVAS[name]
    canvas = Canvas(64, 48, 72.0, WHITE)
    scene = scenes.Scene(canvas)
    scene.add(Viewport(x, y, 40, 32, CYAN), _disc((0.0, 0.6), [255, 0, 0, 255]))
    reference, actual = _render_both(scene, f"offcanvas_{name}")
    # The viewport's background covers exactly its part on the canvas (rows from the top).
    expected = np.zeros((48, 64), bool)
    top = 48 - (y + 32)
    expected[max(top, 0) : max(top + 32, 0), max(x, 0) : max(x + 40, 0)] = True
    # (Red and cyan never mix to white: the disc's antialiased edge stays inside.)
    assert np.array_equal(~_mask(reference, (255, 255, 255)), expected)
    assert np.array_equal(~_mask(actual, (255, 255, 255)), expected)
    # The disc (where visible) is where Matplotlib draws it: red coverage from the green channel
    # (0 on red, 255 on cyan and white), compared by area and center.
    for frame in (reference, actual):
        assert frame[..., 1][~expected].min() == 255
    red_ref, red = (1.0 - f[..., 1] / 255.0 for f in (reference, actual))
    assert red.sum() == pytest.approx(red_ref.sum(), rel=0.03, abs=1.0)
    if red_ref.sum() > 10:
        assert _center(red) == pytest.approx(_center(red_ref), abs=0.25)
    assert ssim(reference, actual) >= 0.97


# -- viewports sharing a rectangle ----------------------------------------------------------
def test_viewports_with_the_same_rectangle_stay_distinct_in_painters_order() -> None:
    # Two viewports over the whole canvas: the second one's opaque yellow background covers
    # the first one's red disc; a third draw in the first viewport goes in its (lower) panel,
    # as the Matplotlib backend puts it in the first viewport's Axes.
    canvas = Canvas(64, 48, 72.0, WHITE)
    first, second = Viewport(0, 0, 64, 48, WHITE), Viewport(0, 0, 64, 48, YELLOW)
    scene = scenes.Scene(canvas)
    scene.add(first, _disc((-0.5, 0.0), [255, 0, 0, 255]))
    scene.add(second, _disc((0.5, 0.0), [0, 0, 255, 255]))
    scene.add(first, _disc((0.0, 0.5), [0, 160, 0, 255]))
    reference, actual = _render_both(scene, "same_rect")
    for frame in (reference, actual):
        assert not _mask(frame, (255, 0, 0)).any() and not _mask(frame, (0, 160, 0)).any()
        assert _mask(frame, (0, 0, 255)).sum() > 150
        assert tuple(frame[24, 16, :3]) == (255, 255, 0)  # yellow where the red disc was
    assert ssim(reference, actual) >= 0.97


def test_a_translucent_viewport_background_shows_the_viewports_below() -> None:
    # A half-transparent blue viewport over part of another one: the red disc and the cyan
    # background below show through it, as with the Matplotlib backend (each Axes' patch is
    # composited over everything drawn before it).
    canvas = Canvas(64, 48, 72.0, WHITE)
    scene = scenes.Scene(canvas)
    scene.add(Viewport(0, 0, 48, 48, CYAN), _disc((0.0, 0.0), [255, 0, 0, 255], 900.0))
    scene.add(Viewport(16, 8, 48, 32, bytearray([0, 0, 255, 128])), _disc((0.5, 0.5), [0, 0, 0, 255], 36.0))
    reference, actual = _render_both(scene, "translucent_over")
    for row, col in ((24, 24), (24, 44), (24, 56), (4, 24), (24, 4)):  # disc, cyan, canvas, outside
        assert np.abs(actual[row, col].astype(int) - reference[row, col]).max() <= 2, (row, col, actual[row, col], reference[row, col])
    assert ssim(reference, actual) >= 0.97


# -- canvases with alpha --------------------------------------------------------------------
def _alpha_scene(canvas_rgba: list[int]) -> scenes.Scene:
    """A canvas of ``canvas_rgba``: a transparent viewport with a black disc, a half-transparent
    green one with a half-transparent blue disc, and an opaque gray one."""
    canvas = Canvas(64, 48, 72.0, bytearray(canvas_rgba))
    scene = scenes.Scene(canvas)
    scene.add(Viewport(0, 0, 32, 48, bytearray([0, 0, 0, 0])), _disc((0.0, 0.4), [0, 0, 0, 255], 225.0))
    scene.add(Viewport(32, 0, 32, 24, bytearray([0, 255, 0, 128])), _disc((0.0, 0.0), [0, 0, 255, 128], 225.0))
    scene.add(Viewport(32, 24, 32, 24, bytearray([128, 128, 128, 255])), _disc((0.0, 0.0), [255, 0, 0, 64], 225.0))
    return scene


@pytest.mark.parametrize("canvas_rgba", [[0, 0, 0, 0], [255, 0, 0, 100], [40, 80, 120, 200]])
def test_a_canvas_with_alpha_gives_the_matplotlib_rgba(canvas_rgba: list[int]) -> None:
    reference, actual = _render_both(_alpha_scene(canvas_rgba), f"alpha_{canvas_rgba[3]}")
    alpha_ref, alpha = reference[..., 3].astype(int), actual[..., 3].astype(int)
    # Away from the discs' antialiased edges (where Agg and Datoviz cover pixels differently)
    # every pixel has Matplotlib's alpha and straight color.
    edge = np.zeros(alpha.shape, bool)
    for rows, cols in ((slice(0, 48), slice(0, 32)), (slice(24, 48), slice(32, 64)), (slice(0, 24), slice(32, 64))):
        inside = reference[rows, cols]
        flat = (np.abs(inside[1:-1, 1:-1].astype(int) - inside[:-2, 1:-1]).max(axis=2) == 0) & (
            np.abs(inside[1:-1, 1:-1].astype(int) - inside[1:-1, :-2]).max(axis=2) == 0)
        edge[rows, cols][1:-1, 1:-1] = ~flat
    assert np.abs(alpha - alpha_ref)[~edge].max() <= 2
    seen = ~edge & (alpha_ref > 16)  # straight color is meaningless where nearly transparent
    assert np.abs(actual[..., :3].astype(int) - reference[..., :3])[seen].max() <= 3
    # At the edges alpha differs no more than the colors do on an opaque white canvas (where the
    # two backends' antialiasing differs by up to ~73 levels on a black disc's rim).
    opaque_ref, opaque = _render_both(_alpha_scene([255, 255, 255, 255]), "alpha_255")
    rim = np.abs(opaque.astype(int) - opaque_ref).max()
    assert np.abs(alpha - alpha_ref).max() <= rim + 2
    assert ssim(reference, actual) >= 0.97


def test_only_a_canvas_with_alpha_draws_two_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    # The alpha is recovered from a frame over black and one over white: an opaque canvas
    # draws one Datoviz frame per render, as before.
    from player.backends.datoviz.engine import DatovizEngine

    grabs: list[int] = []
    original = DatovizEngine._grab

    def counting(self, convert):  # type: ignore[no-untyped-def]
        grabs.append(1)
        return original(self, convert)

    monkeypatch.setattr(DatovizEngine, "_grab", counting)
    for canvas_rgba, frames in (([255, 255, 255, 255], 1), ([255, 255, 255, 0], 2)):
        scene = _alpha_scene(canvas_rgba)
        renderer = DatovizRenderer(scene.canvas)
        try:
            grabs.clear()
            rgba = renderer.render_rgba(*scene.args)
            assert len(grabs) == frames
            assert (rgba[..., 3].min() == 255) == (canvas_rgba[3] == 255)
        finally:
            renderer.close()


def test_a_transparent_canvas_animates_without_rebuilding() -> None:
    canvas = Canvas(48, 32, 72.0, bytearray([0, 0, 0, 0]))
    scene = scenes.Scene(canvas)
    points = scene.add(Viewport(0, 0, 48, 32, bytearray([0, 0, 0, 0])), _disc((0.0, 0.0), [0, 0, 255, 255], 100.0))
    renderer = DatovizRenderer(canvas)
    try:
        for k in range(3):
            x = -0.5 + 0.5 * k
            points.get_positions().set_data(bytearray(np.array([x, 0.0, 0.0], np.float32).tobytes()), 0, 1)
            rgba = renderer.render_rgba(*scene.args)
            opaque = rgba[..., 3] == 255
            ys, xs = np.nonzero(opaque)
            assert xs.mean() + 0.5 == pytest.approx((x + 1) * 24, abs=0.5) and ys.mean() + 0.5 == pytest.approx(16, abs=0.5)
            assert (rgba[opaque][:, :3] == (0, 0, 255)).all()
            assert (rgba[..., 3] == 0).sum() > 48 * 32 - 200  # the rest stays transparent
        assert renderer.drawer.rebuilds == 1
    finally:
        renderer.close()
