"""Catching in-place mutation of buffers between recorded calls.

A script may write into a buffer's storage (``buffer.to_numpy()[:] = ...``) without calling
``set_data``; the log would then replay stale data. Before each recorded ``Renderer.render``
the recorder hashes every buffer reachable from the render's arguments and compares the hash
with the one of the content last written to the log; a changed buffer gets a synthetic full
``Buffer.set_data`` before the render command.

Hash choice (measured by ``benchmarks/recorder_hash.py`` on the 2-core development machine,
12 MB of float32): xxhash's XXH3-64 about 12 GB/s, ``zlib.crc32`` 1.8 GB/s, ``hashlib.blake2b``
0.35 GB/s, and comparing with a retained copy (``==``, a memcmp) 5.8 GB/s but holding a second
copy of every buffer. XXH3 is the fastest, keeps 8 bytes per buffer, and its 64 bits make an
accidental match negligible; ``zlib.crc32`` is the fallback when ``xxhash`` is not installed.

Recording a ``Buffer.new`` or ``Buffer.set_data`` updates the known hashes from the buffer's
storage right after the call (exactly what the log now holds). Hashes are kept per 64 KiB
block, so a partial ``set_data`` re-hashes only the blocks it touched.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from gsp.capture import Captured

__all__ = ["content_hash", "HASH_NAME", "BLOCK_BYTES", "BufferTracker", "DeferredHashes", "block_hashes",
           "reachable_buffers"]

try:
    import xxhash

    content_hash: Callable[[Any], int] = xxhash.xxh3_64_intdigest
    HASH_NAME = "xxh3_64"
except ImportError:  # pragma: no cover - xxhash is a declared dependency
    content_hash = zlib.crc32
    HASH_NAME = "crc32"


_SCALARS = (str, bytes, int, float, bool, type(None))


def _is_buffer(obj: Any) -> bool:
    return getattr(type(obj), "_capture_name_", None) == "Buffer"


def reachable_buffers(roots: Iterable[Any]) -> Iterator[Captured]:
    """Every Buffer reachable from ``roots`` through the attributes of GSP objects.

    The walk is generic: it follows each Captured object's instance attributes, and lists,
    tuples and dicts inside them (visual data slots, cameras' matrices, textures, geometries,
    materials, lights, transform chains). Transform links are values, not objects of the log:
    buffers held only inside a link are not walked.
    """
    seen: set[int] = set()
    stack: list[Any] = list(roots)
    while stack:
        obj = stack.pop()
        kind = type(obj)
        if kind is list or kind is tuple:
            # Long homogeneous lists of scalars (strings of a Texts, sizes...) hold no buffers.
            if len(obj) <= 64 or not isinstance(obj[0], _SCALARS):
                stack.extend(obj)
            continue
        if kind is dict:
            stack.extend(obj.values())
            continue
        if not isinstance(obj, Captured) or id(obj) in seen:
            continue
        seen.add(id(obj))
        if _is_buffer(obj):
            yield obj
            continue
        attrs = getattr(obj, "__dict__", None)
        if attrs:
            for value in attrs.values():
                vkind = type(value)
                if vkind is list or vkind is tuple or vkind is dict or isinstance(value, Captured):
                    stack.append(value)


#: Buffers are hashed in blocks of this many bytes, so that a partial ``set_data`` re-hashes only
#: the blocks it touched (a 16-byte update of a 12 MB buffer costs one 64 KiB hash, not 12 MB).
BLOCK_BYTES = 64 * 1024


def block_hashes(data: Any, first: int = 0, last: int | None = None) -> list[int]:
    """Hashes of blocks ``first .. last`` (inclusive; default: to the end) of ``data``."""
    view = memoryview(data)
    n = len(view)
    if last is None:
        last = max(0, (n - 1) // BLOCK_BYTES)
    return [content_hash(view[b * BLOCK_BYTES : (b + 1) * BLOCK_BYTES]) for b in range(first, last + 1)]


class DeferredHashes:
    """Block hashes of a recorder copy, computed by whichever thread asks first.

    A full ``set_data`` of a big buffer logs the recorder's copy, whose bytes are the buffer's
    new content: the writer thread hashes the copy when it takes the command (xxhash releases
    the GIL), so the caller's thread does not; a render that comes first hashes it itself.
    The copy is hashed before the writer can recycle it (recycling follows the append).
    """

    __slots__ = ("data", "hashes", "key")

    def __init__(self, data: Any) -> None:
        self.data: Any = data
        self.hashes: list[int] | None = None
        self.key = id(data)

    def get(self) -> list[int]:
        """The block hashes (computed now if nobody has yet)."""
        hashes = self.hashes
        if hashes is None:
            data = self.data
            view = memoryview(data).cast("B") if not isinstance(data, (bytes, bytearray)) else data
            hashes = self.hashes = block_hashes(view)
            self.data = None  # the copy may be recycled from now on
        return hashes


class BufferTracker:
    """Known block hashes of every buffer, by UUID, as the log holds its content."""

    def __init__(self) -> None:
        self.known: dict[str, list[int] | DeferredHashes] = {}
        self.deferred: dict[int, DeferredHashes] = {}  # id(copy) -> its hashes, until resolved
        self.checked_bytes = 0  # bytes hashed at render time (statistics)

    def _hashes(self, uuid: str) -> list[int] | None:
        known = self.known.get(uuid)
        if type(known) is DeferredHashes:
            self.deferred.pop(known.key, None)
            return known.get()
        return known  # type: ignore[return-value]

    def note_copied(self, buffer: Any, copy: Any) -> None:
        """The log now holds ``copy`` as ``buffer``'s whole content (same bytes as its storage):
        hash it later (:meth:`resolve` on the writer thread, or at the next check)."""
        uuid = buffer.get_uuid()
        previous = self.known.get(uuid)
        if type(previous) is DeferredHashes:  # nobody needs the replaced content's hashes
            self.deferred.pop(previous.key, None)
        entry = DeferredHashes(copy)
        self.known[uuid] = entry
        self.deferred[entry.key] = entry

    def resolve(self, copy: Any) -> None:
        """Writer side: hash ``copy`` now if a :meth:`note_copied` waits for it."""
        entry = self.deferred.pop(id(copy), None)
        if entry is not None:
            entry.get()

    def note_written(self, buffer: Any, byte_range: tuple[int, int] | None = None) -> None:
        """The log now holds ``buffer``'s current content (after a recorded new/set_data).

        ``byte_range`` (start, stop): only those bytes changed; other blocks keep their hash.
        """
        uuid = buffer.get_uuid()
        data = buffer.to_bytearray()
        if len(data) <= BLOCK_BYTES:  # one block: the common small buffer, no slicing
            self.known[uuid] = [content_hash(data)]
            return
        hashes = self._hashes(uuid)
        if hashes is not None:
            hashes = list(hashes)  # a resolved DeferredHashes keeps its own list
        expected_blocks = max(1, -(-len(data) // BLOCK_BYTES))
        if byte_range is None or hashes is None or len(hashes) != expected_blocks or byte_range[1] <= byte_range[0]:
            self.known[uuid] = block_hashes(data)
            return
        first, last = byte_range[0] // BLOCK_BYTES, (byte_range[1] - 1) // BLOCK_BYTES
        hashes[first : last + 1] = block_hashes(data, first, last)
        self.known[uuid] = hashes

    def changed(self, buffers: Iterable[Any]) -> list[Any]:
        """The buffers among ``buffers`` whose content differs from what the log holds.

        Their known hashes are updated: the caller records their content next.
        """
        out = []
        known = self.known
        for buf in buffers:
            uuid = buf.get_uuid()
            data = buf.to_bytearray()
            self.checked_bytes += len(data)
            hashes = [content_hash(data)] if len(data) <= BLOCK_BYTES else block_hashes(data)
            if self._hashes(uuid) != hashes:
                known[uuid] = hashes
                out.append(buf)
        return out
