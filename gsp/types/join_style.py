"""``gsp.types.join_style``: the GSP 0.1 module path of JoinStyle (defined in ``gsp.types.enums``)."""

from gsp.types.enums import JoinStyle

__all__ = ["JoinStyle"]
