"""Datoviz against Matplotlib on what a QA pass found wrong: hollow and semi-transparent markers,
points outside the depth range, zero widths, thin line ink, and paths broken by invalid vertices.

Every test renders the same small GSP scene with both backends (real Datoviz, software Vulkan is
enough) and compares pixels: exact colors where both must agree, ink where antialiasing differs.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

from player.backends.datoviz import datoviz_available

pytestmark = pytest.mark.datoviz

if not datoviz_available() and os.environ.get("GSP_REQUIRE_DATOVIZ") != "1":
    pytest.skip("datoviz cannot be imported here", allow_module_level=True)

import gsp_scenes as scenes  # noqa: E402
from imagecmp import FAILED_DIR, decode_png, save_png, ssim  # noqa: E402

from gsp.core import Camera, Canvas  # noqa: E402
from gsp.types.buffer_type import BufferType  # noqa: E402
from gsp.types.enums import CapStyle, JoinStyle, MarkerShape  # noqa: E402
from gsp.visuals.markers import Markers  # noqa: E402
from gsp.visuals.paths import Paths  # noqa: E402
from gsp.visuals.points import Points  # noqa: E402
from gsp.visuals.segments import Segments  # noqa: E402
from player.backends.datoviz.renderer import DatovizRenderer  # noqa: E402
from player.backends.matplotlib.renderer import MatplotlibRenderer  # noqa: E402

WHITE = scenes.WHITE
POLYGON_SHAPES = [shape for shape in MarkerShape if shape.value != "disc"]


def render_both(scene: scenes.Scene) -> tuple[np.ndarray, np.ndarray]:
    """(Matplotlib, Datoviz) RGBA frames of ``scene``; Datoviz must not warn (these cases are exact)."""
    reference = decode_png(MatplotlibRenderer(scene.canvas).render(*scene.args))
    renderer = DatovizRenderer(scene.canvas)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            actual = decode_png(renderer.render(*scene.args))
    finally:
        renderer.close()
    return reference, actual


@contextmanager
def kept_on_failure(name: str, reference: np.ndarray, actual: np.ndarray) -> Iterator[None]:
    """Save Matplotlib | Datoviz side by side as FAILED_DIR/<name>.png when an assertion fails."""
    try:
        yield
    except AssertionError:
        save_png(np.concatenate([reference, actual], axis=1), FAILED_DIR / f"{name}.png")
        raise


def one_visual(visual: Any, width: int = 64, height: int = 64, camera: Any = None) -> scenes.Scene:
    canvas = Canvas(width, height, 72.0, WHITE)  # 72 dpi: 1 pt = 1 px
    scene = scenes.Scene(canvas)
    scene.add(scenes.full_viewport(canvas), visual, camera=camera)
    return scene


def darkness(image: np.ndarray) -> np.ndarray:
    """0 (white) .. 1 (black) per pixel."""
    return 1.0 - image[..., :3].astype(np.float64).mean(axis=2) / 255.0


def marker(shape: Any, size_pt2: float, face: list[int], edge: list[int], width_pt: float,
           xy: tuple[float, float] = (0.0, 0.0)) -> Markers:
    return Markers(shape, scenes.vec3([list(xy)]), scenes.floats([size_pt2]), scenes.rgba([face]),
                   scenes.rgba([edge]), scenes.floats([width_pt]))


# -- A: hollow markers and semi-transparent faces over edges ---------------------------------
@pytest.mark.parametrize("shape", [MarkerShape.disc, MarkerShape.triangle_up, MarkerShape.square, MarkerShape.club])
def test_a_marker_with_a_transparent_face_is_a_ring(shape: MarkerShape) -> None:
    # 40 px marker, 2 px edge: the face (alpha 0) must leave the inside white, as Matplotlib does.
    reference, actual = render_both(one_visual(marker(shape, 1600.0, [0, 0, 0, 0], [200, 0, 200, 255], 2.0)))
    with kept_on_failure(f"hollow_{shape.value}", reference, actual):
        _check_hollow(reference, actual)


def _check_hollow(reference: np.ndarray, actual: np.ndarray) -> None:
    inside = darkness(reference) == 0.0
    inside[:20] = inside[44:] = False  # the middle rows: inside the outline, away from it
    inside[:, :20] = inside[:, 44:] = False
    assert inside.sum() > 50
    assert darkness(actual)[inside].max() < 0.05, "the face of a hollow marker is filled"
    ink, ink_ref = darkness(actual).sum(), darkness(reference).sum()
    assert abs(ink / ink_ref - 1.0) < 0.15, (ink, ink_ref)
    assert ssim(reference, actual) > 0.9


@pytest.mark.parametrize("shape", [MarkerShape.disc, MarkerShape.diamond])
def test_a_semi_transparent_face_is_blended_over_the_background_not_the_edge(shape: MarkerShape) -> None:
    reference, actual = render_both(one_visual(marker(shape, 1600.0, [255, 0, 0, 128], [0, 0, 0, 255], 1.0)))
    with kept_on_failure(f"pink_{shape.value}", reference, actual):
        center = reference[32, 32, :3].astype(int)
        assert abs(center - [255, 127, 127]).max() <= 2  # Matplotlib: half red over white
        assert abs(actual[32, 32, :3].astype(int) - center).max() <= 3, (actual[32, 32], center)
        assert ssim(reference, actual) > 0.9


def test_a_hollow_discs_keep_their_own_edge_colors_and_widths() -> None:
    # One Points visual, three hollow discs with different edges: each ring in its color, with
    # Matplotlib's ink (the edge is a centered stroke of the 36 px outline).
    xs, edges, widths = [-0.6, 0.0, 0.6], [[255, 0, 0, 255], [0, 160, 0, 255], [0, 0, 255, 128]], [1.0, 2.0, 4.0]
    points = Points(scenes.vec3([[x, 0.0] for x in xs]), scenes.floats([1296.0]), scenes.rgba([[0, 0, 0, 0]]),
                    scenes.rgba(edges), scenes.floats(widths))
    reference, actual = render_both(one_visual(points, 150, 50))
    with kept_on_failure("hollow_points", reference, actual):
        for x, edge in zip(xs, edges):
            col = int((x + 1) * 75)
            box = (slice(2, 48), slice(col - 23, col + 23))
            ink, ink_ref = darkness(actual[box]).sum(), darkness(reference[box]).sum()
            assert abs(ink / ink_ref - 1.0) < 0.15, (edge, ink, ink_ref)
            assert darkness(actual[20:30, col - 5:col + 5]).max() < 0.02  # hollow
            ring = darkness(reference[box]) > 0.2
            hue = actual[box][ring][:, :3].astype(int).mean(axis=0)
            assert abs(hue - reference[box][ring][:, :3].astype(int).mean(axis=0)).max() < 25, (edge, hue)
        assert ssim(reference, actual) > 0.9


# -- B: faces without an edge are blended once ------------------------------------------------
@pytest.mark.parametrize("shape", [MarkerShape.disc, *POLYGON_SHAPES])
def test_b_a_semi_transparent_face_without_edge_is_blended_once(shape: MarkerShape) -> None:
    # 60 px marker, half-transparent red, edge width 0: Matplotlib's face is (255, 127, 127); the
    # Datoviz mesh drew it twice (a width-0 "edge" in the face color, then the face): alpha 0.75.
    scene = one_visual(marker(shape, 3600.0, [255, 0, 0, 128], [0, 0, 0, 255], 0.0), 80, 80)
    reference, actual = render_both(scene)
    with kept_on_failure(f"face_once_{shape.value}", reference, actual):
        face = (np.abs(reference[..., :3].astype(int) - [255, 127, 127]) <= 1).all(axis=2)
        assert face.sum() > 100
        close = (np.abs(actual[..., :3].astype(int) - [255, 127, 127]) <= 3).all(axis=2)
        assert close[face].mean() > 0.95, f"only {close[face].mean():.0%} of the face has Matplotlib's color"


# -- C: points outside the depth range ----------------------------------------------------------
@pytest.mark.parametrize("edge_width", [0.0, 2.0])
def test_c_disc_points_outside_the_depth_range_are_drawn(edge_width: float) -> None:
    # Matplotlib ignores z; Datoviz dropped discs whose NDC z is outside [-1, 1]. A NaN row among
    # them (a point behind a camera) must not keep the others from being drawn.
    zs = [0.0, 1.5, -2.0, np.inf, 0.5]
    xy = [[-0.8, 0.0], [-0.4, 0.0], [0.0, 0.0], [0.4, 0.0], [np.nan, np.nan]]
    points = Points(scenes.vec3([[x, y, z] for (x, y), z in zip(xy, zs)]), scenes.floats([196.0]),
                    scenes.rgba([[255, 0, 0, 255]]), scenes.rgba([[0, 0, 0, 255]]), scenes.floats([edge_width]))
    reference, actual = render_both(one_visual(points, 100, 30))
    with kept_on_failure(f"points_z_{edge_width:g}", reference, actual):
        for x, _ in xy[:4]:
            col = int((x + 1) * 50)
            assert tuple(reference[15, col, :3]) == (255, 0, 0)
            assert tuple(actual[15, col, :3]) == (255, 0, 0), f"the point at x = {x} is missing"
        assert ssim(reference, actual) > 0.9


# -- D: zero widths and sizes draw nothing; line ink ------------------------------------------
def test_d_zero_widths_and_sizes_draw_nothing() -> None:
    # Matplotlib draws nothing for a width-0 line or a size-0 marker, even with a wide edge.
    canvas = Canvas(96, 64, 72.0, WHITE)
    scene = scenes.Scene(canvas)
    viewport = scenes.full_viewport(canvas)
    black = scenes.rgba([[0, 0, 0, 255]])
    scene.add(viewport, Segments(scenes.vec3([[-0.8, -0.8], [0.8, 0.8], [-0.8, 0.8], [0.8, 0.8]]),
                                 scenes.floats([0.0]), CapStyle.ROUND, black))
    scene.add(viewport, Paths(scenes.vec3([[-0.8, -0.5], [0.0, 0.5], [0.8, -0.5]]),
                              scenes.buf(np.array([3], np.uint32), BufferType.uint32), black, scenes.floats([0.0]),
                              CapStyle.PROJECTING, JoinStyle.MITER))
    for shape, x in ((MarkerShape.square, -0.5), (MarkerShape.disc, 0.0)):
        scene.add(viewport, marker(shape, 0.0, [255, 0, 0, 255], [0, 0, 0, 255], 4.0, (x, 0.0)))
    scene.add(viewport, marker(MarkerShape.disc, 0.0, [0, 0, 0, 0], [0, 0, 0, 255], 4.0, (0.5, 0.0)))  # hollow
    reference, actual = render_both(scene)
    with kept_on_failure("zero_widths", reference, actual):
        assert (reference[..., :3] == 255).all()
        assert (actual[..., :3] == 255).all(), f"{int((actual[..., :3] < 255).any(axis=2).sum())} pixels drawn"


LINE_WIDTHS = [0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 6.0]


def _slanted_lines(kind: str, join: JoinStyle = JoinStyle.ROUND) -> scenes.Scene:
    """One black line per width in LINE_WIDTHS, each 80 px tall and leaning 10 px right."""
    canvas = Canvas(400, 100, 72.0, WHITE)
    scene = scenes.Scene(canvas)
    xs = [-0.9 + 0.22 * k for k in range(len(LINE_WIDTHS))]
    black = scenes.rgba([[0, 0, 0, 255]])
    if kind == "segments":
        ends = [[p for x in xs for p in ([x, -0.8], [x + 0.05, 0.8])]]
        visual: Any = Segments(scenes.vec3(ends[0]), scenes.floats(LINE_WIDTHS), CapStyle.BUTT, black)
    else:  # a kink-free path of 3 vertices per line
        verts = [p for x in xs for p in ([x, -0.8], [x + 0.025, 0.0], [x + 0.05, 0.8])]
        visual = Paths(scenes.vec3(verts), scenes.buf(np.full(len(xs), 3, np.uint32), BufferType.uint32), black,
                       scenes.floats(np.repeat(LINE_WIDTHS, 3)), CapStyle.BUTT, join)
    scene.add(scenes.full_viewport(canvas), visual)
    return scene


def _ink_per_row(image: np.ndarray) -> list[float]:
    """Each line's ink across a row (px of black), averaged over the middle 40 rows."""
    ink = darkness(image)
    out = []
    for k in range(len(LINE_WIDTHS)):
        center = (-0.9 + 0.22 * k + 0.025 + 1.0) * 200
        out.append(float(ink[30:70, int(center) - 10:int(center) + 11].sum(axis=1).mean()))
    return out


@pytest.mark.parametrize("kind, join", [("segments", JoinStyle.ROUND), ("paths", JoinStyle.ROUND),
                                        ("paths", JoinStyle.MITER), ("paths", JoinStyle.BEVEL)])
def test_d_lines_hold_the_ink_of_their_width(kind: str, join: JoinStyle) -> None:
    # Agg's lines hold their width in ink (coverage); Datoviz's antialiased edge is a Gaussian,
    # which the drawer must compensate for without overshooting (0 -> 0.5 px, 1 -> 1.3 px before).
    reference, actual = render_both(_slanted_lines(kind, join))
    with kept_on_failure(f"line_ink_{kind}_{join.name.lower()}", reference, actual):
        for width, ink_ref, ink in zip(LINE_WIDTHS, _ink_per_row(reference), _ink_per_row(actual)):
            assert abs(ink_ref - width * 1.0) < 0.05 * width + 0.03  # Matplotlib: the width (±slant)
            assert abs(ink - ink_ref) < 0.05 * width + 0.03, (width, ink, ink_ref)


# -- E: invalid vertices break paths; segments with an invalid end are left out ---------------
def _dilate(mask: np.ndarray, px: int) -> np.ndarray:
    out = mask.copy()
    for dy in range(-px, px + 1):
        for dx in range(-px, px + 1):
            out |= np.roll(np.roll(mask, dy, axis=0), dx, axis=1)
    return out


def _assert_same_ink_places(reference: np.ndarray, actual: np.ndarray, margin: int = 2) -> None:
    """Datoviz draws nothing farther than ``margin`` px from Matplotlib's ink, and the reverse."""
    ref, act = darkness(reference) > 0.3, darkness(actual) > 0.3
    stray = act & ~_dilate(ref, margin)
    missing = ref & ~_dilate(act, margin)
    assert not stray.any(), f"{int(stray.sum())} pixels drawn where Matplotlib draws nothing, e.g. {np.argwhere(stray)[:3].tolist()}"
    assert not missing.any(), f"{int(missing.sum())} pixels of Matplotlib's not drawn, e.g. {np.argwhere(missing)[:3].tolist()}"


@pytest.mark.parametrize("join", list(JoinStyle))
@pytest.mark.parametrize("cap", [CapStyle.BUTT, CapStyle.ROUND])
def test_e_a_nan_vertex_breaks_a_path(join: JoinStyle, cap: CapStyle) -> None:
    # Two strokes either side of the NaN, each with its caps; a lone vertex between NaNs draws
    # nothing; the second path (no NaN) is unaffected.
    verts = [[-0.8, -0.5], [-0.5, 0.5], [np.nan, np.nan], [-0.2, -0.5], [0.1, 0.5], [np.nan, 0.0], [0.3, 0.0],
             [np.nan, np.nan], [0.5, -0.5], [0.8, 0.5], [0.8, -0.8], [-0.8, -0.8]]
    colors = scenes.rgba([[0, 0, 200, 255]])
    paths = Paths(scenes.vec3(verts), scenes.buf(np.array([10, 2], np.uint32), BufferType.uint32), colors,
                  scenes.floats([4.0]), cap, join)
    reference, actual = render_both(one_visual(paths, 128, 96))
    with kept_on_failure(f"path_nan_{join.name.lower()}_{cap.name.lower()}", reference, actual):
        _assert_same_ink_places(reference, actual)


def test_e_vertices_behind_the_camera_break_paths_and_clip_segments() -> None:
    # Eye at z = 2 looking down -z: along the path z = -2..4, the vertices at z >= 2 are behind
    # (or at) the eye. Both draw the part in front, up to the near plane (prepare_clip);
    # Datoviz once drew on towards a corner.
    camera = Camera(scenes.mat4(scenes.look_at([0, 0, 2], [0, 0, 0])), scenes.mat4(scenes.perspective(60.0, 1.0, 0.1, 10.0)))
    zs = np.linspace(-2.0, 4.0, 7)
    canvas = Canvas(128, 128, 72.0, WHITE)
    scene = scenes.Scene(canvas)
    viewport = scenes.full_viewport(canvas)
    red, green = scenes.rgba([[200, 0, 0, 255]]), scenes.rgba([[0, 150, 0, 255]])
    for join in (JoinStyle.ROUND, JoinStyle.BEVEL):
        x = 0.3 if join == JoinStyle.ROUND else 0.6
        scene.add(viewport, Paths(scenes.vec3(np.c_[np.full(7, x), np.full(7, -0.3), zs]),
                                  scenes.buf(np.array([7], np.uint32), BufferType.uint32), red, scenes.floats([3.0]),
                                  CapStyle.ROUND, join), camera=camera)
    scene.add(viewport, Segments(scenes.vec3([[-0.3, -0.3, -2.0], [-0.3, -0.3, 4.0], [-0.6, 0.6, 0.0], [np.nan, 0.6, 0.0],
                                              [-0.6, 0.8, 0.0], [0.6, 0.8, 0.0]]),
                                 scenes.floats([3.0]), CapStyle.ROUND, green), camera=camera)
    reference, actual = render_both(scene)
    with kept_on_failure("behind_the_camera", reference, actual):
        _assert_same_ink_places(reference, actual)


def test_e_sub_paths_cut_at_invalid_vertices() -> None:
    from player.backends.datoviz.drawer import _sub_paths
    from player.backends.prepare import PreparedPaths

    nan = np.nan
    xy = np.array([[0, 0], [1, 1], [nan, 0], [2, 2], [3, 3], [4, 4],  # path 0: cut after 2 vertices
                   [5, 5], [nan, nan], [6, 6], [nan, 1],  # path 1: lone vertices only
                   [7, 7], [8, 8],  # path 2: width 0
                   [9, 9]], np.float32)  # path 3: one vertex
    ndc = np.c_[xy, np.zeros(len(xy), np.float32)]
    widths = np.array([1.0] * 10 + [0.0, 0.0] + [1.0], np.float32)
    paths = PreparedPaths(ndc=ndc, px=xy, starts=np.array([0, 6, 10, 12, 12, 13]), colors=np.zeros((13, 4)),
                          widths_pt=widths, widths_px=widths, cap_style="butt", join_style="miter")
    index, lengths = _sub_paths(paths)
    assert index is not None and index.tolist() == [0, 1, 3, 4, 5] and lengths.tolist() == [2, 3]
    paths.ndc = np.nan_to_num(ndc)  # all valid: only the width-0, empty and one-vertex paths go
    index, lengths = _sub_paths(paths)
    assert index is not None and index.tolist() == list(range(10)) and lengths.tolist() == [6, 4]


def test_d_line_width_inverts_the_measured_ink() -> None:
    import math

    from player.backends.datoviz.drawer import datoviz_line_width

    def ink(w: float) -> float:  # Datoviz's line ink across a line drawn with width w (measured)
        return math.sqrt(math.pi) * math.erfc(1 - w / 2) if w < 2 else w - 2 + math.sqrt(math.pi)

    widths = np.array([0.02, 0.05, 0.1, 0.3, 0.7, 1.0, 1.5, 1.77, 1.78, 2.0, 5.0, 40.0], np.float32)
    mapped = datoviz_line_width(widths)
    assert mapped.dtype == np.float32
    assert np.allclose([ink(float(w)) for w in mapped], widths, rtol=0.01, atol=0.002)
    uniform = datoviz_line_width(np.broadcast_to(np.float32(1.0), (1000,)))
    assert uniform.strides == (0,) and uniform[0] == pytest.approx(1.183, abs=0.002)


def _triangle_grid(edge_alpha: int, edge_width_pt: float, n: int = 8) -> tuple[scenes.Scene, np.ndarray]:
    """An n × n grid of white triangles (six at each inner vertex) with black edges of alpha
    ``edge_alpha``, 300 px at 100 dpi; and the inner vertices' (row, column) in the image."""
    from gsp.constants import Constants
    from gsp.geometry import MeshGeometry
    from gsp.materials import MeshBasicMaterial
    from gsp.visuals.mesh import Mesh

    ticks = np.linspace(-0.8, 0.8, n)
    x, y = np.meshgrid(ticks, ticks)
    positions = np.c_[x.ravel(), y.ravel(), np.zeros(n * n)]
    i, j = np.meshgrid(np.arange(n - 1), np.arange(n - 1))
    a = (j * n + i).ravel()
    indices = np.stack([np.stack([a, a + 1, a + n + 1], 1), np.stack([a, a + n + 1, a + n], 1)], 1).reshape(-1)
    geometry = MeshGeometry(scenes.vec3(positions), scenes.buf(indices.astype(np.uint32), BufferType.uint32), None, None)
    material = MeshBasicMaterial(scenes.rgba([[255, 255, 255, 255]]), scenes.rgba([[0, 0, 0, edge_alpha]]),
                                 scenes.floats([edge_width_pt]), False, Constants.FaceCulling.BothSides)
    canvas = Canvas(300, 300, 100.0, WHITE)
    scene = scenes.Scene(canvas)
    scene.add(scenes.full_viewport(canvas), Mesh(geometry, material))
    inner = np.rint((ticks[1:-1] + 1.0) / 2.0 * 300).astype(int)
    return scene, np.array([(300 - r, c) for r in inner for c in inner])


@pytest.mark.parametrize("edge_alpha", [40, 80])
def test_f_translucent_mesh_edges_do_not_stack_at_the_vertices(edge_alpha: int) -> None:
    """Every triangle's edges are drawn, so six triangles end twelve segments at a vertex: with
    round caps their alpha stacked into a dark dot (alpha 80: darkest pixel 6, Matplotlib's 66;
    the darkest pixel near each vertex 13 against 85). Thin translucent edges now end short of
    the vertices, butt: the vertices are about as dark as Matplotlib's."""
    scene, vertices = _triangle_grid(edge_alpha, 1.0)
    reference, actual = render_both(scene)

    def gray(image: np.ndarray) -> np.ndarray:
        return image[..., :3].astype(np.float64).mean(axis=2)

    def vertex_darkest(image: np.ndarray) -> float:  # median over the inner vertices
        g = gray(image)
        return float(np.median([g[r - 2:r + 2, c - 2:c + 2].min() for r, c in vertices]))

    at_vertices = (vertex_darkest(actual), vertex_darkest(reference))  # (Datoviz, Matplotlib)
    darkest = (gray(actual).min(), gray(reference).min())
    ink = (255 - gray(actual)).sum() / (255 - gray(reference)).sum()
    with kept_on_failure(f"mesh_edges_alpha{edge_alpha}", reference, actual):
        assert abs(at_vertices[0] - at_vertices[1]) <= 15, at_vertices
        assert abs(darkest[0] - darkest[1]) <= 30, darkest
        assert 0.9 <= ink <= 1.1, ink  # the edges as dark as Matplotlib's along their length
        assert ssim(reference, actual) >= 0.9


# -- G: translucent bevel paths are blended once, joints included -------------------------------
@pytest.mark.parametrize("cap", list(CapStyle))
@pytest.mark.parametrize("per_vertex", [False, True])
def test_g_a_translucent_bevel_path_is_blended_once(cap: CapStyle, per_vertex: bool) -> None:
    # Matplotlib strokes a path (or each per-vertex piece [mid, v, mid]) as one outline, filled
    # once. Bevel paths were built from overlapping pieces (half-segments, corner triangles on
    # both sides, round-cap discs over the end halves): with alpha 128 every joint and round end
    # came out darker (blended twice or three times).
    verts = [[-0.8, -0.5], [-0.4, 0.5], [0.0, -0.5], [0.35, 0.4], [0.8, 0.3], [0.6, -0.6]]
    if per_vertex:
        colors = scenes.rgba([[0, 0, 200, 128], [200, 0, 0, 128], [0, 150, 0, 128], [0, 0, 200, 128],
                              [200, 0, 0, 128], [0, 150, 0, 128]])
    else:
        colors = scenes.rgba([[0, 0, 200, 128]])
    paths = Paths(scenes.vec3(verts), scenes.buf(np.array([len(verts)], np.uint32), BufferType.uint32), colors,
                  scenes.floats([10.0]), cap, JoinStyle.BEVEL)
    reference, actual = render_both(one_visual(paths, 160, 120))
    with kept_on_failure(f"bevel_translucent_{cap.name.lower()}_{per_vertex}", reference, actual):
        ref, act = darkness(reference), darkness(actual)
        assert act.max() <= ref.max() + 0.04, (act.max(), ref.max())  # once blended: as dark as Matplotlib
        assert abs(act.sum() - ref.sum()) < 0.05 * ref.sum(), (act.sum(), ref.sum())  # as much ink
        _assert_same_ink_places(reference, actual)


# -- H: discs larger than Datoviz's largest point sprite ----------------------------------------
@pytest.mark.parametrize("face_alpha, edge_pt", [(255, 0.0), (255, 4.0), (128, 4.0)])
def test_h_a_disc_wider_than_a_sprite_keeps_its_size(face_alpha: int, edge_pt: float) -> None:
    # Datoviz draws markers as point sprites, which the device caps (lavapipe: 255 px); a
    # 400 px disc came out 253 px wide (a translucent face 253 px inside its 400 px ring). A
    # small disc of the same visual stays a sprite, drawn as before.
    points = Points(scenes.vec3([[0.0, 0.0], [-0.8, 0.8]]), scenes.floats([400.0 ** 2, 20.0 ** 2]),
                    scenes.rgba([[0, 0, 0, face_alpha]]), scenes.rgba([[200, 0, 0, 255]]), scenes.floats([edge_pt]))
    reference, actual = render_both(one_visual(points, 480, 480))
    with kept_on_failure(f"big_disc_{face_alpha}_{edge_pt}", reference, actual):
        ref, act = darkness(reference), darkness(actual)
        for row in (240, 100, 380):  # ink across the middle and off the middle (a chord)
            assert abs(act[row].sum() - ref[row].sum()) < 2.0, (row, act[row].sum(), ref[row].sum())
        assert abs(act[:60, :60].sum() - ref[:60, :60].sum()) < 0.05 * ref[:60, :60].sum()  # the small one
        _assert_same_ink_places(reference, actual)


# -- I: per-vertex widths and colors of miter and round paths -----------------------------------
def _per_vertex_path(join: JoinStyle, cap: CapStyle) -> scenes.Scene:
    verts = [[-0.8, -0.3], [-0.3, 0.4], [0.2, -0.4], [0.75, 0.2]]
    colors = scenes.rgba([[0, 0, 0, 255], [220, 0, 0, 255], [0, 0, 220, 255], [0, 120, 0, 255]])
    paths = Paths(scenes.vec3(verts), scenes.buf(np.array([4], np.uint32), BufferType.uint32), colors,
                  scenes.floats([2.0, 12.0, 6.0, 3.0]), cap, join)
    return one_visual(paths, 200, 120)


@pytest.mark.parametrize("join", [JoinStyle.MITER, JoinStyle.ROUND])
@pytest.mark.parametrize("cap", list(CapStyle))
def test_i_per_vertex_path_widths_and_colors_change_at_the_midpoints(join: JoinStyle, cap: CapStyle) -> None:
    # Matplotlib draws such a path as pieces [mid, vertex, mid], each in its vertex's color and
    # width. Datoviz's path visual interpolated both along the path: a 2 px end tapered up to
    # 12 px (ink misplaced by up to 5 px) and colors blended (black to red across a segment).
    reference, actual = render_both(_per_vertex_path(join, cap))
    with kept_on_failure(f"path_per_vertex_{join.name.lower()}_{cap.name.lower()}", reference, actual):
        _assert_same_ink_places(reference, actual, margin=1)
        ref, act = reference[..., :3].astype(int), actual[..., :3].astype(int)
        strong = (darkness(reference) > 0.5) & (darkness(actual) > 0.5)
        assert np.abs(ref - act).max(axis=2)[strong].mean() < 12  # the same colors where both draw


@pytest.mark.parametrize("cap", [CapStyle.ROUND, CapStyle.PROJECTING])
def test_i_per_vertex_paths_end_with_their_caps_in_both_backends(cap: CapStyle) -> None:
    # Red 10 px, blue 4 px, green 6 px along a horizontal line: the caps past the end vertices
    # (at 20 and 80 px) in the end vertices' colors and widths. Matplotlib's were stubs 1e-3 NDC
    # long that pixel snapping made of no length: its per-vertex paths ended butt.
    verts = [[-0.6, 0.1], [0.0, 0.1], [0.6, 0.1]]
    colors = scenes.rgba([[255, 0, 0, 255], [0, 0, 255, 255], [0, 160, 0, 255]])
    paths = Paths(scenes.vec3(verts), scenes.buf(np.array([3], np.uint32), BufferType.uint32), colors,
                  scenes.floats([10.0, 4.0, 6.0]), cap, JoinStyle.MITER)
    reference, actual = render_both(one_visual(paths, 100, 100))
    with kept_on_failure(f"path_per_vertex_caps_{cap.name.lower()}", reference, actual):
        _assert_same_ink_places(reference, actual, margin=1)
        ref, act = darkness(reference), darkness(actual)
        for columns, width in ((np.s_[:20], 10.0), (np.s_[80:], 6.0)):
            # half the width beyond the end; Datoviz's edges are about a pixel softer
            assert ref[:, columns].sum() > 0.4 * width * width / 2  # red and green: darkness 2/3, 0.8
            assert ref[:, columns].sum() == pytest.approx(act[:, columns].sum(), rel=0.25)


@pytest.mark.parametrize("join", [JoinStyle.MITER, JoinStyle.ROUND])
def test_i_translucent_pieces_meet_without_a_dark_seam(join: JoinStyle) -> None:
    # The pieces' butt ends overhang in Datoviz: untrimmed, each midpoint was a dark line
    # (alpha 128 blended twice over 2 columns).
    verts = [[-0.8, 0.0], [-0.2, 0.1], [0.4, 0.0], [0.8, 0.05]]
    colors = scenes.rgba([[0, 0, 0, 128], [60, 0, 0, 128], [0, 0, 60, 128], [0, 0, 0, 128]])
    paths = Paths(scenes.vec3(verts), scenes.buf(np.array([4], np.uint32), BufferType.uint32), colors,
                  scenes.floats([8.0]), CapStyle.BUTT, join)
    reference, actual = render_both(one_visual(paths, 200, 60))
    with kept_on_failure(f"path_piece_seams_{join.name.lower()}", reference, actual):
        ref, act = darkness(reference).sum(axis=0), darkness(actual).sum(axis=0)
        assert act[20:180].max() < ref[20:180].max() + 0.4, (act[20:180].max(), ref[20:180].max())
