"""``gsp.types.marker_shape``: the GSP 0.1 module path of MarkerShape (defined in ``gsp.types.enums``)."""

from gsp.types.enums import MarkerShape

__all__ = ["MarkerShape"]
