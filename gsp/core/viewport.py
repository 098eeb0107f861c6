"""Viewport: a rectangle of the canvas, in pixels, x from the left and y from the bottom."""

from __future__ import annotations

from typing import Any

from gsp.capture import Captured, new_uuid
from gsp.types._checks import check_int
from gsp.types.color import Color, check_color

__all__ = ["Viewport"]


class Viewport(Captured):
    """``Viewport(x, y, width, height, background_color)`` in canvas pixels (y up from the bottom)."""

    def __init__(self, x: int, y: int, width: int, height: int, background_color: Color) -> None:
        self._uuid = new_uuid()
        self.userData: dict[str, Any] = {}
        self._x = check_int("Viewport", "x", x)
        self._y = check_int("Viewport", "y", y)
        self._width = check_int("Viewport", "width", width, minimum=1)
        self._height = check_int("Viewport", "height", height, minimum=1)
        self._background_color = check_color("Viewport", "background_color", background_color)

    def __repr__(self) -> str:
        return f"Viewport({self._x}, {self._y}, {self._width}x{self._height}, uuid={self._uuid})"

    def get_x(self) -> int:
        """Left edge, pixels from the canvas's left."""
        return self._x

    def set_x(self, x: int) -> None:
        """Set the left edge."""
        self._x = check_int("Viewport.set_x", "x", x)

    def get_y(self) -> int:
        """Bottom edge, pixels from the canvas's bottom."""
        return self._y

    def set_y(self, y: int) -> None:
        """Set the bottom edge."""
        self._y = check_int("Viewport.set_y", "y", y)

    def get_width(self) -> int:
        """Width in pixels."""
        return self._width

    def set_width(self, width: int) -> None:
        """Set the width (>= 1)."""
        self._width = check_int("Viewport.set_width", "width", width, minimum=1)

    def get_height(self) -> int:
        """Height in pixels."""
        return self._height

    def set_height(self, height: int) -> None:
        """Set the height (>= 1)."""
        self._height = check_int("Viewport.set_height", "height", height, minimum=1)

    def get_background_color(self) -> Color:
        """Background color."""
        return self._background_color

    def set_background_color(self, background_color: Color) -> None:
        """Set the background color."""
        self._background_color = check_color("Viewport.set_background_color", "background_color", background_color)
