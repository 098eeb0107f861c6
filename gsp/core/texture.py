"""Texture: width × height rgba8 texels."""

from __future__ import annotations

from typing import Any

from gsp.capture import Captured, new_uuid
from gsp.types._attributes import AttributeHolder
from gsp.types._checks import check_count, check_int, check_transbuf
from gsp.types.buffer_type import BufferType
from gsp.types.transbuf import TransBuf

__all__ = ["Texture"]


class Texture(AttributeHolder, Captured):
    """``Texture(data, width, height)``: ``data`` holds width*height rgba8 texels, rows from the top."""

    def __init__(self, data: TransBuf, width: int, height: int) -> None:
        self._uuid = new_uuid()
        self.userData: dict[str, Any] = {}
        self._init_attributes_({"data": data, "width": width, "height": height})

    def __repr__(self) -> str:
        return f"Texture({self._attrs['width']}x{self._attrs['height']}, uuid={self._uuid})"

    def _check_(self, owner: str, attrs: dict[str, Any], only: str | None, resolve: bool) -> None:
        attrs["width"] = check_int(owner, "width", attrs["width"], minimum=1)
        attrs["height"] = check_int(owner, "height", attrs["height"], minimum=1)
        count = check_transbuf(owner, "data", attrs["data"], (BufferType.rgba8,), resolve_chain=resolve)
        if only in (None, "data"):
            expected = attrs["width"] * attrs["height"]
            check_count(owner, "data", count, expected, f"texel of {attrs['width']}x{attrs['height']}", one_ok=False)

    def get_data(self) -> TransBuf:
        """The texels (rgba8)."""
        return self._attrs["data"]

    def set_data(self, data: TransBuf) -> None:
        """Set the texels (width*height rgba8 items)."""
        self._set_attribute_("data", data)

    def get_width(self) -> int:
        """Width in texels."""
        return self._attrs["width"]

    def set_width(self, width: int) -> None:
        """Set the width (>= 1); the data is checked against it when set next or in check_attributes()."""
        self._set_attribute_("width", width)

    def get_height(self) -> int:
        """Height in texels."""
        return self._attrs["height"]

    def set_height(self, height: int) -> None:
        """Set the height (>= 1); the data is checked against it when set next or in check_attributes()."""
        self._set_attribute_("height", height)

    def check_attributes(self) -> None:
        """Check data against width*height, running a transform chain if needed."""
        self._check_("Texture.check_attributes", dict(self._attrs), None, True)
