"""TransformLinkImmediate: a link that yields a fixed buffer."""

from __future__ import annotations

from typing import Any

from gsp.transforms.transform_link_base import TransformLinkBase, register_link
from gsp.types.buffer import Buffer
from gsp.types.buffer_type import BufferType

__all__ = ["TransformLinkImmediate"]


@register_link
class TransformLinkImmediate(TransformLinkBase):
    """Ignores its input and yields ``buffer`` (the same object, so later edits show through)."""

    def __init__(self, buffer: Buffer) -> None:
        if not isinstance(buffer, Buffer):
            raise TypeError(f"TransformLinkImmediate: buffer must be a Buffer, got {type(buffer).__name__}")
        self._buffer = buffer

    def get_buffer(self) -> Buffer:
        """The buffer this link yields."""
        return self._buffer

    def apply(self, buffer: Buffer | None) -> Buffer:
        """Return the fixed buffer."""
        return self._buffer

    def _serialize_fields(self) -> dict[str, Any]:
        return {
            "buffer_type": self._buffer.get_type().value,
            "count": self._buffer.get_count(),
            "data": self._buffer.read_view().tobytes(),
        }

    @classmethod
    def _from_fields(cls, fields: dict[str, Any]) -> TransformLinkImmediate:
        try:
            buffer_type = BufferType(fields["buffer_type"])
            count, data = fields["count"], fields["data"]
        except (KeyError, ValueError) as exc:
            raise ValueError(f"TransformLinkImmediate.deserialize: bad fields ({exc})") from None
        if not isinstance(data, (bytes, bytearray)) or not isinstance(count, int):
            raise ValueError("TransformLinkImmediate.deserialize: 'data' must be bytes and 'count' an int")
        buffer = Buffer.from_bytearray(data, buffer_type)
        if buffer.get_count() != count:
            raise ValueError(
                f"TransformLinkImmediate.deserialize: data holds {buffer.get_count()} items, 'count' says {count}"
            )
        return cls(buffer)
