"""The publishing end of a live session (the Clone pattern's server).

The user's thread only numbers a payload and puts it on a bounded queue (never blocks: a full
queue drops, and nodes resynchronise through gap detection). One I/O thread owns the sockets:
it sends updates on PUB, answers snapshot requests on a ROUTER from a :class:`StreamState` fed
with every update it sent, and sends heartbeats and the session-end announcement.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import zmq

from transports.endpoints import check_bind_endpoint, snapshot_endpoint_for
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

__all__ = ["Publisher", "PublisherStats"]

log = logging.getLogger(__name__)

_STOP = object()


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
    snapshot so that a node can save an exact copy. The sockets are bound before the
    constructor returns.
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
        sndhwm: int = 1000,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        security: ServerSecurity | None = None,
        linger: float = 1.0,
        session_header: bytes = b"",
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
        self._thread.join(timeout + self._linger_ms / 1000 + 1)
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
            self._startup_error = OSError(f"publisher cannot bind {self._bind_to}: {error}")
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
        try:
            self._loop(pub, router)
        finally:
            pub.close()
            router.close()

    def _loop(self, pub: zmq.Socket, router: zmq.Socket) -> None:
        last_sent = 0
        stale = False  # the state missed an update: no snapshots until the next keyframe
        service = SnapshotService(router)
        self.service_stats = service.stats
        next_heartbeat = time.monotonic()
        keeps_nothing = isinstance(self.state, NullState)
        while True:
            timeout = max(0.0, min(next_heartbeat - time.monotonic(), 0.01))
            try:
                item = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
            except queue.Empty:
                item = None
            if item is _STOP or self._abort:
                break
            if item is not None:
                seq, kind, payload = item
                with self._lock:
                    self._queued_bytes -= len(payload)
                if seq != last_sent + 1 and not keeps_nothing:
                    stale = True
                try:
                    pub.send_multipart(
                        encode_update(Header(self.session_id, seq, kind), payload), zmq.NOBLOCK, copy=False
                    )
                    self.stats.sent += 1
                except zmq.Again:
                    pass  # PUB drops per subscriber at its HWM; nodes resync on the gap
                last_sent = seq
                if kind == PayloadKind.KEYFRAME:
                    stale = False
                if not stale:
                    try:
                        self.state.apply(kind, payload)
                    except Exception as error:  # a bad chunk must not kill the stream
                        log.error("publisher state cannot apply update %d: %s", seq, error)
                        stale = True
            if router.poll(0):
                service.serve(
                    self.session_id,
                    last_sent,
                    self.state,
                    "state resynchronising" if stale else None,
                    self.session_header,
                )
            now = time.monotonic()
            if now >= next_heartbeat:
                with self._lock:
                    # All numbers given out are sent or dropped once the queue is empty.
                    heard = self._seq if self._queue.empty() else last_sent
                if heard != last_sent and not keeps_nothing:
                    stale = True
                pub.send_multipart(encode_heartbeat(self.session_id, heard), zmq.NOBLOCK)
                next_heartbeat = now + self._heartbeat_interval
        # Drain what was queued before close() so that nodes get the whole session.
        while not self._abort:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                continue
            seq, kind, payload = item
            pub.send_multipart(encode_update(Header(self.session_id, seq, kind), payload), copy=False)
            last_sent = seq
        with self._lock:
            final = self._seq
        if self._announce_end:
            pub.send_multipart(encode_end(self.session_id, final))
        log.info("session %s ended after update %d", session_id_hex(self.session_id), final)
