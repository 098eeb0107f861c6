"""The writer thread: owns the LogWriter, builds Commands, encodes and compresses off the caller.

It takes tuples out of the :class:`~recorder.queue.CommandQueue`, gives each its sequence number
(strictly increasing in queue order, whatever thread queued it) and a non-decreasing time, and
appends the :class:`sessions.command.Command` to the writer, flushing a chunk whenever the flush
interval has passed. The first write failure is reported once (logging, to stderr) with the path
and the reason; from then on nothing more is written and queued calls are discarded, so the
user's script keeps running and the file stays readable up to its last complete chunk.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from gsp.capture import paused
from recorder import hotpath
from recorder.pool import POOL_MIN_BYTES, PayloadRecycler
from recorder.queue import SMALL_PAYLOAD, CommandQueue
from sessions.command import Command, make_command

__all__ = ["WriterThread"]

_log = logging.getLogger("gsplog.recorder")

# Check the flush deadline at least every this many commands while draining a long backlog.
_FLUSH_CHECK_EVERY = 512


def _c_take_rows() -> Callable[..., tuple[int, int, Any]] | None:
    c_module = hotpath.load()
    return None if c_module is None else c_module.take_rows


class WriterThread(threading.Thread):
    """Drains ``queue`` into ``log_writer`` until :meth:`stop`; see the module docstring."""

    def __init__(
        self,
        queue: CommandQueue,
        log_writer: Any,
        *,
        describe: str,
        poll_s: float = 0.005,
        on_command: Callable[[Command], None] | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
        pool: PayloadRecycler | None = None,
        on_payload: Callable[[Any], None] | None = None,
    ) -> None:
        super().__init__(name="gsplog-writer", daemon=True)
        self.queue = queue
        self.log_writer = log_writer
        self.describe = describe  # "path" or endpoint, named in error reports
        self.poll_s = poll_s
        self.on_command = on_command
        self.on_failure = on_failure
        self.closed = threading.Event()  # set once run() has closed the log, whatever happened
        self.error: BaseException | None = None
        self.seq = 0
        self.commands_appended = 0  # counted by this thread as rows reach the LogWriter
        self.commands_refused = 0  # counted where chunks are encoded (maybe another thread)
        self.listener_errors = 0  # exceptions raised by on_command (the first one is logged)
        self._last_t = 0
        self._stopping = False
        self._warned_ops: set[tuple[str, bool]] = set()
        self.pool = pool
        self.on_payload = on_payload  # told of each big set_data payload once appended (hashing)
        self._in_flight: list[tuple[int, Any]] = []  # recyclable payloads (copies, loans) of commands not yet written
        self.cpu_s = 0.0  # CPU time the thread used, set when it ends (benchmarks)
        self._flush_requested = False
        self._take_rows = _c_take_rows()  # the drain's commonest case in C (recorder.hotpath)
        if hasattr(log_writer, "on_unencodable"):  # a value the codec refuses costs its command only
            log_writer.on_unencodable = self._not_recorded

    # ---- control --------------------------------------------------------------------------
    def flush_soon(self) -> None:
        """Any thread: write the pending chunk at the next wake-up instead of when it is due
        (a caller waits for payload memory that only a written chunk gives back)."""
        self._flush_requested = True
        self.queue.wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Write everything queued, close the log, and end the thread."""
        self.queue.put_control("stop")
        self.wait_closed(timeout)

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until the thread has closed the log (after :meth:`stop`); False on timeout.

        Not ``join`` alone: a ``join`` that an interrupt (Ctrl-C) cuts short marks the thread
        as ended while it still runs (CPython 3.11), and a later ``join`` returns at once."""
        if not self.closed.wait(timeout):
            return False
        self.join()
        return True

    # ---- thread body ----------------------------------------------------------------------
    def run(self) -> None:
        # Anything the writer does to GSP objects (its keyframe state) is never reported again.
        cpu_start = time.thread_time()
        with paused():
            try:
                self._loop()
            except BaseException as error:  # never die silently: report, then stop writing
                self._fail(error)
            finally:
                try:
                    self._close()
                    self.cpu_s = time.thread_time() - cpu_start
                finally:
                    self.closed.set()

    def _loop(self) -> None:
        queue = self.queue
        wake = queue.wake
        while not self._stopping:
            wake.wait(self.poll_s)
            wake.clear()
            self._drain()
            if self.error is None:
                if self._flush_requested:
                    self._flush_requested = False
                    self._guard(self.log_writer.flush)
                else:
                    self._guard(self.log_writer.flush_if_due, time.monotonic_ns())
                self._recycle()

    def _recycle(self) -> None:
        # A payload whose chunk is in the file (and with every other sink) is referenced no more:
        # its copy can take the next calls' data, its loan can go back to its buffer.
        if not self._in_flight or self.pool is None or self.error is not None:
            return
        released = getattr(self.log_writer, "released_seq", 0)
        # The writer's keyframe ledger may still reference a payload (the latest full write of a
        # buffer): that one waits for a later chunk.
        holds = getattr(self.log_writer, "holds", None)
        kept = []
        for seq, payload in self._in_flight:
            if seq > released or (holds is not None and holds(payload)):
                kept.append((seq, payload))
            else:
                self.pool.give_back(payload)
        self._in_flight = kept

    def _drain(self) -> None:
        items = self.queue.items
        popleft = items.popleft
        queue = self.queue
        # Commands with small payloads, and nobody to tell of each Command, travel to the
        # LogWriter as rows in batches: no Command object, one call per batch.
        batching = self.on_command is None and hasattr(self.log_writer, "append_rows")
        rows: list[tuple[int, int, str, str, Any, Any]] = []
        small = SMALL_PAYLOAD
        seq = self.seq
        last_t = self._last_t
        if len(items) > queue.peak_commands:
            queue.peak_commands = len(items)
        take_rows = self._take_rows if batching else None
        while items:
            if take_rows is not None and self.error is None:
                # C: number small commands into rows until a batch is full or an item needs this loop
                seq, last_t, item = take_rows(items, rows, seq, last_t, small, _FLUSH_CHECK_EVERY)
                if item is None:
                    if len(rows) >= _FLUSH_CHECK_EVERY:
                        self.seq, self._last_t = seq, last_t
                        self._hand_full_batch(rows)
                    continue
                t_ns, op, target, args, kwargs, nbytes = item
            else:
                t_ns, op, target, args, kwargs, nbytes = popleft()
            if op is None:
                self.seq, self._last_t = seq, last_t
                self._append_rows(rows)
                self._control(target, args)
                continue
            if self.error is not None:  # failed: discard, keep the caller unblocked
                queue.release(nbytes)
                continue
            seq += 1
            if t_ns < last_t:  # several producer threads: keep time non-decreasing
                t_ns = last_t
            last_t = t_ns
            if batching and nbytes < small:
                rows.append((seq, t_ns, op, target, args, kwargs))
                if len(rows) >= _FLUSH_CHECK_EVERY:
                    self.seq, self._last_t = seq, last_t
                    self._hand_full_batch(rows)
                continue
            self.seq, self._last_t = seq, last_t
            self._append_rows(rows)
            self._append_one(seq, t_ns, op, target, args, kwargs, nbytes)
            seq = self.seq  # a big write takes one seq per piece (sessions/pieces.py)
        self.seq, self._last_t = seq, last_t
        self._append_rows(rows)
        queue.notify_space()

    def _hand_full_batch(self, rows: list[tuple[int, int, str, str, Any, Any]]) -> None:
        """A batch is full while draining a long backlog: hand it over, let blocked producers go
        on, and write the chunk if its time has come."""
        self._append_rows(rows)
        self.queue.notify_space()
        if self.error is None:
            self._guard(self.log_writer.flush_if_due, time.monotonic_ns())

    def _append_rows(self, rows: list[tuple[int, int, str, str, Any, Any]]) -> None:
        """Hand a batch of rows to the LogWriter and empty ``rows``."""
        if not rows:
            return
        batch = rows[:]
        rows.clear()
        if self.error is not None:
            return
        try:
            self.log_writer.append_rows(batch)
        except Exception as error:  # the rows are lost either way: say so, as for one command
            self._append_failed(batch[0][2], batch[0][0], error)
        else:
            self.commands_appended += len(batch)

    def _append_one(self, seq: int, t_ns: int, op: str, target: str, args: Any, kwargs: Any, nbytes: int) -> None:
        """The general path: one Command (big payloads, on_command listeners). A write the
        LogWriter cuts into pieces takes seq, seq + 1, ...: :attr:`seq` becomes the last."""
        queue = self.queue
        cmd = make_command(seq, t_ns, op, target, args, kwargs)
        try:
            self.log_writer.append(cmd, nbytes)
        except Exception as error:
            self._append_failed(op, seq, error)
        else:
            first = seq
            seq = max(seq, getattr(self.log_writer, "last_seq", seq))
            self.seq = seq
            self.commands_appended += seq - first  # the pieces after the first
            # Only a positional payload is the recorder's own copy or loan: data passed by
            # keyword was converted like any argument (and an empty args has no payload).
            positional_payload = op == "Buffer.set_data" and bool(args)
            if nbytes >= SMALL_PAYLOAD and self.on_payload is not None and positional_payload:
                self.on_payload(args[0])  # before the copy can be recycled
            self.commands_appended += 1
            if self.on_command is not None:
                self._tell(cmd)
            if nbytes >= POOL_MIN_BYTES and self.pool is not None and positional_payload:
                if self.pool.eligible(args[0]):
                    self._in_flight.append((seq, args[0]))
        if nbytes >= SMALL_PAYLOAD:  # big payload: release its bytes, maybe end a chunk now
            queue.release(nbytes)
            self._guard(self.log_writer.flush_if_due, time.monotonic_ns())
            self._recycle()

    def _control(self, kind: str, payload: Any) -> None:
        if kind == "stop":
            self._stopping = True
        elif kind == "flush":
            if self.error is None:
                self._guard(self.log_writer.flush)
                sync = getattr(self.log_writer, "sync", None)
                if sync is not None:  # chunks written in the background: wait until they are in
                    self._guard(sync)
                self._recycle()
            payload.set()

    def _tell(self, cmd: Command) -> None:
        # The command is in the log already: a listener's bug must not stop the recording (and
        # drop every queued command) nor pass for a failure to write the log.
        assert self.on_command is not None
        try:
            self.on_command(cmd)
        except Exception as error:
            self.listener_errors += 1
            if self.listener_errors == 1:
                _log.error("gsplog recorder: on_command raised at seq %d %s (%s: %s); the command is recorded and "
                           "recording goes on (later errors of on_command are counted, not reported)",
                           cmd.seq, cmd.op, type(error).__name__, error, exc_info=error)

    # ---- failures -------------------------------------------------------------------------
    def _append_failed(self, op: str, seq: int, error: Exception) -> None:
        from sessions.errors import LogWriteError

        if isinstance(error, LogWriteError | OSError):
            self._fail(error)
            return
        self._not_recorded(seq, op, error)

    def _not_recorded(self, seq: int, op: str, error: Exception, kept: bool = False) -> None:
        """A value the codec refuses: the command is left out (or, ``kept``, written with its
        lone surrogates replaced); say so once per op, keep recording."""
        if (op, kept) not in self._warned_ops:
            self._warned_ops.add((op, kept))
            if kept:
                _log.warning("gsplog recorder: %s (seq %d) was recorded with U+FFFD in place of what UTF-8 "
                             "cannot hold: %s", op, seq, error)
            else:
                _log.warning("gsplog recorder: %s (seq %d) was not recorded: %s", op, seq, error)
        if not kept:
            self.commands_refused += 1

    def _guard(self, fn: Callable[..., Any], *args: Any) -> None:
        if self.error is not None:
            return
        try:
            fn(*args)
        except Exception as error:
            self._fail(error)

    def _fail(self, error: BaseException) -> None:
        if self.error is not None:
            return
        self.error = error
        _log.error(
            "gsplog recorder: writing %s failed, recording stopped (the log keeps what was written before): %s",
            self.describe,
            error,
        )
        if self.on_failure is not None:
            self.on_failure(error)
        if self.queue.discard_all():  # stop() was called meanwhile: it waits for this thread
            self._stopping = True

    def _close(self) -> None:
        self.queue.close()
        self.queue.discard_all()
        try:
            if self.error is None:
                self.log_writer.close()
            else:
                _close_quietly(self.log_writer)
        except Exception as error:
            self._fail(error)
        # Every chunk is written: the last payloads (a big buffer's lent contents, a copy) are
        # referenced no more, and must not stay alive as long as the recorder object does.
        self._in_flight = []


def _close_quietly(log_writer: Any) -> None:
    # After a failure: release the file without reporting again (the error was reported once).
    try:
        log_writer.close()
    except Exception:
        pass
