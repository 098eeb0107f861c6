"""Points: discs at 3-D positions, sized by area in pt² like Matplotlib's scatter ``s``."""

from __future__ import annotations

from typing import Any

from gsp.types._checks import check_amounts, check_count, check_transbuf
from gsp.types.buffer_type import BufferType
from gsp.types.transbuf import TransBuf
from gsp.types.visual_base import VisualBase

__all__ = ["Points", "MarkerVisualBase", "check_marker_attributes"]

_F32 = (BufferType.float32,)
_RGBA = (BufferType.rgba8,)


def check_marker_attributes(owner: str, a: dict[str, Any], only: str | None, resolve: bool) -> None:
    """Rules shared by Points and Markers: vec3 positions; sizes, colors, widths 1 or one per
    position; with ``resolve``, sizes and widths finite and >= 0."""
    n = check_transbuf(owner, "positions", a["positions"], (BufferType.vec3,), resolve_chain=resolve)
    for name, types in (("sizes", _F32), ("face_colors", _RGBA), ("edge_colors", _RGBA), ("edge_widths", _F32)):
        if only in (None, name):
            count = check_transbuf(owner, name, a[name], types, resolve_chain=resolve)
            check_count(owner, name, count, n, "position", one_ok=True)
    if resolve:  # the values themselves, as a renderer needs them (render, check_attributes)
        check_amounts(f"{owner}: sizes", a["sizes"])
        check_amounts(f"{owner}: edge_widths", a["edge_widths"])


class MarkerVisualBase(VisualBase):
    """Accessors shared by Points and Markers (positions, sizes, colors, edge widths)."""

    def get_positions(self) -> TransBuf:
        """Positions (vec3)."""
        return self._attrs["positions"]

    def set_positions(self, positions: TransBuf) -> None:
        """Set the positions (vec3)."""
        self._set_attribute_("positions", positions)

    def get_sizes(self) -> TransBuf:
        """Marker areas in pt² (float32)."""
        return self._attrs["sizes"]

    def set_sizes(self, sizes: TransBuf) -> None:
        """Set the marker areas in pt² (float32, 1 or one per position)."""
        self._set_attribute_("sizes", sizes)

    def get_face_colors(self) -> TransBuf:
        """Fill colors (rgba8)."""
        return self._attrs["face_colors"]

    def set_face_colors(self, face_colors: TransBuf) -> None:
        """Set the fill colors (rgba8, 1 or one per position)."""
        self._set_attribute_("face_colors", face_colors)

    def get_edge_colors(self) -> TransBuf:
        """Edge colors (rgba8)."""
        return self._attrs["edge_colors"]

    def set_edge_colors(self, edge_colors: TransBuf) -> None:
        """Set the edge colors (rgba8, 1 or one per position)."""
        self._set_attribute_("edge_colors", edge_colors)

    def get_edge_widths(self) -> TransBuf:
        """Edge widths in pt (float32)."""
        return self._attrs["edge_widths"]

    def set_edge_widths(self, edge_widths: TransBuf) -> None:
        """Set the edge widths in pt (float32, 1 or one per position)."""
        self._set_attribute_("edge_widths", edge_widths)


class Points(MarkerVisualBase):
    """``Points(positions, sizes, face_colors, edge_colors, edge_widths)``.

    positions vec3; sizes float32 marker areas in pt² (diameter = sqrt(size) pt); face and
    edge colors rgba8; edge widths float32 in pt. Each per-point slot holds 1 item (used for
    every point) or one item per position.
    """

    def __init__(
        self,
        positions: TransBuf,
        sizes: TransBuf,
        face_colors: TransBuf,
        edge_colors: TransBuf,
        edge_widths: TransBuf,
    ) -> None:
        super().__init__()
        self._init_attributes_(
            {
                "positions": positions,
                "sizes": sizes,
                "face_colors": face_colors,
                "edge_colors": edge_colors,
                "edge_widths": edge_widths,
            }
        )

    def _check_(self, owner: str, attrs: dict[str, Any], only: str | None, resolve: bool) -> None:
        check_marker_attributes(owner, attrs, only, resolve)
