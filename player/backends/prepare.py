"""The shared render preparation: GSP semantics turned into plain numpy arrays.

Every backend (Matplotlib, Datoviz) draws from what this module produces, so that they agree.
For one visual + model matrix + camera + viewport + canvas, :func:`prepare_visual` returns one
small dataclass per visual kind holding:

- positions in NDC after ``P·V·M·p`` with the divide by w (x, y in -1..1 across the viewport,
  z in -1 (near) .. 1 (far)); vertices behind the camera (w <= 0) become NaN, and segments,
  path edges and mesh triangles coming nearer than a perspective camera's near plane are
  clipped there (:mod:`player.backends.prepare_clip`), so their part beyond it is drawn;
- the same positions in viewport pixels (origin at the viewport's bottom-left corner, y up;
  pixel i covers [i, i+1), so NDC -1 is the left edge and the center of pixel 0 is 0.5);
- sizes in pixels from the canvas DPI: a pt² marker area ``s`` has diameter ``sqrt(s)`` pt as
  Matplotlib's scatter, and ``px = pt * dpi / 72``; widths in pt likewise;
- colors as float32 RGBA 0..1; count-1 attributes broadcast to one per item (zero-copy views
  with stride 0: :func:`player.backends.prepare_convert.is_uniform` tells them apart).

Matrices are (4, 4) acting on column vectors (``p_ndc = P @ V @ M @ p``); a mat4 buffer's 16
floats are read in C order. Mesh preparation (materials, lights) lives in ``prepare_mesh``.

Preparation runs inside ``RendererBase.render``, after its checks (``_check_render_args``: the
visuals' own ``_check_`` with chains run): the counts, shapes and enums they refuse (1 or one
per item, even segment ends, path sizes, groups, texels...) are taken as given here, not checked
a second time. The rules on values (sizes, widths, angles, fonts) are :mod:`gsp.types._checks`'
own functions, called again by the converters; a buffer's result is kept on it, so that is free.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gsp.types._checks import check_font_px
from gsp.utils.group_utils import GroupUtils
from player.backends.prepare_clip import clip_path_vertices, clip_segment_ends
from player.backends.prepare_convert import (
    amounts,
    angles,
    broadcast,
    color_float,
    enum_name,
    getter,
    is_uniform,
    mat4,
    rgba_float,
    transbuf_array,
    vec3_any,
)

__all__ = [
    "ViewportFrame",
    "Projection",
    "PreparedPoints",
    "PreparedSegments",
    "PreparedPaths",
    "PreparedTexts",
    "PreparedPixels",
    "PreparedImage",
    "PreparedMesh",
    "Prepared",
    "MARKER_SHAPES",
    "viewport_frame",
    "projection",
    "prepare_visual",
    "prepare_points",
    "prepare_markers",
    "prepare_segments",
    "prepare_paths",
    "prepare_texts",
    "prepare_pixels",
    "prepare_image",
    "prepare_mesh",
    "area_to_diameter_px",
    "pt_to_px",
]

#: The 14 MarkerShape values, as strings.
MARKER_SHAPES: tuple[str, ...] = (
    "disc", "asterisk", "triangle_down", "triangle_up", "triangle_left", "triangle_right",
    "square", "cross", "club", "diamond", "heart", "spade", "vbar", "hbar",
)


# --------------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------------
def _keep_uniform(values: np.ndarray, convert: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    # A broadcast (stride-0) input is converted once and stays a broadcast view.
    if values.ndim >= 1 and values.shape[0] > 1 and values.strides[0] == 0:
        return np.broadcast_to(convert(values[:1]), values.shape)
    return convert(values)


def pt_to_px(pt: np.ndarray | float, dpi: float) -> np.ndarray:
    """Points (1/72 inch) to pixels at ``dpi``."""
    scale = np.float32(dpi / 72.0)
    return _keep_uniform(np.asarray(pt, dtype=np.float32), lambda v: v * scale)


def area_to_diameter_px(area_pt2: np.ndarray | float, dpi: float) -> np.ndarray:
    """A marker area in pt² (Matplotlib scatter ``s``) to its diameter in pixels."""
    scale = np.float32(dpi / 72.0)
    return _keep_uniform(np.asarray(area_pt2, dtype=np.float32), lambda v: np.sqrt(np.maximum(v, 0.0)) * scale)


# --------------------------------------------------------------------------------------------
# Viewport and projection
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ViewportFrame:
    """Where a viewport lies on the canvas.

    x, y: bottom-left corner in canvas pixels (x from the left, y from the bottom);
    width, height: size in pixels; canvas_width, canvas_height: canvas size in pixels;
    dpi: canvas dots per inch; background: float32 (4,) RGBA 0..1 of the viewport;
    canvas_background: float32 (4,) RGBA 0..1 of the canvas.
    """

    x: int
    y: int
    width: int
    height: int
    canvas_width: int
    canvas_height: int
    dpi: float
    background: np.ndarray
    canvas_background: np.ndarray

    def ndc_to_px(self, ndc: np.ndarray) -> np.ndarray:
        """NDC (..., >=2) -> viewport pixels (..., 2), origin bottom-left, y up, float32."""
        ndc = np.asarray(ndc)
        out = np.empty((*ndc.shape[:-1], 2), dtype=np.float32)
        out[..., 0] = (ndc[..., 0] + 1.0) * (0.5 * self.width)
        out[..., 1] = (ndc[..., 1] + 1.0) * (0.5 * self.height)
        return out

    def px_to_canvas_top_left(self, px: np.ndarray) -> np.ndarray:
        """Viewport pixels (y up) -> canvas pixels with the origin at the top-left, y down."""
        px = np.asarray(px, dtype=np.float32)
        out = np.empty_like(px)
        out[..., 0] = px[..., 0] + self.x
        out[..., 1] = self.canvas_height - (px[..., 1] + self.y)
        return out

    @property
    def rect_top_left(self) -> tuple[int, int, int, int]:
        """(x, y, width, height) with y measured from the canvas top (for top-left APIs)."""
        return self.x, self.canvas_height - self.y - self.height, self.width, self.height


def viewport_frame(viewport: Any, canvas: Any) -> ViewportFrame:
    """The :class:`ViewportFrame` of a GSP Viewport on a GSP Canvas."""
    return ViewportFrame(
        x=int(viewport.get_x()),
        y=int(viewport.get_y()),
        width=int(viewport.get_width()),
        height=int(viewport.get_height()),
        canvas_width=int(canvas.get_width()),
        canvas_height=int(canvas.get_height()),
        dpi=float(canvas.get_dpi()),
        background=color_float(viewport.get_background_color(), "Viewport.background_color"),
        canvas_background=color_float(canvas.get_background_color(), "Canvas.background_color"),
    )


@dataclass(frozen=True)
class Projection:
    """The matrices of one draw: model, view, projection as (4, 4) float64 (column vectors)."""

    model: np.ndarray
    view: np.ndarray
    proj: np.ndarray
    mvp: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mvp", self.proj @ self.view @ self.model)

    def project(self, positions: np.ndarray) -> np.ndarray:
        """(N, 3) model positions -> (N, 3) float32 NDC after the divide by w (NaN where w <= 0)."""
        return project_points(positions, self.mvp)

    def to_world(self, positions: np.ndarray) -> np.ndarray:
        """(N, 3) model positions -> (N, 3) float64 world positions (M·p)."""
        return _affine(np.asarray(positions, dtype=np.float64), self.model)

    def to_view(self, positions: np.ndarray) -> np.ndarray:
        """(N, 3) model positions -> (N, 3) float64 camera-space positions (V·M·p)."""
        return _affine(np.asarray(positions, dtype=np.float64), self.view @ self.model)

    @property
    def camera_position(self) -> np.ndarray:
        """The camera's position in world space (the inverse view matrix's translation)."""
        try:
            return np.linalg.inv(self.view)[:3, 3]
        except np.linalg.LinAlgError:
            return np.zeros(3)


def _affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    out = points @ np.ascontiguousarray(matrix[:3, :3].T) + matrix[:3, 3]
    w = points @ matrix[3, :3] + matrix[3, 3]
    if not np.allclose(matrix[3], (0.0, 0.0, 0.0, 1.0)):
        out = out / np.where(np.abs(w) < 1e-12, 1e-12, w)[:, None]
    return out


_IDENTITY4 = np.eye(4)


def project_points(positions: np.ndarray, mvp: np.ndarray) -> np.ndarray:
    """(N, 3) positions through a (4, 4) MVP -> (N, 3) float32 NDC, NaN where w <= 0."""
    p = np.asarray(positions, dtype=np.float32).reshape(-1, 3)
    if np.array_equal(mvp, _IDENTITY4):
        return p  # 2-D scenes: the positions are the NDC already (no copy; never written to)
    m = mvp.astype(np.float32)
    # A contiguous right operand keeps matmul on its fast path (a transposed view is ~100× slower).
    out = p @ np.ascontiguousarray(m[:3, :3].T)
    out += m[:3, 3]
    if m[3, 0] == 0.0 and m[3, 1] == 0.0 and m[3, 2] == 0.0:
        # Affine: w is the constant m[3, 3] (1 for every usual camera): skip the per-point divide.
        if m[3, 3] != 1.0:
            out /= m[3, 3] if m[3, 3] > 0 else np.nan
        return out
    w = p @ np.ascontiguousarray(m[3, :3]) + m[3, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        out /= w[:, None]
    out[w <= 0] = np.nan
    return out


def projection(model_matrix: Any, camera: Any) -> Projection:
    """The :class:`Projection` of a model matrix TransBuf and a GSP Camera."""
    return Projection(
        model=mat4(model_matrix, "render: model matrix"),
        view=mat4(camera.get_view_matrix(), "Camera.view_matrix"),
        proj=mat4(camera.get_projection_matrix(), "Camera.projection_matrix"),
    )


# --------------------------------------------------------------------------------------------
# Prepared kinds
# --------------------------------------------------------------------------------------------
@dataclass
class PreparedPoints:
    """Points or Markers ready to draw (N items).

    ndc: (N, 3) float32 NDC; px: (N, 2) float32 viewport pixels (y up);
    sizes_pt2: (N,) float32 marker areas in pt² (Matplotlib scatter ``s``);
    diameters_px: (N,) float32 marker diameters in pixels (sqrt(area) pt at the canvas DPI; the
    edge is centered on this outline); face_colors, edge_colors: (N, 4) float32 RGBA 0..1;
    edge_widths_pt, edge_widths_px: (N,) float32 edge line widths; marker_shape: one of
    :data:`MARKER_SHAPES` (``"disc"`` for Points).
    """

    ndc: np.ndarray
    px: np.ndarray
    sizes_pt2: np.ndarray
    diameters_px: np.ndarray
    face_colors: np.ndarray
    edge_colors: np.ndarray
    edge_widths_pt: np.ndarray
    edge_widths_px: np.ndarray
    marker_shape: str = "disc"
    kind: str = "points"


@dataclass
class PreparedSegments:
    """Segments (N): starts_ndc, ends_ndc (N, 3) float32 NDC; starts_px, ends_px (N, 2) float32
    viewport pixels; widths_pt, widths_px (N,) float32; colors (N, 4) float32 RGBA 0..1;
    cap_style: ``"butt"``, ``"projecting"`` or ``"round"``.
    """

    starts_ndc: np.ndarray
    ends_ndc: np.ndarray
    starts_px: np.ndarray
    ends_px: np.ndarray
    widths_pt: np.ndarray
    widths_px: np.ndarray
    colors: np.ndarray
    cap_style: str
    kind: str = "segments"


@dataclass
class PreparedPaths:
    """Paths: M vertices split into P polylines.

    ndc: (M, 3) float32; px: (M, 2) float32 viewport pixels; starts: (P + 1,) int64 offsets so
    that path i is ``[starts[i], starts[i+1])``; colors: (M, 4) float32 RGBA per vertex;
    widths_pt, widths_px: (M,) float32 per vertex; cap_style: butt/projecting/round;
    join_style: ``"miter"``, ``"bevel"`` or ``"round"``.
    """

    ndc: np.ndarray
    px: np.ndarray
    starts: np.ndarray
    colors: np.ndarray
    widths_pt: np.ndarray
    widths_px: np.ndarray
    cap_style: str
    join_style: str
    kind: str = "paths"

    def path_slices(self) -> list[slice]:
        """One slice per path into the vertex arrays."""
        return [slice(int(a), int(b)) for a, b in zip(self.starts[:-1], self.starts[1:])]


@dataclass
class PreparedTexts:
    """Texts (N): ndc (N, 3) float32 anchors; px (N, 2) float32 viewport pixels;
    strings: list of N str; colors (N, 4) float32 RGBA; font_sizes_pt, font_sizes_px (N,) float32;
    halign: N of ``"left" | "center" | "right"`` (which side of the text sits on the anchor);
    valign: N of ``"top" | "center" | "bottom"``; angles_deg: (N,) float32 counter-clockwise
    rotation in degrees about the anchor; font_name: the font family.
    """

    ndc: np.ndarray
    px: np.ndarray
    strings: list[str]
    colors: np.ndarray
    font_sizes_pt: np.ndarray
    font_sizes_px: np.ndarray
    halign: list[str]
    valign: list[str]
    angles_deg: np.ndarray
    font_name: str
    kind: str = "texts"


@dataclass
class PreparedPixels:
    """Pixels (N): ndc (N, 3) float32; px (N, 2) float32 viewport pixels; ij: (N, 2) int32
    integer pixel (column, row from the bottom) each lands in; colors (N, 4) float32 RGBA, one
    per vertex (expanded from the groups); inside: (N,) bool, True where the pixel is inside
    the viewport.
    """

    ndc: np.ndarray
    px: np.ndarray
    ij: np.ndarray
    colors: np.ndarray
    inside: np.ndarray
    kind: str = "pixels"

    def raster(self, width: int, height: int) -> np.ndarray:
        """An (height, width, 4) uint8 RGBA image, row 0 at the TOP, transparent where empty.

        Later pixels overwrite earlier ones at the same place (draw order).
        """
        image = np.zeros((height, width, 4), dtype=np.uint8)
        if self.ij.shape[0]:
            ok = self.inside
            cols = self.ij[ok, 0]
            rows = height - 1 - self.ij[ok, 1]
            image[rows, cols] = np.clip(np.rint(self.colors[ok] * 255.0), 0, 255).astype(np.uint8)
        return image


@dataclass
class PreparedImage:
    """An Image: rgba (H, W, 4) uint8 texels, row 0 at the TOP; extent_ndc: (left, right,
    bottom, top) in NDC (projected position + the image_extent offsets); extent_px: the same in
    viewport pixels; interpolation: ``"linear"`` or ``"nearest"``.
    """

    rgba: np.ndarray
    extent_ndc: tuple[float, float, float, float]
    extent_px: tuple[float, float, float, float]
    interpolation: str
    kind: str = "image"


@dataclass
class PreparedMesh:
    """A Mesh after shading, culling and sorting (T visible triangles, in draw order).

    triangles_ndc: (T, 3, 3) float32; triangles_px: (T, 3, 2) float32 viewport pixels;
    face_colors, edge_colors: (T, 4) float32 RGBA 0..1 (flat, one per face);
    edge_widths_pt, edge_widths_px: (T,) float32; face_ids: (T,) int64 index of each face in
    the geometry; material: the material's kind (``"basic"``, ``"normal"``, ``"depth"``,
    ``"phong"``, ``"textured"``).
    """

    triangles_ndc: np.ndarray
    triangles_px: np.ndarray
    face_colors: np.ndarray
    edge_colors: np.ndarray
    edge_widths_pt: np.ndarray
    edge_widths_px: np.ndarray
    face_ids: np.ndarray
    material: str
    kind: str = "mesh"


Prepared = PreparedPoints | PreparedSegments | PreparedPaths | PreparedTexts | PreparedPixels | PreparedImage | PreparedMesh


# --------------------------------------------------------------------------------------------
# Per visual
# --------------------------------------------------------------------------------------------
def _positions(visual: Any, what: str) -> np.ndarray:
    return transbuf_array(visual.get_positions(), f"{what}.positions", ("vec3",))


def _amounts(value: Any, count: int, what: str) -> np.ndarray:
    """Sizes, widths, font sizes: floats, each finite and >= 0."""
    return broadcast(amounts(value, what), count)


def _colors(value: Any, count: int, what: str) -> np.ndarray:
    return rgba_float(broadcast(transbuf_array(value, what, ("rgba8",)), count))


def prepare_points(visual: Any, proj: Projection, frame: ViewportFrame) -> PreparedPoints:
    """Prepare a Points visual (sizes in pt², edge widths in pt)."""
    return _prepare_point_like(visual, proj, frame, "Points", "disc")


def prepare_markers(visual: Any, proj: Projection, frame: ViewportFrame) -> PreparedPoints:
    """Prepare a Markers visual: a Points with one MarkerShape."""
    prepared = _prepare_point_like(visual, proj, frame, "Markers", str(getter(visual, "marker_shape").value))
    prepared.kind = "markers"
    return prepared


def _prepare_point_like(visual: Any, proj: Projection, frame: ViewportFrame, what: str, shape: str) -> PreparedPoints:
    positions = _positions(visual, what)
    n = positions.shape[0]
    ndc = proj.project(positions)
    sizes = _amounts(visual.get_sizes(), n, f"{what}.sizes")
    widths = _amounts(visual.get_edge_widths(), n, f"{what}.edge_widths")
    return PreparedPoints(
        ndc=ndc,
        px=frame.ndc_to_px(ndc),
        sizes_pt2=sizes,
        diameters_px=area_to_diameter_px(sizes, frame.dpi),
        face_colors=_colors(visual.get_face_colors(), n, f"{what}.face_colors"),
        edge_colors=_colors(visual.get_edge_colors(), n, f"{what}.edge_colors"),
        edge_widths_pt=widths,
        edge_widths_px=pt_to_px(widths, frame.dpi),
        marker_shape=shape,
    )


def prepare_segments(visual: Any, proj: Projection, frame: ViewportFrame) -> PreparedSegments:
    """Prepare a Segments visual: 2N positions (start, end pairs), one width (pt) and color each."""
    positions = _positions(visual, "Segments")
    n = positions.shape[0] // 2
    ndc = proj.project(positions)
    widths = _amounts(getter(visual, "line_widths"), n, "Segments.line_widths")
    # An end nearer than the near plane moves to where its segment crosses it.
    starts, ends = clip_segment_ends(positions[: 2 * n], proj.mvp, ndc[0::2], ndc[1::2])
    return PreparedSegments(
        starts_ndc=starts,
        ends_ndc=ends,
        starts_px=frame.ndc_to_px(starts),
        ends_px=frame.ndc_to_px(ends),
        widths_pt=widths,
        widths_px=pt_to_px(widths, frame.dpi),
        colors=_colors(visual.get_colors(), n, "Segments.colors"),
        cap_style=enum_name(getter(visual, "cap_style"), "Segments.cap_style"),
    )


def prepare_paths(visual: Any, proj: Projection, frame: ViewportFrame) -> PreparedPaths:
    """Prepare a Paths visual: split by path_sizes; colors and widths (pt) per vertex."""
    positions = _positions(visual, "Paths")
    m = positions.shape[0]
    sizes = transbuf_array(getter(visual, "path_sizes"), "Paths.path_sizes", ("uint32",)).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    ndc = proj.project(positions)
    widths = _amounts(getter(visual, "line_widths"), m, "Paths.line_widths")
    colors = _colors(visual.get_colors(), m, "Paths.colors")
    clipped = clip_path_vertices(positions, proj.mvp, ndc, starts)
    if clipped is not None:  # vertices nearer than the near plane: the edges' parts beyond are kept
        ndc, starts, source = clipped
        colors, widths = _take(colors, source), _take(widths, source)
    return PreparedPaths(
        ndc=ndc,
        px=frame.ndc_to_px(ndc),
        starts=starts,
        colors=colors,
        widths_pt=widths,
        widths_px=pt_to_px(widths, frame.dpi),
        cap_style=enum_name(getter(visual, "cap_style"), "Paths.cap_style"),
        join_style=enum_name(getter(visual, "join_style"), "Paths.join_style"),
    )


def _take(values: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Per-vertex ``values`` for vertices taken from ``source`` (a broadcast one stays broadcast)."""
    if is_uniform(values) and values.shape[0] > 0:
        return np.broadcast_to(values[:1], (source.shape[0], *values.shape[1:]))
    return values[source]


_HALIGN = ("left", "center", "right")
_VALIGN = ("top", "center", "bottom")


def text_alignment(align: Any) -> tuple[str, str]:
    """A TextAlign (value = 10 × vertical + horizontal) -> (halign, valign) names."""
    vertical, horizontal = divmod(int(align.value), 10)
    return _HALIGN[horizontal], _VALIGN[vertical]


def texts_out_of_reach(px: np.ndarray, strings: list[str], sizes_px: np.ndarray, frame: ViewportFrame) -> np.ndarray:
    """(N,) bool: True where a text cannot reach the viewport from its anchor (``px``, viewport
    pixels), however aligned or turned: no glyph lies farther from the anchor than 2 em per
    character of its longest line plus one per line (a generous bound). Such a text shows
    nothing, and Agg fails to draw a glyph some ten million pixels away ("raster overflow"),
    so both backends leave it out."""
    if not strings:
        return np.zeros(0, dtype=bool)
    ems = np.array([max(len(line) for line in s.split("\n")) + s.count("\n") + 1 for s in strings], np.float64)
    reach = 2.0 * ems * np.asarray(sizes_px, np.float64) + 1.0
    x, y = px[:, 0].astype(np.float64), px[:, 1].astype(np.float64)
    with np.errstate(invalid="ignore"):  # NaN anchors compare False: they stay NaN, not drawn either
        return (x < -reach) | (x > frame.width + reach) | (y < -reach) | (y > frame.height + reach)


def prepare_texts(visual: Any, proj: Projection, frame: ViewportFrame) -> PreparedTexts:
    """Prepare a Texts visual: anchors, font sizes (pt and px), alignment names, angles (deg)."""
    positions = _positions(visual, "Texts")
    n = positions.shape[0]
    strings = [str(s) for s in getter(visual, "strings")]
    aligns = list(getter(visual, "text_aligns", "textAligns", "aligns"))
    if len(aligns) == 1:
        aligns = aligns * n
    pairs = [text_alignment(a) for a in aligns]
    sizes = _amounts(getter(visual, "font_sizes"), n, "Texts.font_sizes")
    check_font_px("Texts.font_sizes", sizes, frame.dpi)
    sizes_px = pt_to_px(sizes, frame.dpi)
    ndc = proj.project(positions)
    px = frame.ndc_to_px(ndc)
    far = texts_out_of_reach(px, strings, sizes_px, frame)
    if far.any():  # not drawn, as an anchor behind the camera (NaN) is not
        ndc = np.array(ndc, dtype=np.float32)  # project() may hand back the positions themselves
        ndc[far] = np.nan
        px[far] = np.nan
    return PreparedTexts(
        ndc=ndc,
        px=px,
        strings=strings,
        colors=_colors(visual.get_colors(), n, "Texts.colors"),
        font_sizes_pt=sizes,
        font_sizes_px=sizes_px,
        halign=[h for h, _ in pairs],
        valign=[v for _, v in pairs],
        angles_deg=broadcast(angles(getter(visual, "angles"), "Texts.angles"), n),
        font_name=str(getter(visual, "font_name") or "sans-serif"),
    )


def prepare_pixels(visual: Any, proj: Projection, frame: ViewportFrame) -> PreparedPixels:
    """Prepare a Pixels visual: one device pixel per position, one color per group (or one for all)."""
    positions = _positions(visual, "Pixels")
    n = positions.shape[0]
    groups = GroupUtils.group_indices(getter(visual, "groups"), n, "Pixels", check=False)
    colors = rgba_float(transbuf_array(visual.get_colors(), "Pixels.colors", ("rgba8",)))
    if colors.shape[0] == 1:
        per_vertex = np.broadcast_to(colors, (n, 4))
    else:
        per_vertex = colors[np.maximum(groups, 0)]
    ndc = proj.project(positions)
    px = frame.ndc_to_px(ndc)
    with np.errstate(invalid="ignore"):
        ij = np.floor(np.nan_to_num(px, nan=-1.0)).astype(np.int32)
    inside = (ij[:, 0] >= 0) & (ij[:, 0] < frame.width) & (ij[:, 1] >= 0) & (ij[:, 1] < frame.height) & (groups >= 0)
    return PreparedPixels(ndc=ndc, px=px, ij=ij, colors=per_vertex, inside=inside)


def texture_rgba(texture: Any, what: str = "Texture") -> np.ndarray:
    """A GSP Texture as an (height, width, 4) uint8 array, row 0 at the top."""
    width, height = int(texture.get_width()), int(texture.get_height())
    return transbuf_array(texture.get_data(), f"{what}.data", ("rgba8",)).reshape(height, width, 4)


def prepare_image(visual: Any, proj: Projection, frame: ViewportFrame) -> PreparedImage:
    """Prepare an Image: texels, and the extent as NDC offsets around the projected position."""
    rgba = texture_rgba(getter(visual, "texture"), "Image.texture")
    position = np.asarray(vec3_any(getter(visual, "position"), "Image.position"), dtype=np.float32)[None, :]
    center = proj.project(position)[0]
    extent = [float(v) for v in getter(visual, "image_extent")]
    left, right, bottom, top = (
        center[0] + extent[0], center[0] + extent[1], center[1] + extent[2], center[1] + extent[3],
    )
    corners = frame.ndc_to_px(np.array([[left, bottom], [right, top]], dtype=np.float64))
    return PreparedImage(
        rgba=rgba,
        extent_ndc=(float(left), float(right), float(bottom), float(top)),
        extent_px=(float(corners[0, 0]), float(corners[1, 0]), float(corners[0, 1]), float(corners[1, 1])),
        interpolation=enum_name(getter(visual, "image_interpolation"), "Image.image_interpolation"),
    )


def prepare_mesh(visual: Any, proj: Projection, frame: ViewportFrame) -> PreparedMesh:
    """Prepare a Mesh (see :mod:`player.backends.prepare_mesh`)."""
    from player.backends.prepare_mesh import prepare_mesh_faces

    return prepare_mesh_faces(visual, proj, frame)


_PREPARERS: dict[str, Callable[[Any, Projection, ViewportFrame], Prepared]] = {
    "Points": prepare_points,
    "Markers": prepare_markers,
    "Segments": prepare_segments,
    "Paths": prepare_paths,
    "Texts": prepare_texts,
    "Pixels": prepare_pixels,
    "Image": prepare_image,
    "Mesh": prepare_mesh,
}


def visual_kind(visual: Any) -> str:
    """The GSP visual class a visual is (or derives from): ``"Points"``, ``"Mesh"``..."""
    for klass in type(visual).__mro__:
        if klass.__name__ in _PREPARERS:
            return klass.__name__
    raise TypeError(f"render: {type(visual).__name__} is not a GSP visual this backend can draw")


def prepare_visual(visual: Any, model_matrix: Any, camera: Any, viewport: Any, canvas: Any) -> Prepared:
    """Prepare any GSP visual for drawing in ``viewport`` on ``canvas``."""
    frame = viewport_frame(viewport, canvas)
    return _PREPARERS[visual_kind(visual)](visual, projection(model_matrix, camera), frame)
