"""The small enums of the GSP 0.1 API."""

from __future__ import annotations

from enum import Enum, IntEnum

__all__ = ["CapStyle", "JoinStyle", "ImageInterpolation", "MarkerShape", "TextAlign"]


class CapStyle(Enum):
    """How line ends are drawn."""

    BUTT = 0
    PROJECTING = 1
    ROUND = 2


class JoinStyle(Enum):
    """How path segments meet."""

    MITER = 0
    BEVEL = 1
    ROUND = 2


class ImageInterpolation(Enum):
    """Texture sampling of an Image."""

    LINEAR = 0
    NEAREST = 1


class MarkerShape(Enum):
    """Shape of the markers of a Markers visual (values equal the names)."""

    disc = "disc"
    asterisk = "asterisk"
    triangle_down = "triangle_down"
    triangle_up = "triangle_up"
    triangle_left = "triangle_left"
    triangle_right = "triangle_right"
    square = "square"
    cross = "cross"
    club = "club"
    diamond = "diamond"
    heart = "heart"
    spade = "spade"
    vbar = "vbar"
    hbar = "hbar"


class TextAlign(IntEnum):
    """Text anchor: value = 10 * vertical (0 top, 1 center, 2 bottom) + horizontal (0 left .. 2 right)."""

    TOP_LEFT = 0
    TOP_CENTER = 1
    TOP_RIGHT = 2
    CENTER_LEFT = 10
    CENTER_CENTER = 11
    CENTER_RIGHT = 12
    BOTTOM_LEFT = 20
    BOTTOM_CENTER = 21
    BOTTOM_RIGHT = 22

    def horizontal(self) -> int:
        """0 left, 1 center, 2 right."""
        return int(self) % 10

    def vertical(self) -> int:
        """0 top, 1 center, 2 bottom."""
        return int(self) // 10
