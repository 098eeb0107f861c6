"""Canvas: the drawing surface, in pixels."""

from __future__ import annotations

from typing import Any

from gsp.capture import Captured, new_uuid
from gsp.types._checks import check_int, check_number
from gsp.types.color import Color, check_color

__all__ = ["Canvas"]


class Canvas(Captured):
    """``Canvas(width, height, dpi, background_color)``: size in pixels, dpi for pt→px conversions."""

    def __init__(self, width: int, height: int, dpi: float, background_color: Color) -> None:
        self._uuid = new_uuid()
        self.userData: dict[str, Any] = {}
        self._width = check_int("Canvas", "width", width, minimum=1)
        self._height = check_int("Canvas", "height", height, minimum=1)
        self._dpi = check_number("Canvas", "dpi", dpi, positive=True)
        self._background_color = check_color("Canvas", "background_color", background_color)

    def __repr__(self) -> str:
        return f"Canvas({self._width}x{self._height}, dpi={self._dpi}, uuid={self._uuid})"

    @classmethod
    def _new_footprint_(cls, width: Any = 1, height: Any = 1, *args: Any, **kwargs: Any) -> int:
        """The RGBA frame a renderer draws a canvas of this size into."""
        try:
            return 4 * check_int("Canvas", "width", width, minimum=1) * check_int("Canvas", "height", height, minimum=1)
        except (TypeError, ValueError):
            return 0

    def _footprint_(self) -> int:
        """The RGBA frame a renderer draws this canvas into."""
        return 4 * self._width * self._height

    def get_width(self) -> int:
        """Width in pixels."""
        return self._width

    def set_width(self, width: int) -> None:
        """Set the width in pixels (>= 1)."""
        self._width = check_int("Canvas.set_width", "width", width, minimum=1)

    def get_height(self) -> int:
        """Height in pixels."""
        return self._height

    def set_height(self, height: int) -> None:
        """Set the height in pixels (>= 1)."""
        self._height = check_int("Canvas.set_height", "height", height, minimum=1)

    def get_dpi(self) -> float:
        """Dots per inch: 1 pt = dpi / 72 pixels."""
        return self._dpi

    def set_dpi(self, dpi: float) -> None:
        """Set the dpi (> 0)."""
        self._dpi = check_number("Canvas.set_dpi", "dpi", dpi, positive=True)

    def get_background_color(self) -> Color:
        """Background color."""
        return self._background_color

    def set_background_color(self, background_color: Color) -> None:
        """Set the background color."""
        self._background_color = check_color("Canvas.set_background_color", "background_color", background_color)
