"""CmapUtils: map scalar values to rgba8 colors with a Matplotlib colormap."""

from __future__ import annotations

from typing import Any

import numpy as np

from gsp.types.buffer import Buffer
from gsp.types.buffer_type import BufferType

__all__ = ["CmapUtils"]


class CmapUtils:
    """Colormaps from ``matplotlib.colormaps`` (Matplotlib is imported only when used)."""

    @staticmethod
    def get_color_map(colormap_name: str, values: Any, vmin: float | None = None, vmax: float | None = None) -> Buffer:
        """An rgba8 Buffer, one color per value (values: Buffer or array-like of numbers)."""
        return Buffer.from_numpy(CmapUtils.rgba8(colormap_name, values, vmin, vmax), BufferType.rgba8)

    @staticmethod
    def rgba8(colormap_name: str, values: Any, vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
        """(N, 4) uint8 colors; values are scaled linearly from [vmin, vmax] (default: their range) to [0, 1]."""
        import matplotlib  # lazy: gsp itself does not depend on Matplotlib

        try:
            cmap = matplotlib.colormaps[colormap_name]
        except KeyError:
            raise ValueError(f"CmapUtils: unknown colormap {colormap_name!r}") from None
        data = values.read_view() if isinstance(values, Buffer) else np.asarray(values)
        data = np.asarray(data, dtype=np.float64).reshape(-1)
        lo = float(np.min(data)) if vmin is None and data.size else (vmin or 0.0)
        hi = float(np.max(data)) if vmax is None and data.size else (vmax if vmax is not None else 1.0)
        span = hi - lo
        scaled = np.zeros_like(data) if span == 0 else (data - lo) / span
        return np.asarray(cmap(np.clip(scaled, 0.0, 1.0), bytes=True), dtype=np.uint8).reshape(-1, 4)

    @staticmethod
    def has_colormap(colormap_name: str) -> bool:
        """Whether Matplotlib knows the colormap."""
        import matplotlib

        return colormap_name in matplotlib.colormaps

    # GSP 0.1 spelling.
    has_color_map = has_colormap
