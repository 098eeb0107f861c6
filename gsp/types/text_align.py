"""``gsp.types.text_align``: the GSP 0.1 module path of TextAlign (defined in ``gsp.types.enums``)."""

from gsp.types.enums import TextAlign

__all__ = ["TextAlign"]
