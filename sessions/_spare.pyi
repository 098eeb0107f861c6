"""Stub of the C module of :mod:`sessions.spare` (sessions/_spare.c)."""

from typing_extensions import Buffer

#: Memory under this many bytes is freed, not kept as a spare.
MIN_SPARE_BYTES: int
#: Most bytes all spares together hold.
MAX_SPARE_BYTES: int
#: Most spares kept.
MAX_SPARES: int

class SpareBuffer(Buffer):
    """Writable bytes from :func:`take`; their memory is kept for reuse once nothing refers to them."""

    @property
    def nbytes(self) -> int: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...

def take(size: int, /) -> SpareBuffer:
    """``size`` writable bytes, not initialised: a spare of ``size`` to twice ``size`` bytes when
    one is free, else new memory."""

def release() -> int:
    """Free every spare; the bytes they held."""

def held() -> tuple[int, int]:
    """(number of spares, bytes they hold)."""
