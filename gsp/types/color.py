"""Color: a bytearray of 4 bytes, RGBA 0..255."""

from __future__ import annotations

from typing import Any

__all__ = ["Color", "check_color"]

Color = bytearray


def check_color(owner: str, name: str, value: Any) -> bytearray:
    """Validate a Color (a bytearray of 4 bytes); ``owner``/``name`` go in the error message."""
    if not isinstance(value, (bytearray, bytes)) or len(value) != 4:
        got = f"{type(value).__name__} of length {len(value)}" if isinstance(value, (bytes, bytearray)) else repr(value)
        raise TypeError(f"{owner}: {name} must be a Color (bytearray of 4 bytes RGBA 0..255), got {got}")
    # A copy: the object's Color is its own (Constants.Color.white, passed to many viewports,
    # must not change with one of them).
    return bytearray(value)
