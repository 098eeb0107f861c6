"""UnitUtils: points, pixels and marker areas, with the DPI rule Matplotlib uses."""

from __future__ import annotations

from typing import TypeVar

import numpy as np

__all__ = ["UnitUtils"]

N = TypeVar("N", float, np.ndarray)

POINTS_PER_INCH = 72.0


class UnitUtils:
    """1 pt = 1/72 inch, so px = pt * dpi / 72. A marker area ``s`` in pt² (Matplotlib's
    scatter ``s``) has a diameter of sqrt(s) pt. Functions accept floats or numpy arrays."""

    @staticmethod
    def pt_to_px(value_pt: N, dpi: float) -> N:
        """Points to pixels."""
        return value_pt * (dpi / POINTS_PER_INCH)

    @staticmethod
    def px_to_pt(value_px: N, dpi: float) -> N:
        """Pixels to points."""
        return value_px * (POINTS_PER_INCH / dpi)

    @staticmethod
    def area_pt2_to_diameter_px(area_pt2: N, dpi: float) -> N:
        """Marker area in pt² to its diameter in pixels: sqrt(area) * dpi / 72."""
        return np.sqrt(area_pt2) * (dpi / POINTS_PER_INCH)

    @staticmethod
    def diameter_px_to_area_pt2(diameter_px: N, dpi: float) -> N:
        """Marker diameter in pixels to its area in pt² (inverse of :meth:`area_pt2_to_diameter_px`)."""
        return (diameter_px * (POINTS_PER_INCH / dpi)) ** 2

    # GSP 0.1-style long names (its *_numpy variants take arrays; these take both).
    point_to_pixel = pt_to_px
    pixel_to_point = px_to_pt
    point_to_pixel_numpy = pt_to_px
    pixel_to_point_numpy = px_to_pt
