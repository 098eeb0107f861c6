"""Big ``Buffer.set_data`` writes as several partial writes ("pieces"), each small enough for a chunk.

A chunk holds at most ``Limits.max_chunk_bytes`` (1 GiB) and a live message at most 256 MiB, and a
command never spans chunks. So :class:`sessions.writer.LogWriter` logs a ``set_data(data, offset,
count)`` whose data is bigger than its ``piece_bytes`` (:data:`PIECE_BYTES` by default) as
consecutive ``set_data(piece, offset_i, count_i)`` commands, one seq each, cut at item boundaries:
``Buffer.set_data`` already writes a part of a buffer, so the log needs no new op, and replaying
the pieces one after the other leaves the buffer as the one write did. Keyframes hold a big
buffer's contents in pieces the same way (a linked keyframe points at each piece of the write).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["PIECE_BYTES", "MIN_PIECE_BYTES", "SET_DATA_OP", "split_write", "payload_bytes"]

#: A ``Buffer.set_data`` whose data is bigger than this is logged as several partial writes of
#: about this size. 64 MiB: a chunk of one piece stays far below the readers' 1 GiB chunk limit
#: and the live transport's 256 MiB message limit, and decoding one never needs more.
PIECE_BYTES = 64 << 20
#: The smallest piece size a writer accepts: pieces of a split write are then at least half of it,
#: over ``sessions.ledger.LINK_MIN_BYTES`` (64 KiB), so that a linked keyframe may point at each.
MIN_PIECE_BYTES = 1 << 20

SET_DATA_OP = "Buffer.set_data"


def payload_bytes(data: Any) -> int:
    """Bytes of a ``set_data`` payload (0 for anything that is not bytes-like)."""
    if isinstance(data, np.ndarray):
        return int(data.nbytes)
    if type(data) in (bytes, bytearray):
        return len(data)
    return 0


def _bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any, Any] | None:
    """(data, offset, count) of ``Buffer.set_data(data, offset, count)`` given any way; None when
    the call has another shape (left as it is)."""
    names = ("data", "offset", "count")
    if len(args) > 3 or any(k not in names for k in kwargs) or len(args) + len(kwargs) != 3:
        return None
    values = dict(zip(names, args))
    for name, value in kwargs.items():
        if name in values:
            return None
        values[name] = value
    return values["data"], values["offset"], values["count"]


def split_write(args: tuple[Any, ...], kwargs: dict[str, Any], piece_bytes: int) -> list[tuple[Any, int, int]] | None:
    """The pieces of ``Buffer.set_data(*args, **kwargs)`` as ``(data, offset, count)`` argument
    tuples, in order, or None when it needs none (data of ``piece_bytes`` or less) or cannot be cut.

    The data is cut at item boundaries into as few pieces as keep each at about ``piece_bytes``
    (at most one item more), all nearly the same size. Pieces are views of the data, never
    copies: a numpy array with one row per item is cut along its first axis (its dtype kept,
    so float data is still shuffled before lz4); raw bytes (``bytes``, ``bytearray``, a flat
    ``uint8`` array) become flat ``uint8`` arrays, which ``set_data`` takes as raw bytes.
    """
    bound = _bind(args, kwargs)
    if bound is None:
        return None
    data, offset, count = bound
    if type(offset) is not int or type(count) is not int or offset < 0 or count < 2:
        return None
    nbytes = payload_bytes(data)
    if nbytes <= piece_bytes or nbytes % count:
        return None
    if isinstance(data, np.ndarray) and data.ndim >= 1 and data.shape[0] == count:
        rows = data  # one row per item
        scale = 1
    elif type(data) in (bytes, bytearray) or (isinstance(data, np.ndarray) and data.ndim == 1 and data.dtype == np.uint8):
        rows = np.frombuffer(data, np.uint8) if not isinstance(data, np.ndarray) else data
        scale = nbytes // count  # bytes per item
    else:
        return None
    pieces = math.ceil(nbytes / piece_bytes)
    per_piece = math.ceil(count / pieces)
    out = []
    for first in range(0, count, per_piece):
        n = min(per_piece, count - first)
        out.append((rows[first * scale:(first + n) * scale], offset + first, n))
    return out
