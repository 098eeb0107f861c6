"""Writing a file's chunks on a thread of its own, so that encoding the next chunk overlaps it.

Writing 12 MB into the page cache costs about as much as compressing it with lz4 (the kernel
copies every byte, and on a VM its page allocation is slow). A :class:`sessions.FileSink` made
with ``background=True`` hands each chunk's parts to a :class:`BackgroundWrites`, which writes
them in order with ``os.writev`` while the log writer goes on.

Bounds and guarantees:

- At most ``max_bytes`` of chunks wait (one chunk bigger than that is let in alone); a full
  queue makes :meth:`BackgroundWrites.submit` wait, which is the log writer's backpressure.
- Chunks reach the file in submission order; :attr:`BackgroundWrites.done` counts those fully
  written, so callers know when the memory of a chunk's parts may be reused.
- A failed write truncates the file back to the end of the last complete chunk, drops what
  waits, and is raised by the next :meth:`submit` / :meth:`drain`. The file stays readable.
- A process killed while chunks wait loses those chunks: the queue is the only loss window
  beyond the log writer's flush interval, and it is drained as fast as the disk takes it.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["BackgroundWrites", "writev_all", "DEFAULT_MAX_BYTES"]

#: Chunk bytes allowed to wait for the writing thread.
DEFAULT_MAX_BYTES = 64 << 20


def writev_all(fd: int, parts: list[Any]) -> None:
    """Write every part, in order, with as few ``os.writev`` calls as the kernel allows."""
    views = [memoryview(p).cast("B") for p in parts if len(p)]
    while views:
        written = os.writev(fd, views[:1024])  # IOV_MAX
        while views and written >= views[0].nbytes:
            written -= views[0].nbytes
            views.pop(0)
        if written:
            views[0] = views[0][written:]


class BackgroundWrites:
    """A thread appending submitted chunks to ``fd``; see the module docstring.

    ``on_written``: called on the writing thread after each chunk is written (to wake whoever
    waits for memory to come back).
    """

    def __init__(self, fd: int, path: str, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 on_written: Callable[[], Any] | None = None) -> None:
        self._fd = fd
        self._path = path
        self._max_bytes = max_bytes
        self._on_written = on_written
        self._jobs: deque[tuple[list[Any], int, int, str]] = deque()  # parts, size, offset, what
        self._queued_bytes = 0
        self._busy = False
        self._stopping = False
        self._cond = threading.Condition()
        self.done = 0  # chunks fully written
        self.error: str | None = None  # why writing stopped
        self._thread = threading.Thread(target=self._run, name="gsplog-file-writes", daemon=True)
        self._thread.start()

    def submit(self, parts: list[Any], size: int, offset: int, what: str) -> None:
        """Queue one chunk (``size`` bytes, to land at ``offset``); waits while the queue is full.

        Raises OSError with the reason when an earlier write failed.
        """
        with self._cond:
            while self._queued_bytes and self._queued_bytes + size > self._max_bytes and self.error is None:
                self._cond.wait()
            self._raise_error()
            self._jobs.append((parts, size, offset, what))
            self._queued_bytes += size
            self._cond.notify_all()

    def drain(self) -> None:
        """Wait until every submitted chunk is written; raises OSError if one failed."""
        with self._cond:
            while (self._jobs or self._busy) and self.error is None:
                self._cond.wait()
            self._raise_error()

    def close(self) -> None:
        """Write what waits, then end the thread (idempotent; errors are left to :meth:`drain`)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join()

    def _raise_error(self) -> None:
        if self.error is not None:
            raise OSError(self.error)

    def _run(self) -> None:
        cond = self._cond
        while True:
            with cond:
                while not self._jobs and not self._stopping:
                    cond.wait()
                if not self._jobs:
                    return
                parts, size, offset, what = self._jobs.popleft()
                self._busy = True
            failure = None
            try:
                writev_all(self._fd, parts)
            except OSError as error:
                failure = f"{self._path}: writing {what} at offset {offset} failed: {error.strerror or error}"
                try:  # keep the file readable: drop the torn tail
                    os.ftruncate(self._fd, offset)
                except OSError:
                    pass
            with cond:
                self._busy = False
                self._queued_bytes -= size
                if failure is not None:
                    self.error = failure
                    self._jobs.clear()
                    self._queued_bytes = 0
                else:
                    self.done += 1
                cond.notify_all()
            del parts
            if self._on_written is not None:
                self._on_written()
