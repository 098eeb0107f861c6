"""Segments: independent line segments given as (start, end) position pairs."""

from __future__ import annotations

from typing import Any

from gsp.types._checks import check_amounts, check_count, check_enum, check_transbuf
from gsp.types.buffer_type import BufferType
from gsp.types.enums import CapStyle
from gsp.types.transbuf import TransBuf
from gsp.types.visual_base import VisualBase

__all__ = ["Segments"]


class Segments(VisualBase):
    """``Segments(positions, line_widths, cap_style, colors)``.

    positions: 2N vec3 (start, end, start, end, ...); line_widths float32 in pt and colors
    rgba8, each 1 item or one per segment.
    """

    def __init__(self, positions: TransBuf, line_widths: TransBuf, cap_style: CapStyle, colors: TransBuf) -> None:
        super().__init__()
        self._init_attributes_(
            {"positions": positions, "line_widths": line_widths, "cap_style": cap_style, "colors": colors}
        )

    def _check_(self, owner: str, attrs: dict[str, Any], only: str | None, resolve: bool) -> None:
        n = check_transbuf(owner, "positions", attrs["positions"], (BufferType.vec3,), resolve_chain=resolve)
        if n is not None and n % 2:
            raise ValueError(f"{owner}: positions has {n} items, expected an even count (start, end pairs)")
        segments = None if n is None else n // 2
        check_enum(owner, "cap_style", attrs["cap_style"], CapStyle)
        for name, kind in (("line_widths", BufferType.float32), ("colors", BufferType.rgba8)):
            if only in (None, name):
                count = check_transbuf(owner, name, attrs[name], (kind,), resolve_chain=resolve)
                check_count(owner, name, count, segments, "segment", one_ok=True)
        if resolve:
            check_amounts(f"{owner}: line_widths", attrs["line_widths"])

    def get_positions(self) -> TransBuf:
        """Segment end points (vec3, 2 per segment)."""
        return self._attrs["positions"]

    def set_positions(self, positions: TransBuf) -> None:
        """Set the end points (vec3, an even count)."""
        self._set_attribute_("positions", positions)

    def get_line_widths(self) -> TransBuf:
        """Line widths in pt (float32)."""
        return self._attrs["line_widths"]

    def set_line_widths(self, line_widths: TransBuf) -> None:
        """Set the line widths in pt (float32, 1 or one per segment)."""
        self._set_attribute_("line_widths", line_widths)

    def get_cap_style(self) -> CapStyle:
        """End cap style."""
        return self._attrs["cap_style"]

    def set_cap_style(self, cap_style: CapStyle) -> None:
        """Set the end cap style."""
        self._set_attribute_("cap_style", cap_style)

    def get_colors(self) -> TransBuf:
        """Colors (rgba8)."""
        return self._attrs["colors"]

    def set_colors(self, colors: TransBuf) -> None:
        """Set the colors (rgba8, 1 or one per segment)."""
        self._set_attribute_("colors", colors)
