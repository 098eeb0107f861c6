"""Stub of the C command rows of :mod:`sessions.codec` (sessions/_rows.c): packing, building and
reading commands, and estimating what rows decode to."""

from collections.abc import Callable
from typing import Any

#: Bytes at least this long are left to ``pack_other`` (equal to ``sessions.codec.INLINE_MAX``).
INLINE_MAX: int

def pack_rows(rows: list[Any], pack_other: Callable[[Any], bytes], /) -> bytes:
    """The msgpack array of ``rows``: plain rows packed in C, the others by ``pack_other(row)``,
    called in row order."""

def build_commands(rows: list[Any], command_type: type, /) -> tuple[list[Any] | None, int]:
    """The commands of msgpack's row lists ``[seq, t_ns, op, target, args, kwargs]`` (args made a
    tuple): ``(commands, -1)``, or ``(None, i)`` when row ``i`` is malformed."""

def decode_rows(meta: Any, ext_hook: ExtHook, command_type: type, limit: int, /) -> list[Any] | None:
    """The commands of a chunk's msgpack rows read straight from ``meta``, or None where the reader
    declines: anything it does not read exactly as msgpack would, or values charged more than
    ``limit`` bytes of memory (:func:`decoded_size`'s charges)."""

def decoded_size(data: Any, limit: int, /) -> int:
    """The bytes of memory the msgpack value in ``data`` may take once decoded, estimated from its
    bytes (:mod:`sessions.decoded_size`): a number over ``limit`` once past it, or -1 when
    extension values nest too deep."""

class ExtHook:
    """msgpack's ``ext_hook`` for one chunk: well-formed arrays (``EXT_NDARRAY``; views of
    ``blobs``, or copies of inline bytes), references (``EXT_REF``) and bytearrays
    (``EXT_BYTEARRAY``, ``EXT_BYTES``: inline, or copies of blob bytes) built in C; every other
    value, payload it cannot read, failed check, and float array of a shuffled chunk handed to
    ``fallback(code, data)``.

    ``ready``: blob bytes in place so far (default all). A bytearray past them is made unfilled
    and appended to ``unfilled`` as ``(offset, bytearray)`` when that list is given, else handed
    to ``fallback``. ``copied``: a writable buffer of one int64, the blob bytes copied into values
    so far, shared with the fallback; a copy that would take it past the blob area's size raises
    ``ValueError``."""

    def __init__(
        self,
        blobs: Any,
        shuffled: bool,
        max_dims: int,
        dtypes: dict[str, tuple[Any, int, bool]],
        frombuffer: Callable[..., Any],
        ref_type: type,
        fallback: Callable[[int, bytes], Any],
        *,
        ready: int = -1,
        unfilled: list[tuple[int, bytearray]] | None = None,
        copied: Any = None,
    ) -> None: ...
    def __call__(self, code: int, data: bytes, /) -> Any: ...
