"""Matplotlib backend: direct pixel checks of geometry, sizes, backgrounds and renderer behaviour."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from gsp_scenes import BLACK, WHITE, Scene, floats, full_viewport, identity, points_scene, rgba, vec3
from imagecmp import decode_png

from gsp.core.camera import Camera
from gsp.core.canvas import Canvas
from gsp.core.viewport import Viewport
from gsp.types.enums import CapStyle
from gsp.visuals.points import Points
from gsp.visuals.segments import Segments
from player.backends.matplotlib import MatplotlibRenderer

RED = [255, 0, 0, 255]


def _dot(x: float, y: float, area: float = 100.0, color: list[int] = RED) -> Points:
    return Points(vec3([[x, y]]), floats([area]), rgba([color]), rgba([color]), floats([0.0]))


def _red_mask(image: np.ndarray) -> np.ndarray:
    return (image[..., 0] > 200) & (image[..., 1] < 60) & (image[..., 2] < 60)


def _render(scene: Scene) -> np.ndarray:
    renderer = MatplotlibRenderer(scene.canvas)
    try:
        return decode_png(renderer.render(*scene.args))
    finally:
        renderer.close()


def _render_with(backend: str, scene: Scene) -> np.ndarray:
    """``scene`` drawn by the named backend, as an (H, W, 4) array; the renderer closed after."""
    from gsp.utils.renderer_registry import RendererRegistry

    renderer = RendererRegistry.create_renderer(backend, scene.canvas)
    try:
        return decode_png(renderer.render(*scene.args))
    finally:
        renderer.close()


@pytest.mark.parametrize(("width", "height", "dpi"), [(200, 150, 100.0), (101, 37, 72.0), (333, 211, 97.3)])
def test_output_size_is_exact(width: int, height: int, dpi: float) -> None:
    canvas = Canvas(width, height, dpi, WHITE)
    scene = Scene(canvas)
    scene.add(full_viewport(canvas), _dot(0, 0))
    assert _render(scene).shape == (height, width, 4)


def test_point_center_lands_on_the_expected_pixel_and_y_grows_upward() -> None:
    canvas = Canvas(200, 100, 100.0, WHITE)
    scene = Scene(canvas)
    # NDC (0.505, 0.51) in a 200×100 viewport: x = 150.5 px, y = 75.5 px from the bottom, that is
    # the centre of column 150 and of row 100 - 76 = 24 counted from the top.
    scene.add(full_viewport(canvas), _dot(0.505, 0.51))
    ys, xs = np.nonzero(_red_mask(_render(scene)))
    assert xs.mean() == pytest.approx(150.0, abs=0.05)
    assert ys.mean() == pytest.approx(24.0, abs=0.05)


def test_point_between_pixels_is_within_half_a_pixel() -> None:
    # Matplotlib draws uniform markers at whole pixels: a centre on a pixel corner moves 0.5 px.
    canvas = Canvas(200, 100, 100.0, WHITE)
    scene = Scene(canvas)
    scene.add(full_viewport(canvas), _dot(0.5, 0.5))
    ys, xs = np.nonzero(_red_mask(_render(scene)))
    assert xs.mean() + 0.5 == pytest.approx(150.0, abs=0.51)
    assert ys.mean() + 0.5 == pytest.approx(25.0, abs=0.51)


@pytest.mark.parametrize(("area", "dpi"), [(100.0, 100.0), (400.0, 72.0), (900.0, 144.0)])
def test_point_diameter_in_pixels(area: float, dpi: float) -> None:
    canvas = Canvas(120, 120, dpi, WHITE)
    scene = Scene(canvas)
    scene.add(full_viewport(canvas), _dot(0, 0, area))
    image = _render(scene)
    expected = np.sqrt(area) * dpi / 72.0
    # Coverage of red over white, from the green channel (antialiased edges count partly).
    coverage = 1.0 - image[..., 1].astype(float) / 255.0
    assert coverage[59:61].mean(axis=0).sum() == pytest.approx(expected, abs=0.5)
    assert coverage[:, 59:61].mean(axis=1).sum() == pytest.approx(expected, abs=0.5)
    assert coverage.sum() == pytest.approx(np.pi * expected**2 / 4.0, rel=0.02)


def test_viewport_background_fills_exactly_its_rectangle() -> None:
    canvas = Canvas(100, 80, 100.0, BLACK)
    scene = Scene(canvas)
    viewport = Viewport(10, 20, 30, 40, bytearray(RED))
    scene.add(viewport, _dot(5.0, 5.0, color=[0, 0, 255, 255]))  # outside: clipped away
    image = _render(scene)
    red = _red_mask(image)
    rows, cols = np.nonzero(red)
    # y from the bottom: rows 80-20-40=20 .. 59, columns 10 .. 39.
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (20, 59, 10, 39)
    assert red.sum() == 30 * 40
    assert (image[~red][:, :3] == 0).all()


def test_two_viewports_and_transparent_backgrounds() -> None:
    canvas = Canvas(80, 40, 100.0, bytearray([0, 0, 0, 0]))
    scene = Scene(canvas)
    left = Viewport(0, 0, 40, 40, bytearray([0, 0, 0, 0]))
    right = Viewport(40, 0, 40, 40, bytearray([0, 255, 0, 255]))
    scene.add(left, _dot(0, 0))
    scene.add(right, _dot(0, 0))
    image = _render(scene)
    assert image[2, 2, 3] == 0  # transparent canvas and viewport
    assert image[2, 78].tolist() == [0, 255, 0, 255]
    assert image[20, 20].tolist() == RED and image[20, 60].tolist() == RED


def test_render_rgba_matches_the_png() -> None:
    scene = points_scene()
    renderer = MatplotlibRenderer(scene.canvas)
    rgba_frame = renderer.render_rgba(*scene.args)
    png = renderer.render(*scene.args)
    renderer.close()
    assert rgba_frame.dtype == np.uint8 and rgba_frame.shape == (128, 128, 4)
    np.testing.assert_array_equal(rgba_frame, decode_png(png))


def test_artists_are_reused_and_updated_in_place() -> None:
    canvas = Canvas(64, 64, 100.0, WHITE)
    viewport = full_viewport(canvas)
    points = _dot(-0.5, 0.0)
    camera = Camera(identity(), identity())
    renderer = MatplotlibRenderer(canvas)
    first = decode_png(renderer.render([viewport], [points], [identity()], [camera]))
    artists = renderer.get_artists(viewport, points)
    points.set_positions(vec3([[0.5, 0.0]]))
    second = decode_png(renderer.render([viewport], [points], [identity()], [camera]))
    assert renderer.get_artists(viewport, points) == artists
    assert all(a is b for a, b in zip(renderer.get_artists(viewport, points), artists))
    assert _red_mask(first)[:, :32].any() and not _red_mask(first)[:, 32:].any()
    assert _red_mask(second)[:, 32:].any() and not _red_mask(second)[:, :32].any()
    renderer.close()


def test_artist_rebuilt_when_the_visual_changes_kind() -> None:
    canvas = Canvas(64, 64, 100.0, WHITE)
    viewport, camera = full_viewport(canvas), Camera(identity(), identity())
    renderer = MatplotlibRenderer(canvas)
    dot = _dot(0, 0)
    renderer.render([viewport], [dot], [identity()], [camera])
    segment = Segments(vec3([[-1, 0], [1, 0]]), floats([4.0]), CapStyle.BUTT, rgba([RED]))
    image = decode_png(renderer.render([viewport], [segment], [identity()], [camera]))
    assert renderer.get_artists(viewport, dot) == []
    assert _red_mask(image)[:, 2].any()  # the segment spans the whole width; the dot is gone
    assert not _red_mask(image)[10].any()
    renderer.close()


def test_clear_really_clears() -> None:
    canvas = Canvas(64, 64, 100.0, WHITE)
    camera = Camera(identity(), identity())
    vp_a = Viewport(0, 0, 32, 64, bytearray([0, 0, 255, 255]))
    vp_b = full_viewport(canvas)
    renderer = MatplotlibRenderer(canvas)
    renderer.render([vp_a], [_dot(0, 0)], [identity()], [camera])
    renderer.clear()
    image = decode_png(renderer.render([vp_b], [_dot(0.5, 0.5, color=[0, 200, 0, 255])], [identity()], [camera]))
    blue = (image[..., 2] > 200) & (image[..., 0] < 50) & (image[..., 1] < 50)
    assert not _red_mask(image).any() and not blue.any()  # the old dot and viewport are gone
    assert ((image[..., 1] > 150) & (image[..., 0] < 50)).any()  # the new green dot is there
    renderer.close()


def test_render_with_mismatched_sequences_is_refused() -> None:
    canvas = Canvas(32, 32, 100.0, WHITE)
    renderer = MatplotlibRenderer(canvas)
    with pytest.raises(ValueError, match="same length"):
        renderer.render([full_viewport(canvas)], [], [identity()], [Camera(identity(), identity())])
    renderer.close()


def test_canvas_resize_between_renders() -> None:
    canvas = Canvas(40, 30, 100.0, WHITE)
    renderer = MatplotlibRenderer(canvas)
    viewport, camera = full_viewport(canvas), Camera(identity(), identity())
    assert decode_png(renderer.render([viewport], [_dot(0, 0)], [identity()], [camera])).shape == (30, 40, 4)
    canvas.set_width(90)
    canvas.set_height(50)
    viewport.set_width(90)
    viewport.set_height(50)
    image = decode_png(renderer.render([viewport], [_dot(0, 0)], [identity()], [camera]))
    assert image.shape == (50, 90, 4)
    ys, xs = np.nonzero(_red_mask(image))
    assert (xs.mean() + 0.5, ys.mean() + 0.5) == pytest.approx((45.0, 25.0), abs=0.51)
    renderer.close()


def test_show_returns_at_once_without_a_display() -> None:
    renderer = MatplotlibRenderer(Canvas(16, 16, 100.0, WHITE))
    renderer.show()
    renderer.close()


def test_pixels_land_on_exact_device_pixels() -> None:
    from gsp.visuals.pixels import Pixels

    canvas = Canvas(40, 30, 100.0, BLACK)
    scene = Scene(canvas)
    cols, rows_from_bottom = np.array([0, 5, 39, 20]), np.array([0, 7, 29, 15])
    ndc = np.stack([(cols + 0.5) / 40 * 2 - 1, (rows_from_bottom + 0.5) / 30 * 2 - 1], axis=1)
    scene.add(full_viewport(canvas, BLACK), Pixels(vec3(ndc), rgba([RED]), 1))
    image = _render(scene)
    lit = image[..., 0] > 0
    assert lit.sum() == 4
    for c, r in zip(cols, rows_from_bottom):
        assert image[29 - r, c].tolist() == RED


@pytest.mark.parametrize(("cap", "extra"), [(CapStyle.BUTT, 0.0), (CapStyle.PROJECTING, 5.0), (CapStyle.ROUND, 5.0)])
def test_segment_width_and_caps_in_pixels(cap: CapStyle, extra: float) -> None:
    # 10 pt at 72 dpi = 10 px wide; from x = 20 to 80 px on a 100 px canvas.
    canvas = Canvas(100, 40, 72.0, WHITE)
    scene = Scene(canvas)
    scene.add(full_viewport(canvas), Segments(vec3([[-0.6, 0.0], [0.6, 0.0]]), floats([10.0]), cap, rgba([RED])))
    coverage = 1.0 - _render(scene)[..., 1].astype(float) / 255.0
    assert coverage[:, 50].sum() == pytest.approx(10.0, abs=0.3)  # thickness across the middle
    assert coverage[19:21].mean(axis=0).sum() == pytest.approx(60.0 + 2 * extra, abs=0.6)  # length on the axis


@pytest.mark.parametrize(
    ("align", "right_of", "above"),
    [("TOP_LEFT", True, False), ("CENTER_CENTER", None, None), ("BOTTOM_RIGHT", False, True)],
)
def test_text_anchor_side(align: str, right_of: bool | None, above: bool | None) -> None:
    from gsp.types.enums import TextAlign
    from gsp.visuals.texts import Texts

    canvas = Canvas(120, 80, 100.0, WHITE)
    scene = Scene(canvas)
    text = Texts(vec3([[0.0, 0.0]]), ["Hello"], rgba([[0, 0, 0, 255]]), floats([12.0]), [TextAlign[align]], floats([0.0]), "DejaVu Sans")
    scene.add(full_viewport(canvas), text)
    ink = _render(scene)[..., 0] < 128
    rows, cols = np.nonzero(ink)
    # The anchor is at x = 60 px, y = 40 px from the top.
    if right_of is None:
        assert (cols.min() + cols.max()) / 2 == pytest.approx(60, abs=2)
        assert (rows.min() + rows.max()) / 2 == pytest.approx(40, abs=3)
    else:
        assert (cols.min() >= 59) if right_of else (cols.max() <= 60)
        assert (rows.max() <= 40) if above else (rows.min() >= 39)
    assert 8 <= rows.max() - rows.min() <= 16  # 12 pt at 100 dpi: glyph heights ~ 9..13 px


def test_text_rotation_turns_the_text() -> None:
    from gsp.types.enums import TextAlign
    from gsp.visuals.texts import Texts

    canvas = Canvas(100, 100, 100.0, WHITE)
    spans = []
    for angle in (0.0, 90.0):
        scene = Scene(canvas)
        text = Texts(vec3([[0.0, 0.0]]), ["Rotate"], rgba([[0, 0, 0, 255]]), floats([12.0]), [TextAlign.CENTER_CENTER], floats([angle]), "DejaVu Sans")
        scene.add(full_viewport(canvas), text)
        rows, cols = np.nonzero(_render(scene)[..., 0] < 128)
        spans.append((cols.max() - cols.min(), rows.max() - rows.min()))
    (w0, h0), (w90, h90) = spans
    assert w0 > 2 * h0 and h90 > 2 * w90 and abs(w0 - h90) <= 2


def test_one_visual_drawn_twice_with_two_model_matrices() -> None:
    from gsp_scenes import mat4

    canvas = Canvas(100, 50, 100.0, WHITE)
    scene = Scene(canvas)
    viewport = full_viewport(canvas)
    dot = _dot(0.0, 0.0)
    for dx in (-0.5, 0.5):
        model = np.eye(4)
        model[0, 3] = dx
        scene.add(viewport, dot, mat4(model))
    red = _red_mask(_render(scene))
    assert red[:, :50].any() and red[:, 50:].any() and not red[:, 45:55].any()


def test_marker_shape_change_reuses_the_collection() -> None:
    from gsp.types.enums import MarkerShape
    from gsp.visuals.markers import Markers

    canvas = Canvas(48, 48, 100.0, WHITE)
    viewport, camera = full_viewport(canvas), Camera(identity(), identity())
    markers = Markers(MarkerShape.square, vec3([[0, 0]]), floats([900.0]), rgba([RED]), rgba([RED]), floats([0.0]))
    renderer = MatplotlibRenderer(canvas)
    square = _red_mask(decode_png(renderer.render([viewport], [markers], [identity()], [camera])))
    artists = renderer.get_artists(viewport, markers)
    markers.set_marker_shape(MarkerShape.diamond)
    diamond = _red_mask(decode_png(renderer.render([viewport], [markers], [identity()], [camera])))
    assert renderer.get_artists(viewport, markers)[0] is artists[0]
    # 30 pt at 100 dpi ≈ 41.7 px: the square fills its box, the diamond about half of it.
    assert diamond.sum() == pytest.approx(square.sum() / 2, rel=0.1)
    assert square[4, 4] and not diamond[4, 4]  # a corner of the box
    renderer.close()


@pytest.mark.parametrize("backend", ["matplotlib", pytest.param("datoviz", marks=pytest.mark.datoviz)])
def test_texts_are_plain_text_not_formulas(backend: str) -> None:
    """Matplotlib read "$...$" as mathtext: "$5 to $10" lost its dollar signs and spaces, and
    an unbalanced "$\\frac{1$" failed the whole render. GSP strings are drawn as written."""
    from gsp.types.enums import TextAlign
    from gsp.visuals.texts import Texts

    def ink_columns(text: str) -> int:
        canvas = Canvas(300, 60, 100.0, WHITE)
        scene = Scene(canvas)
        scene.add(full_viewport(canvas), Texts(vec3([[0.0, 0.0]]), [text], rgba([[0, 0, 0, 255]]), floats([14.0]),
                                               [TextAlign.CENTER_CENTER], floats([0.0]), "DejaVu Sans"))
        image = _render_with(backend, scene)
        return int(((image[..., :3].min(axis=2) < 128).any(axis=0)).sum())

    assert ink_columns("$5 to $10") > ink_columns("5 to 10") + 10  # the dollar signs are drawn
    assert ink_columns(r"ratio $\frac{1$ done") > 0  # drawn as written, not a failed render


@pytest.mark.parametrize("backend", ["matplotlib", pytest.param("datoviz", marks=pytest.mark.datoviz)])
@pytest.mark.parametrize(("slot", "value"), [("sizes", -25.0), ("sizes", float("nan")), ("edge_widths", -1.0),
                                             ("edge_widths", float("inf"))])
def test_a_size_that_is_no_size_is_refused_by_both_backends(backend: str, slot: str, value: float) -> None:
    """Matplotlib drew nothing (and warned from its own code), Datoviz drew something: the
    backends disagreed on a negative or NaN size. ``render`` now refuses it first, for every
    backend; the backends' own preparation (reached without ``render``'s checks) refuses it too,
    by the same rule, naming the call and the visual's index as ``render`` does."""
    from gsp.utils.renderer_registry import RendererRegistry

    canvas = Canvas(40, 40, 100.0, WHITE)
    scene = Scene(canvas)
    args = {"sizes": floats([100.0]), "edge_widths": floats([1.0])}
    args[slot] = floats([value])
    scene.add(full_viewport(canvas), _dot(0.5, 0.5))
    scene.add(full_viewport(canvas), Points(vec3([[0.0, 0.0]]), args["sizes"], rgba([RED]), rgba([RED]),
                                            args["edge_widths"]))
    renderer = RendererRegistry.create_renderer(backend, canvas)
    name = type(renderer).__name__
    try:
        with pytest.raises(ValueError, match=rf"^{name}.render: visuals\[1\]: Points: {slot}: {value} is not a size"):
            renderer.render(*scene.args)
        with pytest.raises(ValueError, match=rf"^{name}.render: visuals\[1\]: Points.{slot}: {value} is not a size"):
            renderer._render(*scene.args)  # the backend's own check, as a GSP 0.1 render() override reaches it
    finally:
        renderer.close()


@pytest.mark.parametrize("backend", ["matplotlib", pytest.param("datoviz", marks=pytest.mark.datoviz)])
def test_a_font_too_large_to_draw_is_named(backend: str) -> None:
    """A font of 60 000 pt failed inside FreeType ("invalid pixel size"), and one of 20 000 pt took
    Agg 10 s: both backends now name the size and the largest they draw."""
    from gsp.types.enums import TextAlign
    from gsp.visuals.texts import Texts

    canvas = Canvas(40, 40, 100.0, WHITE)
    scene = Scene(canvas)
    scene.add(full_viewport(canvas), Texts(vec3([[0.0, 0.0]]), ["big"], rgba([[0, 0, 0, 255]]),
                                           floats([60000.0]), [TextAlign.CENTER_CENTER], floats([0.0]),
                                           "DejaVu Sans"))
    with pytest.raises(ValueError, match=r"render: visuals\[0\]: Texts: font_sizes: 60000 pt is 83333 px at 100 dpi, "
                                         r"over the largest"):
        _render_with(backend, scene)


@pytest.mark.parametrize("backend", ["matplotlib", pytest.param("datoviz", marks=pytest.mark.datoviz)])
def test_a_text_anchored_far_outside_is_left_out_not_a_failed_render(backend: str) -> None:
    """A label 10 million pixels away (a deep zoom) made Agg fail, in both backends
    ("FT_Render_Glyph ... raster overflow"): a render that passed every check could not be
    drawn. A text that cannot reach the viewport is left out, as one behind the camera."""
    from gsp.types.enums import TextAlign
    from gsp.visuals.texts import Texts

    def image(xs: list[float]) -> np.ndarray:
        canvas = Canvas(60, 40, 100.0, WHITE)
        scene = Scene(canvas)
        n = len(xs)
        scene.add(full_viewport(canvas), Texts(vec3([[x, 0.0] for x in xs]), ["Ab"] * n, rgba([[0, 0, 0, 255]]),
                                               floats([12.0]), [TextAlign.CENTER_CENTER], floats([30.0]),
                                               "DejaVu Sans"))
        return _render_with(backend, scene)

    shown = image([0.0])
    assert (shown[..., :3].min(axis=2) < 128).any()
    for far in (1e6, -1e8, 1e30):
        assert np.array_equal(image([0.0, far]), shown)
    assert not np.array_equal(image([0.0, 1.05]), shown)  # anchored just outside: drawn, it reaches in


def test_a_resized_window_is_drawn_again_whatever_the_savefig_settings() -> None:
    """A window of another shape is drawn again at the canvas's size through savefig: the user's
    savefig.bbox "tight" changed its size (render failed), savefig.transparent its background."""
    import matplotlib

    from player.backends.matplotlib.figure_host import FigureHost

    host = FigureHost(30, 20, 72.0, interactive=False)
    host.set_background(np.array([1.0, 0.0, 0.0, 1.0]))
    with matplotlib.rc_context({"savefig.bbox": "tight", "savefig.transparent": True, "savefig.facecolor": "white"}):
        picture = host._draw_at_canvas_size()  # what draw_rgba returns for a window of another shape
    host.close()
    assert picture.shape == (20, 30, 4)
    assert picture[0, 0].tolist() == [255, 0, 0, 255]  # the canvas's own background


@pytest.mark.parametrize("backend", ["matplotlib", pytest.param("datoviz", marks=pytest.mark.datoviz)])
def test_an_image_anchored_behind_the_camera_is_not_drawn(backend: str) -> None:
    """Matplotlib refused the whole frame ("Axis limits cannot be NaN or Inf"); Datoviz left the
    image out, as both backends leave out points behind the camera. The rest is drawn."""
    from gsp_scenes import checker_texture, look_at, mat4, perspective

    from gsp.types.enums import ImageInterpolation
    from gsp.visuals.image import Image

    canvas = Canvas(64, 64, 100.0, WHITE)
    scene = Scene(canvas)
    camera = Camera(mat4(look_at((0, 0, 2), (0, 0, 0))), mat4(perspective(60.0, 1.0, 0.1, 10.0)))
    viewport = full_viewport(canvas)
    scene.add(viewport, Image(checker_texture(), vec3([[0.0, 0.0, 3.0]]), (-0.5, 0.5, -0.5, 0.5),
                              ImageInterpolation.NEAREST), camera=camera)
    scene.add(viewport, _dot(0.0, 0.0), camera=camera)
    red = _red_mask(_render_with(backend, scene))
    assert red[28:36, 28:36].all() and red.sum() < 200  # the dot, and no red checks of the image


def test_an_opaque_mesh_shows_no_seams_along_its_inner_edges() -> None:
    """Neighbouring antialiased triangles let the background through along the edge they
    share: at 72 dpi the 0.6 pt closing edge left a light line across every quad."""
    from gsp.constants import Constants
    from gsp.geometry.geometry import MeshGeometry
    from gsp.materials import MeshBasicMaterial
    from gsp.types import BufferType
    from gsp.utils.bufferx import Bufferx
    from gsp.visuals.mesh import Mesh

    canvas = Canvas(96, 96, 72.0, WHITE)
    scene = Scene(canvas)
    corners = vec3([[-0.8, -0.8], [0.8, -0.8], [0.8, 0.8], [-0.8, 0.8]])
    indices = Bufferx.from_numpy(np.array([0, 1, 2, 0, 2, 3], np.uint32), BufferType.uint32)
    material = MeshBasicMaterial(rgba([[220, 0, 0, 255]]), rgba([[0, 0, 0, 0]]), floats([0.0]), True,
                                 Constants.FaceCulling.BothSides)
    scene.add(full_viewport(canvas), Mesh(MeshGeometry(corners, indices, None, None), material))
    image = _render(scene)[12:84, 12:84, :3].astype(int)  # the quad's inside, away from its outline
    seam = image[..., 1] > 20  # background let through along the diagonal
    assert seam.sum() <= 30, int(seam.sum())


NOTEBOOK_SCRIPT = """
import sys
from IPython.core.displaypub import CapturingDisplayPublisher
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
shell.display_pub = CapturingDisplayPublisher()
shell.run_cell("import matplotlib; matplotlib.use('module://matplotlib_inline.backend_inline')", store_history=False)
result = shell.run_cell('''
import sys
import numpy as np
from gsp.constants import Constants
from gsp.core import Camera, Canvas, Viewport
from gsp.types import BufferType
from gsp.utils.bufferx import Bufferx
from gsp.visuals import Points
from player.backends.matplotlib import MatplotlibRenderer
canvas = Canvas(80, 60, 72.0, Constants.Color.white)
viewport = Viewport(0, 0, 80, 60, Constants.Color.white)
points = Points(Bufferx.from_numpy(np.array([[0, 0, 0]], np.float32), BufferType.vec3),
                Bufferx.from_numpy(np.array([400.0], np.float32), BufferType.float32),
                Bufferx.from_numpy(np.array([[255, 0, 0, 255]], np.uint8), BufferType.rgba8),
                Bufferx.from_numpy(np.array([[0, 0, 0, 255]], np.uint8), BufferType.rgba8),
                Bufferx.from_numpy(np.array([1.0], np.float32), BufferType.float32))
renderer = MatplotlibRenderer(canvas)
png = renderer.render([viewport], [points], [Bufferx.mat4_identity()], [Camera(Bufferx.mat4_identity(), Bufferx.mat4_identity())])
open(sys.argv[1], "wb").write(png)
renderer.show()
''')
result.raise_error()
shown = [output["data"]["image/png"] for output in shell.display_pub.outputs if "image/png" in output["data"]]
assert len(shown) == 1, shell.display_pub.outputs
open(sys.argv[2], "wb").write(shown[0] if isinstance(shown[0], bytes) else __import__("base64").b64decode(shown[0]))
"""


def test_show_in_a_notebook_with_the_inline_backend_puts_the_picture_in_the_cell(tmp_path: Path) -> None:
    """Under Jupyter's `%matplotlib inline`, renderer.show() returned at once and nothing was
    shown: the figure is no pyplot figure, which the inline backend shows by itself."""
    import subprocess
    import sys

    pytest.importorskip("IPython")
    pytest.importorskip("matplotlib_inline")
    script, rendered, shown = tmp_path / "nb.py", tmp_path / "rendered.png", tmp_path / "shown.png"
    script.write_text(NOTEBOOK_SCRIPT)
    repo = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    result = subprocess.run([sys.executable, str(script), str(rendered), str(shown)], cwd=repo, capture_output=True,
                            text=True, timeout=120, env=dict(env, PYTHONPATH=str(repo)))
    assert result.returncode == 0, result.stderr[-3000:]
    from PIL import Image

    a, b = np.asarray(Image.open(rendered)), np.asarray(Image.open(shown))
    assert a.shape == b.shape == (60, 80, 4) and np.array_equal(a, b)
    assert (a[30, 40, :3] == [255, 0, 0]).all()  # the red disc, drawn
