"""Catching changes to buffers that the log has not seen, before recorded calls need them.

A script may write into a buffer's storage (``buffer.to_numpy()[:] = ...``) without calling
``set_data``; the log would then replay stale data. Before each recorded ``Renderer.render`` (and
before any call that takes buffers) the recorder asks :meth:`BufferTracker.changed` which
reachable buffers differ from what the log holds, and logs their contents first.

Two ways to know, chosen per buffer:

- A buffer whose storage was never exposed (:attr:`gsp.types.Buffer.storage_exposed`: no
  writable view handed out) changes only through ``set_data``, which bumps its
  :attr:`~gsp.types.Buffer.version`. The tracker keeps the version the log matches: comparing two
  integers, no hashing. A write the recorder did not see (a nested or paused call) leaves the
  versions apart, and the contents are logged.
- An exposed buffer is hashed: block hashes of its storage are compared with those of the
  contents last logged.

Hash choice (measured by ``benchmarks/recorder_hash.py`` on the 2-core development machine,
12 MB of float32): xxhash's XXH3-64 about 12 GB/s, ``zlib.crc32`` 1.8 GB/s, ``hashlib.blake2b``
0.35 GB/s, and comparing with a retained copy (``==``, a memcmp) 5.8 GB/s but holding a second
copy of every buffer. XXH3 is the fastest, keeps 8 bytes per buffer, and its 64 bits make an
accidental match negligible; ``zlib.crc32`` is the fallback when ``xxhash`` is not installed.
Hashes are kept per 64 KiB block, so a partial ``set_data`` re-hashes only the blocks it touched.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from gsp.capture import Captured

__all__ = ["content_hash", "HASH_NAME", "BLOCK_BYTES", "BufferTracker", "DeferredHashes", "block_hashes",
           "frozen", "mutables_of", "reachable_buffers"]

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


def mutables_of(obj: Any) -> Iterator[tuple[str, bytearray | list[Any]]]:
    """(setter suffix, value) of each mutable value an object holds, a Color (bytearray) or a
    list (a Texts' strings, a material's lights): its attributes (``_background_color`` ->
    ``background_color``) and those of its attribute dict (visuals, materials). A getter hands
    out the value itself, which a script may change in place."""
    for name, value in obj.__dict__.items():
        if type(value) is bytearray or type(value) is list:
            yield name.lstrip("_"), value
        elif name == "_attrs" and type(value) is dict:
            for key, item in value.items():
                if type(item) is bytearray or type(item) is list:
                    yield key, item


def frozen(value: bytearray | list[Any]) -> bytes | tuple[Any, ...]:
    """An unchangeable copy of a mutable value, to compare it with later (:func:`mutables_of`)."""
    return bytes(value) if type(value) is bytearray else tuple(value)


def reachable_buffers(roots: Iterable[Any], objects: list[Captured] | None = None) -> Iterator[Captured]:
    """Every Buffer reachable from ``roots`` through the attributes of GSP objects (and, into
    ``objects`` when given, every other GSP object reached).

    The walk is generic: it follows each Captured object's instance attributes, and lists,
    tuples and dicts inside them (visual data slots, cameras' matrices, textures, geometries,
    materials, lights, transform chains). Transform links are values, not objects of the log:
    buffers held only inside a link are not walked (a Buffer.set_data would not change the
    link's value in the log; recorder/links.py logs the chain's links again instead). Nor is
    ``userData``, the application's own
    dict, which the log does not hold (it may be large, or cyclic). Each container is walked
    once, so a cycle of lists or dicts ends.
    """
    seen: set[int] = set()
    stack: list[Any] = list(roots)
    while stack:
        obj = stack.pop()
        kind = type(obj)
        if kind is list or kind is tuple or kind is dict:
            if id(obj) in seen:
                continue
            seen.add(id(obj))  # the object stays alive while the roots hold it: ids are unique
            if kind is dict:
                stack.extend(obj.values())
            # Long homogeneous lists of scalars (strings of a Texts, sizes...) hold no buffers.
            elif len(obj) <= 64 or not isinstance(obj[0], _SCALARS):
                stack.extend(obj)
            continue
        if not isinstance(obj, Captured) or id(obj) in seen:
            continue
        seen.add(id(obj))
        if _is_buffer(obj):
            yield obj
            continue
        if objects is not None:
            objects.append(obj)
        attrs = getattr(obj, "__dict__", None)
        if attrs:
            for name, value in attrs.items():
                vkind = type(value)
                if (vkind is list or vkind is tuple or vkind is dict or isinstance(value, Captured)) \
                        and name != "userData":
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
    """What the log holds of each buffer, by UUID: a version (unexposed buffers) or block hashes."""

    def __init__(self) -> None:
        self.versions: dict[str, int] = {}  # uuid -> Buffer.version the log matches (-1: unknown)
        self.known: dict[str, list[int] | DeferredHashes] = {}  # uuid -> hashes (exposed buffers)
        self.deferred: dict[int, DeferredHashes] = {}  # id(copy) -> its hashes, until resolved
        self.checked_bytes = 0  # bytes hashed at check time (statistics)

    def _hashes(self, uuid: str) -> list[int] | None:
        known = self.known.get(uuid)
        if type(known) is DeferredHashes:
            self.deferred.pop(known.key, None)
            return known.get()
        return known  # type: ignore[return-value]

    def note_copied(self, buffer: Any, copy: Any) -> None:
        """The log now holds ``copy`` as ``buffer``'s whole contents (same bytes as its storage).

        An exposed buffer's hashes are taken from the copy later (:meth:`resolve` on the writer
        thread, or at the next check); an unexposed buffer needs only its version.
        """
        if not buffer.storage_exposed:
            self.versions[buffer.get_uuid()] = buffer.version
            return
        uuid = buffer.get_uuid()
        previous = self.known.get(uuid)
        if type(previous) is DeferredHashes:  # nobody needs the replaced contents' hashes
            self.deferred.pop(previous.key, None)
        entry = DeferredHashes(copy)
        self.known[uuid] = entry
        self.deferred[entry.key] = entry

    def forget(self, uuid: str) -> None:
        """The buffer ``uuid`` is gone: nothing to check of it any more."""
        self.versions.pop(uuid, None)
        known = self.known.pop(uuid, None)
        if type(known) is DeferredHashes:
            self.deferred.pop(known.key, None)

    def resolve(self, copy: Any) -> None:
        """Writer side: hash ``copy`` now if a :meth:`note_copied` waits for it."""
        entry = self.deferred.pop(id(copy), None)
        if entry is not None:
            entry.get()

    def note_written(self, buffer: Any, byte_range: tuple[int, int] | None = None) -> None:
        """The log now holds the write just made to ``buffer`` (a recorded new or set_data).

        ``byte_range`` (start, stop): only those bytes were written; None: the whole contents.
        """
        uuid = buffer.get_uuid()
        if not buffer.storage_exposed:
            whole = byte_range is None or (byte_range[0] == 0 and byte_range[1] >= buffer.nbytes)
            self.note_version(uuid, buffer.version, whole)
            return
        data = buffer.to_bytearray()  # exposed already
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

    def note_version(self, uuid: str, version: int, whole: bool) -> None:
        """An unexposed buffer's write ``version`` is in the log. A write of the whole contents
        brings the log up to date; a partial one only if the log was up to date before it."""
        versions = self.versions
        versions[uuid] = version if whole or versions.get(uuid) == version - 1 else -1

    def changed(self, buffers: Iterable[Any]) -> list[Any]:
        """The buffers among ``buffers`` whose contents differ from what the log holds.

        What is known of them is updated: the caller logs their contents next.
        """
        out = []
        known = self.known
        versions = self.versions
        for buf in buffers:
            uuid = buf.get_uuid()
            if not buf.storage_exposed:
                if versions.get(uuid) != buf.version:
                    versions[uuid] = buf.version
                    out.append(buf)
                continue
            data = buf.to_bytearray()
            self.checked_bytes += len(data)
            hashes = [content_hash(data)] if len(data) <= BLOCK_BYTES else block_hashes(data)
            if self._hashes(uuid) != hashes:
                known[uuid] = hashes
                out.append(buf)
        return out
