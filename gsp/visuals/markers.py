"""Markers: like Points, with one MarkerShape for the whole visual."""

from __future__ import annotations

from typing import Any

from gsp.types._checks import check_enum
from gsp.types.enums import MarkerShape
from gsp.types.transbuf import TransBuf
from gsp.visuals.points import MarkerVisualBase, check_marker_attributes

__all__ = ["Markers"]


class Markers(MarkerVisualBase):
    """``Markers(marker_shape, positions, sizes, face_colors, edge_colors, edge_widths)``."""

    def __init__(
        self,
        marker_shape: MarkerShape,
        positions: TransBuf,
        sizes: TransBuf,
        face_colors: TransBuf,
        edge_colors: TransBuf,
        edge_widths: TransBuf,
    ) -> None:
        super().__init__()
        self._init_attributes_(
            {
                "marker_shape": marker_shape,
                "positions": positions,
                "sizes": sizes,
                "face_colors": face_colors,
                "edge_colors": edge_colors,
                "edge_widths": edge_widths,
            }
        )

    def _check_(self, owner: str, attrs: dict[str, Any], only: str | None, resolve: bool) -> None:
        check_enum(owner, "marker_shape", attrs["marker_shape"], MarkerShape)
        check_marker_attributes(owner, attrs, only, resolve)

    def get_marker_shape(self) -> MarkerShape:
        """The marker shape."""
        return self._attrs["marker_shape"]

    def set_marker_shape(self, marker_shape: MarkerShape) -> None:
        """Set the marker shape."""
        self._set_attribute_("marker_shape", marker_shape)
