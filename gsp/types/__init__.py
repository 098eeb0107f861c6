"""GSP types: buffers, enums, colors, and the visual base class."""

from gsp.types.buffer import Buffer, ContentsLoan
from gsp.types.buffer_type import BufferType
from gsp.types.color import Color
from gsp.types.enums import CapStyle, ImageInterpolation, JoinStyle, MarkerShape, TextAlign
from gsp.types.groups import Groups
from gsp.types.transbuf import TransBuf
from gsp.types.visual_base import VisualBase

__all__ = [
    "BufferType",
    "Buffer",
    "ContentsLoan",
    "CapStyle",
    "Color",
    "Groups",
    "ImageInterpolation",
    "JoinStyle",
    "MarkerShape",
    "TextAlign",
    "TransBuf",
    "VisualBase",
]
