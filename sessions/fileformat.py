"""The ``.gsplog`` file header and trailer (layout in docs/format.md)."""

from __future__ import annotations

import datetime as _dt
import platform
import socket
import struct
import sys
import time
from dataclasses import dataclass
from typing import Any

import msgpack

from sessions.chunk import checksum
from sessions.codec import PROTOCOL_VERSION, check_decoded_size
from sessions.errors import LogFormatError
from sessions.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "FILE_MAGIC",
    "FORMAT_MAJOR",
    "FORMAT_MINOR",
    "TRAILER_MAGIC",
    "TRAILER_SIZE",
    "FileHeader",
    "encode_header",
    "decode_header",
    "encode_trailer",
    "decode_trailer",
    "default_metadata",
]

FILE_MAGIC = b"\x89GSPLOG\n"
FORMAT_MAJOR = 1
FORMAT_MINOR = 3
_FIXED = struct.Struct("<8sHHI")  # magic, major, minor, metadata length
TRAILER_MAGIC = b"GSPLIDX\0"
_TRAILER = struct.Struct("<8sQQ")  # magic, footer offset, xxh3_64 of the first 16 bytes
TRAILER_SIZE = _TRAILER.size


@dataclass(frozen=True, slots=True)
class FileHeader:
    """A decoded file header."""

    major: int
    minor: int
    metadata: dict[str, Any]
    size: int  # bytes, i.e. the offset of the first chunk


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("gsplog", "numpy", "msgpack", "lz4"):
        try:
            from importlib.metadata import version

            found[name] = version(name)
        except Exception:
            pass
    return found


def default_metadata(user: dict[str, Any] | None = None) -> dict[str, Any]:
    """Header metadata: wall-clock creation time + monotonic anchor, host, versions, user data."""
    now_ns = time.time_ns()
    return {
        "created": _dt.datetime.fromtimestamp(now_ns / 1e9, tz=_dt.UTC).isoformat(),
        "created_unix_ns": now_ns,
        "monotonic_anchor_ns": time.monotonic_ns(),
        "host": socket.gethostname(),
        "platform": sys.platform,
        "versions": _versions(),
        "format": f"{FORMAT_MAJOR}.{FORMAT_MINOR}",
        "protocol": PROTOCOL_VERSION,
        "user": dict(user or {}),
    }


def encode_header(metadata: dict[str, Any]) -> bytes:
    """Header bytes for ``metadata`` (a msgpack-encodable dict with str keys).

    Refuses (``TypeError``, ``ValueError``) metadata that a reader would refuse: a log whose
    header cannot be read is lost whole, so it must never be written."""
    try:
        meta = msgpack.packb(metadata, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as error:
        where = _unencodable(metadata, "")
        raise TypeError(f"session metadata cannot be encoded: {where + ': ' if where else ''}{error}") from error
    limit = DEFAULT_LIMITS.max_header_metadata
    if len(meta) > limit:
        raise ValueError(f"session metadata takes {len(meta)} bytes encoded, over the {limit} a reader accepts")
    try:  # as decode_header reads it: str keys only, at every depth
        msgpack.unpackb(meta, raw=False, strict_map_key=True)
    except ValueError as error:
        where = _unencodable(metadata, "")
        raise TypeError(f"session metadata cannot be read back: {where + ': ' if where else ''}{error} "
                        "(map keys must be str)") from None
    head = _FIXED.pack(FILE_MAGIC, FORMAT_MAJOR, FORMAT_MINOR, len(meta)) + meta
    return head + struct.pack("<Q", checksum(head))


def _unencodable(value: Any, path: str) -> str | None:
    """Where in the header metadata ``value`` (at ``path``) holds what a header cannot: the key
    path and the type, e.g. ``user['n'] is a numpy.int64``; None when nothing is found."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path or 'the metadata'} has a key {key!r} of type {_type_name(key)} (keys are str)"
            found = _unencodable(item, f"{path}[{key!r}]" if path else key)
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _unencodable(item, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        return f"{path} is {value}, out of the 64-bit range"
    if value is None or isinstance(value, (bool, int, float, str, bytes, bytearray)):
        return None
    return (f"{path} is of type {_type_name(value)} (metadata holds None, bool, int, float, str, bytes, lists "
            "and dicts with str keys)")


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def decode_header(data: bytes, *, path: str | None = None, limits: Limits = DEFAULT_LIMITS) -> FileHeader:
    """Decode a header from the first bytes of a file (give at least the whole header).

    Raises :class:`LogFormatError` for a non-gsplog file, a damaged header or a newer major.
    """
    if len(data) < _FIXED.size:
        raise LogFormatError(f"file too short for a gsplog header ({len(data)} bytes)", offset=0, path=path)
    magic, major, minor, meta_len = _FIXED.unpack_from(data)
    if magic != FILE_MAGIC:
        raise LogFormatError(f"not a gsplog file (magic {magic!r})", offset=0, path=path)
    if major != FORMAT_MAJOR:
        raise LogFormatError(
            f"format version {major}.{minor} is not supported by this reader ({FORMAT_MAJOR}.{FORMAT_MINOR})",
            offset=8,
            path=path,
        )
    if meta_len > limits.max_header_metadata:
        raise LogFormatError(f"header metadata of {meta_len} bytes is over the limit", offset=12, path=path)
    end = _FIXED.size + meta_len
    if len(data) < end + 8:
        raise LogFormatError("truncated file header", offset=len(data), path=path)
    (stored,) = struct.unpack_from("<Q", data, end)
    if stored != checksum(data[:end]):
        raise LogFormatError("file header checksum mismatch", offset=end, path=path)
    check_decoded_size(data[_FIXED.size : end], limits, "the header metadata", {"offset": _FIXED.size, "path": path})
    try:
        metadata = msgpack.unpackb(data[_FIXED.size : end], raw=False, strict_map_key=True)
    except Exception as error:
        raise LogFormatError(f"malformed header metadata: {error}", offset=_FIXED.size, path=path) from None
    if not isinstance(metadata, dict):
        raise LogFormatError("header metadata is not a map", offset=_FIXED.size, path=path)
    return FileHeader(major, minor, metadata, end + 8)


def is_newer_format(first16: bytes) -> bool:
    """Whether these first 16 bytes start a log of another major format version (a header this
    reader cannot read, but that is not damaged: no tool may rewrite it as damage)."""
    if len(first16) < _FIXED.size:
        return False
    magic, major, _minor, _meta_len = _FIXED.unpack_from(first16)
    return bool(magic == FILE_MAGIC and major != FORMAT_MAJOR)


def header_size_hint(first16: bytes) -> int | None:
    """Total header size from its first 16 bytes (None if they are not a gsplog header start)."""
    if len(first16) < _FIXED.size:
        return None
    magic, _major, _minor, meta_len = _FIXED.unpack_from(first16)
    return _FIXED.size + meta_len + 8 if magic == FILE_MAGIC else None


def encode_trailer(footer_offset: int) -> bytes:
    """The fixed-size trailer that points at the footer (END chunk) for O(1) index loading."""
    head = TRAILER_MAGIC + struct.pack("<Q", footer_offset)
    return head + struct.pack("<Q", checksum(head))


def decode_trailer(data: bytes) -> int | None:
    """The footer offset, or None when ``data`` (the last TRAILER_SIZE bytes) is no valid trailer."""
    if len(data) != TRAILER_SIZE:
        return None
    magic, offset, stored = _TRAILER.unpack(data)
    if magic != TRAILER_MAGIC or stored != checksum(data[:16]):
        return None
    return int(offset)
