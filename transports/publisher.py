"""The publishing end of a live session (the Clone pattern's server).

The user's thread only numbers a payload and puts it on a bounded queue (never blocks: a full
queue drops, and nodes resynchronise through gap detection). One I/O thread owns the sockets:
it sends updates on PUB, answers snapshot requests on a ROUTER from a :class:`StreamState` fed
with every update it sent, and sends heartbeats and the session-end announcement.

A node that does not keep up costs the publisher at most ``sndhwm`` messages (libzmq's PUB
queue for that node, counted in messages): further updates are dropped for that node alone,
which resynchronises through the gap. After the END the snapshot service answers for
``end_grace`` seconds more, so that a node that skipped updates can still end with the
session's final state.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import zmq

from transports.endpoints import check_bind_endpoint, snapshot_endpoint_for, warn_if_exposed
from transports.protocol import (
    CONTROL_MAX_SIZE,
    DEFAULT_MAX_PAYLOAD,
    Header,
    MessageTooLarge,
    PayloadKind,
    encode_end,
    encode_heartbeat,
    encode_update,
    new_session_id,
    session_id_hex,
)
from transports.security import ServerSecurity
from transports.snapshot_service import ServiceStats, SnapshotService
from transports.state import NullState, StreamState

__all__ = ["Publisher", "PublisherStats", "DEFAULT_SNDHWM"]

log = logging.getLogger(__name__)

_STOP = object()
#: Messages libzmq may queue for one node: a stalled node holds this many of the stream's chunks
#: in the publisher. libzmq counts messages, not bytes, and fixes the count when the socket binds;
#: 16 dropped updates for nodes that kept up with 4000 small updates/s on a loaded 2-core machine,
#: 32 did not (docs/live.md, "Slow and stalled nodes").
DEFAULT_SNDHWM = 32
_UPDATES_PER_TURN = 64  # updates sent in a row before heartbeats and snapshot requests get a turn


@dataclass
class PublisherStats:
    """Counters, readable at any time (approximate while the I/O thread runs)."""

    published: int = 0  # payloads accepted by publish()
    dropped: int = 0  # payloads dropped because the queue was full
    sent: int = 0  # updates handed to the PUB socket
    # snapshot requests: see Publisher.service_stats


def _is_keyframe_info(info: Any) -> bool:
    """Whether a LogWriter's chunk info says the chunk is a keyframe (several spellings)."""
    if info is None:
        return False
    if isinstance(info, dict):
        return bool(info.get("keyframe") or info.get("is_keyframe") or info.get("kind") == "keyframe")
    for name in ("keyframe", "is_keyframe"):
        value = getattr(info, name, None)
        if isinstance(value, bool):
            return value
    kind = getattr(info, "kind", None)
    return str(getattr(kind, "name", kind)).lower() == "keyframe"


class Publisher:
    """Publish a stream of chunks to any number of nodes; a ``ChunkSink`` for ``LogWriter``.

    ``endpoint`` is the PUB endpoint (``tcp://127.0.0.1:*`` picks a free port; read
    :attr:`endpoint` after construction). ``snapshot_endpoint`` defaults to port + 1.
    ``state`` receives every sent update and produces snapshots (default :class:`NullState`:
    snapshots are empty). ``session_header``: the .gsplog file header bytes, sent with each
    snapshot so that a node can save an exact copy. ``sndhwm``: messages queued per node at
    most (a stalled node holds that many chunks here). ``end_grace``: seconds the snapshot
    service still answers after the END (only if a node ever connected). The
    sockets are bound before the constructor returns.
    """

    def __init__(
        self,
        endpoint: str = "tcp://127.0.0.1:5555",
        snapshot_endpoint: str | None = None,
        *,
        state: StreamState | None = None,
        session_id: bytes | None = None,
        heartbeat_interval: float = 0.25,
        queue_size: int = 1000,
        max_queue_bytes: int = 1 << 30,
        sndhwm: int = DEFAULT_SNDHWM,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        security: ServerSecurity | None = None,
        linger: float = 1.0,
        session_header: bytes = b"",
        end_grace: float = 1.0,
    ) -> None:
        check_bind_endpoint(endpoint)
        if snapshot_endpoint is None:
            # A wildcard port ("tcp://127.0.0.1:*") gets a wildcard snapshot port too.
            snapshot_endpoint = endpoint if endpoint.endswith(":*") else snapshot_endpoint_for(endpoint)
        check_bind_endpoint(snapshot_endpoint)
        self.session_id = session_id or new_session_id()
        self.state: StreamState = state if state is not None else NullState()
        self.stats = PublisherStats()
        self.service_stats = ServiceStats()
        self.max_payload = max_payload
        self.session_header = session_header
        self._heartbeat_interval = heartbeat_interval
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._max_queue_bytes = max_queue_bytes
        self._queued_bytes = 0
        self._seq = 0  # last sequence number given out (guarded by _lock)
        self._lock = threading.Lock()
        self._closed = False
        self._sndhwm = sndhwm
        self.end_grace = end_grace
        self._last_sent = 0  # I/O thread: the last sequence number sent (or dropped by PUB)
        self._stale = False  # I/O thread: the state missed an update; no snapshots until a keyframe
        self._keeps_nothing = isinstance(self.state, NullState)
        self._linger_ms = int(linger * 1000)
        self._security = security
        self._context = zmq.Context()
        if security is not None:
            security.start(self._context)
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._bind_to = (endpoint, snapshot_endpoint)
        self.endpoint = endpoint
        self.snapshot_endpoint = snapshot_endpoint
        self._thread = threading.Thread(target=self._run, name="gsp-publisher", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            self._shutdown_context()
            raise self._startup_error
        for bound in (self.endpoint, self.snapshot_endpoint):
            warn_if_exposed(bound, secure=security is not None)

    # -- the user's side: never blocks ---------------------------------------------------------
    def publish(self, payload: bytes, kind: PayloadKind = PayloadKind.DELTA) -> int | None:
        """Queue one payload; return its sequence number, or None when dropped (queue full)."""
        if self._closed:
            raise RuntimeError("publisher is closed")
        if len(payload) > self.max_payload:
            raise MessageTooLarge(
                f"payload of {len(payload)} bytes exceeds the limit of {self.max_payload} bytes"
            )
        data = payload if isinstance(payload, bytes) else bytes(payload)
        with self._lock:
            self._seq += 1
            seq = self._seq
            self.stats.published += 1
            if self._queued_bytes + len(data) > self._max_queue_bytes and self._queued_bytes:
                self._drop(seq)
                return None
            try:
                self._queue.put_nowait((seq, PayloadKind(kind), data))
            except queue.Full:
                self._drop(seq)
                return None
            self._queued_bytes += len(data)
        return seq

    def _drop(self, seq: int) -> None:
        self.stats.dropped += 1
        if self.stats.dropped in (1, 10, 100) or self.stats.dropped % 1000 == 0:
            log.warning(
                "publisher queue full: dropped update %d (%d dropped so far)", seq, self.stats.dropped
            )

    def write_chunk(self, chunk: bytes, info: Any = None) -> None:
        """``ChunkSink``: publish one finished chunk of the log (keyframe chunks as KEYFRAME)."""
        self.publish(chunk, PayloadKind.KEYFRAME if _is_keyframe_info(info) else PayloadKind.DELTA)

    def flush(self) -> None:
        """``ChunkSink``: nothing to do, the I/O thread sends as soon as it can."""

    @property
    def queued(self) -> int:
        """Updates waiting for the I/O thread."""
        return self._queue.qsize()

    @property
    def last_seq(self) -> int:
        """The last sequence number given out."""
        return self._seq

    def close(self, timeout: float = 5.0, *, end: bool = True) -> None:
        """Send what is queued, announce the session end (unless ``end=False``), release the sockets."""
        if self._closed:
            return
        self._closed = True
        self._announce_end = end
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            log.warning("publisher: queue still full after %.1f s; closing without sending the rest", timeout)
            self._abort = True
        self._thread.join(timeout + self.end_grace + self._linger_ms / 1000 + 1)
        self._shutdown_context()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _shutdown_context(self) -> None:
        if self._security is not None:
            self._security.stop()
        self._context.term()

    # -- the I/O thread -----------------------------------------------------------------------
    _abort = False
    _announce_end = True

    def _run(self) -> None:
        pub = self._context.socket(zmq.PUB)
        router = self._context.socket(zmq.ROUTER)
        try:
            for sock in (pub, router):
                sock.linger = self._linger_ms
                if self._security is not None:
                    self._security.apply(sock)
            pub.sndhwm = self._sndhwm
            router.maxmsgsize = CONTROL_MAX_SIZE
            router.sndhwm = 100
            pub.bind(self._bind_to[0])
            router.bind(self._bind_to[1])
            self.endpoint = pub.getsockopt_string(zmq.LAST_ENDPOINT)
            self.snapshot_endpoint = router.getsockopt_string(zmq.LAST_ENDPOINT)
        except (zmq.ZMQError, ValueError) as error:
            self._startup_error = OSError(f"publisher cannot bind {' / '.join(self._bind_to)}: {error}")
            pub.close(0)
            router.close(0)
            self._ready.set()
            return
        self._ready.set()
        log.info(
            "publishing session %s on %s (snapshots on %s)",
            session_id_hex(self.session_id),
            self.endpoint,
            self.snapshot_endpoint,
        )
        # Told when a node connects: one that never asked for a snapshot (busy drawing an earlier
        # session) still asks for the final state when the END comes, so the end grace is for it too.
        joined = pub.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
        try:
            self._loop(pub, router, joined)
        finally:
            pub.disable_monitor()
            joined.close(0)
            pub.close()
            router.close()

    def _loop(self, pub: zmq.Socket, router: zmq.Socket, joined: zmq.Socket) -> None:
        service = SnapshotService(router)
        self.service_stats = service.stats
        next_heartbeat = time.monotonic()
        while True:
            timeout = max(0.0, min(next_heartbeat - time.monotonic(), 0.01))
            try:
                item = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
            except queue.Empty:
                item = None
            # Updates first, then the heartbeat, then a turn of the snapshot service (bounded in
            # requests and time): a flood of snapshot requests cannot hold back the stream.
            for _ in range(_UPDATES_PER_TURN):
                if item is _STOP or self._abort or item is None:
                    break
                self._send(pub, *item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    item = None
            if item is _STOP or self._abort:
                break
            if item is not None:
                self._send(pub, *item)
            now = time.monotonic()
            if now >= next_heartbeat:
                with self._lock:
                    # All numbers given out are sent or dropped once the queue is empty.
                    heard = self._seq if self._queue.empty() else self._last_sent
                if heard != self._last_sent and not self._keeps_nothing:
                    self._stale = True
                pub.send_multipart(encode_heartbeat(self.session_id, heard), zmq.NOBLOCK)
                next_heartbeat = now + self._heartbeat_interval
            if router.poll(0):
                self._serve(service)
        # Drain what was queued before close() so that nodes get the whole session.
        while not self._abort:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                self._send(pub, *item)
        with self._lock:
            final = self._seq
        if final != self._last_sent and not self._keeps_nothing:
            self._stale = True  # the last updates were dropped: the state is not the final one
        if self._announce_end:
            pub.send_multipart(encode_end(self.session_id, final))
            self._serve_after_end(pub, service, final, joined)
        log.info("session %s ended after update %d", session_id_hex(self.session_id), final)

    def _send(self, pub: zmq.Socket, seq: int, kind: PayloadKind, payload: bytes) -> None:
        """Send one update and keep the snapshot state in step with what was sent."""
        with self._lock:
            self._queued_bytes -= len(payload)
        if seq != self._last_sent + 1 and not self._keeps_nothing:
            self._stale = True
        try:
            frames = encode_update(Header(self.session_id, seq, kind), payload)
            pub.send_multipart(frames, zmq.NOBLOCK, copy=False)
            self.stats.sent += 1
        except zmq.Again:
            pass  # PUB drops per subscriber at its HWM; nodes resync on the gap
        self._last_sent = seq
        if kind == PayloadKind.KEYFRAME:
            self._stale = False
        if not self._stale:
            try:
                self.state.apply(kind, payload)
            except Exception as error:  # a bad chunk must not kill the stream
                log.error("publisher state cannot apply update %d: %s", seq, error)
                self._stale = True

    def _serve(self, service: SnapshotService) -> None:
        refusal = "state resynchronising" if self._stale else None
        service.serve(self.session_id, self._last_sent, self.state, refusal, self.session_header)

    def _serve_after_end(self, pub: zmq.Socket, service: SnapshotService, final: int, joined: zmq.Socket) -> None:
        """Answer snapshot requests for ``end_grace`` seconds after the END: a node that fell
        behind dropped updates, and asks for the final state as soon as it reads the END, as
        does a node that was still drawing an earlier session and never asked this one for a
        snapshot (``joined`` reports a connection on PUB). The END is repeated instead of
        heartbeats meanwhile (nodes and relays hear the publisher; one whose END was dropped gets
        another; those that have it ignore the repeats)."""
        if self.end_grace <= 0 or not (service.stats.snapshots or service.stats.refused or joined.poll(0)):
            return  # no node ever connected: nobody to wait for
        now = time.monotonic()
        deadline, next_end = now + self.end_grace, now + self._heartbeat_interval
        while (now := time.monotonic()) < deadline:
            if now >= next_end:
                pub.send_multipart(encode_end(self.session_id, final), zmq.NOBLOCK)
                next_end = now + self._heartbeat_interval
            if service.router.poll(max(1, int(1000 * (min(deadline, next_end) - now)))):
                self._serve(service)
