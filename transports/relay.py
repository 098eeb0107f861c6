"""A relay for multi-hop fan-out: XSUB upstream, XPUB downstream, and its own snapshot service.

Choice (documented in docs/live.md): the relay *keeps its own state*, fed by the very messages
it forwards, instead of proxying snapshot requests upstream. One thread reads each upstream
message, validates it (hostile input is not forwarded), forwards it unchanged, and applies it to
its :class:`StreamState`; snapshot requests from downstream are answered from that state with
the upstream's session id and sequence, so they are consistent with what was forwarded, and
the upstream's snapshot service sees one client per relay instead of one per node.

The relay synchronises like a node: it asks the upstream for a snapshot, keeps the updates
that arrive meanwhile (bounded in bytes), and resynchronises on a gap or silence. While it is
not synchronised it refuses downstream snapshot requests (nodes retry).

Which session is real is the upstream snapshot service's word, as for a node
(:class:`transports.watch.SessionClaims`): the relay forwards only the session it follows. A
message of another session is not forwarded; it makes the relay ask the upstream, while it goes
on following, forwarding and serving its session, and only an answer that names the new session
switches the relay to it (its updates that came meanwhile are then forwarded). A flood of
made-up sessions therefore reaches no node, and costs the relay what waits for one answer.

After its session's END the relay serves that session's final state for ``end_grace`` seconds
after the last END it heard (a publisher repeats it through its own end grace), repeating the
END to its nodes meanwhile, as a publisher does, also once the upstream is silent or gone: a
node that joins the relay then still ends with the session's last state. It then stops serving
it (refusals say why) and waits for the upstream's next session.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import zmq

from transports.endpoints import (
    check_bind_endpoint,
    check_connect_endpoint,
    snapshot_endpoint_for,
    warn_if_exposed,
)
from transports.protocol import (
    CONTROL_MAX_SIZE,
    DEFAULT_MAX_PAYLOAD,
    END,
    HEARTBEAT,
    NONCE_SIZE,
    UPDATE,
    Header,
    PayloadKind,
    ProtocolError,
    StreamMessage,
    decode_snapshot_reply,
    decode_stream_message,
    encode_end,
    encode_snapshot_request,
    session_id_hex,
)
from transports.publisher import DEFAULT_SNDHWM
from transports.security import ClientSecurity, ServerSecurity
from transports.snapshot_service import SnapshotService
from transports.state import OpaqueState, StreamState
from transports.subscriber import DEFAULT_QUEUE_BYTES
from transports.watch import MAX_DOUBLINGS, LogLimit, SessionClaims, WatchedSocket, retry_delay

__all__ = ["Relay", "RelayStats"]

log = logging.getLogger(__name__)

#: How often a relay repeats the END of its ended session to its nodes while it serves the final
#: state (a publisher's default heartbeat interval, at which it repeats its own).
END_REPEAT_S = 0.25


@dataclass
class RelayStats:
    """Counters of a relay."""

    forwarded: int = 0
    rejected: int = 0  # malformed upstream messages, logged and not forwarded
    resyncs: int = 0
    failed_snapshots: int = 0  # upstream snapshots that could not be applied
    dropped_pending: int = 0  # updates dropped while waiting for a snapshot (past max_pending_bytes)
    other_sessions: int = 0  # messages of a session other than the followed one: not forwarded
    checks: int = 0  # upstream snapshots asked for, while following, to check another session's messages
    synced: bool = False


class Relay:
    """Forward ``upstream`` (a PUB endpoint) to ``bind`` for more nodes, with snapshots.

    ``upstream_snapshot`` and ``snapshot_bind`` default to port + 1 of their PUB endpoints.
    ``end_grace``: seconds the final state of an ended session is still served (and its END
    repeated) after the last END heard from upstream, as a publisher's ``end_grace``.
    Call :meth:`start` (a thread) or :meth:`run` (blocks until :meth:`stop`).
    """

    def __init__(
        self,
        upstream: str,
        bind: str,
        *,
        upstream_snapshot: str | None = None,
        snapshot_bind: str | None = None,
        state: StreamState | None = None,
        heartbeat_timeout: float = 2.0,
        snapshot_timeout: float = 1.0,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        upstream_security: ClientSecurity | None = None,
        downstream_security: ServerSecurity | None = None,
        max_pending_bytes: int = DEFAULT_QUEUE_BYTES,
        end_grace: float = 1.0,
    ) -> None:
        check_bind_endpoint(bind)
        self.upstream = upstream
        self.upstream_snapshot = upstream_snapshot or snapshot_endpoint_for(upstream)
        for address in (upstream, self.upstream_snapshot):
            check_connect_endpoint(address)
        self.snapshot_bind = snapshot_bind or (bind if bind.endswith(":*") else snapshot_endpoint_for(bind))
        check_bind_endpoint(self.snapshot_bind)
        self.state: StreamState = state if state is not None else OpaqueState()
        # An opaque relay keeps payloads as they come: it checks those that are .gsplog chunks
        # (a scene state decodes them, and resyncs on a bad one).
        self._check_chunk: Callable[[bytes], object] | None = None
        if isinstance(self.state, OpaqueState):
            from sessions.chunk import check_chunk

            self._check_chunk = check_chunk
        self.stats = RelayStats()
        self.heartbeat_timeout = heartbeat_timeout
        self.snapshot_timeout = snapshot_timeout
        self.max_payload = max_payload
        self.max_pending_bytes = max_pending_bytes
        self.end_grace = end_grace
        self._upstream_security = upstream_security
        self._downstream_security = downstream_security
        self._context = zmq.Context()
        if downstream_security is not None:
            downstream_security.start(self._context)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Sockets are made here (binding errors surface to the caller) and then used only by run().
        self._poller = zmq.Poller()
        # Told of dropped upstream connections, as a node is: libzmq does not reconnect one it
        # closed for a protocol error (a message over --max-message), so the relay makes a fresh socket.
        self._upstream = WatchedSocket(self._context, zmq.XSUB, upstream, self._poller, self._setup_xsub)
        self._xpub = self._context.socket(zmq.XPUB)
        self._xpub.sndhwm = DEFAULT_SNDHWM  # what a stalled downstream node may hold here, as in a publisher
        self._router = self._context.socket(zmq.ROUTER)
        self._router.maxmsgsize = CONTROL_MAX_SIZE
        for sock in (self._xpub, self._router):
            sock.linger = 0
        for sock in (self._xpub, self._router):
            if downstream_security is not None:
                downstream_security.apply(sock)
        try:
            self._xpub.bind(bind)
            self._router.bind(self.snapshot_bind)
        except zmq.ZMQError as error:
            self._close_sockets()
            raise OSError(f"relay cannot bind {bind} / {self.snapshot_bind}: {error}") from None
        for bound in (bind, self.snapshot_bind):
            warn_if_exposed(bound, secure=downstream_security is not None)
        self.endpoint = self._xpub.getsockopt_string(zmq.LAST_ENDPOINT)
        self.snapshot_endpoint = self._router.getsockopt_string(zmq.LAST_ENDPOINT)
        self._dealer: zmq.Socket | None = None
        # Clone-client state of the relay itself.
        self._session: bytes | None = None
        self._seq = 0
        self._synced = False
        self._pending: list[StreamMessage] = []  # updates that came while waiting for a snapshot
        # Messages of other sessions are claims the upstream's snapshot service settles.
        self._claims = SessionClaims(quiet=heartbeat_timeout)
        self._other_log = LogLimit()
        self._pending_bytes = 0
        self._pending_drops = LogLimit()  # times the pending updates went past max_pending_bytes
        self._rejects = LogLimit()
        self._nonce: bytes | None = None
        self._request_deadline = 0.0
        self._retry_at = 0.0  # no snapshot request before (a backoff after states that could not be applied)
        self._failures = 0  # upstream states (snapshots, updates) in a row that could not be applied
        self._failure_log = LogLimit(first=1, every=10)
        self._unanswered = 0  # snapshot requests in a row the upstream did not answer in time
        self._refusal: str | None = None  # why downstream requests are refused while not synchronised
        self._last_contact = time.monotonic()
        self._session_header = b""
        self._after_end = False  # the upstream session's END arrived: its connection closing is expected
        # The session that ended (its final state is served until _end_until), its last update,
        # and when its END goes to the nodes again (repeated while the upstream is silent).
        self._ended: tuple[bytes, int] | None = None
        self._end_until = 0.0
        self._next_end = 0.0

    def _setup_xsub(self, xsub: zmq.Socket) -> None:
        xsub.maxmsgsize = self.max_payload + 1024
        if self._upstream_security is not None:
            self._upstream_security.apply(xsub)
        xsub.send(b"\x01")  # subscribe to everything (kept for the connection): the relay's state needs it all

    @property
    def _xsub(self) -> zmq.Socket:
        return self._upstream.socket

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Relay:
        """Run the relay on a background thread."""
        self._thread = threading.Thread(target=self.run, name="gsp-relay", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop forwarding and release the sockets."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        elif not self._context.closed:
            self._close_sockets()  # never ran

    def run(self) -> None:
        """Forward until :meth:`stop` (blocks)."""
        log.info("relaying %s -> %s (snapshots on %s)", self.upstream, self.endpoint, self.snapshot_endpoint)
        service = SnapshotService(self._router)
        self.service_stats = service.stats
        poller = self._poller
        for sock in (self._xpub, self._router):
            poller.register(sock, zmq.POLLIN)
        try:
            while not self._stop.is_set():
                if not self._synced or self._claims.checking:
                    self._ensure_request()
                if self._dealer is not None and self._dealer not in dict(poller.sockets):
                    poller.register(self._dealer, zmq.POLLIN)
                ready = dict(poller.poll(50))
                # The snapshot reply first: its state comes before the updates read after it (those
                # it includes are not forwarded again), so that a stream faster than a snapshot's
                # round trip cannot keep the relay from synchronising.
                if self._dealer is not None and self._dealer in ready:
                    self._take_reply()
                if self._xsub in ready:
                    self._forward_batch()
                elif self._upstream.monitor in ready:
                    self._connection_dropped()  # only once every message that arrived was read
                if self._xpub in ready:
                    self._drain_subscriptions()
                if self._router in ready:
                    refusal = None if self._synced else self._refusal or "relay resynchronising"
                    service.serve(self._session, self._seq, self.state, refusal, self._session_header)
                if self._synced and self._after_end:
                    self._serve_ended()
                    continue  # no upstream heartbeats after an END: its silence is no failure
                silent = time.monotonic() - self._last_contact
                if self._synced and silent > self.heartbeat_timeout:
                    # A fresh socket too, as a node does: libzmq may have dropped the connection.
                    self._upstream.replace()
                    self._unsync(f"upstream silent for {silent:.1f} s; reconnected")
        finally:
            self._close_sockets()

    def _serve_ended(self) -> None:
        """The followed session ended: repeat its END to the nodes every :data:`END_REPEAT_S`
        (one that joins now gets the final state, then the END) until ``end_grace`` after the
        last END heard from upstream; then stop serving it and wait for the next session."""
        assert self._ended is not None
        session, seq = self._ended
        now = time.monotonic()
        if now >= self._end_until:
            self._synced = self.stats.synced = False
            self._nonce = None
            self._refusal = (f"relay: session {session_id_hex(session)} ended; its final state is no longer served "
                             "(waiting for the upstream's next session)")
            log.info("relay: session %s ended %.1f s ago: its final state is no longer served; waiting for the "
                     "upstream's next session", session_id_hex(session), self.end_grace)
            return
        if now >= self._next_end:
            self._xpub.send_multipart(encode_end(session, seq), zmq.NOBLOCK)
            self._next_end = now + END_REPEAT_S

    def _close_sockets(self) -> None:
        self._upstream.close()
        for sock in (self._xpub, self._router, getattr(self, "_dealer", None)):
            if sock is not None:
                sock.close(0)
        if self._downstream_security is not None:
            self._downstream_security.stop()
        self._context.term()

    # -- forwarding ------------------------------------------------------------------------------
    def _forward_batch(self) -> None:
        for _ in range(256):
            try:
                frames = self._xsub.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                message = decode_stream_message(frames, self.max_payload)
            except ProtocolError as error:
                self._reject(f"upstream message: {error}")
                continue
            if message.header.session_id == self._session:
                self._follow(message, frames)
            else:
                self._other_session(message)

    def _follow(self, message: StreamMessage, frames: list | None = None) -> None:
        """Forward a message of the followed session (``frames`` as received; None: those of
        ``message``) and track it; an update whose chunk is damaged is tracked only."""
        if message.type == UPDATE and self._corrupt_chunk(message):
            # Not forwarded (nodes resync on the gap, from this relay's state) and not kept:
            # an opaque state would hold it, and serve it in every snapshot, until a keyframe.
            self._last_contact = time.monotonic()
            self._track(StreamMessage(UPDATE, Header(message.header.session_id, message.header.seq,
                                                     PayloadKind.DELTA)))
            return
        if message.type == UPDATE and self._synced and message.header.seq <= self._seq:
            self._last_contact = time.monotonic()
            return  # its snapshot holds it (read before this update): nodes have it from there
        if frames is None:
            frames = [message.type, message.header.pack()] + ([message.payload] if message.type == UPDATE else [])
        self._xpub.send_multipart(frames, copy=False)
        self.stats.forwarded += 1
        self._last_contact = time.monotonic()
        self._track(message)

    def _other_session(self, message: StreamMessage) -> None:
        """A message of another session than the followed one: not forwarded, and no contact.
        It is a claim that the upstream's snapshot service settles (asked while the relay goes
        on following its session). An update is kept for the case the answer names its session:
        any before the relay follows one; while it follows one, only while a check of such a
        claim awaits its answer (bounded: see :meth:`_keep_pending`)."""
        self.stats.other_sessions += 1
        header = message.header
        if self._claims.ignored(header.session_id):
            return
        if self._claims.check():
            if self._synced:
                self.stats.checks += 1
            log.info(
                "relay: a message of session %s, not the followed %s: asking the upstream which it serves%s",
                session_id_hex(header.session_id),
                session_id_hex(self._session) if self._session else "(none yet)",
                " (not forwarded meanwhile)" if self._synced else "",
            )
        if message.type == UPDATE and (self._session is None or (self._synced and self._claims.checking)):
            self._keep_pending(message)

    def _connection_dropped(self) -> None:
        # After the upstream ended its session (a --loop pass, a serve done) a close is expected.
        if not self._upstream.replace_if_dropped(self._after_end, self.max_payload, "relay: upstream "):
            return
        if self._synced and not self._after_end:  # after the END its final state stays served
            self._unsync("upstream connection dropped")

    def _reject(self, reason: str) -> None:
        """Hostile or broken input from upstream: counted, and logged as a node logs what it
        rejects (the first 20, then every 100th), so that a flood of it cannot flood the log."""
        self.stats.rejected += 1
        if self._rejects():
            log.warning("relay: rejected (%d so far): %s", self.stats.rejected, reason)

    def _corrupt_chunk(self, message: StreamMessage) -> bool:
        """Whether an opaque relay's update is a .gsplog chunk whose size or checksums do not hold
        (``sessions.check_chunk``: no decompression); logged and counted as rejected."""
        if self._check_chunk is None or not message.payload.startswith(b"GSPC"):
            return False
        try:
            self._check_chunk(message.payload)
        except Exception as error:
            self._reject(f"update {message.header.seq}, a damaged chunk: {error} (dropped: not forwarded, not kept)")
            return True
        return False

    def _drain_subscriptions(self) -> None:
        # Downstream (un)subscriptions: the relay already subscribes to everything upstream.
        while True:
            try:
                self._xpub.recv(zmq.NOBLOCK)
            except zmq.Again:
                return

    # -- the relay's own clone client -------------------------------------------------------------
    def _track(self, message: StreamMessage) -> None:
        """A message of the followed session, forwarded: applied to the state, or kept while
        the relay waits for a snapshot."""
        header = message.header
        if message.type == END:
            self._after_end = True
            self._claims.retire(header.session_id)  # its late messages, after the next session, say nothing
            now = time.monotonic()
            self._ended = (header.session_id, header.seq)
            self._end_until = now + self.end_grace  # from the last END heard: a publisher repeats it
            self._next_end = now + END_REPEAT_S  # this one was forwarded
            return
        if not self._synced:
            if message.type == UPDATE:
                self._keep_pending(message)
            return
        if message.type == UPDATE:
            if header.seq <= self._seq:
                return
            if header.seq != self._seq + 1:
                self._unsync(f"gap: expected update {self._seq + 1}, got {header.seq}")
                self._keep_pending(message)
                return
            self._apply(message)
        elif message.type == HEARTBEAT and header.seq > self._seq:
            self._unsync(f"heartbeat reports update {header.seq}, relay has {self._seq}")

    def _keep_pending(self, message: StreamMessage) -> None:
        """Keep an update that came while waiting for a snapshot, up to ``max_pending_bytes``.
        One of the followed session (any before the relay follows one) bigger than that is let
        into an empty list; past the bound what waits is dropped and a fresh snapshot asked for,
        as a node that fell behind does (the snapshot replaces them). One of another session
        (kept while a check awaits its answer) only while it fits, and dropped alone otherwise."""
        size = len(message.payload)
        if self._session is not None and message.header.session_id != self._session:
            if self._pending_bytes + size > self.max_pending_bytes:
                self.stats.dropped_pending += 1
                return
            self._pending.append(message)
            self._pending_bytes += size
            return
        if self._pending and self._pending_bytes + size > self.max_pending_bytes:
            self.stats.dropped_pending += len(self._pending) + 1
            if self._pending_drops():
                log.warning(
                    "relay: %d updates (%.1f MB) waited for the upstream snapshot, over the %.1f MB bound: "
                    "dropped, the snapshot replaces them (%d times so far)",
                    len(self._pending) + 1,
                    (self._pending_bytes + size) / 1e6,
                    self.max_pending_bytes / 1e6,
                    self._pending_drops.count,
                )
            # The request in flight is kept: asking afresh at each overflow kept a relay behind a
            # stream faster than one snapshot round trip from ever synchronising. An answer older
            # than what was dropped leaves a gap, which asks again.
            self._pending, self._pending_bytes = [], 0
            return
        self._pending.append(message)
        self._pending_bytes += size

    def _apply(self, message: StreamMessage) -> None:
        try:
            self.state.apply(message.header.kind, message.payload)
            self._seq = message.header.seq
        except Exception as error:  # bad payload from upstream: resync rather than crash
            self._unsync(f"cannot apply update {message.header.seq}: {error}")
            self._failed(error, f"update {message.header.seq}")
            return
        self._failures = 0

    def _unsync(self, reason: str) -> None:
        log.info("relay resync: %s", reason)
        self.stats.resyncs += 1
        self._synced = self.stats.synced = False
        self._nonce = None

    def _failed(self, error: Exception, what: str) -> None:
        """The upstream's state (a snapshot, or an update on top of it) could not be applied: ask
        again later, 0.1 s then twice as long each time in a row (up to 8 × snapshot_timeout):
        asking at once only makes the upstream build the same state again. The first of a kind
        is logged, its repeats are counted. Nodes are refused meanwhile, with the reason."""
        self._failures += 1
        self.stats.failed_snapshots += what == "snapshot"
        delay = retry_delay(self._failures, self.snapshot_timeout)
        self._retry_at = time.monotonic() + delay
        self._nonce = None
        too_big = "max_scene_bytes" in str(error)
        if too_big:
            self._refusal = "relay: the upstream scene is over its --max-scene-gib"
        else:
            self._refusal = f"relay cannot use the upstream state: {error}"
        if not self._failure_log("scene limit" if too_big else str(error)):
            return
        again = self._failure_log.count
        if too_big:
            log.warning(
                "relay: the upstream scene does not fit this relay's --max-scene-gib (%s): it cannot serve "
                "snapshots and refuses its nodes'; %s; asking the upstream again in %.1f s, less often each time",
                error,
                f"{again} times in a row" if again > 1 else "raise --max-scene-gib",
                delay,
            )
        elif again == 1:
            log.error("relay: cannot apply the upstream %s: %s; asking again in %.1f s", what, error, delay)
        else:
            log.error("relay: cannot apply the upstream %s (%d times in a row): %s; asking again in %.1f s",
                      what, again, error, delay)

    def _ensure_request(self) -> None:
        now = time.monotonic()
        if now < self._retry_at or (self._nonce is not None and now < self._request_deadline):
            return
        if self._nonce is not None:  # not answered in time
            # A big scene takes the upstream a while to build: wait twice as long next time
            # rather than make it build another.
            self._unanswered = min(self._unanswered + 1, MAX_DOUBLINGS)
        if self._nonce is not None or self._dealer is None:
            if self._dealer is not None:
                self._dealer.close(0)  # lazy pirate: forget the request to a dead upstream
            self._dealer = self._context.socket(zmq.DEALER)
            self._dealer.linger = 0
            self._dealer.maxmsgsize = self.max_payload + 1024
            if self._upstream_security is not None:
                self._upstream_security.apply(self._dealer)
            self._dealer.connect(self.upstream_snapshot)
        self._nonce = os.urandom(NONCE_SIZE)
        self._request_deadline = now + self.snapshot_timeout * 2**self._unanswered
        try:
            self._dealer.send_multipart(encode_snapshot_request(self._nonce), zmq.NOBLOCK)
        except zmq.Again:
            pass

    def _take_reply(self) -> None:
        assert self._dealer is not None
        while True:
            try:
                frames = self._dealer.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                reply = decode_snapshot_reply(frames, self.max_payload)
            except ProtocolError as error:
                self._reject(f"snapshot reply: {error}")
                continue
            if reply.nonce != self._nonce:
                continue
            self._unanswered = 0
            if reply.header is None:
                log.info("relay: upstream refused a snapshot: %s", reply.reason)
                self._nonce = None  # asked again on the same socket in a moment
                self._retry_at = time.monotonic() + 0.05
                continue
            if self._synced and reply.header.session_id == self._session:
                self._claim_refuted()
                continue
            try:
                self.state.reset(reply.payload)
            except Exception as error:
                if self._synced:  # a check named a new session, whose state replaced ours only in part
                    self._unsync(f"cannot apply the snapshot of session {session_id_hex(reply.header.session_id)}")
                self._failed(error, "snapshot")
                continue
            if self._failure_log.count > 1:
                log.warning("relay: the upstream snapshot applies again, after %d that could not",
                            self._failure_log.count)
            self._failure_log.reset()
            self._refusal = None
            header = reply.header
            previous = self._session
            self._claims.answered(header.session_id, previous)
            self._session, self._seq = header.session_id, header.seq
            self._session_header = reply.session_header
            self._synced = self.stats.synced = True
            self._nonce = None
            # The final state of a session that ended here (asked for after its END) is served
            # for the end grace again; any other session is followed as a live one.
            self._after_end = self._ended is not None and self._ended[0] == header.session_id
            if self._after_end:
                self._end_until = time.monotonic() + self.end_grace
            self._last_contact = time.monotonic()
            log.info(
                "relay synchronised to session %s at update %d", session_id_hex(self._session), self._seq
            )
            # The updates of this session that came meanwhile: those of the session followed
            # before were forwarded as they came; those of a new one were not, and go out now.
            pending, self._pending, self._pending_bytes = self._pending, [], 0
            for message in pending:
                if not self._synced or message.header.session_id != self._session:
                    continue
                if header.session_id == previous:
                    self._track(message)
                elif message.header.seq > self._seq:
                    self._follow(message)

    def _claim_refuted(self) -> None:
        """A check's answer names the followed session again: the messages of the other
        session were not the upstream's. What waited for the answer is dropped."""
        assert self._session is not None
        self._claims.answered(self._session, self._session)
        self._nonce = None
        self._pending, self._pending_bytes = [], 0
        if self._other_log():
            log.warning(
                "relay: the upstream still serves session %s: messages of other sessions (%d so far) are not "
                "forwarded",
                session_id_hex(self._session),
                self.stats.other_sessions,
            )
