"""Matplotlib backend: what is drawn at the edges of a stroke and of a viewport.

- a path with per-vertex colors or widths, which the backend cuts into butt-ended pieces, keeps
  its round and projecting end caps, as large as Matplotlib draws them on a one-color path;
- nothing a visual draws lands outside its viewport's pixel rectangle.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gsp_scenes import WHITE, Scene, buf, floats, full_viewport, rgba, vec3
from imagecmp import FAILED_DIR, save_png

from gsp.core.canvas import Canvas
from gsp.types.buffer_type import BufferType
from gsp.types.enums import CapStyle, JoinStyle
from gsp.visuals.paths import Paths
from player.backends.matplotlib import MatplotlibRenderer

RED, BLUE, GREEN = [255, 0, 0, 255], [0, 0, 255, 255], [0, 160, 0, 255]


def _render(scene: Scene) -> np.ndarray:
    renderer = MatplotlibRenderer(scene.canvas)
    try:
        return renderer.render_rgba(*scene.args)
    finally:
        renderer.close()


def _kept(name: str, *images: np.ndarray) -> Path:
    """Where the images of a failed check are saved side by side (for a look)."""
    path = FAILED_DIR / f"{name}.png"
    save_png(np.concatenate(images, axis=1), path)
    return path


# -- end caps of paths cut into pieces ---------------------------------------------------------
def _path(verts: list[list[float]], colors: list[list[int]], widths: list[float], cap: CapStyle,
          size: tuple[int, int] = (100, 100)) -> Scene:
    canvas = Canvas(size[0], size[1], 72.0, WHITE)  # 72 dpi: 1 pt = 1 px
    scene = Scene(canvas)
    paths = Paths(vec3(verts), buf(np.array([len(verts)], np.uint32), BufferType.uint32), rgba(colors),
                  floats(widths), cap, JoinStyle.MITER)
    scene.add(full_viewport(canvas), paths)
    return scene


@pytest.mark.parametrize("cap", [CapStyle.ROUND, CapStyle.PROJECTING])
@pytest.mark.parametrize("vertical", [False, True])
def test_a_per_vertex_path_keeps_its_end_caps(cap: CapStyle, vertical: bool) -> None:
    # Red 10 px at the first end, blue 4 px in the middle, green 6 px at the last end: each end
    # region must be what Matplotlib draws for a one-color path of that end's color and width.
    # The caps were stubs 1e-3 NDC long, which pixel snapping made of no length: no cap drawn.
    verts = [[-0.6, 0.1], [0.0, 0.1], [0.6, 0.1]]
    if vertical:
        verts = [[y, x] for x, y in verts]
    cut = _render(_path(verts, [RED, BLUE, GREEN], [10.0, 4.0, 6.0], cap))
    first = _render(_path(verts, [RED] * 3, [10.0], cap))
    last = _render(_path(verts, [GREEN] * 3, [6.0], cap))
    if vertical:  # the first end on the left again
        cut, first, last = (np.swapaxes(image, 0, 1)[:, ::-1] for image in (cut, first, last))
    # The end vertices are 20 px from the canvas's sides; the cuts at 35 and 65 px.
    near, far = np.s_[:30], np.s_[70:]
    ok = np.abs(cut[:, near].astype(int) - first[:, near]).max() <= 2 and \
        np.abs(cut[:, far].astype(int) - last[:, far]).max() <= 2
    assert ok, f"end regions differ from the one-color paths' (saved in {_kept(f'caps_{cap.name}', cut, first, last)})"
    cap_ink = 255 - cut[:, 10:20, 1].astype(int)  # columns 10..19: past the first end vertex
    assert cap_ink.sum() / 255 > 0.4 * 10 * 5  # half the width's width beyond the end: a real cap

    # Slanted, not snapped to pixels, the ends show their antialiasing: the cap's inner half
    # lies under the end piece, whose sides add a little to the cap's along w/2. The ink past
    # the end vertices (x < 20 px and x >= 80 px) is the one-color path's.
    verts = [[-0.6, -0.4], [0.0, 0.1], [0.6, 0.3]]
    ink = [(255 - _render(_path(verts, colors, widths, cap))[..., 1].astype(float)) / 255
           for colors, widths in (([RED, BLUE, RED], [10.0, 4.0, 10.0]), ([RED] * 3, [10.0]))]
    for columns in (np.s_[:20], np.s_[80:]):
        assert ink[0][:, columns].sum() == pytest.approx(ink[1][:, columns].sum(), rel=0.04)
        assert ink[1][:, columns].sum() > 20


# -- nothing outside a viewport ----------------------------------------------------------------
EDGES = [[1.0, 0.3], [-1.0, 0.3], [0.2, 1.0], [0.2, -1.0], [1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]]


def _edge_scene(kind: str, dpi: float) -> Scene:
    """A viewport (20, 30) 100 × 70 px on a 160 × 120 canvas, red markers centred on its four
    sides and corners, blue markers of several sizes (drawn by another Agg path) and green
    segments and a path running out across its sides."""
    from gsp.core.viewport import Viewport
    from gsp.types.enums import MarkerShape
    from gsp.visuals.markers import Markers
    from gsp.visuals.points import Points
    from gsp.visuals.segments import Segments

    canvas = Canvas(160, 120, dpi, WHITE)
    scene = Scene(canvas)
    viewport = Viewport(20, 30, 100, 70, bytearray([255, 255, 220, 255]))
    if kind == "points":
        scene.add(viewport, Points(vec3(EDGES), floats([150.0]), rgba([RED]), rgba([RED]), floats([0.0])))
    else:  # one size, one color: Matplotlib's fast path for markers
        scene.add(viewport, Markers(MarkerShape(kind), vec3(EDGES), floats([150.0]), rgba([RED]), rgba([RED]),
                                    floats([0.0])))
    scene.add(viewport, Markers(MarkerShape.disc, vec3([[1.0, -0.5], [-1.0, -0.5], [-0.5, 1.0], [0.6, -1.0]]),
                                floats([40.0, 60.0, 80.0, 100.0]), rgba([BLUE]), rgba([BLUE]), floats([1.0])))
    green = rgba([GREEN])
    scene.add(viewport, Segments(vec3([[0.5, 0.0], [1.5, -0.2], [-0.2, 0.0], [-0.6, -1.5]]), floats([5.0]),
                                 CapStyle.PROJECTING, green))
    scene.add(viewport, Paths(vec3([[-0.1, 0.5], [0.5, 0.5], [1.4, 0.65]]),
                              buf(np.array([3], np.uint32), BufferType.uint32), green, floats([4.0]),
                              CapStyle.ROUND, JoinStyle.MITER))
    return scene


@pytest.mark.parametrize("dpi", [72.0, 100.0])
@pytest.mark.parametrize("kind", ["points", "square", "disc"])
def test_nothing_is_drawn_outside_the_viewport(kind: str, dpi: float) -> None:
    # Uniform markers are blitted by Agg's draw_markers, which clipped with the viewport's box
    # taken as inclusive: a column right of the viewport and a row below it were drawn.
    image = _render(_edge_scene(kind, dpi))
    inside = np.zeros(image.shape[:2], bool)
    inside[20:90, 20:120] = True  # rows from the top: 120 - 30 - 70 = 20 .. 89; columns 20 .. 119
    stray = (image[..., :3] != 255).any(axis=2) & ~inside
    assert not stray.any(), f"{int(stray.sum())} pixels outside, e.g. (row, col) {np.argwhere(stray)[:4].tolist()} " \
                            f"(saved in {_kept(f'viewport_edges_{kind}', image)})"
    red = (image[..., 0] > 200) & (image[..., 1] < 80) & (image[..., 2] < 80)
    # The red markers still reach the viewport's own last pixels: column 119 and row 89.
    for row, col in ((89, 119), (89, 20), (20, 119), (20, 20), (44, 119), (89, 80)):
        assert red[row, col], (row, col)
