"""Stub of the C row packer of :func:`sessions.codec.encode_rows` (sessions/_rows.c)."""

from collections.abc import Callable
from typing import Any

#: Bytes at least this long are left to ``pack_other`` (equal to ``sessions.codec.INLINE_MAX``).
INLINE_MAX: int

def pack_rows(rows: list[Any], pack_other: Callable[[Any], bytes], /) -> bytes:
    """The msgpack array of ``rows``: plain rows packed in C, the others by ``pack_other(row)``,
    called in row order."""
