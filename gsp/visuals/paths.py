"""Paths: polylines; path_sizes splits the positions into consecutive paths."""

from __future__ import annotations

from typing import Any

import numpy as np

from gsp.types._checks import check_amounts, check_count, check_enum, check_transbuf
from gsp.types.buffer import Buffer
from gsp.types.buffer_type import BufferType
from gsp.types.enums import CapStyle, JoinStyle
from gsp.types.transbuf import TransBuf
from gsp.types.visual_base import VisualBase

__all__ = ["Paths"]


class Paths(VisualBase):
    """``Paths(positions, path_sizes, colors, line_widths, cap_style, join_style)``.

    positions vec3; path_sizes uint32 vertex counts per path, summing to the vertex count;
    colors rgba8 and line_widths float32 (pt), each 1 item or one per vertex.
    """

    def __init__(
        self,
        positions: TransBuf,
        path_sizes: TransBuf,
        colors: TransBuf,
        line_widths: TransBuf,
        cap_style: CapStyle,
        join_style: JoinStyle,
    ) -> None:
        super().__init__()
        self._init_attributes_(
            {
                "positions": positions,
                "path_sizes": path_sizes,
                "colors": colors,
                "line_widths": line_widths,
                "cap_style": cap_style,
                "join_style": join_style,
            }
        )

    def _check_(self, owner: str, attrs: dict[str, Any], only: str | None, resolve: bool) -> None:
        n = check_transbuf(owner, "positions", attrs["positions"], (BufferType.vec3,), resolve_chain=resolve)
        check_enum(owner, "cap_style", attrs["cap_style"], CapStyle)
        check_enum(owner, "join_style", attrs["join_style"], JoinStyle)
        if only in (None, "path_sizes"):
            sizes = attrs["path_sizes"]
            check_transbuf(owner, "path_sizes", sizes, (BufferType.uint32,), resolve_chain=resolve)
            if resolve and not isinstance(sizes, Buffer):
                sizes = sizes.run()
            if isinstance(sizes, Buffer) and n is not None:
                total = int(np.sum(sizes.read_view(), dtype=np.int64))
                if total != n:
                    raise ValueError(f"{owner}: path_sizes sum to {total}, expected {n} (the number of positions)")
        for name, kind in (("colors", BufferType.rgba8), ("line_widths", BufferType.float32)):
            if only in (None, name):
                count = check_transbuf(owner, name, attrs[name], (kind,), resolve_chain=resolve)
                check_count(owner, name, count, n, "vertex", one_ok=True)
        if resolve:
            check_amounts(f"{owner}: line_widths", attrs["line_widths"])

    def get_positions(self) -> TransBuf:
        """Vertices of all paths, path after path (vec3)."""
        return self._attrs["positions"]

    def set_positions(self, positions: TransBuf) -> None:
        """Set the vertices (vec3)."""
        self._set_attribute_("positions", positions)

    def get_path_sizes(self) -> TransBuf:
        """Vertex count of each path (uint32)."""
        return self._attrs["path_sizes"]

    def set_path_sizes(self, path_sizes: TransBuf) -> None:
        """Set the vertex count of each path (uint32, summing to the number of positions)."""
        self._set_attribute_("path_sizes", path_sizes)

    def get_colors(self) -> TransBuf:
        """Colors (rgba8)."""
        return self._attrs["colors"]

    def set_colors(self, colors: TransBuf) -> None:
        """Set the colors (rgba8, 1 or one per vertex)."""
        self._set_attribute_("colors", colors)

    def get_line_widths(self) -> TransBuf:
        """Line widths in pt (float32)."""
        return self._attrs["line_widths"]

    def set_line_widths(self, line_widths: TransBuf) -> None:
        """Set the line widths in pt (float32, 1 or one per vertex)."""
        self._set_attribute_("line_widths", line_widths)

    def get_cap_style(self) -> CapStyle:
        """End cap style."""
        return self._attrs["cap_style"]

    def set_cap_style(self, cap_style: CapStyle) -> None:
        """Set the end cap style."""
        self._set_attribute_("cap_style", cap_style)

    def get_join_style(self) -> JoinStyle:
        """Join style."""
        return self._attrs["join_style"]

    def set_join_style(self, join_style: JoinStyle) -> None:
        """Set the join style."""
        self._set_attribute_("join_style", join_style)
