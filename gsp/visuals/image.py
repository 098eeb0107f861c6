"""Image: a texture drawn around a projected position."""

from __future__ import annotations

from typing import Any

import numpy as np

from gsp.core.texture import Texture
from gsp.types._checks import check_count, check_enum, check_number, check_transbuf
from gsp.types.buffer_type import BufferType
from gsp.types.enums import ImageInterpolation
from gsp.types.transbuf import TransBuf
from gsp.types.visual_base import VisualBase

__all__ = ["Image"]


class Image(VisualBase):
    """``Image(texture, position, image_extent, image_interpolation)``.

    position: 1 vec3; image_extent: (left, right, bottom, top), offsets in NDC around the
    projected position; the texture's first row is drawn at the top.
    """

    def __init__(
        self,
        texture: Texture,
        position: TransBuf,
        image_extent: tuple[float, float, float, float],
        image_interpolation: ImageInterpolation,
    ) -> None:
        super().__init__()
        self._init_attributes_(
            {
                "texture": texture,
                "position": position,
                "image_extent": image_extent,
                "image_interpolation": image_interpolation,
            }
        )

    def _check_(self, owner: str, attrs: dict[str, Any], only: str | None, resolve: bool) -> None:
        if not isinstance(attrs["texture"], Texture):
            raise TypeError(f"{owner}: texture must be a Texture, got {type(attrs['texture']).__name__}")
        if resolve:  # its data against width × height (set alone, either may have changed since)
            texture = attrs["texture"]
            texture._check_(f"{owner}: texture", dict(texture._attrs), None, True)
        count = check_transbuf(owner, "position", attrs["position"], (BufferType.vec3,), resolve_chain=resolve)
        check_count(owner, "position", count, 1, "image", one_ok=False)
        extent = attrs["image_extent"]
        if isinstance(extent, np.ndarray) and extent.shape == (4,):  # 4 numbers, as a light's position may be
            extent = extent.tolist()
        if not isinstance(extent, (tuple, list)) or len(extent) != 4:
            raise TypeError(f"{owner}: image_extent must be (left, right, bottom, top), got {extent!r:.80}")
        attrs["image_extent"] = tuple(check_number(owner, "image_extent", v) for v in extent)
        check_enum(owner, "image_interpolation", attrs["image_interpolation"], ImageInterpolation)

    def get_texture(self) -> Texture:
        """The texture."""
        return self._attrs["texture"]

    def set_texture(self, texture: Texture) -> None:
        """Set the texture."""
        self._set_attribute_("texture", texture)

    def get_position(self) -> TransBuf:
        """Anchor position (1 vec3)."""
        return self._attrs["position"]

    def set_position(self, position: TransBuf) -> None:
        """Set the anchor position (1 vec3)."""
        self._set_attribute_("position", position)

    def get_image_extent(self) -> tuple[float, float, float, float]:
        """(left, right, bottom, top) in NDC around the projected position."""
        return self._attrs["image_extent"]

    def set_image_extent(self, image_extent: tuple[float, float, float, float]) -> None:
        """Set the extent (left, right, bottom, top)."""
        self._set_attribute_("image_extent", image_extent)

    def get_image_interpolation(self) -> ImageInterpolation:
        """Sampling mode."""
        return self._attrs["image_interpolation"]

    def set_image_interpolation(self, image_interpolation: ImageInterpolation) -> None:
        """Set the sampling mode."""
        self._set_attribute_("image_interpolation", image_interpolation)
