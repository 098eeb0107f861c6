"""Constants: named colors and the face culling enum."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["Constants", "FaceCulling"]


class _Colors:
    """Named colors. Each access returns a fresh bytearray, so changing one never changes the constant."""

    _table: dict[str, tuple[int, int, int, int]] = {
        "white": (255, 255, 255, 255),
        "black": (0, 0, 0, 255),
        "red": (255, 0, 0, 255),
        "green": (0, 255, 0, 255),
        "blue": (0, 0, 255, 255),
        "yellow": (255, 255, 0, 255),
        "magenta": (255, 0, 255, 255),
        "cyan": (0, 255, 255, 255),
        "light_gray": (191, 191, 191, 255),
        "gray": (128, 128, 128, 255),
        "dark_gray": (64, 64, 64, 255),
        "transparent": (0, 0, 0, 0),
    }

    def __getattr__(self, name: str) -> bytearray:
        try:
            return bytearray(self._table[name])
        except KeyError:
            raise AttributeError(f"Constants.Color has no color {name!r}; known: {sorted(self._table)}") from None

    def __dir__(self) -> list[str]:
        return sorted(self._table)

    # Explicit attributes for type checkers and IDEs (values come from __getattr__ at run time).
    white: bytearray
    black: bytearray
    red: bytearray
    green: bytearray
    blue: bytearray
    yellow: bytearray
    magenta: bytearray
    cyan: bytearray
    light_gray: bytearray
    gray: bytearray
    dark_gray: bytearray
    transparent: bytearray


class FaceCulling(IntEnum):
    """Which triangle faces a mesh hides."""

    FrontSide = 0
    BackSide = 1
    BothSides = 2


class Constants:
    """``Constants.Color.<name>`` (RGBA bytearrays) and ``Constants.FaceCulling``."""

    Color = _Colors()
    FaceCulling = FaceCulling
