"""Chunk sinks: where a :class:`sessions.LogWriter` sends each finished chunk.

A sink is anything with ``write_chunk(chunk: bytes, info: ChunkInfo)`` and ``close()``: the
``.gsplog`` file (:class:`FileSink`), a ZeroMQ publisher, an in-memory list for tests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import secrets
import stat
import weakref
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from sessions.background import BackgroundWrites, writev_all
from sessions.chunk import ChunkInfo, ChunkKind, decode_chunk, encode_end_chunk
from sessions.errors import LogWriteError
from sessions.fileformat import encode_header, encode_trailer
from sessions.folders import make_folders, missing_folders, remove_folders
from sessions.index import LogIndex, summarize_commands

__all__ = ["ChunkSink", "ChunkInfo", "FileSink", "MemorySink", "info_for_chunk"]


@runtime_checkable
class ChunkSink(Protocol):
    """Receives every finished chunk, in order. ``info`` is the decoded header (+ markers)."""

    def write_chunk(self, chunk: bytes, info: ChunkInfo) -> None: ...

    def close(self) -> None: ...


def info_for_chunk(chunk: bytes) -> ChunkInfo:
    """Header fields, frames and markers of a chunk received without its info (e.g. from the
    wire). Only a COMMANDS chunk has frames and markers: a keyframe's render is the scene's state,
    not a frame (docs/format.md §3)."""
    decoded = decode_chunk(chunk)
    if decoded.info.kind != ChunkKind.COMMANDS:
        return dataclasses.replace(decoded.info, frames=0, markers=())
    frames, markers = summarize_commands(decoded.commands())
    return dataclasses.replace(decoded.info, frames=frames, markers=tuple(markers))


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _lock(fd: int) -> bool:
    """Take this process's advisory write lock on an open log; False when another holds it.
    Where the platform has no ``flock`` (Windows), every lock is granted."""
    try:
        import fcntl
    except ImportError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # a file system without locks (some network ones): not ours to refuse
        return True
    return True


def _refuse_if_being_written(path: str) -> None:
    """Two recorders writing one path: the second would unlink the first's file, which would
    then go on writing a file nobody can open. The second is refused instead."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return  # nothing there (or nothing readable): nothing to keep
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode) and not _lock(fd):
            raise LogWriteError(f"{path}: another recorder is writing this log now; record into another file")
    finally:
        os.close(fd)  # releases the probe's lock


def _open_failure(error: OSError, path: str) -> str:
    """Why the log at ``path`` could not be opened; for a file where a folder should be, which."""
    if error.errno == errno.ENOTDIR:
        folder = os.path.dirname(path)
        missing = missing_folders(folder)
        blocking = os.path.dirname(missing[-1]) if missing else folder
        return f"{blocking!r} is a file, not a folder"
    return str(error.strerror)


def _making_name(path: str) -> str | None:
    """The name a new log for ``path`` is made under, beside it, until its header is written: it
    then takes ``path`` (``os.replace``), so that a header that cannot be written (a full disk)
    leaves nothing behind, and a log already at ``path`` as it was. None where ``path`` is a
    symbolic link, a device, a FIFO and the like: those are opened and written through; None on
    Windows too, where a file held open cannot be renamed (the log is written in place there).

    Replacing a log rather than truncating it also spares a cost: ext4 (``auto_da_alloc``)
    forces a file truncated to zero and rewritten out to disk when it is closed, which made
    closing a re-recorded 150 MB log take ~100 ms; the file renamed over it holds a header only.
    """
    if os.name == "nt":
        return None
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
    except (FileNotFoundError, NotADirectoryError):  # the open that follows says why, naming the log
        pass
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name[:100]}.{os.getpid()}-{secrets.token_hex(4)}.new")


class FileSink:
    """Writes a ``.gsplog`` file: header, each chunk with one write, footer index + trailer on close.

    Data goes straight to the kernel with ``os.write`` (no user-space buffer), so a killed process
    loses nothing that was handed to :meth:`write_chunk`. A failed write raises
    :class:`LogWriteError`; the file is cut back to its last complete chunk and stays readable.
    Note: to get ``EFBIG`` instead of being killed under ``RLIMIT_FSIZE``, the process must
    ignore ``SIGXFSZ``.

    ``atomic=True`` (the session tools' outputs): the log takes its path only when :meth:`close`
    has written its footer; until then it is written under a hidden name beside it (beside the
    file a symbolic link points at), and a failure, or :meth:`discard`, removes that file and
    leaves whatever was at the path as it was. A device or a FIFO is written through.

    ``background=True``: chunks are written by a thread of their own
    (:class:`sessions.background.BackgroundWrites`; ``on_written`` is called after each), so the
    caller may go on encoding; :attr:`chunks_done` tells which chunks' memory is free again, and a
    failed write is raised by a later call. :meth:`sync` waits for the writes.
    """

    def __init__(self, path: str | os.PathLike[str], metadata: dict[str, Any] | None = None,
                 *, header: bytes | None = None, background: bool = False,
                 on_written: Callable[[], Any] | None = None, atomic: bool = False) -> None:
        self.path = os.fspath(path)
        if not self.path:
            raise LogWriteError("cannot create the log: its path is empty")
        self.index = LogIndex()
        self.failed: LogWriteError | None = None
        self._closed = False
        head = header if header is not None else encode_header(metadata or {})
        _refuse_if_being_written(self.path)
        # Where the finished log goes: the path, or the file a link there points at (the link stays).
        self._final = os.path.realpath(self.path) if atomic and os.path.islink(self.path) else self.path
        self._made_folders = make_folders(os.path.dirname(self._final))
        making = _making_name(self._final)  # None: written through
        self._making: str | None = None  # atomic: the hidden name the log has until it is closed
        # atomic: what discard() removes (the hidden file; on Windows the regular file written in place)
        self._unfinished: str | None = None
        try:
            self._fd = os.open(making or self.path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0)
                               | (os.O_EXCL if making else os.O_TRUNC), 0o644)
        except OSError as error:
            remove_folders(self._made_folders)
            raise LogWriteError(f"{self.path}: cannot create the log: {_open_failure(error, self._final)}") from error
        _lock(self._fd)  # held until close: see _refuse_if_being_written
        _open_sinks.add(self)
        self.offset = 0
        self._background: BackgroundWrites | None = None
        try:
            self._write(head, "the header")
            if making and atomic:
                self._making = self._unfinished = making  # it takes its path when closed
                making = None
            elif atomic and os.name == "nt" and stat.S_ISREG(os.fstat(self._fd).st_mode):
                self._unfinished = self.path
            elif making:
                try:
                    os.replace(making, self._final)
                except OSError as error:
                    raise LogWriteError(f"{self.path}: cannot create the log: {error.strerror}") from error
                making = None
            if background:
                self._background = BackgroundWrites(self._fd, self.path, on_written=on_written)
        except BaseException:  # no sink to close later: release the file and its lock now
            self.discard()
            if making:  # the log never took its path
                with contextlib.suppress(OSError):
                    os.unlink(making)
                remove_folders(self._made_folders)
            raise

    def _write(self, data: bytes | list[Any], what: str) -> None:
        if self.failed is not None:
            raise LogWriteError(f"{self.path}: an earlier write failed ({self.failed}); nothing more is written")
        if self._closed:
            raise LogWriteError(f"{self.path}: the log is closed")
        size = sum(memoryview(p).nbytes for p in data) if isinstance(data, list) else len(data)
        background = self._background
        if background is not None:
            try:
                background.submit(data if isinstance(data, list) else [data], size, self.offset, what)
            except OSError as error:  # an earlier chunk failed: the thread already cut the file back
                self.failed = LogWriteError(str(error))
                raise self.failed from None
            self.offset += size
            return
        try:
            if isinstance(data, list):
                writev_all(self._fd, data)
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
        self.offset += size

    def write_parts(self, parts: list[Any], info: ChunkInfo) -> None:
        """Append one chunk given as parts (header first) with one ``os.writev``: no copy."""
        self._append(parts, info)

    def write_chunk(self, chunk: bytes, info: ChunkInfo | None = None) -> None:
        """Append one chunk. END chunks from a writer are not stored: close() writes the footer."""
        self._append(chunk, info if info is not None else info_for_chunk(chunk))

    def _append(self, data: bytes | list[Any], info: ChunkInfo) -> None:
        if info.kind == ChunkKind.END:
            return
        offset = self.offset
        self._write(data, f"chunk {len(self.index)}")
        self.index.add(info, offset, info.frames, info.markers)

    @property
    def bytes_written(self) -> int:
        """Bytes in the file so far (queued ones included when writing in the background)."""
        return self.offset

    @property
    def chunks_handed(self) -> int:
        """Chunks taken so far (written, or queued in the background)."""
        return len(self.index)

    @property
    def chunks_done(self) -> int:
        """Chunks fully written to the file: their parts' memory may be reused."""
        return len(self.index) if self._background is None else self._background.done

    def sync(self) -> None:
        """Wait until every chunk taken is written (at once when not in the background)."""
        if self._background is None or self._closed:
            return
        try:
            self._background.drain()
        except OSError as error:
            if self.failed is None:
                self.failed = LogWriteError(str(error))
            raise self.failed from None

    def close(self, *, terminate: bool = True) -> None:
        """Write the footer index and trailer, then close the file (idempotent).

        ``terminate=False`` closes without them: the log then reads as one whose writer died (its
        index rebuilt by scanning, ``gsp verify`` naming it unterminated), for a copy of a
        session whose source died."""
        if self._closed:
            return
        try:
            if self._background is not None:
                reported = self.failed is not None
                try:
                    self.sync()
                except LogWriteError:
                    if not reported:  # a failure nobody heard of yet: the caller must
                        raise
                finally:
                    self._background.close()
                    self._background = None
            if self.failed is None and terminate:
                footer_offset = self.offset
                self._write(encode_end_chunk(self.index.to_payload()), "the footer")
                self._write(encode_trailer(footer_offset), "the trailer")
            if self.failed is None:
                if self._making is not None:
                    self._publish()
                self._unfinished = None  # finished: it stays
        finally:
            self._release()
            self.discard()  # atomic: a log that did not take its path (a failure) is removed

    def _publish(self) -> None:
        """An atomic log takes its path, once on disk (a crash then leaves the old file or the new)."""
        assert self._making is not None
        try:
            os.fsync(self._fd)
            os.replace(self._making, self._final)
        except OSError as error:
            self.failed = LogWriteError(f"{self.path}: cannot write the log: {error.strerror or error}")
            raise self.failed from error
        self._making = None

    def discard(self) -> None:
        """Close without finishing (idempotent). An atomic log that has not taken its path yet is
        removed, leaving what was there as it was; on Windows, where it is written in place,
        the regular file written is removed. Any other sink's file stays as written."""
        if not self._closed:
            if self._background is not None:  # its thread ends before the file closes
                self._background.close()
                self._background = None
            self._release()
        if self._unfinished is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._unfinished)
            self._making = self._unfinished = None
            remove_folders(self._made_folders)

    def _release(self) -> None:
        """Close the file (its lock goes with it) without writing anything more."""
        self._closed = True
        _open_sinks.discard(self)
        os.close(self._fd)

    def _forget_in_child(self) -> None:
        # A forked child shares the parent's open file and lock; the log is the parent's to write
        # and close: the child lets go of it, or the lock would outlive the parent's recording.
        self._background = None
        with contextlib.suppress(OSError):
            self._release()


_open_sinks: weakref.WeakSet[FileSink] = weakref.WeakSet()


def _forget_sinks_in_child() -> None:
    for sink in list(_open_sinks):
        sink._forget_in_child()
    _open_sinks.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_sinks_in_child)


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
