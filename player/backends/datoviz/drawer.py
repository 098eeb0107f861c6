"""Drawing prepared GSP visuals (``player.backends.prepare``) with one :class:`DatovizEngine`.

Each render is a list of :class:`DrawItem` (one prepared visual in one viewport). The drawer
turns every item into Datoviz layers and keeps them alive between renders: when the structure
(canvas size, viewport rectangles, layer kinds and counts) is the same as last time, only the
arrays whose content changed are uploaded; otherwise the scene is rebuilt.

What Datoviz lacks is emulated on the CPU before upload (see docs/datoviz.md):
- disc edges: with opaque faces each point becomes two filled discs drawn in order, the edge
  color at ``d + w`` and the face color at ``d - w`` (a centered stroke); with faces that are
  not opaque (hollow markers) the face disc is drawn, then the edge as a path around it;
- other marker shapes: mesh triangles, per marker the face then the edge as a ring strip;
- line widths: chosen so that Datoviz's antialiased lines hold the ink of the requested width
  (:func:`datoviz_line_width`); width-0 lines and size-0 markers are left out;
- invalid vertices (NaN, behind the camera) cut paths into sub-paths, as Matplotlib does;
- texts: drawn by Matplotlib's Agg text engine (same font and metrics as the Matplotlib backend)
  into an image;
- mesh lighting, culling and sorting: done in ``prepare_mesh``; the triangles are drawn flat in
  painter's order; mesh edges are segments drawn after the faces (thin translucent ones with
  butt ends short of the vertices, where round caps stacked their alpha);
- bevel joins (Datoviz has miter and round only): butt half-segments plus a triangle filling
  each corner, and the end caps, built on the CPU.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from player.backends.datoviz.bevel import bevel_triangles
from player.backends.datoviz.engine import (
    DatovizEngine,
    Layer,
    Panel,
    clip_rect,
    fingerprint,
    is_uniform,
    unmix_alpha,
)
from player.backends.datoviz.text_raster import rasterize_texts
from player.backends.prepare import PreparedPoints

__all__ = ["DrawItem", "DatovizDrawer", "MARKER_SCALE", "datoviz_line_width", "warn_once"]

# Datoviz size that gives a shape the same extent as the Matplotlib backend's marker of
# diameter 1 (its outline fits the box [-0.5, 0.5]²); measured on rendered frames.
MARKER_SCALE: dict[str, float] = {"disc": 1.0, "square": 1.0}

# Datoviz's SDF shapes that match the Matplotlib backend's outlines closely (disc, square) are
# drawn as markers; every other shape is drawn from the Matplotlib backend's own outline
# (player.backends.matplotlib.markers), triangulated on the CPU into mesh triangles.
SDF_MARKERS = frozenset({"disc"})
# Agg snaps the outline vertices of rectilinear markers to pixel centers and strokes them with
# a whole number of pixels; doing the same keeps their edges on the same pixels.
_RECTILINEAR = frozenset({"square", "vbar", "hbar"})
# Datoviz's antialiased SDF edge makes a marker look ~0.7 px smaller than its size.
SDF_GROWTH_PX = 0.7
# Disc edges thinner than this are drawn with their outer ring this wide, their color's alpha
# scaled so that the ring holds the same ink: Datoviz's two nested SDF discs leave a thinner
# ring beaded (solid at the axes, gone at the diagonals), where Agg draws an even, faint ring.
# 1 px: the angular spread of the ink around a 69 px disc falls from 15 % to 5-7 % at 0.35-0.7 px
# edges (Agg 3 %), its total within 8 % of Agg's; the examples' SSIM against Matplotlib rises
# (points 0.980 -> 0.986, viewports 0.950 -> 0.976). 1.5 and 2 px rings are as even, but wider
# than Agg's line: SSIM falls (2 px: 0.947, 0.913).
MIN_DISC_EDGE_PX = 1.0
# Above this many markers, centers are not snapped to pixel centers (a sub-pixel detail that
# costs several passes over the positions).
SNAP_MAX_POINTS = 10_000
# Datoviz draws markers as point sprites, whose size the device caps (Vulkan's maxPointSize:
# lavapipe 255 px, where a 400 px disc came out 253 px wide; NVIDIA's is larger). A disc whose
# sprite would be wider than this is drawn as a polygon of mesh triangles instead (as the
# other shapes are: exact size, hard edge), after the visual's smaller discs.
MAX_SPRITE_PX = 250.0
# Datoviz's lines (segment and path visuals) have a Gaussian antialiased edge: drawn with width
# w', a line holds sqrt(pi)·erfc(1 - w'/2) px of ink across it below w' = 2 px and w' - (2 -
# sqrt(pi)) above, i.e. 0.23 px less (measured on slanted lines from w' = -3 to 6 px, to 0.01 px;
# a negative width still draws, fainter). Agg's lines hold their width in ink, so each line is
# drawn with the w' whose ink is its width (a constant +0.5 px gave 0 -> 0.51, 1 -> 1.28 px).
_SQRT_PI = float(np.sqrt(np.pi))
_THIN_WIDTHS = np.linspace(-3.0, 2.0, 501)
_THIN_INK = _SQRT_PI * np.array([math.erfc(1.0 - w / 2.0) for w in _THIN_WIDTHS])
# Datoviz's butt caps overhang the end points with a soft edge: ends are pulled in.
BUTT_TRIM_PX = 1.0
# Where two pieces of a per-vertex path meet, each ends this far short of the midpoint. Ink
# across the seam (8 px line, 2 columns), Agg 7.74 (opaque) and 3.97 (alpha 128): untrimmed
# 8.53 and 5.73 (a dark line), 0.75 px 7.92 and 4.37, 0.8 px 7.75 and 4.22, 1 px 6.77 and 3.57
# (a light gap).
PIECE_TRIM_PX = 0.8
# Translucent mesh edges thinner than MESH_EDGE_THIN_PX are butt segments pulled in by
# MESH_EDGE_TRIM_PX from the vertices. Every triangle's three edges are drawn (as Matplotlib
# strokes each triangle), so a vertex of six triangles ends twelve segments: with round caps
# their alpha stacked into a dark dot (alpha 80, 1 pt at 100 dpi: darkest pixel 6, Matplotlib
# 66). Measured on a grid of such triangles at alpha 40-160: the darkest pixel around a vertex
# is then within 10 levels of Matplotlib's up to 1.4 px, up to 25 lighter at 1.5-1.9 px (pulled
# in by 1 px: 10-75 levels darker), SSIM within 0.005. From 2 px on, the gap left at the vertex
# shows as a light pinhole in a dark ring: wider translucent edges keep round caps (and dark
# vertices, docs/datoviz.md).
MESH_EDGE_TRIM_PX = 1.5
MESH_EDGE_THIN_PX = 2.0


def datoviz_line_width(width_px: Any) -> np.ndarray:
    """The Datoviz line width (px, float32) whose ink is ``width_px``, keeping a broadcast
    (stride-0) array broadcast. Widths under 0.001 px map to -3 px (invisible)."""
    width = np.asarray(width_px, np.float32)
    if is_uniform(width):
        return np.broadcast_to(datoviz_line_width(width[:1]), width.shape)
    thin = np.interp(width, _THIN_INK, _THIN_WIDTHS).astype(np.float32)
    return np.where(width >= _SQRT_PI, width + np.float32(2.0 - _SQRT_PI), thin).astype(np.float32)


def _ccw(poly: np.ndarray) -> np.ndarray:
    area = np.sum(poly[:, 0] * np.roll(poly[:, 1], -1) - np.roll(poly[:, 0], -1) * poly[:, 1])
    return poly if area > 0 else poly[::-1]


def marker_outlines(shape: str) -> list[np.ndarray]:
    """The closed CCW polygons (K, 2) of a marker shape, in units of its size (fits ±0.5)."""
    cached = _OUTLINES.get(shape)
    if cached is None:
        from player.backends.matplotlib.markers import marker_path

        polys = [np.asarray(poly, np.float64) for poly in marker_path(shape).to_polygons(closed_only=True)]
        cached = [_ccw(poly[:-1]) for poly in polys if poly.shape[0] > 3]
        _OUTLINES[shape] = cached
    return cached


_OUTLINES: dict[str, list[np.ndarray]] = {}


def offset_polygon(poly: np.ndarray, size: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """CCW outline ``poly`` (K, 2) scaled by ``size`` (N,) and offset outwards by ``delta`` (N,)
    px with miter corners, clamped at twice the offset (a centered stroke's outer or inner
    edge) -> (N, K, 2).
    """
    edges = np.roll(poly, -1, axis=0) - poly
    normals = np.stack([edges[:, 1], -edges[:, 0]], axis=1)  # outward for CCW
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    before, after = np.roll(normals, 1, axis=0), normals
    miter = (before + after) / np.maximum(1.0 + np.sum(before * after, axis=1, keepdims=True), 0.25)
    return poly[None] * size[:, None, None] + miter[None] * delta[:, None, None]


def _signed_area(polys: np.ndarray) -> np.ndarray:
    nxt = np.roll(polys, -1, axis=1)
    return 0.5 * np.sum(polys[..., 0] * nxt[..., 1] - nxt[..., 0] * polys[..., 1], axis=1)


def _fan(polys: np.ndarray) -> np.ndarray:
    """Triangles (N, K, 3, 2) filling star-shaped polygons (N, K, 2) from their vertex mean."""
    center = np.broadcast_to(polys.mean(axis=1, keepdims=True), polys.shape)
    return np.stack([center, polys, np.roll(polys, -1, axis=1)], axis=2)


def _strip(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Triangles (N, 2K, 3, 2) filling the band between two polygons (N, K, 2) whose vertices
    correspond (a stroke's outer and inner edges): two triangles per edge."""
    o1, i1 = np.roll(outer, -1, axis=1), np.roll(inner, -1, axis=1)
    return np.concatenate([np.stack([outer, o1, i1], axis=2), np.stack([outer, i1, inner], axis=2)], axis=1)


# A disc ring drawn as a polygonal path deviates from its circle by at most this much (px).
RING_SAGITTA_PX = 0.1
# A ring is an open path whose butt ends meet: each end overhangs with a soft edge, so they are
# pulled in along the circle. Measured on 1.5 and 4 px rings (40 px), extra ink across the seam
# per row: 0.5-0.9 px untrimmed, 0.2-0.3 px at 0.75 px; 1 px opens a gap in opaque rings.
# (Datoviz's closed-path flag leaves a gap there; round caps overlap a whole disc.)
RING_SEAM_TRIM_PX = 0.75


def _ring_vertex_count(radius_px: float) -> int:
    """How many vertices a circle of ``radius_px`` needs to stay within RING_SAGITTA_PX."""
    if radius_px <= RING_SAGITTA_PX:
        return 12
    return int(np.clip(np.ceil(np.pi / np.arccos(1.0 - RING_SAGITTA_PX / radius_px)), 12, 256))


def _circle_paths(ndc: np.ndarray, radius_px: np.ndarray, frame: Any) -> tuple[np.ndarray, int]:
    """Circles (M, 2) NDC centers, radii in px -> (M * (K + 1), 3) path vertices and K + 1: each
    circle from angle 0 round to 2π, both ends pulled in by RING_SEAM_TRIM_PX along it."""
    k = _ring_vertex_count(float(radius_px.max()) if radius_px.size else 0.0)
    r = radius_px.astype(np.float64)
    # At most half a step: a small circle keeps its shape.
    trim = np.minimum(RING_SEAM_TRIM_PX / np.maximum(r, 1e-6), np.pi / k)[:, None]
    t = trim + np.linspace(0.0, 1.0, k + 1)[None, :] * (2.0 * np.pi - 2.0 * trim)  # (M, K + 1)
    out = np.zeros((ndc.shape[0], k + 1, 3), np.float32)
    out[..., 0] = ndc[:, None, 0] + r[:, None] * np.cos(t) * (2.0 / frame.width)
    out[..., 1] = ndc[:, None, 1] + r[:, None] * np.sin(t) * (2.0 / frame.height)
    return out.reshape(-1, 3), k + 1


_warned: set[str] = set()


def warn_once(feature: str, fallback: str) -> None:
    """Warn once per process that the Datoviz backend cannot draw ``feature`` exactly."""
    if feature not in _warned:
        _warned.add(feature)
        warnings.warn(f"Datoviz backend: {feature} is not supported by Datoviz; {fallback}", RuntimeWarning, stacklevel=3)


@dataclass
class DrawItem:
    """One prepared visual (``player.backends.prepare.Prepared*``) in one viewport frame.

    ``viewport`` identifies the viewport (its GSP uuid): items of one viewport share a Datoviz
    panel, distinct viewports get distinct panels even where their rectangles are the same.
    None: the frame's rectangle stands for the viewport.
    """

    frame: Any  # player.backends.prepare.ViewportFrame
    prepared: Any
    viewport: Hashable | None = None


# A layer request: kind, item count, creation options, and how to fill the layer.
_Op = tuple[str, int, tuple[tuple[str, Any], ...], Callable[[Layer], None]]

_FAR = np.float32(1e6)  # where hidden items go (NaN positions, pixels outside the viewport)


def _clean_positions(ndc: Any) -> tuple[Any, Any]:
    """(positions with z set to 0 and the rows whose x or y is not finite moved far away, mask
    of the valid rows). Matplotlib draws from x and y only."""
    ndc = np.asarray(ndc, dtype=np.float32).reshape(-1, 3)
    valid = np.isfinite(ndc[:, :2]).all(axis=1)
    out = ndc.copy()
    out[:, 2] = 0.0  # no depth test: draw order is the painter's order, as Matplotlib
    out[~valid] = _FAR
    return out, valid


def _lazy_add(array: Any, value: float) -> np.ndarray:
    """``array + value`` as float32, keeping a broadcast (stride-0) array broadcast."""
    array = np.asarray(array, np.float32)
    if is_uniform(array):
        return np.broadcast_to(array[:1] + np.float32(value), array.shape)
    return array + np.float32(value)


def _lazy_mul(array: np.ndarray, value: float) -> np.ndarray:
    if is_uniform(array):
        return np.broadcast_to(array[:1] * np.float32(value), array.shape)
    return array * np.float32(value)


def _any_edge(widths: Any, colors: Any) -> bool:
    """Whether any item has a visible edge (O(1) for broadcast attributes)."""
    widths, colors = np.asarray(widths), np.asarray(colors)
    if widths.shape[0] == 0:
        return False
    w = widths[:1] if is_uniform(widths) else widths
    a = colors[:1, 3] if is_uniform(colors) else colors[:, 3]
    return bool(((w > 0) & (a > 0)).any())  # (1,) and (N,) broadcast


def _all_opaque(colors: Any) -> bool:
    """Whether every color has alpha 1 (O(1) for broadcast colors)."""
    colors = np.asarray(colors)
    a = colors[:1, 3] if is_uniform(colors) else colors[:, 3]
    return bool((a >= 1.0).all())


def _uniform_attributes(p: Any) -> bool:
    """True when every marker has the same size, colors and edge width."""
    arrays = [np.asarray(a) for a in (p.diameters_px, p.face_colors, p.edge_colors, p.edge_widths_px)]
    return all(a.shape[0] <= 1 or is_uniform(a) or bool((a == a[:1]).all()) for a in arrays)


def _snap_to_pixel_centers(ndc: np.ndarray, frame: Any) -> np.ndarray:
    """Move marker centers to the center of the pixel they fall in (x right, y up), as the
    Matplotlib backend does for markers of uniform attributes (Agg's cached-marker path)."""
    out = ndc.copy()
    x = (ndc[:, 0] + 1.0) * (0.5 * frame.width)
    y = (ndc[:, 1] + 1.0) * (0.5 * frame.height)
    out[:, 0] = (np.floor(x) + 0.5) * (2.0 / frame.width) - 1.0
    out[:, 1] = (np.floor(y) + 0.5) * (2.0 / frame.height) - 1.0
    far = ndc[:, 0] >= _FAR
    out[far] = ndc[far]
    return out


def _snap_axis_aligned(starts: np.ndarray, ends: np.ndarray, widths: np.ndarray, frame: Any) -> tuple[np.ndarray, np.ndarray]:
    """Snap horizontal and vertical segments as Matplotlib's Agg does: coordinates go to pixel
    centers for odd (rounded) line widths and to pixel edges for even ones."""
    to_px = np.array([0.5 * frame.width, 0.5 * frame.height], np.float64)
    a = (starts[:, :2].astype(np.float64) + 1.0) * to_px
    b = (ends[:, :2].astype(np.float64) + 1.0) * to_px
    a[:, 1] = frame.height - a[:, 1]  # Agg snaps in rows counted from the top
    b[:, 1] = frame.height - b[:, 1]
    aligned = (np.abs(a[:, 0] - b[:, 0]) < 1e-4) | (np.abs(a[:, 1] - b[:, 1]) < 1e-4)
    if not aligned.any():
        return starts, ends
    half = np.where(np.rint(widths) % 2 == 1, 0.5, 0.0)[:, None]
    sa, sb = np.floor(a + 0.5) + half, np.floor(b + 0.5) + half
    out_s, out_e = starts.copy(), ends.copy()
    for out, snapped in ((out_s, sa), (out_e, sb)):
        snapped[:, 1] = frame.height - snapped[:, 1]
        ndc = snapped / to_px - 1.0
        out[aligned, :2] = ndc[aligned]
    return out_s, out_e


def _trim_ends(starts: np.ndarray, ends: np.ndarray, trim_px: float, frame: Any) -> tuple[np.ndarray, np.ndarray]:
    """Pull both ends of each segment in by ``trim_px`` pixels (Datoviz's butt caps overhang)."""
    if trim_px == 0.0:
        return starts, ends
    to_px = np.array([0.5 * frame.width, 0.5 * frame.height], np.float32)
    d = (ends[:, :2] - starts[:, :2]) * to_px
    length = np.linalg.norm(d, axis=1, keepdims=True)
    step = np.where(length > 2 * trim_px, trim_px / np.maximum(length, 1e-6), 0.0) * d / to_px
    s, e = starts.copy(), ends.copy()
    s[:, :2] += step
    e[:, :2] -= step
    return s, e


def _sub_paths(p: Any) -> tuple[np.ndarray | None, np.ndarray]:
    """The polylines to draw from prepared paths, as Matplotlib draws them: (vertex indices into
    the path arrays, or None for all of them in order; (P,) uint32 vertex counts).

    Each path is cut at its invalid vertices (x or y not finite: NaN given, or behind the
    camera), where Matplotlib breaks a line; pieces of fewer than 2 vertices, and paths whose
    widths are all 0, are left out (Matplotlib draws nothing for them).
    """
    starts = np.asarray(p.starts, np.int64)
    lengths = np.diff(starts)
    ndc = np.asarray(p.ndc)
    valid = np.isfinite(ndc[:, 0]) & np.isfinite(ndc[:, 1])
    widths = np.asarray(p.widths_px)
    filled = lengths > 0
    if is_uniform(widths) or widths.size == 0:
        wide = np.full(lengths.shape, bool(widths.size and widths[0] > 0))
    else:  # the widest vertex of each non-empty path (their vertex ranges are contiguous)
        wide = np.zeros(lengths.shape, bool)
        wide[filled] = np.maximum.reduceat(widths, starts[:-1][filled]) > 0
    if bool(valid.all()):
        keep = (lengths >= 2) & wide
        if keep.all():
            return None, lengths.astype(np.uint32)
        index = np.concatenate([np.arange(a, b) for a, b in zip(starts[:-1][keep], starts[1:][keep])] or [np.zeros(0, np.int64)])
        return index, lengths[keep].astype(np.uint32)
    valid &= np.repeat(wide, lengths)
    # A piece starts at each path's first vertex and after each invalid vertex.
    new = np.zeros(valid.size, bool)
    new[starts[:-1][filled]] = True
    new[1:] |= ~valid[:-1]
    index = np.flatnonzero(valid)
    piece = (np.cumsum(new) - 1)[index]
    cuts = np.flatnonzero(np.diff(piece)) + 1
    counts = np.diff(np.concatenate([[0], cuts, [index.size]])) if index.size else np.zeros(0, np.int64)
    long = counts >= 2
    return index[np.repeat(long, counts)], counts[long].astype(np.uint32)


def _hide_sizeless(pos: Any, sizes: Any) -> Any:
    """``pos`` with the markers of size 0 moved out of view: Datoviz still draws them as a faint
    one-pixel dot (Vulkan's smallest point) where Matplotlib draws nothing. No copy when no
    size is 0 (one pass over the sizes; O(1) for broadcast sizes)."""
    sizes = np.asarray(sizes)
    zero = sizes[:1] <= 0 if is_uniform(sizes) else sizes <= 0
    if not bool(zero.any()):
        return pos
    out = np.array(pos, np.float32)
    out[np.broadcast_to(zero, (out.shape[0],))] = _FAR
    return out


def _interleave(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.empty((a.shape[0] * 2, *a.shape[1:]), dtype=np.result_type(a, b))
    out[0::2], out[1::2] = a, b
    return out


def _too_big_for_sprites(p: Any, n: int) -> np.ndarray | None:
    """Which of ``n`` disc markers would need a sprite wider than MAX_SPRITE_PX (None: none)."""
    diam = np.asarray(p.diameters_px, np.float32)
    edge = np.asarray(p.edge_widths_px, np.float32)
    if n == 0 or float(diam.max(initial=0.0)) + max(float(edge.max(initial=0.0)), MIN_DISC_EDGE_PX) + SDF_GROWTH_PX <= MAX_SPRITE_PX:
        return None  # the usual case, one pass over the sizes
    big = np.broadcast_to(diam + np.maximum(edge, MIN_DISC_EDGE_PX) + SDF_GROWTH_PX > MAX_SPRITE_PX, (n,))
    return np.asarray(big) if big.any() else None


def _subset(p: PreparedPoints, mask: np.ndarray) -> PreparedPoints:
    """The markers of ``p`` where ``mask`` (count-1 attributes broadcast first)."""
    n = mask.shape[0]

    def pick(a: Any) -> Any:
        if a is None:  # px, which the fast preparation leaves out
            return None
        a = np.asarray(a)
        return np.broadcast_to(a, (n, *a.shape[1:]))[mask]

    return dataclasses.replace(
        p, ndc=pick(p.ndc), px=pick(p.px), sizes_pt2=pick(p.sizes_pt2), diameters_px=pick(p.diameters_px),
        face_colors=pick(p.face_colors), edge_colors=pick(p.edge_colors),
        edge_widths_pt=pick(p.edge_widths_pt), edge_widths_px=pick(p.edge_widths_px),
    )


def _unit_circle(k: int) -> np.ndarray:
    """A CCW polygon of ``k`` vertices on the circle of diameter 1 (a disc's outline)."""
    t = np.linspace(0.0, 2.0 * np.pi, k, endpoint=False)
    return np.stack([np.cos(t), np.sin(t)], axis=1) * 0.5


def _capacity(count: int) -> int:
    # Meshes change triangle counts as faces get culled: round up so that a turning mesh does
    # not rebuild the scene every frame.
    return max(48, 1 << int(np.ceil(np.log2(max(count, 1)))))


class DatovizDrawer:
    """Keeps one engine and the layers of the last render; :meth:`draw` returns RGB frames."""

    def __init__(self) -> None:
        self.engine: DatovizEngine | None = None
        self._signature: Any = None
        self._panels: list[Panel] = []
        self._layers: list[Layer] = []
        self.rebuilds = 0
        # Linear images' bled texels by the fingerprint of the texels given: an image that stays
        # the same from frame to frame is hashed again, not bled again (ten passes over it).
        self._bled: dict[bytes, np.ndarray] = {}

    # -- planning ------------------------------------------------------------------------
    def _ops(self, item: DrawItem) -> list[_Op]:
        p, frame = item.prepared, item.frame
        kind = getattr(p, "kind", None)
        if kind in ("points", "markers"):
            return self._point_ops(p, frame)
        if kind == "segments":
            return self._segment_ops(p, frame)
        if kind == "paths":
            return self._path_ops(p, frame)
        if kind == "texts":
            return self._text_ops(p, frame)
        if kind == "pixels":
            return self._pixel_ops(p, frame)
        if kind == "image":
            return self._image_ops(p)
        if kind == "mesh":
            return self._mesh_ops(p, frame)
        raise TypeError(f"Datoviz backend: cannot draw prepared kind {kind!r}")

    def _point_ops(self, p: Any, frame: Any) -> list[_Op]:
        shape = p.marker_shape
        n = np.asarray(p.ndc).shape[0]
        uniform = _uniform_attributes(p)
        if shape not in SDF_MARKERS:
            pos, valid = _clean_positions(p.ndc)
            if uniform:
                pos = _snap_to_pixel_centers(pos, frame)
            return self._polygon_marker_ops(p, frame, pos, valid)
        big = _too_big_for_sprites(p, n)
        if big is not None:
            ops = self._point_ops(_subset(p, ~big), frame) if not big.all() else []
            large = _subset(p, big)
            pos, valid = _clean_positions(large.ndc)
            radius = float(np.max(large.diameters_px[valid], initial=0.0)) / 2.0
            return ops + self._polygon_marker_ops(large, frame, pos, valid, [_unit_circle(_ring_vertex_count(radius))])
        # Discs: Datoviz's own SDF marker. Kept cheap for millions of points: positions go to
        # the layer as prepared (NaN rows are dropped by the GPU), count-1 attributes stay
        # broadcast views until they change, and snapping is for scenes of parity size.
        pos = np.asarray(p.ndc)
        if uniform and n <= SNAP_MAX_POINTS:
            pos = _snap_to_pixel_centers(np.asarray(pos, np.float32), frame)
        scale = np.float32(MARKER_SCALE.get(shape, 1.0))
        diam = _lazy_add(p.diameters_px, SDF_GROWTH_PX)
        pos = _hide_sizeless(pos, p.diameters_px)  # size 0: nothing drawn, edge or not
        edge_w, edge_c, face_c = p.edge_widths_px, p.edge_colors, p.face_colors
        if _any_edge(edge_w, edge_c) and not _all_opaque(face_c):
            # A face that is not opaque must show what is behind it, not the edge color: the
            # face disc first, then the edge as a ring.
            return self._disc_face_and_ring_ops(p, frame, pos, diam)
        if _any_edge(edge_w, edge_c):
            diam, edge_w = np.asarray(diam, np.float32), np.asarray(edge_w, np.float32)
            edge_c, face_c = np.asarray(edge_c, np.float32), np.asarray(face_c, np.float32)
            outer_w = edge_w
            thin = (edge_w > 0) & (edge_w < MIN_DISC_EDGE_PX)
            if thin.any():  # the ring from r - w/2 to r + W/2 at alpha a holds a (W + w) / 2 = w of ink
                alpha = np.where(thin, 2 * edge_w / (MIN_DISC_EDGE_PX + edge_w), 1.0).astype(np.float32)
                edge_c = np.array(np.broadcast_to(edge_c, (max(len(edge_c), alpha.size), 4)), np.float32)
                edge_c[:, 3] *= alpha  # one row for every marker only where colors or widths vary
                outer_w = np.where(thin, np.float32(MIN_DISC_EDGE_PX), edge_w).astype(np.float32)
            outer = (diam + outer_w) * scale
            inner = np.maximum(diam - edge_w, 0.0) * scale
            edge_c = np.where((edge_w > 0)[:, None], edge_c, face_c)  # no edge: face color all over
            sizes = _interleave(outer, inner).astype(np.float32)
            positions = _hide_sizeless(_interleave(np.asarray(pos, np.float32), np.asarray(pos, np.float32)), sizes)
            colors = _interleave(edge_c, face_c)
        else:
            positions, sizes, colors = pos, (diam if scale == 1 else _lazy_mul(diam, float(scale))), face_c

        def fill(layer: Layer) -> None:
            layer.update(positions, sizes, colors)  # type: ignore[attr-defined]

        return [("marker", positions.shape[0], (("shape", shape),), fill)]

    def _disc_face_and_ring_ops(self, p: Any, frame: Any, pos: Any, diam: Any) -> list[_Op]:
        """Discs whose faces are not all opaque: the faces as SDF discs, then each edge as a path
        once around the circle of the marker's diameter (a centered stroke, as Matplotlib's).

        Datoviz's own stroked markers take one edge color and width per visual and place the
        stroke inside the marker; a path takes them per vertex and centers the line on it. Faces
        come before all rings (not marker by marker): overlapping markers differ in order only.
        """
        ops: list[_Op] = []
        face_c = p.face_colors
        if not bool((np.asarray(face_c)[:, 3] <= 0).all()):  # fully transparent faces: none to draw

            def fill_faces(layer: Layer) -> None:
                layer.update(pos, diam, face_c)  # type: ignore[attr-defined]

            ops.append(("marker", np.asarray(pos).shape[0], (("shape", "disc"),), fill_faces))
        ndc = np.asarray(pos, np.float32).reshape(-1, 3)  # the face's centers (snapped or not)
        n = ndc.shape[0]
        width = np.broadcast_to(np.asarray(p.edge_widths_px, np.float32), (n,))
        color = np.broadcast_to(np.asarray(p.edge_colors, np.float32), (n, 4))
        radius = np.broadcast_to(np.asarray(p.diameters_px, np.float32), (n,)) / 2.0
        ring = np.isfinite(ndc[:, :2]).all(axis=1) & (width > 0) & (color[:, 3] > 0) & (radius > 0)
        if not ring.any():
            return ops
        positions, k = _circle_paths(ndc[ring], radius[ring], frame)
        lengths = np.full(int(ring.sum()), k, np.uint32)
        widths = np.repeat(datoviz_line_width(width[ring]), k)
        colors = np.repeat(color[ring], k, axis=0)

        def fill_rings(layer: Layer) -> None:
            layer.update(positions, lengths, widths, colors, cap="butt", join="round")  # type: ignore[attr-defined]

        ops.append(("path", positions.shape[0], (("cap", "butt"), ("join", "round")), fill_rings))
        return ops

    def _polygon_marker_ops(self, p: Any, frame: Any, pos: np.ndarray, valid: np.ndarray,
                            outlines: list[np.ndarray] | None = None) -> list[_Op]:
        """Marker shapes other than discs (and discs too large for a sprite, given their
        ``outlines``) as mesh triangles, marker by marker: the face over the whole outline, then
        the edge as the band between the outline grown and shrunk by half the edge width
        (Matplotlib fills the outline, then strokes it centered)."""
        n = pos.shape[0]
        if n == 0:
            return []
        diam = np.where(valid, np.asarray(p.diameters_px, np.float64), 0.0)
        edge_w = np.where(valid, np.asarray(p.edge_widths_px, np.float64), 0.0)
        edge_c = np.asarray(p.edge_colors, np.float32)
        face_c = np.asarray(p.face_colors, np.float32)
        has_edge = (edge_w > 0) & (edge_c[:, 3] > 0) & (diam > 0)  # size 0: nothing, edge or not
        half = np.where(has_edge, edge_w / 2.0, 0.0)
        scale = np.array([2.0 / frame.width, 2.0 / frame.height])
        snap = p.marker_shape in _RECTILINEAR
        if snap:
            half = np.where(has_edge, np.maximum(np.rint(edge_w), 1.0) / 2.0, 0.0)
            center_px = (pos[:, :2].astype(np.float64) + 1.0) / scale
        faces: list[np.ndarray] = []
        rings: list[np.ndarray] = []
        for poly in outlines if outlines is not None else marker_outlines(p.marker_shape):
            if snap:
                core = np.floor(center_px[:, None, :] + poly[None] * diam[:, None, None]) + 0.5 - center_px[:, None, :]
                outer = core + offset_polygon(poly, np.zeros_like(diam), half)
                inner = core + offset_polygon(poly, np.zeros_like(diam), -half)
            else:
                core = offset_polygon(poly, diam, np.zeros_like(diam))  # (N, K, 2) px
                outer = offset_polygon(poly, diam, half)
                inner = offset_polygon(poly, diam, -half)
            faces.append(_fan(core))
            # A stroke wider than the shape covers it all: the band becomes the grown outline.
            flipped = _signed_area(inner) <= 0
            inner[flipped] = outer[flipped].mean(axis=1, keepdims=True)
            band = _strip(outer, inner)
            band[~has_edge] = 0.0  # no edge: degenerate triangles, nothing drawn
            rings.append(band)
        parts = [(faces, face_c)] if bool((face_c[:, 3] > 0).any()) else []
        if has_edge.any():
            parts.append((rings, edge_c))
        tris_per_marker = [tri for tris, _ in parts for tri in tris]
        colors_per_marker = [np.broadcast_to(color[:, None, None, :], (*tri.shape[:3], 4)) for tris, color in parts for tri in tris]
        if not tris_per_marker:
            return []
        tris = np.concatenate(tris_per_marker, axis=1)  # (N, T, 3, 2), marker-major draw order
        cols = np.concatenate(colors_per_marker, axis=1)
        count = int(np.prod(tris.shape[:3]))
        positions = np.zeros((count, 3), np.float32)
        positions[:, :2] = (pos[:, None, None, :2] + tris * scale).reshape(-1, 2)
        colors = np.ascontiguousarray(cols.reshape(-1, 4), np.float32)

        def fill(layer: Layer) -> None:
            layer.update(positions, colors)  # type: ignore[attr-defined]

        return [("mesh", count, (), fill)]

    def _segment_ops(self, p: Any, frame: Any) -> list[_Op]:
        starts, v1 = _clean_positions(p.starts_ndc)
        ends, v2 = _clean_positions(p.ends_ndc)
        drawn = v1 & v2 & (np.asarray(p.widths_px) > 0)
        # Datoviz draws a width-0 line as a hairline, Matplotlib not at all: such a segment
        # goes far out of view, both ends (a segment to one far end would cross the view).
        starts[~drawn] = ends[~drawn] = _FAR
        widths = np.where(drawn, datoviz_line_width(p.widths_px), 0.0).astype(np.float32)
        cap = str(p.cap_style)
        starts, ends = _snap_axis_aligned(starts, ends, np.asarray(p.widths_px, np.float32), frame)
        if cap == "butt":
            starts, ends = _trim_ends(starts, ends, BUTT_TRIM_PX, frame)

        def fill(layer: Layer) -> None:
            layer.update(starts, ends, widths, p.colors, cap=cap)  # type: ignore[attr-defined]

        return [("segment", starts.shape[0], (("cap", cap),), fill)]

    def _path_ops(self, p: Any, frame: Any) -> list[_Op]:
        if str(p.join_style) == "bevel":
            return self._bevel_path_ops(p, frame)
        pos, _ = _clean_positions(p.ndc)
        index, lengths = _sub_paths(p)  # cut at invalid vertices, as Matplotlib
        widths, colors = np.asarray(p.widths_px, np.float32), p.colors
        if index is not None:
            pos, widths, colors = pos[index], widths[index], np.asarray(colors)[index]
        join = str(p.join_style)
        cap = str(p.cap_style)
        if pos.shape[0] == 0 or lengths.size == 0:
            return []
        if not (is_uniform(widths) and is_uniform(colors)):
            return _per_vertex_path_ops(np.asarray(pos, np.float32), widths, np.asarray(colors, np.float32),
                                        lengths, cap, join, frame)

        def fill(layer: Layer) -> None:
            layer.update(pos, lengths, datoviz_line_width(widths), colors, cap=cap, join=join)  # type: ignore[attr-defined]

        return [("path", pos.shape[0], (("cap", cap), ("join", join)), fill)]

    def _bevel_path_ops(self, p: Any, frame: Any) -> list[_Op]:
        """Bevel joins, which Datoviz lacks, built on the CPU: every path segment as two butt
        half-segments (each half in its end vertex's color and width, as Matplotlib colors a
        multi-colored path), a triangle filling the bevel on both sides of every inner vertex,
        and the end caps (projecting: the end half-segments lengthened; round: a disc).
        These pieces overlap, so a path with any translucent color is drawn instead as a mesh
        of pieces that do not (`_bevel_mesh_ops`)."""
        ndc = np.asarray(p.ndc, np.float64)
        widths = np.asarray(p.widths_px, np.float64)  # geometry; Datoviz widths at the end
        colors = np.asarray(p.colors, np.float32)
        index, lengths = _sub_paths(p)
        if index is not None:
            ndc, widths, colors = ndc[index], widths[index], colors[index]
        cap = str(p.cap_style)
        to_px = np.array([0.5 * frame.width, 0.5 * frame.height])
        if lengths.size and (colors[:, 3] < 1.0).any():
            return _bevel_mesh_ops(ndc, widths, colors, lengths, cap, to_px)
        starts, ends, seg_w, seg_c, wedges, wedge_c, discs, disc_w, disc_c = ([] for _ in range(9))
        bounds = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        for a, b in zip(bounds[:-1], bounds[1:]):
            sl = slice(int(a), int(b))
            pts = ndc[sl, :2] * to_px  # pixels, origin at the viewport center
            w, c = widths[sl], colors[sl]
            d = np.diff(pts, axis=0)
            length = np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
            u = d / length  # unit directions of the segments
            mid = (pts[:-1] + pts[1:]) / 2.0
            a, b = pts[:-1].copy(), pts[1:].copy()
            if cap == "projecting":  # square caps: the path's two ends reach out by w/2
                a[0] -= u[0] * w[0] / 2.0
                b[-1] += u[-1] * w[-1] / 2.0
            starts += [a, mid]
            ends += [mid, b]
            seg_w += [w[:-1], w[1:]]
            seg_c += [c[:-1], c[1:]]
            if pts.shape[0] > 2:
                left_in = np.stack([-u[:-1, 1], u[:-1, 0]], axis=1) * (w[1:-1, None] / 2.0)
                left_out = np.stack([-u[1:, 1], u[1:, 0]], axis=1) * (w[1:-1, None] / 2.0)
                v = pts[1:-1]
                for side in (1.0, -1.0):  # the outer side gets the bevel; the inner one is hidden
                    wedges.append(np.stack([v, v + side * left_in, v + side * left_out], axis=1))
                    wedge_c.append(c[1:-1])
            if cap == "round":
                discs += [pts[:1], pts[-1:]]
                disc_w += [w[:1], w[-1:]]
                disc_c += [c[:1], c[-1:]]
        if not starts:
            return []
        z = lambda xy: np.column_stack([xy / to_px, np.zeros(len(xy))]).astype(np.float32)  # noqa: E731
        s_pos, e_pos = z(np.concatenate(starts)), z(np.concatenate(ends))
        s_w = datoviz_line_width(np.concatenate(seg_w))
        s_c = np.concatenate(seg_c)
        ops: list[_Op] = []

        def fill_segments(layer: Layer) -> None:
            layer.update(s_pos, e_pos, s_w, s_c, cap="butt")  # type: ignore[attr-defined]

        ops.append(("segment", s_pos.shape[0], (("cap", "butt"),), fill_segments))
        if wedges:
            tris = np.concatenate(wedges).reshape(-1, 2)
            t_pos = z(tris)
            t_col = np.repeat(np.concatenate(wedge_c), 3, axis=0)

            def fill_wedges(layer: Layer) -> None:
                layer.update(t_pos, t_col)  # type: ignore[attr-defined]

            ops.append(("mesh", t_pos.shape[0], (), fill_wedges))
        if discs:
            d_pos = z(np.concatenate(discs))
            d_size = np.concatenate(disc_w).astype(np.float32) + np.float32(SDF_GROWTH_PX)
            d_col = np.concatenate(disc_c)

            def fill_discs(layer: Layer) -> None:
                layer.update(d_pos, d_size, d_col)  # type: ignore[attr-defined]

            ops.append(("marker", d_pos.shape[0], (("shape", "disc"),), fill_discs))
        return ops

    def _text_ops(self, p: Any, frame: Any) -> list[_Op]:
        raster = rasterize_texts(
            p.px, p.strings, p.colors, p.font_sizes_pt, p.halign, p.valign, p.angles_deg,
            p.font_name, frame.width, frame.height, frame.dpi,
        )
        rgba = raster.rgba if raster.rgba is not None else np.zeros((1, 1, 4), np.uint8)
        rect = raster.rect_ndc if raster.rgba is not None else (2.0, 2.1, 2.0, 2.1)

        def fill(layer: Layer) -> None:
            layer.update(rgba, rect, "nearest")  # type: ignore[attr-defined]

        return [("image", 1, (), fill)]

    def _pixel_ops(self, p: Any, frame: Any) -> list[_Op]:
        ij = np.asarray(p.ij, np.float32)
        n = ij.shape[0]
        if n == 0:
            return []
        pos = np.zeros((n, 3), np.float32)
        # The center of the pixel each position falls in, so that exactly that pixel is lit.
        pos[:, 0] = (ij[:, 0] + 0.5) * (2.0 / frame.width) - 1.0
        pos[:, 1] = (ij[:, 1] + 0.5) * (2.0 / frame.height) - 1.0
        pos[~np.asarray(p.inside, bool)] = _FAR
        pos[_overwritten(p.ij, np.asarray(p.inside, bool), p.colors, frame.width)] = _FAR

        def fill(layer: Layer) -> None:
            layer.update(pos, p.colors)  # type: ignore[attr-defined]

        return [("pixel", n, (), fill)]

    def _image_ops(self, p: Any) -> list[_Op]:
        rect = p.extent_ndc
        if not np.isfinite(np.asarray(rect, np.float64)).all():
            return []
        interpolation = str(p.interpolation)
        texels = self._bled_texels(p.rgba) if interpolation == "linear" else p.rgba

        def fill(layer: Layer) -> None:
            layer.update(texels, rect, interpolation)  # type: ignore[attr-defined]

        return [("image", 1, (("interpolation", interpolation),), fill)]

    def _bled_texels(self, rgba: np.ndarray) -> np.ndarray:
        """:func:`_bleed_into_transparent` of ``rgba``, remembered for the images of recent frames."""
        key = fingerprint(rgba)
        bled = self._bled.get(key)
        if bled is None:
            if len(self._bled) >= _BLED_KEPT:
                self._bled.clear()
            bled = self._bled[key] = _bleed_into_transparent(rgba)
        return bled

    def _mesh_ops(self, p: Any, frame: Any) -> list[_Op]:
        tris = np.asarray(p.triangles_ndc, np.float32).reshape(-1, 3)
        t = tris.shape[0] // 3
        cap = _capacity(3 * t)
        pos = np.zeros((cap, 3), np.float32)
        pos[: 3 * t] = tris
        pos[:, 2] = 0.0  # faces come sorted far to near: painter's order
        colors = np.zeros((cap, 4), np.float32)
        colors[: 3 * t] = np.repeat(np.asarray(p.face_colors, np.float32), 3, axis=0)

        def fill(layer: Layer) -> None:
            layer.update(pos, colors)  # type: ignore[attr-defined]

        ops: list[_Op] = [("mesh", cap, (), fill)]
        widths = np.asarray(p.edge_widths_px, np.float32)
        edge_c = np.asarray(p.edge_colors, np.float32)
        if t and bool(((widths > 0) & (edge_c[:, 3] > 0)).any()):
            tri = tris.reshape(t, 3, 3).copy()
            tri[..., 2] = 0.0
            seg_cap = _capacity(3 * t)
            starts = np.full((seg_cap, 3), _FAR, np.float32)
            ends = np.full((seg_cap, 3), _FAR, np.float32)
            starts[: 3 * t] = tri.reshape(-1, 3)
            ends[: 3 * t] = tri[:, [1, 2, 0]].reshape(-1, 3)
            seg_w = np.zeros(seg_cap, np.float32)
            seg_w[: 3 * t] = np.repeat(widths, 3)
            seg_c = np.zeros((seg_cap, 4), np.float32)
            seg_c[: 3 * t] = np.repeat(edge_c, 3, axis=0)
            # Round caps fill the corners as Matplotlib's round joins do, their overlaps unseen
            # where the edges are opaque. Thin translucent edges: butt ends short of the
            # vertices, where overlapping caps stacked their alpha (MESH_EDGE_TRIM_PX).
            drawn = seg_w[: 3 * t] > 0
            translucent = bool((seg_c[: 3 * t, 3][drawn] < 1.0).any())
            thin = bool((seg_w[: 3 * t][drawn] < MESH_EDGE_THIN_PX).all())
            ends_style = "butt" if translucent and thin else "round"
            if ends_style == "butt":
                starts, ends = _trim_ends(starts, ends, MESH_EDGE_TRIM_PX, frame)

            def fill_edges(layer: Layer) -> None:
                layer.update(starts, ends, seg_w, seg_c, cap=ends_style)  # type: ignore[attr-defined]

            ops.append(("segment", seg_cap, (("cap", ends_style),), fill_edges))
        return ops

    # -- drawing -------------------------------------------------------------------------
    def draw(
        self,
        width: int,
        height: int,
        canvas_background: np.ndarray,
        items: Sequence[DrawItem],
        rgba: bool = False,
    ) -> np.ndarray:
        """Render ``items`` on a ``width`` × ``height`` canvas; return a new (H, W, 3) uint8
        RGB frame (a canvas with alpha drawn over black), or (H, W, 4) RGBA when ``rgba``
        (alpha 255 unless the canvas has alpha: then the canvas's alpha, as the Matplotlib
        backend writes it, at the cost of a second Datoviz frame)."""
        canvas_bg = np.asarray(canvas_background, np.float32)
        rects: list[tuple[int, int, int, int]] = []
        backgrounds: list[np.ndarray] = []
        panel_of: dict[Hashable, int] = {}  # viewport -> panel index
        plan: list[tuple[int, _Op]] = []
        for item in items:
            rect = tuple(int(v) for v in item.frame.rect_top_left)
            if clip_rect(rect, width, height) is None:  # type: ignore[arg-type]
                continue  # wholly off the canvas: nothing of it to draw
            # One panel per viewport, in the order viewports first appear (painter's order, as
            # the Matplotlib backend stacks one Axes per viewport).
            key = rect if item.viewport is None else item.viewport
            panel_index = panel_of.setdefault(key, len(rects))
            if panel_index == len(rects):
                rects.append(rect)  # type: ignore[arg-type]
                backgrounds.append(np.asarray(item.frame.background, np.float32))
            # Datoviz asserts on empty visuals: a layer needs at least one item.
            plan.extend((panel_index, op) for op in self._ops(item) if op[1] > 0)
        # Datoviz draws a panel background as a visual added to the panel: set after the other
        # visuals it hides them, so backgrounds are part of the structure (a change rebuilds).
        # A viewport background with alpha stays translucent: Datoviz blends a panel's background
        # over what is drawn below it (the canvas, earlier viewports), as Matplotlib composites
        # each Axes' patch.
        # The canvas is the first panel's background, drawn opaque: a canvas with alpha is drawn
        # over black (and over white too, for RGBA: see _render_with_alpha).
        canvas8 = _rgba8(canvas_bg)
        colors = [_over(canvas8, 0)] + [_rgba8(bg) for bg in backgrounds]
        signature = (
            int(width), int(height), tuple(rects), tuple(colors),
            tuple((pi, kind, count, opts) for pi, (kind, count, opts, _) in plan),
        )
        if signature != self._signature or self.engine is None:
            self._build(width, height, rects, colors, plan)
            self._signature = signature
        assert self.engine is not None
        for layer, (_, (_, _, _, fill)) in zip(self._layers, plan):
            fill(layer)
        if rgba and canvas8[3] < 255:
            return self._render_with_alpha(canvas8)
        return self.engine.render_rgba() if rgba else self.engine.render()

    def _render_with_alpha(self, canvas: tuple[int, int, int, int]) -> np.ndarray:
        """An RGBA frame of a canvas with alpha < 255.

        Datoviz grabs frames as RGB only, so the frame is drawn twice, with the canvas over black
        and over white (only the first panel's background changes: it holds no visual, so the
        scene is not rebuilt), and :func:`unmix_alpha` recovers the alpha and straight color.
        """
        assert self.engine is not None
        canvas_panel = self._panels[0]
        canvas_panel.set_background(_over(canvas, 0))
        over_black = self.engine.render()
        canvas_panel.set_background(_over(canvas, 255))
        over_white = self.engine.render()
        return unmix_alpha(over_black, over_white)

    def _build(
        self,
        width: int,
        height: int,
        rects: list[tuple[int, int, int, int]],
        colors: list[tuple[int, int, int, int]],
        plan: list[tuple[int, _Op]],
    ) -> None:
        if self.engine is None:
            self.engine = DatovizEngine(width, height)
        else:
            self.engine.reset(width, height)
        self.rebuilds += 1
        engine = self.engine
        self._panels = [engine.panel(0, 0, width, height)]
        self._panels += [engine.panel(*rect) for rect in rects]
        for panel, color in zip(self._panels, colors):
            panel.set_background(color)
        self._layers = []
        for panel_index, (kind, count, opts, _) in plan:
            options = dict(opts)
            if kind != "marker":
                options = {}
            self._layers.append(engine.layer(kind, self._panels[1 + panel_index], count, **options))

    def close(self) -> None:
        """Release the Datoviz engine."""
        if self.engine is not None:
            self.engine.close()
            self.engine = None
            self._signature = None


_BLED_KEPT = 16  # images whose bled texels the drawer keeps (a scene's images, not a film's frames)


def _per_vertex_path_ops(pos: np.ndarray, widths: np.ndarray, colors: np.ndarray, lengths: np.ndarray,
                         cap: str, join: str, frame: Any) -> list[_Op]:
    """Miter and round paths whose color or width changes along them, drawn as Matplotlib
    draws them: Datoviz's path visual interpolates both between vertices (a 2 px end tapered up
    to the next vertex's 12 px). A sub-path whose color and width are constant stays whole (the
    path's caps); the others are cut at their segments' midpoints into pieces ``[mid(i-1, i),
    v_i, mid(i, i+1)]``, each in its vertex's color and width with butt ends, the path's caps
    added at its two ends (projecting: the end pieces lengthened by w/2; round: a disc).
    Vectorized: colored trajectories of millions of vertices are the common case."""
    widths = np.broadcast_to(widths, (pos.shape[0],))
    colors = np.broadcast_to(colors, (pos.shape[0], 4))
    starts = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])[:-1]
    # Which sub-paths change along them: any segment whose two vertices differ.
    change = (colors[1:] != colors[:-1]).any(axis=1) | (widths[1:] != widths[:-1])
    change[starts[1:] - 1] = False  # not across two sub-paths
    varying = np.add.reduceat(np.append(change, False).astype(np.int64), starts) > 0
    ops: list[_Op] = []
    if not varying.all():
        keep = np.repeat(~varying, lengths)
        w_pos, w_len = pos[keep], lengths[~varying].astype(np.uint32)
        w_w, w_c = datoviz_line_width(widths[keep]), np.ascontiguousarray(colors[keep])

        def fill_whole(layer: Layer) -> None:
            layer.update(w_pos, w_len, w_w, w_c, cap=cap, join=join)  # type: ignore[attr-defined]

        ops.append(("path", w_pos.shape[0], (("cap", cap), ("join", join)), fill_whole))
    sel = np.repeat(varying, lengths)
    v = np.flatnonzero(sel)  # the vertices of the varying sub-paths, in order
    first = np.zeros(pos.shape[0], bool)
    first[starts] = True
    last = np.zeros(pos.shape[0], bool)
    last[starts + lengths.astype(np.int64) - 1] = True
    first, last = first[v], last[v]
    to_px = np.array([0.5 * frame.width, 0.5 * frame.height], np.float32)
    # Segment k runs from the k-th vertex that is not last to the k-th that is not first.
    seg_a, seg_b = pos[v[~last]], pos[v[~first]]
    d_px = (seg_b[:, :2] - seg_a[:, :2]) * to_px
    norm = np.maximum(np.hypot(d_px[:, 0], d_px[:, 1]), 1e-9)[:, None]
    unit = d_px / norm  # directions in px
    # Datoviz's butt ends overhang with a soft edge: each piece ends PIECE_TRIM_PX short of the
    # midpoint, so that two pieces meet there as Agg's flush butt ends do.
    mid = (seg_a + seg_b) / 2.0
    trim = np.zeros_like(mid)
    trim[:, :2] = unit * np.minimum(PIECE_TRIM_PX, norm / 4.0) / to_px
    count = 1 + (~first).astype(np.int64) + (~last).astype(np.int64)
    center = np.cumsum(count) - count + (~first)
    out = np.empty((int(count.sum()), 3), np.float32)  # every row set below
    out[center] = pos[v]
    out[center[~first] - 1] = mid + trim  # a piece starts after the midpoint before its vertex
    out[center[~last] + 1] = mid - trim  # and ends before the midpoint after it
    w_v = widths[v]
    if cap == "projecting":  # square ends reach out by w/2 along the end segments
        out[center[first], :2] -= unit[np.cumsum(~last)[first] - 1] * (w_v[first, None] / 2.0) / to_px
        out[center[last], :2] += unit[np.cumsum(~first)[last] - 1] * (w_v[last, None] / 2.0) / to_px
    p_len = count.astype(np.uint32)
    p_w = datoviz_line_width(np.repeat(w_v, count))
    p_c = np.ascontiguousarray(np.repeat(colors[v], count, axis=0), np.float32)

    def fill_pieces(layer: Layer) -> None:
        layer.update(out, p_len, p_w, p_c, cap="butt", join=join)  # type: ignore[attr-defined]

    ops.append(("path", out.shape[0], (("cap", "butt"), ("join", join)), fill_pieces))
    if cap == "round":
        ends = first | last
        d_pos = np.ascontiguousarray(pos[v[ends]], np.float32)
        d_size = (w_v[ends] + SDF_GROWTH_PX).astype(np.float32)
        d_col = np.ascontiguousarray(colors[v[ends]], np.float32)

        def fill_discs(layer: Layer) -> None:
            layer.update(d_pos, d_size, d_col)  # type: ignore[attr-defined]

        ops.append(("marker", d_pos.shape[0], (("shape", "disc"),), fill_discs))
    return ops


def _bevel_mesh_ops(ndc: np.ndarray, widths: np.ndarray, colors: np.ndarray, lengths: np.ndarray,
                    cap: str, to_px: np.ndarray) -> list[_Op]:
    """A bevel path with translucent colors as one mesh of non-overlapping triangles
    (`bevel.bevel_triangles`, per sub-path), so that it is blended once as in Matplotlib."""
    tris: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    bounds = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    for a, b in zip(bounds[:-1], bounds[1:]):
        if b - a < 2:
            continue
        t, c = bevel_triangles(ndc[a:b, :2] * to_px, widths[a:b], colors[a:b], cap)
        tris.append(t)
        cols.append(c)
    if not tris:
        return []
    xy = np.concatenate(tris).reshape(-1, 2) / to_px
    pos = np.column_stack([xy, np.zeros(len(xy))]).astype(np.float32)
    col = np.repeat(np.concatenate(cols), 3, axis=0).astype(np.float32)

    def fill(layer: Layer) -> None:
        layer.update(pos, col)  # type: ignore[attr-defined]

    return [("mesh", pos.shape[0], (), fill)]


def _bleed_into_transparent(rgba: np.ndarray) -> np.ndarray:
    """``rgba`` (H, W, 4) uint8 with each fully transparent texel next to a visible one given
    the mean color of its visible neighbours (alpha stays 0).

    Datoviz filters straight-alpha texels: between opaque white and transparent black, linear
    filtering gives half-transparent gray, a dark halo Matplotlib does not draw. With the color
    bled outwards, the filtered texel is half-transparent white, as filtering premultiplied
    colors gives. Images without both kinds of texel are returned as they are.
    """
    alpha = rgba[..., 3]
    clear = alpha == 0
    if not clear.any() or clear.all():
        return rgba
    visible = (~clear).astype(np.float32)
    color = rgba[..., :3].astype(np.float32) * visible[..., None]
    padded_color = np.pad(color, ((1, 1), (1, 1), (0, 0)))
    padded_weight = np.pad(visible, 1)
    h, w = alpha.shape
    sums = np.zeros_like(color)
    weights = np.zeros_like(visible)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            sums += padded_color[dy:dy + h, dx:dx + w]
            weights += padded_weight[dy:dy + h, dx:dx + w]
    fill = clear & (weights > 0)
    out = rgba.copy()
    out[..., :3][fill] = np.rint(sums[fill] / weights[fill][:, None]).astype(np.uint8)
    return out


def _overwritten(ij: np.ndarray, inside: np.ndarray, colors: np.ndarray, width: int) -> np.ndarray:
    """(N,) bool: the pixels ``inside`` that a later one at the same place overwrites. The GSP contract (and
    the Matplotlib backend's raster) is that the last pixel wins; Datoviz blends every one, so a
    translucent pixel drawn twice came out twice as dense. Opaque pixels need no search."""
    hidden = np.zeros(ij.shape[0], bool)
    if ij.shape[0] < 2 or bool((np.asarray(colors)[:, 3] >= 1.0).all()):
        return hidden
    places = ij[:, 1].astype(np.int64) * int(width) + ij[:, 0].astype(np.int64)
    places[~inside] = -1 - np.arange(int((~inside).sum()))  # outside: each a place of its own
    _, last_from_end = np.unique(places[::-1], return_index=True)
    hidden[:] = True
    hidden[ij.shape[0] - 1 - last_from_end] = False
    return hidden


def _over(color: tuple[int, int, int, int], gray: int) -> tuple[int, int, int, int]:
    """``color`` (RGBA 0..255) composited over the opaque gray ``gray``, as an opaque color."""
    alpha = color[3] / 255.0
    r, g, b = (int(round(c * alpha + gray * (1.0 - alpha))) for c in color[:3])
    return r, g, b, 255


def _rgba8(color: np.ndarray) -> tuple[int, int, int, int]:
    values = np.clip(np.rint(np.asarray(color, np.float64) * 255.0), 0, 255).astype(int)
    return int(values[0]), int(values[1]), int(values[2]), int(values[3])
