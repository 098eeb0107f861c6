"""The recorder: an observer on the capture seam that turns each GSP call into a command.

On the caller's thread it does only what must happen there: take the time, convert the
arguments (references become :class:`~sessions.command.Ref`, mutable bytes are copied), record
snapshots of live objects created before recording started, check reachable buffers for
in-place mutation before a render, and queue a tuple. A :class:`~recorder.writer_thread.WriterThread`
builds the commands, encodes, compresses and writes them.
"""

from __future__ import annotations

import atexit
import gc
import logging
import numbers
import os
import signal
import socket
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from gsp import capture
from gsp.capture import Captured
from gsp.types.buffer_type import BufferType
from recorder import hotpath
from recorder.convert import PLAIN_TYPES as _PLAIN
from recorder.convert import ArgConverter
from recorder.links import ChainCall, LinkBook
from recorder.pool import LEND_MIN_BYTES, CopyPool, LoanBook, PayloadRecycler
from recorder.queue import DEFAULT_MAX_BYTES, DEFAULT_MAX_COMMANDS, SMALL_PAYLOAD, CommandQueue
from recorder.tracking import (
    BLOCK_BYTES,
    HASH_NAME,
    BufferTracker,
    content_hash,
    frozen,
    mutables_of,
    reachable_buffers,
)
from recorder.writer_thread import WriterThread
from sessions.codec import encode_rows
from sessions.command import Ref
from sessions.index import MARK_OP
from sessions.scene import RELEASE_METHOD
from sessions.writer import without_lone_surrogates

__all__ = ["Recorder", "record", "mark", "active_recorder", "MARK_OP", "SESSION_TARGET"]

_log = logging.getLogger("gsplog.recorder")
_monotonic_ns = time.monotonic_ns
#: A whole write of a big buffer with data of these types is lent (the loan does not read the data).
_LENDABLE_TYPES = (bytearray, np.ndarray, memoryview)

#: Target of user markers (op ``sessions.index.MARK_OP``): not a GSP object, so it is empty.
SESSION_TARGET = ""

#: An animator's frame report, ``notify(animator, "frame", delta_time)``: it paces the session clock.
FRAME_OP = "Animator.frame"

_active: list[Recorder] = []  # started recorders, most recent last
_closing: list[Recorder] = []  # stopped recorders whose writer may still be finishing the log

#: A frame's delta_time beyond this (seconds) does not move the session clock: not a frame rate.
_MAX_FRAME_S = 60.0

#: Calls whose transform link the log holds as its add logged it (recorder/links.py).
_CHAIN_OPS = frozenset({"TransformChain.add", "TransformChain.remove"})


def _no_hook(target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """A hook that does nothing: its op only needs the general path."""


#: Default flush intervals (seconds): files lose at most this much when the process is killed;
#: live nodes receive each call within about a millisecond.
FILE_FLUSH_S = 0.1
LIVE_FLUSH_S = 0.0005


class Recorder:
    """Records every captured GSP call into a session log and/or a live publisher.

    ``path``: the ``.gsplog`` file (None: publish only). ``publish``: a ZeroMQ endpoint
    (``"tcp://127.0.0.1:5555"``) or a ready :class:`sessions.sinks.ChunkSink`-like publisher.
    ``metadata``: user metadata stored in the header. ``flush_interval_s``: the longest time a
    recorded call may wait before its chunk is written (the loss window of a killed process);
    default :data:`FILE_FLUSH_S`, or :data:`LIVE_FLUSH_S` when publishing (a chunk is published
    at each flush, so this bounds what live nodes wait).
    ``max_queue_bytes`` / ``max_queue_commands``: backpressure limits (see recorder.queue).
    ``sinks``: extra chunk sinks. ``writer_options``: extra keyword arguments for
    :class:`sessions.LogWriter`. ``on_command``: called on the writer thread with each
    Command written (tests, in-process players); an exception it raises is logged once (the
    ``gsplog.recorder`` logger) and recording goes on. ``tune_gc``: while recording, the garbage
    collector's first threshold is raised to :data:`GC_THRESHOLD0` (every recorded call
    allocates a few short-lived tuples; at the default 700 the collector's passes cost as much
    as the recording itself), and put back when the last such recorder stops.
    ``wait_s``: with ``publish``, how long :meth:`start` waits after binding, so that nodes
    connect before the first call; the session's clock starts after the wait, so that the
    log's first call is at t = 0 rather than ``wait_s`` in. ``publish_options``: with an
    endpoint ``publish``, more keyword arguments of :class:`transports.Publisher`
    (``snapshot_endpoint``, ``security``: a ``ServerSecurity`` for CURVE, ``end_grace``,
    ``max_payload``...).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        publish: Any = None,
        metadata: dict[str, Any] | None = None,
        flush_interval_s: float | None = None,
        max_queue_bytes: int = DEFAULT_MAX_BYTES,
        max_queue_commands: int = DEFAULT_MAX_COMMANDS,
        sinks: Sequence[Any] = (),
        writer_options: dict[str, Any] | None = None,
        on_command: Any = None,
        tune_gc: bool = True,
        wait_s: float = 0.0,
        publish_options: Mapping[str, Any] | None = None,
    ) -> None:
        if path is None and publish is None and not sinks:
            raise ValueError("Recorder: give a path, a publish endpoint or sinks (nothing to record into)")
        if publish_options and not isinstance(publish, str):
            raise ValueError("Recorder: publish_options are for the publisher made for a publish endpoint "
                             f"(publish is {'None' if publish is None else type(publish).__name__})")
        if flush_interval_s is None:
            flush_interval_s = LIVE_FLUSH_S if publish is not None else FILE_FLUSH_S
        _check_real("flush_interval_s", flush_interval_s)
        _check_real("wait_s", wait_s)
        if not 0 < flush_interval_s < float("inf"):  # NaN too: no chunk would ever be due
            raise ValueError(f"Recorder: flush_interval_s must be a finite number > 0, got {flush_interval_s}")
        if not 0 <= wait_s < float("inf"):
            raise ValueError(f"Recorder: wait_s must be a finite number >= 0, got {wait_s}")
        if on_command is not None and not callable(on_command):
            # it would fail on the writer thread, once per command, far from this call
            raise TypeError(f"Recorder: on_command must be callable, got {type(on_command).__name__}")
        for sink in sinks:
            if not callable(getattr(sink, "write_chunk", None)) or not callable(getattr(sink, "close", None)):
                raise TypeError(f"Recorder: sinks must be sessions.ChunkSink objects (write_chunk and close), "
                                f"got {type(sink).__name__}")
        self.wait_s = float(wait_s)
        self.path = None if path is None else os.fspath(path)
        self.publish = publish
        self.publish_options = dict(publish_options or {})
        if metadata is not None and not isinstance(metadata, Mapping):
            raise TypeError(f"Recorder: metadata must be a dict with str keys, got {type(metadata).__name__}")
        self.metadata = dict(metadata or {})
        self.flush_interval_s = float(flush_interval_s)
        self.sinks = list(sinks)
        self.writer_options = dict(writer_options or {})
        self.on_command = on_command
        self.tune_gc = tune_gc
        self._gc_tuned = False
        self.queue = CommandQueue(max_queue_bytes, max_queue_commands)
        self._items = self.queue.items  # the deque, for the hot path
        self._max_commands = max_queue_commands
        self.tracker = BufferTracker()
        self._refs: dict[str, Ref] = {}
        self._pool = CopyPool()
        # Big buffer contents are lent (zero copy) when only the writer keeps the commands;
        # on_command listeners may keep them, so they get copies.
        self._loans: LoanBook | None = LoanBook(self._flush_soon) if on_command is None else None
        self._converter = ArgConverter(self._refs, self._record_snapshot, self._pool)
        self._snapshotting: set[str] = set()
        # (uuid, release op) of logged objects the script dropped, appended by their finalizers
        # (any thread, at any allocation: a lock-free append only) and logged at the next call.
        self._released: deque[tuple[str, str]] = deque()
        # uuid -> {setter suffix: the Color or list the log holds, frozen}: one a getter handed
        # out and the script changed in place is logged before the next render that draws it.
        self._mutables: dict[str, dict[str, bytes | tuple[Any, ...]]] = {}
        # The links of each chain in the log, with the values the log holds for them.
        self._links = LinkBook()
        self._lock = threading.RLock()
        self._mended_markers = False  # a marker's info was recorded with U+FFFD (said once)
        self._broken_ops: set[str] = set()
        self._t0_ns = 0
        self._last_frame_ns: dict[str, int] = {}  # animator uuid -> t_ns of its last frame
        self._failed = False
        self._hot: Any = None  # the C fast path's object, while it takes the seam's calls
        self._started = False
        self._stopped = False
        self._closed = False  # stopped, and the writer has finished the log
        self._writer: WriterThread | None = None
        self._publisher: Any = None
        # op -> hook run after conversion, before the command is queued
        self._hooks = {
            "Renderer.render": self._before_render,
            "Buffer.set_data": self._after_buffer_write,
            "Buffer.new": self._after_buffer_write,
            FRAME_OP: _no_hook,  # frames take the general path, where _pace_frame stamps them
        }

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self) -> Recorder:
        """Open the log, start the writer thread and begin observing GSP calls."""
        if self._started:
            raise RuntimeError("Recorder.start: this recorder was already started (use a new Recorder)")
        self._started = True
        _ignore_sigxfsz()
        # The clock starts once the wait is over: the header's anchors name that moment.
        wait_ns = int(self.wait_s * 1e9)
        self._t0_ns = time.monotonic_ns() + wait_ns
        wall_ns = time.time_ns() + wait_ns
        log_writer = self._open_writer(wall_ns)
        self._writer = WriterThread(
            self.queue,
            log_writer,
            describe=self.path or str(self.publish),
            poll_s=min(0.005, self.flush_interval_s / 4),
            on_command=self.on_command,
            on_failure=self._on_failure,
            on_payload=self.tracker.resolve,
            # Copies may be recycled only when nobody else keeps the commands.
            pool=PayloadRecycler(self._pool, self._loans) if self._loans is not None else None,
        )
        self._writer.start()
        if wait_ns:
            time.sleep(max(0.0, (self._t0_ns - time.monotonic_ns()) / 1e9))
        _active.append(self)
        _catch_sigterm()
        if self.tune_gc:
            self._gc_tuned = _raise_gc_threshold()
        self._install_hot_path()
        capture.add_observer(self)
        return self

    def _install_hot_path(self) -> None:
        """Let ``recorder._hotpath`` take the seam's calls first: it queues scalar setters and
        small ``set_data`` calls as :meth:`on_call` would and hands it every other call."""
        c_module = hotpath.load()
        if c_module is None or type(self).on_call is not Recorder.on_call:  # a subclass's on_call wins
            return
        self._hot = c_module.HotPath(
            self._refs, self._hooks, self._items, self.tracker.versions, Recorder.on_call.__get__(self),
            self._t0_ns, self._max_commands, SMALL_PAYLOAD, "Buffer.set_data",
        )
        # An instance attribute: the seam's observer.on_call(...) finds it before the method.
        self.__dict__["on_call"] = self._hot.on_call

    @property
    def uses_c_hot_path(self) -> bool:
        """Whether the C fast path takes this recorder's calls (see :mod:`recorder.hotpath`)."""
        return self._hot is not None

    def _refuse_calls(self) -> None:
        """From now on every observed call is ignored (write failure, forked child)."""
        self._failed = True
        if self._hot is not None:
            self._hot.failed = True

    def stop(self) -> None:
        """Stop observing, write everything still queued, close the log (idempotent).

        An interrupt (a second Ctrl-C) while the writer finishes the log does not cut it: the
        writer goes on, and a later ``stop()``, or the interpreter's exit, waits for it."""
        if not self._started or self._closed:
            return
        assert self._writer is not None
        if not self._stopped:
            self._stopped = True
            capture.remove_observer(self)
            if self in _active:
                _active.remove(self)
            if not _active:
                _release_sigterm()
            # The writer is a daemon thread, cut short at exit: until it is done, exit waits for it.
            _closing.append(self)
            self._writer.stop()
        else:  # a stop() that was interrupted: the writer got its stop then
            self._writer.wait_closed()
        self._closed = True
        if self in _closing:
            _closing.remove(self)
        if self._loans is not None:  # the log is closed: nothing reads the lent contents any more
            self._loans.release_all()
        self._pool.clear()  # copies kept for the next calls: there are none
        if self._gc_tuned:
            self._gc_tuned = False
            _restore_gc_threshold()
        if self._publisher is not None and hasattr(self._publisher, "close"):
            try:
                self._publisher.close()
            except Exception as error:  # the log itself is closed already
                _log.warning("gsplog recorder: closing the publisher failed: %s", error)

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Block until every call recorded so far is written as a chunk; False on timeout, and
        when the recording stopped on a write failure (:attr:`error` says why): then they are not."""
        if self._writer is None or not self._writer.is_alive():
            return self.error is None
        done = threading.Event()
        self.queue.put_control("flush", done)
        return done.wait(timeout) and self.error is None

    # ---- state ----------------------------------------------------------------------------
    @property
    def error(self) -> BaseException | None:
        """The write failure that stopped recording, if any."""
        return None if self._writer is None else self._writer.error

    @property
    def publisher(self) -> Any:
        """The live publisher (``transports.Publisher``) when publishing, else None; its
        ``endpoint`` tells the port chosen for ``tcp://127.0.0.1:*``."""
        return self._publisher

    @property
    def commands_written(self) -> int:
        """Commands appended to the log so far (not those the codec refused, see docs/recording.md)."""
        writer = self._writer
        return 0 if writer is None else writer.commands_appended - writer.commands_refused

    @property
    def t0_ns(self) -> int:
        """``time.monotonic_ns()`` at the start of the session (t_ns = 0)."""
        return self._t0_ns

    def now_ns(self) -> int:
        """The session time now, in the commands' t_ns scale."""
        return time.monotonic_ns() - self._t0_ns

    # ---- the capture seam -----------------------------------------------------------------
    def on_call(self, target: Captured, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Seam callback: queue one command (after snapshots and buffer checks it needs)."""
        if self._failed:
            return
        t_ns = _monotonic_ns() - self._t0_ns
        try:
            uuid = target._uuid
        except AttributeError:  # never asked for yet: get_uuid() assigns it
            uuid = target.get_uuid()
        # Hot path (a known object, scalar arguments, no hook): one tuple appended to the deque.
        if uuid in self._refs and op not in self._hooks and not kwargs:
            plain = _PLAIN
            for a in args:
                if type(a) not in plain:
                    break
            else:
                items = self._items
                if len(items) < self._max_commands:
                    items.append((t_ns, op, uuid, args, kwargs, 0))
                    return
        elif op == "Buffer.set_data" and uuid in self._refs and (
            self._small_set_data(target, uuid, t_ns, args, kwargs) or self._lent_set_data(target, uuid, t_ns, args, kwargs)
        ):
            return
        try:
            with self._lock:  # snapshots and hooks of several threads must not interleave
                self._record_call(t_ns, target, uuid, op, args, kwargs)
        except Exception as error:  # a recorder bug must never break the user's call
            if op not in self._broken_ops:
                self._broken_ops.add(op)
                _log.warning("gsplog recorder: %s was not recorded: %r", op, error)

    def _small_set_data(
        self, target: Any, uuid: str, t_ns: int, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> bool:
        """Fast path of ``set_data(bytes or bytearray, offset, count)`` on a small buffer (one hash
        block): keep the data as immutable ``bytes`` (a copy of a bytearray; what msgpack packs
        with no Python per command), note the new content hash or version, queue. False when the
        call needs the general path."""
        if kwargs or len(args) != 3:
            return False
        data, offset, count = args
        if (type(data) is not bytearray and type(data) is not bytes) or type(offset) is not int \
                or type(count) is not int or len(data) >= SMALL_PAYLOAD:
            return False
        items = self._items
        if len(items) >= self._max_commands:
            return False
        if target.storage_exposed:
            storage = target.to_bytearray()
            if len(storage) > BLOCK_BYTES:
                return False
            self.tracker.known[uuid] = [content_hash(storage)]
        else:
            self.tracker.note_version(uuid, target.version, offset == 0 and count == target.get_count())
        items.append((t_ns, "Buffer.set_data", uuid, (bytes(data), offset, count), kwargs, 0))
        return True

    def _lent_set_data(
        self, target: Any, uuid: str, t_ns: int, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> bool:
        """Fast path of ``set_data(data, 0, count)`` replacing the whole contents of a big buffer
        that can lend them at once: lend (zero copy), note the version, queue. No lock and no
        argument conversion: the call has just copied megabytes, so the interpreter runs from
        cold caches and every step costs several times its usual time. False when the call
        needs the general path (which also waits for a loan when too many are out)."""
        loans = self._loans
        if loans is None or kwargs or len(args) != 3:
            return False
        offset, count = args[1], args[2]
        if type(offset) is not int or type(count) is not int or offset != 0 or count != target.get_count():
            return False
        nbytes = target.nbytes
        if nbytes < LEND_MIN_BYTES or type(args[0]) not in _LENDABLE_TYPES:
            return False
        version = target.version
        payload = loans.try_lend(target)
        if payload is None:
            return False
        try:
            self.queue.put((t_ns, "Buffer.set_data", uuid, (payload, 0, count), kwargs, nbytes))
        except BaseException:  # interrupted (Ctrl-C in a notebook): the loan must come back
            loans.release(payload)
            raise
        # Noted once queued: an interrupt just before leaves the write to the next render's check.
        self.tracker.note_version(uuid, version, True)
        return True

    def _know(self, obj: Captured, uuid: str) -> None:
        """``obj`` is in the log from now on; once the script drops it, the log says so (the
        scene, keyframes and replays forget it instead of holding it to the end)."""
        self._refs[uuid] = Ref(uuid)
        self._note_mutables(obj, uuid)
        # Renderers too: one dropped without close() (a notebook cell run again makes a new one)
        # would keep what it last drew in every later keyframe and replay.
        finalizer = weakref.finalize(obj, self._released.append, (uuid, f"{type(obj)._capture_name_}.{RELEASE_METHOD}"))
        finalizer.atexit = False

    def _log_releases(self, t_ns: int) -> None:
        """Log the release of the objects the script dropped since the last call."""
        released = self._released
        while released:
            uuid, op = released.popleft()
            if self._refs.pop(uuid, None) is not None:
                self.tracker.forget(uuid)
                self._mutables.pop(uuid, None)
                self._links.forget(uuid)
                self.queue.put((t_ns, op, uuid, (), {}, 0))

    def _record_call(
        self, t_ns: int, target: Captured, uuid: str, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        refs = self._refs
        if self._released:
            self._log_releases(t_ns)
        if op == FRAME_OP:
            t_ns = self._pace_frame(uuid, t_ns, args)
        snapshotted = uuid not in refs and not op.endswith(".new")
        if snapshotted:
            self._record_snapshot(target)
        if op in _CHAIN_OPS and uuid in refs:
            # A chain first met at its own add or remove: the snapshot holds it as the call left
            # it (unlike a setter's, the call logged again would add or remove a link twice).
            if snapshotted or self._record_chain_call(t_ns, uuid, op, args, kwargs):
                return
        converter = self._converter
        before = converter.copied_bytes
        raw_args, raw_kwargs = args, kwargs
        payload = None
        lent_bytes = 0
        kept_bytes = 0  # immutable bytes, kept as they are: counted in the queue, never recycled
        try:
            data = _raw_bytes(args[0]) if op == "Buffer.set_data" and args else None
            if data is not None:
                rest, kwargs = converter.convert_call(args[1:], kwargs)
                payload = self._lend_whole(target, data, raw_args, raw_kwargs)
                if payload is not None:
                    lent_bytes = payload.nbytes
                elif type(args[0]) is bytes:
                    payload = data
                    kept_bytes = len(args[0])
                else:
                    payload = converter.copy_payload(data)
                args = (payload, *rest)
            elif args or kwargs:
                args, kwargs = converter.convert_call(args, kwargs)
            hook = self._hooks.get(op)
            if lent_bytes:
                self.tracker.note_written(target)  # the log holds the whole contents
            elif payload is not None and self._defer_hash(target, payload, raw_args, raw_kwargs):
                pass  # the writer thread hashes the copy
            elif hook is not None:  # sees the caller's live objects, after unknown ones were snapshotted
                hook(target, raw_args, raw_kwargs)
            elif args or kwargs:
                self._sync_buffer_args(raw_args, raw_kwargs)
            self.queue.put((t_ns, op, uuid, args, kwargs, converter.copied_bytes - before + lent_bytes + kept_bytes))
        except BaseException:
            # Interrupted (Ctrl-C in a notebook) or refused between noting a buffer's write and
            # queuing it: the loan comes back, and the next render checks the buffer, so that the
            # log neither holds a loan forever nor misses the contents.
            if op == "Buffer.set_data":
                self.tracker.forget(uuid)
            if lent_bytes and self._loans is not None:
                self._loans.release(payload)
            raise
        if uuid not in refs:  # known only once queued: other threads' fast path may follow it
            self._know(target, uuid)
        elif uuid in self._mutables:  # a setter may have set one: the log holds it now
            self._note_mutables(target, uuid)

    def mark(self, label: str, **info: Any) -> bool:
        """Record a user marker (a named point in time, with optional plain ``info``); whether it
        was. Info the log cannot hold (``{1: "x"}``, ``2**70``) leaves the marker out with a
        warning naming it, here, on the caller's thread (the rest of the recording goes on)."""
        if not isinstance(label, str):
            raise TypeError(f"Recorder.mark: label must be a str, got {type(label).__name__}")
        if not label:
            raise ValueError("Recorder.mark: the label is empty (positions name markers as @label)")
        if self._failed or not self._started or self._stopped:
            return False
        with self._lock:
            t_ns = time.monotonic_ns() - self._t0_ns
            kwargs = {k: self._converter.convert(v) for k, v in info.items()}
            row = (t_ns, MARK_OP, SESSION_TARGET, (label,), kwargs, 0)
            if info:  # checked now, so that the warning comes where the call is (a notebook's cell)
                try:
                    encode_rows([(0, *row[:5])])
                except TypeError as error:
                    # A string UTF-8 cannot hold (a file name's undecodable byte) is mended with
                    # U+FFFD, as in any other command, rather than costing the marker.
                    mended = (*row[:3], without_lone_surrogates(row[3]), without_lone_surrogates(row[4]), 0)
                    try:
                        encode_rows([(0, *mended[:5])])
                    except TypeError:
                        _log.warning("gsplog recorder: marker %r was not recorded: %s", label,
                                     error.__cause__ or error)
                        return False
                    row = mended
                    if not self._mended_markers:  # once, as the writer says it once per op
                        self._mended_markers = True
                        _log.warning("gsplog recorder: marker %r was recorded with U+FFFD in place of what UTF-8 "
                                     "cannot hold: %s", label, error.__cause__ or error)
            self.queue.put(row)
        return True

    # ---- internals ------------------------------------------------------------------------
    def _pace_frame(self, uuid: str, t_ns: int, args: tuple[Any, ...]) -> int:
        """The time of an animator's frame: at least its ``delta_time`` after that animator's
        previous frame. A headless animator runs as fast as it can, yet its frames stand for
        1/fps of animation each; moving the session clock on (the start, ``t0_ns``, back) keeps
        the log at the animation's pace, so that replays, videos and time ranges see 30 frames
        at 30 fps as one second. A live loop measures ``delta_time`` from the same frames, so
        its clock moves by the measurement's jitter at most."""
        delta = args[0] if len(args) == 1 and type(args[0]) in (float, int) else 0.0
        previous = self._last_frame_ns.get(uuid)
        if previous is not None and 0 < delta < _MAX_FRAME_S:
            lag = previous + int(delta * 1e9) - t_ns
            if lag > 0:
                self._t0_ns -= lag
                if self._hot is not None:
                    self._hot.t0_ns = self._t0_ns
                t_ns += lag
        self._last_frame_ns[uuid] = t_ns
        return t_ns

    def _record_snapshot(self, obj: Captured) -> None:
        """Record the calls that rebuild a live object never seen before (dependencies first)."""
        uuid = obj.get_uuid()
        if uuid in self._snapshotting or uuid in self._refs:
            return
        self._snapshotting.add(uuid)
        try:
            calls = _snapshot_calls(obj)
            if calls is None:
                return
            name = type(obj)._capture_name_
            converter = self._converter
            for method, args, kwargs in calls:
                t_ns = time.monotonic_ns() - self._t0_ns
                op = f"{name}.new" if method == "__init__" else f"{name}.{method}"
                if op in _CHAIN_OPS and uuid in self._refs and self._record_chain_call(t_ns, uuid, op, args, kwargs):
                    continue
                before = converter.copied_bytes
                cargs, ckwargs = converter.convert_call(tuple(args), dict(kwargs))
                self.queue.put((t_ns, op, uuid, cargs, ckwargs, converter.copied_bytes - before))
                if method == "__init__":
                    self._know(obj, uuid)
            if name == "Buffer":
                self.tracker.note_written(obj)
        finally:
            self._snapshotting.discard(uuid)

    def _lend_whole(self, target: Any, data: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """For a write of a big buffer's whole contents, the contents lent by the buffer (no copy:
        the buffer copies on its next write instead); None when a copy of ``data`` is needed."""
        loans = self._loans
        if loans is None or target.storage_exposed:
            return None
        nbytes = data.nbytes if type(data) is np.ndarray else len(data)
        n = target.nbytes
        if nbytes < LEND_MIN_BYTES or nbytes != n or _set_data_range(target, args, kwargs) != (0, n):
            return None
        return loans.lend(target)

    def _defer_hash(self, target: Any, payload: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        """For a full write of a big buffer whose copy has exactly the buffer's new bytes, let the
        writer thread hash the copy instead of hashing the storage here. False: hash now."""
        n = target.nbytes
        if n <= BLOCK_BYTES or _set_data_range(target, args, kwargs) != (0, n):
            return False
        if type(payload) is bytearray:
            same = len(payload) == n
        else:
            dtype = BufferType.numpy_dtype(target.get_type())
            same = payload.nbytes == n and (payload.dtype == dtype or (payload.dtype == np.uint8 and payload.ndim == 1))
        if same:
            self.tracker.note_copied(target, payload)
        return same

    def _after_buffer_write(self, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        big = target.nbytes > BLOCK_BYTES
        self.tracker.note_written(target, _set_data_range(target, args, kwargs) if big else None)

    def _sync_buffer_args(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Log the current contents of Buffers passed directly (or in a list) to a call.

        A constructor or setter may validate against a buffer's contents (Paths path_sizes,
        Pixels groups, Mesh indices); if the script wrote into the buffer's storage in place,
        the log must hold those contents before the call, or replay fails validation.
        """
        found: list[Captured] = []
        for value in (*args, *kwargs.values()):
            kind = type(value)
            if kind is list or kind is tuple:
                found.extend(v for v in value if _is_logged_buffer(v, self._refs))
            elif _is_logged_buffer(value, self._refs):
                found.append(value)
        if found:
            self._queue_changed(found)

    def _queue_changed(self, buffers: list[Any]) -> None:
        """Log the whole contents of the buffers that changed behind the log's back."""
        for buf in self.tracker.changed(buffers):
            data = None
            if self._loans is not None and buf.nbytes >= LEND_MIN_BYTES:
                data = self._loans.lend(buf)
            if data is None:
                data = self._pool.copy(buf.to_bytearray() if buf.storage_exposed else buf.read_view())
            t_ns = time.monotonic_ns() - self._t0_ns
            self.queue.put((t_ns, "Buffer.set_data", buf.get_uuid(), (data, 0, buf.get_count()), {}, data.nbytes
                            if type(data) is np.ndarray else len(data)))

    def _note_mutables(self, obj: Captured, uuid: str) -> None:
        """Remember the mutable values ``obj`` holds (Colors, lists) as the log now has them."""
        if type(obj)._capture_name_ == "Buffer":
            return
        kind = type(obj)
        values = {name: frozen(value) for name, value in mutables_of(obj) if callable(getattr(kind, f"set_{name}", None))}
        if values:
            self._mutables[uuid] = values

    def _record_changed_mutables(self, objects: list[Captured]) -> None:
        """Record, as a call of its setter, each Color or list changed in place behind the log's
        back: a getter hands out the value itself, so ``viewport.get_background_color()[0] = 0``
        or ``texts.get_strings()[0] = "new"`` is drawn live."""
        for obj in objects:
            uuid = getattr(obj, "_uuid", None)
            known = self._mutables.get(uuid) if uuid is not None else None
            if uuid is None or not known:
                continue
            changed = [(name, value) for name, value in mutables_of(obj)
                       if name in known and known[name] != frozen(value)]
            for name, value in changed:
                t_ns = time.monotonic_ns() - self._t0_ns
                self._record_call(t_ns, obj, uuid, f"{type(obj)._capture_name_}.set_{name}", (value.copy(),), {})

    def _before_render(self, target: Captured, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        refs = self._refs
        roots = [*args, *kwargs.values()]
        canvas = getattr(target, "get_canvas", None)
        if callable(canvas):  # the canvas is drawn too (its background), though no argument names it
            roots.append(canvas())
        objects: list[Captured] = []
        self._queue_changed([b for b in reachable_buffers(roots, objects) if b.get_uuid() in refs])
        self._record_changed_mutables(objects)
        if self._links.chains:
            self._refresh_chains(objects)

    def _record_chain_call(
        self, t_ns: int, uuid: str, op: str, args: Sequence[Any], kwargs: dict[str, Any]
    ) -> bool:
        """Log ``TransformChain.add(link)`` / ``remove(link)`` through the chain's :class:`LinkBook`
        entry: an add with the link's value of now, a remove with the value its add logged.
        False for another call shape (the general path converts it)."""
        if len(args) == 1 and not kwargs:
            link = args[0]
        elif not args and len(kwargs) == 1 and "link" in kwargs:
            link = kwargs["link"]
        else:
            return False
        book = self._links
        self._queue_chain_calls(t_ns, uuid, book.add(uuid, link) if op.endswith(".add") else book.remove(uuid, link))
        return True

    def _refresh_chains(self, objects: list[Captured]) -> None:
        """Before a render: log again the links of each chain among ``objects`` whose buffers
        were written since the log took their values (recorder/links.py)."""
        chains = self._links.chains
        for obj in objects:
            uuid = getattr(obj, "_uuid", None)
            if uuid in chains:
                calls = self._links.refresh(uuid, obj.get_links())  # type: ignore[attr-defined]
                if calls:
                    self._queue_chain_calls(time.monotonic_ns() - self._t0_ns, uuid, calls)

    def _queue_chain_calls(self, t_ns: int, uuid: str, calls: list[ChainCall]) -> None:
        for method, link, nbytes in calls:
            self.queue.put((t_ns, f"TransformChain.{method}", uuid, (link,), {}, nbytes))

    def _flush_soon(self) -> None:
        # A lend waits for loans that only a written chunk gives back: do not wait for the interval.
        if self._writer is not None:
            self._writer.flush_soon()

    def _on_failure(self, error: BaseException) -> None:
        self._refuse_calls()

    def _open_writer(self, wall_ns: int) -> Any:
        from sessions.writer import LogWriter

        metadata = {
            "user": self.metadata,
            "recorder": {
                "wall_clock_anchor_ns": wall_ns,
                "monotonic_anchor_ns": self._t0_ns,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "python": sys.version.split()[0],
                "argv": list(sys.argv),
                "flush_interval_s": self.flush_interval_s,
                "content_hash": HASH_NAME,
            },
        }
        # The file's chunks are written by a thread of their own, which wakes the writer thread
        # after each so that lent buffer contents go back to their buffers at once.
        options = {"flush_interval_s": self.flush_interval_s, "background_writes": True,
                   "on_written": self.queue.wake.set, **self.writer_options}
        header = LogWriter.make_header(metadata)
        # The publisher binds first: a recording that cannot publish never touches the file.
        publisher = _make_publisher(self.publish, header, self.publish_options) if self.publish is not None else None
        try:
            log_writer = LogWriter(self.path, sinks=self.sinks, header=header, **options)
        except BaseException:
            if isinstance(self.publish, str) and publisher is not None:  # ours: made just now
                publisher.close()
            raise
        if publisher is not None:
            self._publisher = publisher
            log_writer.sinks.append(publisher)
        return log_writer


def _is_logged_buffer(value: Any, refs: dict[str, Ref]) -> bool:
    """True for a Buffer already present in the log (others are snapshotted when converted)."""
    return (isinstance(value, Captured) and type(value)._capture_name_ == "Buffer"
            and getattr(value, "_uuid", None) in refs)


def _raw_bytes(data: Any) -> bytearray | np.ndarray | None:
    """The data of a ``set_data`` as the recorder keeps it (lent, copied, or for ``bytes`` kept):
    a bytearray or a numpy array as it is; ``bytes`` or a contiguous memoryview big enough to be
    lent (what ``Buffer.from_numpy`` passes) as a flat uint8 array over its bytes, which
    ``set_data`` takes as raw bytes (and the queue and the log writer count, so that a big one
    is written in pieces); None for anything else (converted like any argument: small bytes are
    kept, a small memoryview becomes bytes)."""
    kind = type(data)
    if kind is bytearray or kind is np.ndarray:
        return data  # type: ignore[no-any-return]
    if kind is bytes and len(data) >= LEND_MIN_BYTES or kind is memoryview and data.c_contiguous \
            and data.nbytes >= LEND_MIN_BYTES:
        return np.frombuffer(data, np.uint8)
    return None


def _set_data_range(buffer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[int, int] | None:
    """Byte range written by ``Buffer.set_data(data, offset, count)``; None for new or unclear calls."""
    if len(args) + len(kwargs) < 3:
        return None
    try:
        offset = args[1] if len(args) > 1 else kwargs["offset"]
        count = args[2] if len(args) > 2 else kwargs["count"]
        size = buffer.nbytes // max(1, buffer.get_count())
        return int(offset) * size, (int(offset) + int(count)) * size
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _snapshot_calls(obj: Captured) -> list[tuple[str, Any, Any]] | None:
    """``obj._snapshot_()``, or a constructor call from the getters that exist (optional
    parameters without a getter keep their defaults); None, with a warning, when neither works."""
    try:
        return obj._snapshot_()
    except Exception as error:
        first_error = error
    try:
        args: list[Any] = []
        for p in capture.init_parameters(type(obj)):
            if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY):
                continue
            getter = getattr(obj, f"get_{p.name}", None)
            if getter is None:
                if p.default is p.empty:
                    raise AttributeError(f"no get_{p.name}() for the required parameter {p.name!r}")
                break  # later positional arguments would shift: stop at the first default kept
            args.append(getter())
        return [("__init__", tuple(args), {})]
    except Exception as error:
        _log.warning(
            "gsplog recorder: cannot snapshot %r created before recording (%s; %s); commands on it will not replay",
            obj, first_error, error,
        )
        return None


def _make_publisher(publish: Any, header: bytes, options: Mapping[str, Any]) -> Any:
    """A ZeroMQ publisher for an endpoint string (late joiners get scene snapshots), made with
    ``options`` too, or ``publish`` itself when it is already a sink."""
    if not isinstance(publish, str):
        return publish
    from sessions.limits import RECORDER_LIMITS
    from transports.publisher import Publisher
    from transports.scene_state import SceneStreamState

    state = SceneStreamState(limits=RECORDER_LIMITS, keep_links_as_recorded=True)
    return Publisher(publish, state=state, session_header=header, **options)


#: The garbage collector's first threshold while a recorder with ``tune_gc`` runs.
GC_THRESHOLD0 = 10_000
_gc_saved: list[Any] = [0, None]  # [recorders that raised it, thresholds they found]


def _raise_gc_threshold() -> bool:
    """Raise gc's first threshold to GC_THRESHOLD0 (never lower it); True if this counts."""
    with _gc_lock:
        current = gc.get_threshold()
        if _gc_saved[0] == 0:
            if current[0] >= GC_THRESHOLD0:
                return False
            _gc_saved[1] = current
            gc.set_threshold(GC_THRESHOLD0, *current[1:])
        _gc_saved[0] += 1
        return True


def _restore_gc_threshold() -> None:
    """The last tuned recorder gone: put back the thresholds found, unless the script changed them."""
    with _gc_lock:
        _gc_saved[0] -= 1
        if _gc_saved[0] == 0 and _gc_saved[1] is not None:
            saved, _gc_saved[1] = _gc_saved[1], None
            if gc.get_threshold()[0] == GC_THRESHOLD0:
                gc.set_threshold(*saved)


_gc_lock = threading.Lock()


def _ignore_sigxfsz() -> None:
    # Past RLIMIT_FSIZE the kernel sends SIGXFSZ, whose default action kills the process; ignored,
    # the write fails with EFBIG instead, which the writer thread reports once.
    if hasattr(signal, "SIGXFSZ") and threading.current_thread() is threading.main_thread():
        try:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        except (ValueError, OSError):
            pass


class Terminated(SystemExit):
    """Raised in the main thread by SIGTERM (``kill``, ``timeout``, a batch scheduler's time
    limit) while recording: the script unwinds as on ``sys.exit(143)``, and every log is closed
    whole, where the default action would kill the process and leave the log without footer."""


def _on_sigterm(signum: int, frame: Any) -> None:
    shell = _interactive_shell()
    if shell is not None:
        # A Jupyter kernel or IPython shows the exception under the running cell and goes on
        # with the next one, still recording: end the process once the cell has unwound.
        shell.events.register("post_run_cell", _terminate_after_cell)
    raise Terminated(128 + signum)


def _interactive_shell() -> Any:
    """The running IPython shell (a Jupyter kernel's too), or None."""
    ipython = sys.modules.get("IPython")
    try:
        return ipython.get_ipython() if ipython is not None else None  # type: ignore[attr-defined]
    except Exception:
        return None


def _terminate_after_cell(*_: Any) -> None:
    """After the cell SIGTERM interrupted: close every log, then die of SIGTERM as asked."""
    _stop_all_at_exit()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _catch_sigterm() -> None:
    """Take SIGTERM while recording, unless the script handles or ignores it already (only
    the main thread may set handlers)."""
    if threading.current_thread() is threading.main_thread():
        try:
            if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
                signal.signal(signal.SIGTERM, _on_sigterm)
        except (ValueError, OSError):
            pass


def _check_real(name: str, value: Any) -> None:
    """TypeError naming the argument for a value that is not a number (``"0.1"`` met a ``<=``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Recorder: {name} must be a number, got {type(value).__name__} {value!r}")


def _release_sigterm() -> None:
    """The last recorder stopped: SIGTERM's default action back, unless the script set its own."""
    if threading.current_thread() is threading.main_thread():
        try:
            if signal.getsignal(signal.SIGTERM) is _on_sigterm:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
        except (ValueError, OSError):
            pass


def _stop_all_at_exit() -> None:
    # A script that started a recorder and never stopped it still gets a complete log, and so
    # does one whose stop() an interrupt cut short (the writer, a daemon thread, would be cut too).
    for rec in [*reversed(_active), *_closing]:
        try:
            rec.stop()
        except Exception as error:
            _log.error("gsplog recorder: closing %s at exit failed: %s", rec.path, error)


def _forget_in_child() -> None:
    # A forked child has the observers but not the writer thread: its calls would fill the queue
    # and block forever. The parent's recording is the parent's: the child records nothing.
    for rec in [*_active, *_closing]:
        rec._refuse_calls()
        rec._stopped = rec._closed = True  # no writer here to wait for
        capture.remove_observer(rec)
    _active.clear()
    _closing.clear()
    _release_sigterm()  # a child (a multiprocessing worker) is killed by SIGTERM as it expects


atexit.register(_stop_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


# ---- module-level API -----------------------------------------------------------------------
def active_recorder() -> Recorder | None:
    """The most recently started recorder still running, or None."""
    return _active[-1] if _active else None


def mark(label: str, **info: Any) -> bool:
    """Record a marker on the active recorder; whether it was (False when none is recording, or
    its info cannot be logged: see :meth:`Recorder.mark`).

    Scripts may call it unconditionally: without a recorder it costs nothing.
    """
    rec = active_recorder()
    if rec is None:
        return False
    return rec.mark(label, **info)


@contextmanager
def record(
    path: str | os.PathLike[str] | None = None,
    *,
    publish: Any = None,
    metadata: dict[str, Any] | None = None,
    flush_interval_s: float | None = None,
    **options: Any,
) -> Iterator[Recorder]:
    """Record every GSP call made inside the ``with`` block (see :class:`Recorder`).

    The log is closed properly even when the block raises.
    """
    rec = Recorder(path, publish=publish, metadata=metadata, flush_interval_s=flush_interval_s, **options)
    rec.start()
    try:
        yield rec
    finally:
        rec.stop()
