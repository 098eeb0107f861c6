"""``gsp.types.image_interpolation``: the GSP 0.1 module path of ImageInterpolation (defined in ``gsp.types.enums``)."""

from gsp.types.enums import ImageInterpolation

__all__ = ["ImageInterpolation"]
