"""A rendered frame, holding PNG bytes or an RGBA array and converting between them lazily."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

__all__ = ["RenderedFrame", "decode_png", "encode_png"]


def decode_png(data: bytes) -> np.ndarray:
    """PNG bytes -> (H, W, 4) uint8 RGBA array."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGBA"))


def encode_png(rgba: np.ndarray, compress_level: int = 6) -> bytes:
    """(H, W, 3|4) uint8 array -> PNG bytes (zlib level 6, as Matplotlib's savefig)."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba)).save(out, format="PNG", compress_level=compress_level)
    return out.getvalue()


@dataclass
class RenderedFrame:
    """One frame drawn by a backend.

    ``number`` is the 1-based frame number in the session (the n-th ``Renderer.render``),
    ``t_ns`` its recorded time, ``renderer`` the UUID of the recorded renderer that drew it,
    ``frame_rate`` the rate its animator declared (1 / the ``delta_time`` of the latest
    ``Animator.frame``; None without an animator): a headless animation that drew slower than
    its rate is logged at real times, yet its video plays at the rate it was made for.
    """

    number: int
    t_ns: int
    renderer: str
    png: bytes | None = None
    rgba: np.ndarray | None = field(default=None, repr=False)
    frame_rate: float | None = None

    def png_bytes(self) -> bytes:
        """The frame as PNG bytes (encoded once if the backend gave pixels)."""
        if not self.png:
            if self.rgba is None:
                raise ValueError(f"frame {self.number}: the backend returned no image")
            self.png = encode_png(self.rgba)
        return self.png

    @property
    def has_image(self) -> bool:
        """False when the backend drew nothing (the null backend)."""
        return bool(self.png) or self.rgba is not None

    def rgba_array(self) -> np.ndarray:
        """The frame as an (H, W, 4) uint8 array (decoded once if the backend gave PNG)."""
        if self.rgba is None:
            if not self.png:
                raise ValueError(f"frame {self.number}: the backend returned no image")
            self.rgba = decode_png(self.png)
        return self.rgba
