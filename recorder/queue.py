"""The hand-off between the caller's thread and the writer thread, with bounded backpressure.

A ``collections.deque`` carries plain tuples: ``append`` and ``popleft`` are atomic under the
GIL, so the caller's hot path takes no lock. The writer polls the deque a few hundred times a
second and is woken at once when a limit is near or a big payload arrives (its chunk should
not wait for the next poll: until written, its memory is not reused); the caller never waits
unless a limit is hit.

Backpressure: when more than ``max_commands`` commands, or more than ``max_bytes`` bytes of
copied payload (buffer contents, arrays), are waiting, the caller blocks until the writer has
taken enough out. Memory held by the queue is therefore bounded by roughly ``max_bytes`` plus
``max_commands`` small tuples. A single item larger than ``max_bytes`` is let in when the queue
holds no payload, so that any call can be recorded. Payloads under ``SMALL_PAYLOAD`` bytes are
not counted (that would need the lock): the command limit bounds them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

__all__ = ["CommandQueue", "DEFAULT_MAX_BYTES", "DEFAULT_MAX_COMMANDS", "SMALL_PAYLOAD"]

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_COMMANDS = 100_000
SMALL_PAYLOAD = 1024
#: A payload at least this big wakes the writer at once (a wake-up costs microseconds, a copy of
#: this many bytes more; smaller ones wait for the writer's next poll).
WAKE_MIN_BYTES = 256 << 10

# An item is (t_ns, op, target_uuid, args, kwargs, payload_bytes); op None marks a control item.
Item = tuple[int, Any, Any, Any, Any, int]


class CommandQueue:
    """Single consumer, any number of producers; see the module docstring for the limits."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, max_commands: int = DEFAULT_MAX_COMMANDS) -> None:
        if max_bytes <= 0 or max_commands <= 0:
            raise ValueError(f"queue limits must be positive (max_bytes={max_bytes}, max_commands={max_commands})")
        self.max_bytes = max_bytes
        self.max_commands = max_commands
        self.items: deque[Item] = deque()
        self.wake = threading.Event()  # set to make the writer look at the deque now
        self._lock = threading.Lock()
        self._space = threading.Condition(self._lock)
        self._pending_bytes = 0  # payload bytes put but not yet released by the writer
        self._waiting = 0
        self._closed = False
        # Statistics, for benchmarks and tests (peak_commands is sampled by the writer).
        self.peak_bytes = 0
        self.peak_commands = 0
        self.blocked_count = 0
        self.blocked_s = 0.0

    @property
    def pending_bytes(self) -> int:
        """Payload bytes currently queued."""
        return self._pending_bytes

    def put(self, item: Item) -> None:
        """Queue one item; blocks while the queue is over a limit (never when closed).

        Payloads under ``SMALL_PAYLOAD`` bytes are not counted (no lock on the hot path): the
        command limit bounds them (100 000 x 1 KiB at most by default).
        """
        items = self.items
        nbytes = item[5]
        if nbytes >= SMALL_PAYLOAD:
            with self._lock:
                if self._pending_bytes + nbytes > self.max_bytes and self._pending_bytes > 0 or (
                    len(items) >= self.max_commands
                ):
                    self._wait_for_space(nbytes)
                self._pending_bytes += nbytes
                if self._pending_bytes > self.peak_bytes:
                    self.peak_bytes = self._pending_bytes
        elif len(items) >= self.max_commands:
            with self._lock:
                self._wait_for_space(0)
        items.append(item)
        if nbytes >= WAKE_MIN_BYTES:
            self.wake.set()

    def put_control(self, kind: str, payload: Any = None) -> None:
        """Queue a control item (flush barrier, stop) and wake the writer; never blocks."""
        self.items.append((0, None, kind, payload, None, 0))
        self.wake.set()

    def _wait_for_space(self, nbytes: int) -> None:
        # Called with the lock held.
        start = time.perf_counter()
        self.blocked_count += 1
        self._waiting += 1
        try:
            while not self._closed and (
                len(self.items) >= self.max_commands
                or (nbytes and self._pending_bytes > 0 and self._pending_bytes + nbytes > self.max_bytes)
            ):
                self.wake.set()
                self._space.wait(0.05)
        finally:
            self._waiting -= 1
            self.blocked_s += time.perf_counter() - start

    def release(self, nbytes: int) -> None:
        """Writer side: ``nbytes`` of payload have left the queue (encoded or discarded)."""
        if nbytes < SMALL_PAYLOAD:
            return  # never counted by put()
        with self._lock:
            self._pending_bytes -= nbytes
            if self._waiting:
                self._space.notify_all()

    def notify_space(self) -> None:
        """Writer side: commands were taken out; wake producers blocked on the command limit."""
        if self._waiting:
            with self._lock:
                self._space.notify_all()

    def close(self) -> None:
        """Stop blocking producers for good (the writer has stopped or failed)."""
        with self._lock:
            self._closed = True
            self._space.notify_all()

    def discard_all(self) -> bool:
        """Drop every queued item (after a write failure) and release its bytes; whether a
        ``stop`` was among them (the writer must still stop: its caller waits for it)."""
        items = self.items
        freed = 0
        stop = False
        while items:
            try:
                item = items.popleft()
            except IndexError:
                break
            if item[5] >= SMALL_PAYLOAD:
                freed += item[5]
            if item[1] is None and item[2] == "flush":
                item[3].set()  # a flush barrier must not hang its caller
            elif item[1] is None and item[2] == "stop":
                stop = True
        self.release(freed)
        return stop
