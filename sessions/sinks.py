"""Chunk sinks: where a :class:`sessions.LogWriter` sends each finished chunk.

A sink is anything with ``write_chunk(chunk: bytes, info: ChunkInfo)`` and ``close()``: the
``.gsplog`` file (:class:`FileSink`), a ZeroMQ publisher, an in-memory list for tests.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Protocol, runtime_checkable

from sessions.chunk import ChunkInfo, ChunkKind, decode_chunk, encode_end_chunk
from sessions.errors import LogWriteError
from sessions.fileformat import encode_header, encode_trailer
from sessions.index import LogIndex, summarize_commands

__all__ = ["ChunkSink", "ChunkInfo", "FileSink", "MemorySink", "info_for_chunk"]


@runtime_checkable
class ChunkSink(Protocol):
    """Receives every finished chunk, in order. ``info`` is the decoded header (+ markers)."""

    def write_chunk(self, chunk: bytes, info: ChunkInfo) -> None: ...

    def close(self) -> None: ...


def info_for_chunk(chunk: bytes) -> ChunkInfo:
    """Header fields, frames and markers of a chunk received without its info (e.g. from the wire)."""
    decoded = decode_chunk(chunk)
    frames, markers = summarize_commands(decoded.commands())
    return dataclasses.replace(decoded.info, frames=frames, markers=tuple(markers))


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _writev_all(fd: int, parts: list[Any]) -> None:
    views = [memoryview(p).cast("B") for p in parts if len(p)]
    while views:
        written = os.writev(fd, views[:1024])  # IOV_MAX
        while views and written >= views[0].nbytes:
            written -= views[0].nbytes
            views.pop(0)
        if written:
            views[0] = views[0][written:]


class FileSink:
    """Writes a ``.gsplog`` file: header, each chunk with one write, footer index + trailer on close.

    Data goes straight to the kernel with ``os.write`` (no user-space buffer), so a killed process
    loses nothing that was handed to :meth:`write_chunk`. A failed write raises
    :class:`LogWriteError`; the file is cut back to its last complete chunk and stays readable.
    Note: to get ``EFBIG`` instead of being killed under ``RLIMIT_FSIZE``, the process must
    ignore ``SIGXFSZ``.
    """

    def __init__(self, path: str | os.PathLike[str], metadata: dict[str, Any] | None = None,
                 *, header: bytes | None = None) -> None:
        self.path = os.fspath(path)
        self.index = LogIndex()
        self.failed: LogWriteError | None = None
        self._closed = False
        head = header if header is not None else encode_header(metadata or {})
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o644)
        except OSError as error:
            raise LogWriteError(f"{self.path}: cannot create the log: {error.strerror}") from error
        self.offset = 0
        self._write(head, "the header")

    def _write(self, data: bytes | list[Any], what: str) -> None:
        if self.failed is not None:
            raise LogWriteError(f"{self.path}: an earlier write failed ({self.failed}); nothing more is written")
        if self._closed:
            raise LogWriteError(f"{self.path}: the log is closed")
        try:
            if isinstance(data, list):
                _writev_all(self._fd, data)
            else:
                _write_all(self._fd, data)
        except OSError as error:
            try:  # keep the file readable: drop the torn tail
                os.ftruncate(self._fd, self.offset)
            except OSError:
                pass
            self.failed = LogWriteError(
                f"{self.path}: writing {what} at offset {self.offset} failed: {error.strerror or error}"
            )
            raise self.failed from error
        self.offset += sum(memoryview(p).nbytes for p in data) if isinstance(data, list) else len(data)

    def write_parts(self, parts: list[Any], info: ChunkInfo) -> None:
        """Append one chunk given as parts (header first) with one ``os.writev``: no copy."""
        if info.kind == ChunkKind.END:
            return
        offset = self.offset
        self._write(parts, f"chunk {len(self.index)}")
        self.index.add(info, offset, info.frames, info.markers)

    def write_chunk(self, chunk: bytes, info: ChunkInfo | None = None) -> None:
        """Append one chunk. END chunks from a writer are not stored: close() writes the footer."""
        if info is None:
            info = info_for_chunk(chunk)
        if info.kind == ChunkKind.END:
            return
        offset = self.offset
        self._write(chunk, f"chunk {len(self.index)}")
        self.index.add(info, offset, info.frames, info.markers)

    @property
    def bytes_written(self) -> int:
        """Bytes in the file so far."""
        return self.offset

    def close(self) -> None:
        """Write the footer index and trailer, then close the file (idempotent)."""
        if self._closed:
            return
        try:
            if self.failed is None:
                footer_offset = self.offset
                self._write(encode_end_chunk(self.index.to_payload()), "the footer")
                self._write(encode_trailer(footer_offset), "the trailer")
        finally:
            self._closed = True
            os.close(self._fd)


class MemorySink:
    """Keeps every chunk in a list (tests, in-process fan-out)."""

    def __init__(self) -> None:
        self.chunks: list[tuple[bytes, ChunkInfo]] = []
        self.closed = False

    def write_chunk(self, chunk: bytes, info: ChunkInfo) -> None:
        """Store the chunk."""
        self.chunks.append((chunk, info))

    def close(self) -> None:
        """Mark closed."""
        self.closed = True
