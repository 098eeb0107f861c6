"""Matplotlib artists for prepared visuals: created once, then updated in place every frame.

Each kind has a small class with ``create(ax, prepared, zorder)`` and ``update(prepared)``.
Data is drawn in the Axes' data coordinates, which are the viewport's NDC ([-1, 1] on both
axes); sizes and widths stay in points, which Matplotlib turns into pixels with the figure DPI
(the same rule as :mod:`player.backends.prepare`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.image import AxesImage
from matplotlib.text import Text
from matplotlib.transforms import Affine2D, BboxBase, IdentityTransform

from player.backends.matplotlib.fonts import font_family
from player.backends.matplotlib.markers import marker_path
from player.backends.prepare import (
    Prepared,
    PreparedImage,
    PreparedMesh,
    PreparedPaths,
    PreparedPixels,
    PreparedPoints,
    PreparedSegments,
    PreparedTexts,
)
from player.backends.prepare_convert import is_uniform

__all__ = ["VisualArtist", "artist_class_for"]

_INTERPOLATION = {"linear": "bilinear", "nearest": "nearest"}


def _compact(values: np.ndarray) -> np.ndarray:
    """One item instead of N identical ones (cheaper for Matplotlib to draw)."""
    return values[:1] if is_uniform(values) and values.shape[0] > 1 else values


class VisualArtist:
    """Base: owns the Matplotlib artists that draw one visual in one Axes."""

    kind: str = ""

    def __init__(self, ax: Axes, prepared: Prepared, zorder: float) -> None:
        self.ax = ax
        self.zorder = zorder
        self.artists: list[Any] = []
        self.create(prepared)
        self.update(prepared)

    def create(self, prepared: Any) -> None:
        """Build the Matplotlib artists (called once)."""
        raise NotImplementedError

    def update(self, prepared: Any) -> None:
        """Push new data into the existing artists."""
        raise NotImplementedError

    def fits(self, prepared: Any) -> bool:
        """True when ``update`` can take ``prepared`` (else the artist is rebuilt)."""
        return getattr(prepared, "kind", None) in self.kinds

    kinds: tuple[str, ...] = ()

    def _add(self, artist: Any) -> Any:
        artist.set_zorder(self.zorder)
        self.artists.append(artist)
        return artist

    def remove(self) -> None:
        """Take the artists off the Axes."""
        for artist in self.artists:
            artist.remove()
        self.artists.clear()


class _InsetRightBottom(BboxBase):
    """``bbox`` (display pixels, y up) less one pixel on its right and bottom sides, as it stands
    at each draw.

    Agg's ``draw_markers`` (the collections' fast path: one marker, one set of colors, blitted at
    each offset) clips with ``renderer_base.clip_box``, whose far column and row are inclusive:
    given a viewport's box it drew one column right of it and one row below it. The other draws
    clip in the rasterizer, where the far sides are exclusive, and keep the box itself.
    """

    def __init__(self, bbox: BboxBase) -> None:
        super().__init__()
        self._bbox = bbox
        self.set_children(bbox)

    def get_points(self) -> np.ndarray:
        (x0, y0), (x1, y1) = self._bbox.get_points()
        return np.array([[x0, y0 + 1.0], [x1 - 1.0, y1]])


class PointsArtist(VisualArtist):
    """Points and Markers: one PathCollection (sizes in pt², widths in pt)."""

    kinds = ("points", "markers")

    def create(self, prepared: PreparedPoints) -> None:
        self.shape = prepared.marker_shape
        self.collection = self._add(
            PathCollection([marker_path(self.shape)], offsets=np.zeros((0, 2)), offset_transform=self.ax.transData)
        )
        # The marker path is in points scaled by sqrt(size), not in data units (as scatter does).
        self.collection.set_transform(IdentityTransform())
        # With uniform sizes/colors/widths Matplotlib blits one cached marker (draw_markers, its
        # fast path) at whole pixels, shifted half a pixel right and down: undo the shift so that
        # each marker lands on the pixel containing its centre (±0.5 px, unbiased).
        self.fast_offsets = self.ax.transData + Affine2D().translate(-0.5, 0.5)
        # That fast path clips with the viewport's box taken as inclusive (its right column and
        # bottom row one past the viewport's pixels were drawn): it gets the box less that pixel.
        self.fast_clip = _InsetRightBottom(self.ax.bbox)
        self.ax.add_collection(self.collection, autolim=False)

    def update(self, prepared: PreparedPoints) -> None:
        c = self.collection
        if prepared.marker_shape != self.shape:
            self.shape = prepared.marker_shape
            c.set_paths([marker_path(self.shape)])
        c.set_offsets(prepared.ndc[:, :2])
        attributes = [_compact(prepared.sizes_pt2), _compact(prepared.face_colors),
                      _compact(prepared.edge_colors), _compact(prepared.edge_widths_pt)]
        c.set_sizes(attributes[0])
        c.set_facecolor(attributes[1])
        c.set_edgecolor(attributes[2])
        c.set_linewidth(attributes[3])
        fast = all(len(a) == 1 for a in attributes) and self._one_marker_fits(float(attributes[0][0]))
        c.set_offset_transform(self.fast_offsets if fast else self.ax.transData)
        c.set_clip_box(self.fast_clip if fast else self.ax.bbox)

    def _one_marker_fits(self, size_pt2: float) -> bool:
        """Whether Matplotlib draws a marker of this area by its fast path (``Collection.draw``'s
        test: the marker smaller than the figure both ways; larger ones are drawn as paths)."""
        figure = self.ax.figure
        scale = np.sqrt(max(size_pt2, 0.0)) * figure.dpi / 72.0
        extents = marker_path(self.shape).get_extents(Affine2D().scale(scale))
        return bool(extents.width < figure.bbox.width and extents.height < figure.bbox.height)


class SegmentsArtist(VisualArtist):
    """Segments: one LineCollection, one width (pt) and color per segment."""

    kinds = ("segments",)

    def create(self, prepared: PreparedSegments) -> None:
        self.collection = self._add(LineCollection([], joinstyle="miter"))
        self.ax.add_collection(self.collection, autolim=False)

    def update(self, prepared: PreparedSegments) -> None:
        segments = np.stack([prepared.starts_ndc[:, :2], prepared.ends_ndc[:, :2]], axis=1)
        self.collection.set_segments(segments)
        self.collection.set_color(_compact(prepared.colors))
        self.collection.set_linewidth(_compact(prepared.widths_pt))
        self.collection.set_capstyle(prepared.cap_style)


#: The dash pattern (offset, (on, off) in points) that draws a line's cap at its first vertex
#: and nothing else: a dash too short to see (1e-6 pt, scaled by the width) gets both caps of the
#: line's cap style, centred on the vertex and turned along the line, then a gap longer than any
#: line. Agg strokes no cap on a line of no length: a stub of 1e-3 NDC past the end, which the
#: pixel snapping of a horizontal or vertical line made one, drew no cap at all.
_CAP_DASH = (0.0, (1e-6, 1e9))


class PathsArtist(VisualArtist):
    """Paths: one polyline per path (with its joins and caps) when the path's color and width
    are constant. Matplotlib cannot vary a line's color along it, so a path with per-vertex
    colors is cut at its segments' midpoints into pieces, one per vertex in that vertex's color
    and width (``[mid(i-1, i), v_i, mid(i, i+1)]``: the vertex's join stays intact, the cuts are
    flush butt ends), plus the path's cap at each of its two ends (see :data:`_CAP_DASH`).
    """

    kinds = ("paths",)

    def create(self, prepared: PreparedPaths) -> None:
        # Whole paths and the cut paths' end caps below, cut pieces (butt ends) above.
        self.lines = self._add(LineCollection([]))
        self.caps = self._add(LineCollection([], linestyles=[_CAP_DASH]))
        self.pieces = self._add(LineCollection([], capstyle="butt"))
        for collection in (self.lines, self.caps, self.pieces):
            self.ax.add_collection(collection, autolim=False)

    def update(self, prepared: PreparedPaths) -> None:
        xy = np.asarray(prepared.ndc[:, :2], dtype=np.float64)
        colors, widths = prepared.colors, prepared.widths_pt
        uniform_all = is_uniform(colors) and is_uniform(widths)
        lines: list[np.ndarray] = []
        line_style: list[tuple[np.ndarray, float]] = []
        pieces: list[np.ndarray] = []
        piece_style: list[tuple[np.ndarray, float]] = []
        caps: list[np.ndarray] = []
        cap_style: list[tuple[np.ndarray, float]] = []
        for part in prepared.path_slices():
            n = part.stop - part.start
            if n < 2:
                continue
            pts, c, w = xy[part], colors[part], widths[part]
            if uniform_all or ((c == c[0]).all() and (w == w[0]).all()):
                lines.append(pts)
                line_style.append((c[0], float(w[0])))
                continue
            mids = (pts[:-1] + pts[1:]) / 2.0
            pieces.append(np.array([pts[0], mids[0]]))
            pieces.append(np.array([mids[-1], pts[-1]]))
            pieces.extend(np.stack([mids[:-1], pts[1:-1], mids[1:]], axis=1))
            piece_style.extend([(c[0], float(w[0])), (c[-1], float(w[-1]))])
            piece_style.extend(zip(c[1:-1], w[1:-1].astype(float).tolist()))
            if prepared.cap_style != "butt":
                # The end pieces again, from their end vertex, drawn as one dash too short to see:
                # its cap, centred on the vertex, half of it past the end and half under the piece.
                caps.extend([np.array([pts[0], mids[0]]), np.array([pts[-1], mids[-1]])])
                cap_style.extend([(c[0], float(w[0])), (c[-1], float(w[-1]))])
        for collection, segs, style in ((self.lines, lines, line_style), (self.caps, caps, cap_style),
                                        (self.pieces, pieces, piece_style)):
            collection.set_segments(segs)
            collection.set_color(np.array([st[0] for st in style]).reshape(-1, 4) if style else "none")
            collection.set_linewidth([st[1] for st in style] or [0.0])
            collection.set_joinstyle(prepared.join_style)
        self.lines.set_capstyle(prepared.cap_style)
        self.caps.set_capstyle(prepared.cap_style)


class TextsArtist(VisualArtist):
    """Texts: one Text per string (anchor = position, rotation about the anchor in degrees)."""

    kinds = ("texts",)

    def create(self, prepared: PreparedTexts) -> None:
        for _ in prepared.strings:
            # GSP strings are plain text: "$5 to $10" is no formula, "$\\frac{1$" no error
            self.ax.add_artist(self._add(Text(0.0, 0.0, "", rotation_mode="anchor", clip_on=True, parse_math=False,
                                              usetex=False)))

    def fits(self, prepared: Any) -> bool:
        return getattr(prepared, "kind", None) == "texts" and len(prepared.strings) == len(self.artists)

    def update(self, prepared: PreparedTexts) -> None:
        for i, text in enumerate(self.artists):
            text.set_position((float(prepared.ndc[i, 0]), float(prepared.ndc[i, 1])))
            text.set_text(prepared.strings[i])
            text.set_color(tuple(float(v) for v in prepared.colors[i]))
            text.set_fontsize(float(prepared.font_sizes_pt[i]))
            text.set_fontfamily(font_family(prepared.font_name))
            text.set_rotation(float(prepared.angles_deg[i]))
            text.set_horizontalalignment(prepared.halign[i])
            text.set_verticalalignment(prepared.valign[i])
            text.set_visible(bool(np.isfinite(prepared.ndc[i, :2]).all()))


class _ImageArtist(VisualArtist):
    def _new_image(self, interpolation: str) -> AxesImage:
        image = AxesImage(self.ax, origin="upper", interpolation=interpolation, resample=False)
        image.set_clip_path(self.ax.patch)
        self.ax.add_image(image)
        return self._add(image)


class PixelsArtist(_ImageArtist):
    """Pixels: rasterized on the CPU into an image exactly the viewport's size (1 texel = 1 pixel)."""

    kinds = ("pixels",)

    def create(self, prepared: PreparedPixels) -> None:
        self.image = self._new_image("nearest")
        self.image.set_extent((-1.0, 1.0, -1.0, 1.0))

    def update(self, prepared: PreparedPixels) -> None:
        bbox = self.ax.bbox
        width, height = max(int(round(bbox.width)), 1), max(int(round(bbox.height)), 1)
        self.image.set_data(prepared.raster(width, height))


class ImageArtist(_ImageArtist):
    """Image: an AxesImage with the prepared NDC extent and interpolation."""

    kinds = ("image",)

    def create(self, prepared: PreparedImage) -> None:
        self.image = self._new_image(_INTERPOLATION.get(prepared.interpolation, "bilinear"))

    def update(self, prepared: PreparedImage) -> None:
        # Anchored behind the camera (or at a NaN), the image has no place: hidden, as points
        # there are (Matplotlib refused the whole frame: "Axis limits cannot be NaN or Inf").
        placed = bool(np.isfinite(np.asarray(prepared.extent_ndc, np.float64)).all())
        self.image.set_visible(placed)
        if not placed:
            return
        self.image.set_data(prepared.rgba)
        self.image.set_extent(prepared.extent_ndc)
        self.image.set_interpolation(_INTERPOLATION.get(prepared.interpolation, "bilinear"))


class MeshArtist(VisualArtist):
    """Mesh: one PolyCollection of the shaded, culled, sorted triangles."""

    kinds = ("mesh",)

    def create(self, prepared: PreparedMesh) -> None:
        self.collection = self._add(PolyCollection([], closed=True))
        self.ax.add_collection(self.collection, autolim=False)

    def update(self, prepared: PreparedMesh) -> None:
        c = self.collection
        c.set_verts(prepared.triangles_ndc[:, :, :2])
        c.set_facecolor(prepared.face_colors)
        widths = prepared.edge_widths_pt
        opaque = prepared.face_colors.size == 0 or bool((prepared.face_colors[:, 3] >= 1.0).all())
        if opaque and (widths.size == 0 or not (widths > 0).any()):
            # Without edges, neighbouring antialiased triangles leave hairline seams: draw each
            # face's own color as a 1 px edge to close them (0.6 pt left clear seams at 72 dpi;
            # 1.5 px closes the last faint ones but grows the outline and blurs textures).
            c.set_edgecolor(prepared.face_colors)
            c.set_linewidth(72.0 / self.ax.figure.dpi)
        else:
            c.set_edgecolor(prepared.edge_colors)
            c.set_linewidth(widths if widths.size else [0.0])


_CLASSES: dict[str, type[VisualArtist]] = {
    "points": PointsArtist,
    "markers": PointsArtist,
    "segments": SegmentsArtist,
    "paths": PathsArtist,
    "texts": TextsArtist,
    "pixels": PixelsArtist,
    "image": ImageArtist,
    "mesh": MeshArtist,
}


def artist_class_for(prepared: Prepared) -> type[VisualArtist]:
    """The artist class that draws a prepared visual."""
    return _CLASSES[prepared.kind]
