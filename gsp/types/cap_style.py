"""``gsp.types.cap_style``: the GSP 0.1 module path of CapStyle (defined in ``gsp.types.enums``)."""

from gsp.types.enums import CapStyle

__all__ = ["CapStyle"]
