"""Chunk framing: a self-describing, checksummed, independently decompressible byte string.

The same bytes are appended to ``.gsplog`` files and published on the wire. Layout (all
little-endian, documented byte by byte in docs/format.md)::

    0  4s magic "GSPC"        4  B  chunk format major    5  B  kind     6  B  flags   7 B  0
    8  I  command count       12 I  0
    16 q  seq_first           24 q  seq_last              32 q  t_first_ns          40 q t_last_ns
    48 Q  raw_size            56 Q  stored_size           64 Q  meta_size
    72 Q  payload checksum    80 Q  header checksum (xxh3_64 of bytes 0..79)
    88    payload (stored_size bytes: lz4 block of the raw bytes, or the raw bytes)

raw bytes = msgpack meta, zero padding to a multiple of 16, blob area.
"""

from __future__ import annotations

import bisect
import struct
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal

import lz4.block
import msgpack
import numpy as np
import xxhash

from sessions import shuffle as shuffle_filter
from sessions.blocks import BLOCK_BYTES, Segment, decode_blocks, encode_blocks
from sessions.codec import (
    ALIGN,
    Row,
    check_decoded_size,
    decode_commands_quietly,
    encode_rows,
    keeping_links_as_recorded,
    report_skipped,
)
from sessions.command import Command
from sessions.errors import LogFormatError, SkippedCommandWarning
from sessions.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "split_chunks",
    "CHUNK_MAGIC",
    "CHUNK_VERSION",
    "HEADER_SIZE",
    "ChunkKind",
    "KEYFRAME_KINDS",
    "ChunkFlags",
    "ChunkInfo",
    "Chunk",
    "encode_chunk",
    "encode_chunk_parts",
    "encode_chunk_rows",
    "encode_end_chunk",
    "decode_chunk",
    "check_chunk",
    "peek_chunk_header",
    "checksum",
]

CHUNK_MAGIC = b"GSPC"
CHUNK_VERSION = 1
_HEADER = struct.Struct("<4sBBBBII qqqq QQQ QQ")
HEADER_SIZE = _HEADER.size  # 88
_CHECKED = HEADER_SIZE - 8  # bytes covered by the header checksum
FLAGS_OFFSET = 6  # the flags byte, after the magic, version and kind


class ChunkKind(IntEnum):
    """What a chunk holds. Readers skip kinds they do not know, with a warning."""

    COMMANDS = 1
    KEYFRAME = 2
    END = 3
    #: Format 1.2, files only: a keyframe whose buffer contents may be :class:`~sessions.command.LogRef`
    #: to earlier commands of the file (a reader resolves them; older readers skip the chunk and
    #: seek from an older keyframe). Never sent to a live stream.
    LINKED_KEYFRAME = 4


#: Chunk kinds holding a whole-scene snapshot (seek points).
KEYFRAME_KINDS = frozenset({ChunkKind.KEYFRAME, ChunkKind.LINKED_KEYFRAME})
#: What commands decoded early are decoded under: the limits, and whether links are kept as
#: recorded (``sessions.codec.links_as_recorded``).
_DecodeKey = tuple[Limits, bool]


class ChunkFlags:
    """Bits of the flags byte."""

    LZ4 = 1  # payload is an lz4 block of the raw bytes
    SHUFFLE = 2  # float arrays in the blob area are byte-shuffled
    BLOCKS = 4  # with LZ4: the payload is lz4 blocks, shuffled block by block (sessions/blocks.py)


def checksum_hasher() -> xxhash.xxh3_64:
    """A running checksum of the kind :func:`checksum` computes (``update``, then ``intdigest``)."""
    return xxhash.xxh3_64()


def checksum(*parts: bytes | bytearray | memoryview) -> int:
    """xxh3_64 of the concatenated parts."""
    h = checksum_hasher()
    for part in parts:
        h.update(part)
    return h.intdigest()


@dataclass(frozen=True, slots=True)
class ChunkInfo:
    """A chunk's header fields, plus where it was found and the markers it holds."""

    kind: int
    flags: int
    count: int
    seq_first: int
    seq_last: int
    t_first: int
    t_last: int
    raw_size: int
    stored_size: int
    meta_size: int
    payload_checksum: int
    offset: int | None = None
    markers: tuple[tuple[str, int, int], ...] = ()  # (label, seq, t_ns), filled by writers
    frames: int = 0  # Renderer.render commands, filled by writers

    @property
    def size(self) -> int:
        """Total bytes of the chunk (header + payload)."""
        return HEADER_SIZE + self.stored_size

    @property
    def is_keyframe(self) -> bool:
        """True for KEYFRAME and LINKED_KEYFRAME chunks."""
        return self.kind in KEYFRAME_KINDS

    @property
    def holds_commands(self) -> bool:
        """True for the kinds that hold commands: COMMANDS and the keyframes."""
        return self.kind == ChunkKind.COMMANDS or self.kind in KEYFRAME_KINDS

    @property
    def kind_name(self) -> str:
        """``"COMMANDS"``, ``"KEYFRAME"``, ``"LINKED_KEYFRAME"``, ``"END"`` or ``"UNKNOWN(n)"``."""
        try:
            return ChunkKind(self.kind).name
        except ValueError:
            return f"UNKNOWN({self.kind})"


@dataclass(slots=True)
class Chunk:
    """A decoded chunk: header fields and its decompressed raw bytes."""

    info: ChunkInfo
    raw: bytes | bytearray | memoryview
    chunk_index: int | None = None
    _commands: list[Command] | None = field(default=None, repr=False)
    unshuffled: bool = False  # raw was unshuffled while decompressing (BLOCKS chunks)
    # ((limits, links as recorded), commands, warnings) decoded while the chunk's last blocks were
    # still decompressing
    _early: tuple[_DecodeKey, list[Command], list[SkippedCommandWarning]] | None = field(default=None, repr=False)
    #: the commands :meth:`commands` left out (a value this build cannot rebuild), as it warned of them
    skipped: list[SkippedCommandWarning] = field(default_factory=list, repr=False)

    def _where(self) -> dict[str, Any]:
        return {"offset": self.info.offset, "chunk_index": self.chunk_index}

    def commands(self, limits: Limits = DEFAULT_LIMITS) -> list[Command]:
        """The commands (empty for END and unknown kinds; unknown kinds warn)."""
        if self._commands is None:
            if not self.info.holds_commands:
                if self.info.kind != ChunkKind.END:
                    warnings.warn(f"skipping chunk of unknown kind {self.info.kind} ({self._where()})", stacklevel=2)
                self._commands = []
            else:
                early, self._early = self._early, None
                if early is not None and early[0] == (limits, keeping_links_as_recorded()):
                    commands, skipped = early[1], early[2]
                else:
                    commands, skipped = _decode_chunk_commands(self.info, self.raw, self.unshuffled, limits,
                                                               self._where)
                report_skipped(skipped, stacklevel=2)
                self.skipped = skipped
                if len(commands) > self.info.count:
                    raise LogFormatError(
                        f"chunk declares {self.info.count} commands, holds {len(commands)}", **self._where()
                    )
                self._commands = commands
        return self._commands

    def payload_object(self, limits: Limits = DEFAULT_LIMITS) -> Any:
        """The msgpack object of an END chunk (the footer index or an end record)."""
        meta = memoryview(self.raw)[: self.info.meta_size]
        check_decoded_size(meta, limits, "the END chunk", self._where())
        try:
            return msgpack.unpackb(meta, raw=False, strict_map_key=True)
        except Exception as error:
            raise LogFormatError(f"malformed END chunk: {error}", **self._where()) from None


def _decode_chunk_commands(
    info: ChunkInfo,
    raw: bytes | bytearray | memoryview,
    unshuffled: bool,
    limits: Limits,
    where: Callable[[], dict[str, Any]],
    raw_ready: int | None = None,
    unfilled: list[tuple[int, bytearray]] | None = None,
) -> tuple[list[Command], list[SkippedCommandWarning]]:
    """The commands of a chunk's raw bytes and the warnings about those skipped (see
    :func:`sessions.codec.decode_commands_quietly`; ``raw_ready``: raw bytes in place so far,
    ``unfilled``: where to list the bytearrays made before their bytes were in place)."""
    view = memoryview(raw)
    blob_start = _blob_start(info)
    return decode_commands_quietly(
        view[: info.meta_size],
        view[blob_start:],
        shuffled=bool(info.flags & ChunkFlags.SHUFFLE) and not unshuffled,
        limits=limits,
        where=where,
        blobs_ready=None if raw_ready is None else max(0, raw_ready - blob_start),
        unfilled=unfilled,
        log_refs=info.kind == ChunkKind.LINKED_KEYFRAME,
    )


def _blob_start(info: ChunkInfo) -> int:
    """Where the blob area starts in the raw bytes: after the rows, aligned."""
    return info.meta_size + (-info.meta_size) % ALIGN


# --------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------
#: "auto" shuffles when a sample compresses to less than this fraction of the plain size.
SHUFFLE_MIN_GAIN = 0.75
#: Payloads at least this large are sampled before lz4: when the sample compresses to more than
#: COMPRESS_MAX_RATIO of its size, the payload is stored as it is (no lz4 pass, no copy).
SAMPLE_MIN_BYTES = 256 * 1024
COMPRESS_MAX_RATIO = 0.9
_SAMPLES = 8
_SAMPLE_BYTES = 8192


class _Area:
    """Reads byte ranges of a logical concatenation of parts without joining them."""

    def __init__(self, parts: Sequence[bytes | bytearray | memoryview]) -> None:
        self.parts = [memoryview(p).cast("B") if not isinstance(p, memoryview) or p.format != "B" else p
                      for p in parts]
        self.starts: list[int] = []
        total = 0
        for part in self.parts:
            self.starts.append(total)
            total += part.nbytes
        self.size = total

    def read(self, at: int, length: int) -> bytes:
        out = bytearray()
        index = bisect.bisect_right(self.starts, at) - 1
        while length > 0 and 0 <= index < len(self.parts):
            part = self.parts[index]
            local = at - self.starts[index]
            take = part[local : local + length]
            out += take
            length -= take.nbytes
            at += take.nbytes
            index += 1
        return bytes(out)


def _shuffle_pays(blobs: _Area, float_blobs: list[tuple[int, int, int]]) -> bool:
    """Compress 4 samples of 16 KiB spread over the float arrays both ways (see SHUFFLE_MIN_GAIN)."""
    total = sum(length for _, length, _ in float_blobs)
    if total < 4096:
        return False
    sample_plain = bytearray()
    sample_shuffled = bytearray()
    for fraction in (0.1, 0.35, 0.6, 0.85):
        at = int(total * fraction)
        for offset, length, itemsize in float_blobs:  # find the blob holding byte `at`
            if at < length:
                start = at - at % itemsize
                take = min(16384, length - start)
                take -= take % itemsize
                part = blobs.read(offset + start, take)
                sample_plain += part
                sample_shuffled += shuffle_filter.shuffled(part, itemsize)
                break
            at -= length
    if len(sample_plain) < 1024:
        return False
    plain = len(lz4.block.compress(bytes(sample_plain), store_size=False))
    shuffled = len(lz4.block.compress(bytes(sample_shuffled), store_size=False))
    # Unshuffling costs about as much as lz4 decompression: only worth it for a clear gain.
    return shuffled < SHUFFLE_MIN_GAIN * plain


def _join_shuffled(segments: Sequence[Segment], raw_size: int) -> memoryview:
    """The raw bytes in one new buffer, float arrays byte-shuffled whole on the way (the 1.0
    layout, still written for shuffled chunks stored without lz4); each segment is read once."""
    out = np.empty(raw_size, dtype=np.uint8).data  # no zero fill: every byte is written below
    at = 0
    for start, view, itemsize in segments:
        where = out[start : start + view.nbytes]
        if itemsize:
            shuffle_filter.shuffle_into(where, view, itemsize)
        else:
            where[:] = view
        at = start + view.nbytes
    if at != raw_size:  # the batch's blob_size disagrees with its blobs: a codec bug
        raise AssertionError(f"shuffled raw body has {at} bytes, expected {raw_size}")
    return out


def _worth_compressing(area: _Area) -> bool:
    """False when samples spread over the payload show lz4 would barely shrink it."""
    if area.size < SAMPLE_MIN_BYTES:
        return True
    step = area.size // _SAMPLES
    sample = b"".join(area.read(i * step + step // 2 - _SAMPLE_BYTES // 2, _SAMPLE_BYTES) for i in range(_SAMPLES))
    return len(lz4.block.compress(sample, store_size=False)) < COMPRESS_MAX_RATIO * len(sample)


def _pack_header(
    kind: int, flags: int, count: int, seqs: tuple[int, int], times: tuple[int, int],
    raw_size: int, stored_size: int, meta_size: int, payload_sum: int,
) -> bytes:
    head = _HEADER.pack(
        CHUNK_MAGIC, CHUNK_VERSION, kind, flags, 0, count, 0, seqs[0], seqs[1], times[0], times[1],
        raw_size, stored_size, meta_size, payload_sum, 0,
    )
    return head[:_CHECKED] + struct.pack("<Q", checksum(head[:_CHECKED]))


Part = bytes | bytearray | memoryview


def _frame_parts(kind: int, parts: list[Part], raw_size: int, meta_size: int, count: int,
                 seqs: tuple[int, int], times: tuple[int, int], flags: int, compress: bool) -> list[Part]:
    """[header, payload parts...]: lz4 when it pays, else the raw parts themselves (no copy)."""
    if compress and raw_size and _worth_compressing(_Area(parts)):
        raw = parts[0] if len(parts) == 1 else b"".join(parts)
        packed = lz4.block.compress(raw, store_size=False)
        if len(packed) < raw_size:
            parts = [packed]
            flags |= ChunkFlags.LZ4
    stored = sum(memoryview(p).nbytes for p in parts)
    head = _pack_header(kind, flags, count, seqs, times, raw_size, stored, meta_size, checksum(*parts))
    return [head, *parts]


def _frame(kind: int, raw: bytes | bytearray, meta_size: int, count: int, seqs: tuple[int, int],
           times: tuple[int, int], flags: int, compress: bool) -> bytes:
    return b"".join(_frame_parts(kind, [raw], len(raw), meta_size, count, seqs, times, flags, compress))


def encode_chunk_parts(
    commands: Sequence[Command],
    kind: int = ChunkKind.COMMANDS,
    *,
    seq_range: tuple[int, int] | None = None,
    time_range: tuple[int, int] | None = None,
    shuffle: bool | Literal["auto"] = "auto",
    compress: bool = True,
) -> list[Part]:
    """The chunk of :func:`encode_chunk` as a list of parts (header first) whose concatenation
    is the chunk: big payloads stored without compression are the callers' own buffers, so a
    file sink can ``os.writev`` them with no copy."""
    rows = [(c.seq, c.t_ns, c.op, c.target, c.args, c.kwargs) for c in commands]
    return encode_chunk_rows(rows, kind, seq_range=seq_range, time_range=time_range, shuffle=shuffle,
                             compress=compress)


def encode_chunk_rows(
    rows: Sequence[Row],
    kind: int = ChunkKind.COMMANDS,
    *,
    seq_range: tuple[int, int] | None = None,
    time_range: tuple[int, int] | None = None,
    shuffle: bool | Literal["auto"] = "auto",
    compress: bool = True,
) -> list[Part]:
    """:func:`encode_chunk_parts` for commands kept as ``(seq, t_ns, op, target, args, kwargs)``
    tuples (what :class:`sessions.LogWriter` holds), with no Command objects built."""
    batch = encode_rows(rows)
    meta_size = len(batch.meta)
    pad = (-meta_size) % ALIGN
    parts: list[Part] = [batch.meta, b"\0" * pad, *batch.blobs]
    raw_size = meta_size + pad + batch.blob_size
    flags = 0
    if seq_range is None:
        seq_range = (rows[0][0], rows[-1][0]) if rows else (0, 0)
    if time_range is None:
        time_range = (rows[0][1], rows[-1][1]) if rows else (0, 0)
    shuffling = bool(batch.float_blobs) and (
        shuffle is True
        or (shuffle == "auto" and compress and _shuffle_pays(_Area(batch.blobs), batch.float_blobs))
    )
    if compress and (shuffling or (raw_size > BLOCK_BYTES and _worth_compressing(_Area(parts)))):
        # lz4 blocks read straight from the parts (no joined copy of the body), float arrays
        # shuffled inside each block: readers decode block by block from cache.
        segments = _segments(parts, base=meta_size + pad, float_blobs=batch.float_blobs if shuffling else [])
        stored = encode_blocks(segments, raw_size)
        stored_size = sum(len(p) for p in stored)
        if stored_size < raw_size:
            flags = ChunkFlags.LZ4 | ChunkFlags.BLOCKS | (ChunkFlags.SHUFFLE if shuffling else 0)
            head = _pack_header(int(kind), flags, batch.count, seq_range, time_range, raw_size,
                                stored_size, meta_size, checksum(*stored))
            return [head, *stored]
        return _frame_parts(int(kind), parts, raw_size, meta_size, batch.count, seq_range, time_range, 0, False)
    if shuffling:  # stored without lz4: the 1.0 layout, whole arrays shuffled
        parts = [_join_shuffled(_segments(parts, base=meta_size + pad, float_blobs=batch.float_blobs), raw_size)]
        flags |= ChunkFlags.SHUFFLE
    return _frame_parts(int(kind), parts, raw_size, meta_size, batch.count, seq_range, time_range, flags, compress)


def _segments(parts: list[Part], base: int, float_blobs: list[tuple[int, int, int]]) -> list[Segment]:
    """The raw bytes as (offset, bytes, itemsize to shuffle or 0) runs: meta, pad, then the blobs,
    each float array (a blob of its own; the pads after it are separate blobs) marked."""
    floats = {offset: (length, itemsize) for offset, length, itemsize in float_blobs}
    out: list[Segment] = []
    at = 0
    for part in parts:
        view = memoryview(part)
        view = view.cast("B") if view.format != "B" or view.ndim != 1 else view
        spec = floats.get(at - base) if at >= base else None
        out.append((at, view, spec[1] if spec is not None and spec[0] == view.nbytes else 0))
        at += view.nbytes
    return out


def encode_chunk(
    commands: Sequence[Command],
    kind: int = ChunkKind.COMMANDS,
    *,
    seq_range: tuple[int, int] | None = None,
    time_range: tuple[int, int] | None = None,
    shuffle: bool | Literal["auto"] = "auto",
    compress: bool = True,
) -> bytes:
    """Encode commands as one chunk (bytes usable in a file or on the wire).

    ``seq_range``/``time_range`` default to the first/last command's; a keyframe passes the
    sequence and time of the state it captures. ``shuffle="auto"`` byte-shuffles float arrays
    when a sample shows it compresses at least 25 % better; lz4 is skipped when a sample shows
    it would not shrink the payload by 10 %.
    """
    return b"".join(encode_chunk_parts(commands, kind, seq_range=seq_range, time_range=time_range,
                                       shuffle=shuffle, compress=compress))


def encode_end_chunk(payload: Any, *, seq: int = 0, t_ns: int = 0) -> bytes:
    """An END chunk whose payload is one msgpack object (a footer index or an end record)."""
    meta = msgpack.packb(payload, use_bin_type=True)
    return _frame(ChunkKind.END, meta, len(meta), 0, (seq, seq), (t_ns, t_ns), 0, True)


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------
def peek_chunk_header(
    head: bytes | bytearray | memoryview,
    *,
    offset: int | None = None,
    chunk_index: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> ChunkInfo:
    """Parse and check a chunk header (``HEADER_SIZE`` bytes) before any payload is read."""
    where: dict[str, Any] = {"offset": offset, "chunk_index": chunk_index}
    if len(head) < HEADER_SIZE:
        raise LogFormatError(f"truncated chunk header ({len(head)} of {HEADER_SIZE} bytes)", **where)
    head = bytes(head[:HEADER_SIZE])
    (magic, version, kind, flags, _r1, count, _r2, seq_first, seq_last, t_first, t_last,
     raw_size, stored_size, meta_size, payload_sum, header_sum) = _HEADER.unpack(head)
    if magic != CHUNK_MAGIC:
        raise LogFormatError(f"bad chunk magic {magic!r} (expected {CHUNK_MAGIC!r})", **where)
    if header_sum != checksum(head[:_CHECKED]):
        raise LogFormatError("chunk header checksum mismatch", **where)
    if version != CHUNK_VERSION:
        raise LogFormatError(f"chunk format version {version} is not supported (this reader: {CHUNK_VERSION})", **where)
    if stored_size > limits.max_chunk_bytes or raw_size > limits.max_chunk_bytes:
        raise LogFormatError(
            f"chunk declares {max(stored_size, raw_size)} bytes, over the limit of {limits.max_chunk_bytes}", **where
        )
    if meta_size > raw_size:
        raise LogFormatError(f"meta size {meta_size} exceeds raw size {raw_size}", **where)
    if count > limits.max_commands_per_chunk:
        raise LogFormatError(f"chunk declares {count} commands, over the limit", **where)
    if flags & ChunkFlags.BLOCKS and not flags & ChunkFlags.LZ4:
        raise LogFormatError("BLOCKS flag without LZ4", **where)
    if flags & ChunkFlags.LZ4:
        if raw_size > stored_size * limits.max_lz4_ratio + 64:
            raise LogFormatError(f"raw size {raw_size} impossible for {stored_size} lz4 bytes", **where)
    elif raw_size != stored_size:
        raise LogFormatError(f"uncompressed chunk with raw size {raw_size} != stored size {stored_size}", **where)
    return ChunkInfo(kind, flags, count, seq_first, seq_last, t_first, t_last, raw_size, stored_size,
                     meta_size, payload_sum, offset)


def split_chunks(data: bytes | bytearray | memoryview, *, limits: Limits = DEFAULT_LIMITS) -> list[memoryview]:
    """The chunks laid end to end in ``data``, each as its own bytes, by their headers' sizes
    (an opaque relay's snapshot is the keyframe and the chunks since, glued together); neither
    checksums nor payloads are checked here. ``LogFormatError`` where a header is bad or the
    last chunk runs past the end."""
    view = memoryview(data)
    parts: list[memoryview] = []
    pos = 0
    while pos < len(view):
        info = peek_chunk_header(view[pos:pos + HEADER_SIZE], offset=pos, chunk_index=len(parts), limits=limits)
        if pos + info.size > len(view):
            raise LogFormatError(f"chunk declares {info.size} bytes, {len(view) - pos} are left",
                                 offset=pos, chunk_index=len(parts))
        parts.append(view[pos:pos + info.size])
        pos += info.size
    return parts


def check_chunk(
    data: bytes | bytearray | memoryview,
    *,
    offset: int | None = None,
    chunk_index: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> ChunkInfo:
    """The header of one chunk's bytes once its size and both checksums hold, without
    decompressing it: what forwards stored chunks (``gsp serve``) checks before they travel.
    ``LogFormatError`` naming the offset and chunk otherwise."""
    where: dict[str, Any] = {"offset": offset, "chunk_index": chunk_index}
    info = peek_chunk_header(data, offset=offset, chunk_index=chunk_index, limits=limits)
    if checksum(_payload(data, info, where)) != info.payload_checksum:
        raise _checksum_mismatch(where)
    return info


def _payload(data: bytes | bytearray | memoryview, info: ChunkInfo, where: dict[str, Any]) -> memoryview:
    """The payload of a chunk's bytes, once their length is the one its header declares."""
    view = memoryview(data)
    if len(view) != info.size:
        raise LogFormatError(f"chunk has {len(view)} bytes, its header declares {info.size}", **where)
    return view[HEADER_SIZE:]


def _checksum_mismatch(where: dict[str, Any]) -> LogFormatError:
    return LogFormatError("chunk payload checksum mismatch", **where)


def decode_chunk(
    data: bytes | bytearray | memoryview,
    *,
    offset: int | None = None,
    chunk_index: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
    info: ChunkInfo | None = None,
) -> Chunk:
    """Check and decompress one chunk (``data`` must be exactly the chunk's bytes)."""
    where: dict[str, Any] = {"offset": offset, "chunk_index": chunk_index}
    if info is None:
        info = peek_chunk_header(data, offset=offset, chunk_index=chunk_index, limits=limits)
    payload = _payload(data, info, where)
    if info.flags & ChunkFlags.BLOCKS:  # checksummed block by block as they decode
        hasher = checksum_hasher()
        early: list[tuple[_DecodeKey, list[Command], list[SkippedCommandWarning]]] = []

        def decode_commands_early(body: memoryview, ready: int) -> list[tuple[int, bytearray]]:
            # Runs on this thread while other threads decode the rest of the blocks: arrays are
            # views of the body, so the commands can be made before their bytes are in place;
            # bytearrays are made unfilled, for the decoding threads to fill.
            unfilled: list[tuple[int, bytearray]] = []
            try:
                key = (limits, keeping_links_as_recorded())
                early.append((key, *_decode_chunk_commands(info, body, True, limits, lambda: where, ready, unfilled)))
            except Exception:  # BlobsNotReady, or a damaged chunk: Chunk.commands decodes again and says why
                return []
            blob_start = _blob_start(info)
            return sorted(((blob_start + offset, bytes_) for offset, bytes_ in unfilled), key=lambda target: target[0])

        try:
            raw_body = decode_blocks(payload, info.raw_size, lambda: where, hasher,
                                     (info.meta_size, decode_commands_early) if info.holds_commands else None)
        except LogFormatError:  # a bad table or block of a damaged payload: say what is wrong first
            if checksum(payload) != info.payload_checksum:
                raise _checksum_mismatch(where) from None
            raise
        if hasher.intdigest() != info.payload_checksum:
            raise _checksum_mismatch(where)
        return Chunk(info, raw_body, chunk_index, unshuffled=True, _early=early[0] if early else None)
    if checksum(payload) != info.payload_checksum:
        raise _checksum_mismatch(where)
    raw: bytes | bytearray | memoryview
    if info.flags & ChunkFlags.LZ4:
        try:
            raw = lz4.block.decompress(payload, uncompressed_size=info.raw_size, return_bytearray=True)
        except Exception as error:
            raise LogFormatError(f"lz4 decompression failed: {error}", **where) from None
        if len(raw) != info.raw_size:
            raise LogFormatError(f"decompressed {len(raw)} bytes, header declares {info.raw_size}", **where)
    else:
        raw = payload
    return Chunk(info, raw, chunk_index)
