"""BufferType: the element types a :class:`~gsp.types.Buffer` can hold, and their numpy form."""

from __future__ import annotations

from enum import Enum

import numpy as np

__all__ = ["BufferType"]


class BufferType(Enum):
    """Element type of a Buffer. The value is the GSP 0.1 wire number.

    numpy form of a buffer of ``count`` items (see :meth:`numpy_shape`):
    scalar types (float32, uint32, uint8, int32, int8, vec1) are 1-D ``(count,)``;
    vec2/vec3/vec4 are ``(count, 2|3|4)`` float32; uvec4 ``(count, 4)`` uint32;
    rgba8 ``(count, 4)`` uint8; mat4 ``(count, 4, 4)`` float32.
    """

    float32 = 0
    uint32 = 1
    uint8 = 2
    int32 = 3
    int8 = 4
    vec1 = 5
    vec2 = 6
    vec3 = 7
    vec4 = 8
    uvec4 = 9
    mat4 = 10
    rgba8 = 11

    @staticmethod
    def get_item_size(buffer_type: BufferType) -> int:
        """Size in bytes of one item of ``buffer_type``."""
        return _ITEM_SIZE[_checked("BufferType.get_item_size", buffer_type)]

    @staticmethod
    def numpy_dtype(buffer_type: BufferType) -> np.dtype:
        """numpy dtype of the scalar components of ``buffer_type`` (uint8 for rgba8)."""
        return np.dtype(_COMPONENT[_checked("BufferType.numpy_dtype", buffer_type)][0])

    @staticmethod
    def item_shape(buffer_type: BufferType) -> tuple[int, ...]:
        """Shape of one item in numpy form: ``()`` for scalars, ``(3,)`` for vec3, ``(4, 4)`` for mat4."""
        return _COMPONENT[_checked("BufferType.item_shape", buffer_type)][1]

    @staticmethod
    def numpy_shape(buffer_type: BufferType, count: int) -> tuple[int, ...]:
        """Shape of ``count`` items in numpy form."""
        return (count, *_COMPONENT[_checked("BufferType.numpy_shape", buffer_type)][1])


# (component dtype, item shape) per type: the single table everything else derives from.
_COMPONENT: dict[BufferType, tuple[str, tuple[int, ...]]] = {
    BufferType.float32: ("<f4", ()),
    BufferType.uint32: ("<u4", ()),
    BufferType.uint8: ("u1", ()),
    BufferType.int32: ("<i4", ()),
    BufferType.int8: ("i1", ()),
    BufferType.vec1: ("<f4", ()),
    BufferType.vec2: ("<f4", (2,)),
    BufferType.vec3: ("<f4", (3,)),
    BufferType.vec4: ("<f4", (4,)),
    BufferType.uvec4: ("<u4", (4,)),
    BufferType.mat4: ("<f4", (4, 4)),
    BufferType.rgba8: ("u1", (4,)),
}

_ITEM_SIZE: dict[BufferType, int] = {
    t: int(np.dtype(dt).itemsize * int(np.prod(shape, dtype=np.int64))) for t, (dt, shape) in _COMPONENT.items()
}


def _checked(where: str, buffer_type: object) -> BufferType:
    """``buffer_type`` itself, or a TypeError naming the call (a bare KeyError said only ``3``)."""
    if not isinstance(buffer_type, BufferType):
        raise TypeError(f"{where}: buffer_type must be a BufferType, got {type(buffer_type).__name__} {buffer_type!r:.80}")
    return buffer_type
