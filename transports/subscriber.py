"""The receiving end of a live session (the Clone pattern's client).

A node subscribes first, then asks the snapshot service for the current state, and drops the
queued updates at or below the snapshot's sequence. A gap in sequences, a new session id (the
publisher restarted), a heartbeat announcing updates we never got, or a silent publisher all
lead to a fresh snapshot; after ``gone_after`` seconds without contact the stream is reported
gone. Every message is validated before use; a bad one is logged with its reason and skipped.

A reader thread owns the sockets and reads as messages come, whatever the consumer is doing,
into a queue bounded in bytes (``max_queue_bytes``). A consumer that falls behind (an update
would take the queue past its bound) does not get the backlog: the queued updates are dropped
and it resynchronises like after a gap. A resync waits until the consumer asks for its next
event (it gets the newest state then, and one snapshot however long it was busy); meanwhile the
node subscribes to heartbeats and session ends only, so that the publisher sends it no updates
and a session's END still arrives at once (the node then fetches the final state). That holds for
a session the consumer never followed too, one that started and ended while it was busy: its
final state and END are queued behind the earlier session's events. A consumer whose session is
followed by another one without its END (the publisher restarted) gets a REPLACED event first.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

import zmq

from transports.endpoints import check_connect_endpoint, snapshot_endpoint_for
from transports.protocol import (
    DEFAULT_MAX_PAYLOAD,
    END,
    HEARTBEAT,
    NONCE_SIZE,
    UPDATE,
    PayloadKind,
    ProtocolError,
    SnapshotReply,
    decode_snapshot_reply,
    decode_stream_message,
    encode_snapshot_request,
    session_id_hex,
)
from transports.security import ClientSecurity
from transports.state import StreamState
from transports.watch import MAX_DOUBLINGS, LogLimit, SessionClaims, WatchedSocket, retry_delay

__all__ = ["Subscriber", "SubscriberStats", "Event", "EventType", "follow"]

log = logging.getLogger(__name__)

_POLL_SLICE_MS = 50  # how often a waiting loop looks at its stop flag
_RETIRED_KEPT = 64
_MAX_BACKOFF = MAX_DOUBLINGS  # a snapshot request waits at most 2**3 times snapshot_timeout
#: What a node keeps queued for its consumer (docs/live.md, "Slow and stalled nodes"): about five
#: chunks of a 1 M-point frame (12 MB each), thousands of small ones.
DEFAULT_QUEUE_BYTES = 64 << 20


class EventType(Enum):
    """What a delivered :class:`Event` means to the consumer."""

    SNAPSHOT = "snapshot"  # replace your state with ``payload`` (a keyframe chunk)
    UPDATE = "update"  # apply ``payload`` (DELTA on top, KEYFRAME replaces)
    END = "end"  # the publisher ended the session after ``seq``
    # The consumer's session will not END: the next event is of another session (the publisher
    # restarted); ``session_id`` and ``seq`` are the consumer's session and the last update it got.
    REPLACED = "replaced"
    GONE = "gone"  # no contact for ``gone_after`` seconds; ``reason`` says more


#: Events after which the consumer's session is over (with ``stop_on_end``, the iteration too).
_SESSION_OVER = (EventType.END, EventType.REPLACED)


@dataclass(frozen=True, slots=True)
class Event:
    """One delivery from a :class:`Subscriber`."""

    type: EventType
    session_id: bytes = b""
    seq: int = 0
    kind: PayloadKind = PayloadKind.NONE
    payload: bytes = b""
    reason: str = ""  # GONE: why; SNAPSHOT: why it was fetched ("initial", a gap, falling behind...)
    session_header: bytes = b""  # SNAPSHOT only: the .gsplog file header of the session


@dataclass
class SubscriberStats:
    """Counters of what the subscriber saw."""

    received: int = 0  # messages read from the SUB socket
    delivered: int = 0  # updates delivered
    snapshots: int = 0  # snapshots delivered
    rejected: int = 0  # malformed messages (logged)
    # updates at or below the current sequence, and heartbeats below it (queued before a snapshot, or replayed)
    stale: int = 0
    resyncs: int = 0  # fresh snapshots asked for: a gap, new session, silence, falling behind, or resync()
    behind: int = 0  # times the consumer fell behind (its queue would have gone past max_queue_bytes)
    skipped: int = 0  # updates of the session the consumer never got (dropped while behind, lost in a gap)
    # sessions that started and ended while the consumer was busy with an earlier one, and whose
    # final state it never got (the publisher no longer served it, or the queue had no room): logged
    skipped_sessions: int = 0
    peak_queued_bytes: int = 0  # the most bytes queued for the consumer at once


class Subscriber:
    """Follow a live session; iterate :meth:`events` or call :meth:`run` with a callback.

    ``endpoint`` is the publisher's (or a relay's) PUB endpoint; ``snapshot_endpoint`` defaults
    to port + 1. ``heartbeat_timeout``: silence that triggers a resync. ``gone_after``: silence
    after which a GONE event ends the iteration (None: wait forever, e.g. for a publisher that
    has not started yet). ``stop_on_end``: end the iteration after the session's END.
    ``max_queue_bytes``: what may wait for the consumer (one bigger update is let into an empty
    queue); past it the consumer skips to a fresh snapshot. ``rcvhwm``: the SUB socket's
    high-water mark in messages; by default as many of the largest allowed message as fit in
    ``max_queue_bytes`` (at least 1).
    """

    def __init__(
        self,
        endpoint: str,
        snapshot_endpoint: str | None = None,
        *,
        heartbeat_timeout: float = 2.0,
        snapshot_timeout: float = 1.0,
        gone_after: float | None = 30.0,
        stop_on_end: bool = False,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        rcvhwm: int | None = None,
        max_queue_bytes: int = DEFAULT_QUEUE_BYTES,
        security: ClientSecurity | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.snapshot_endpoint = snapshot_endpoint or snapshot_endpoint_for(endpoint)
        for address in (endpoint, self.snapshot_endpoint):
            check_connect_endpoint(address)
        self.heartbeat_timeout = heartbeat_timeout
        self.snapshot_timeout = snapshot_timeout
        self.gone_after = gone_after
        self.stop_on_end = stop_on_end
        self.max_payload = max_payload
        self.stats = SubscriberStats()
        self.session_id: bytes | None = None
        self.gone = False  # set when the consumer took the GONE event (events queued before it come first)
        self.last_seq = 0
        self._security = security
        self._after_end = False  # the last session's END arrived: a connection closing now is expected
        self._context = zmq.Context()
        self.max_queue_bytes = max_queue_bytes
        # libzmq counts messages, not bytes. The reader thread empties the socket as messages
        # come, so a small HWM only pushes back on TCP while the reader waits for a snapshot.
        self._rcvhwm = rcvhwm if rcvhwm is not None else max(1, min(1000, max_queue_bytes // max_payload))
        self._poller = zmq.Poller()
        self._updates_on = True  # subscribed to updates (off while a resync waits for the consumer)
        self._rejects = LogLimit()  # malformed messages: the first 20 logged, then every 100th
        self._made_up_ends = LogLimit()  # ENDs of sessions the snapshot service did not name
        # Subscribe first: updates queue while we fetch a snapshot. Told of dropped connections:
        # libzmq does not reconnect one it closed for a protocol error (such as a message over
        # ZMQ_MAXMSGSIZE), so the node makes a fresh socket.
        self._watched = WatchedSocket(self._context, zmq.SUB, endpoint, self._poller, self._setup_sub)
        self._dealer: zmq.Socket | None = None
        # Messages of other sessions: claims the snapshot service settles (shared with the relay).
        self._claims = SessionClaims(quiet=heartbeat_timeout, kept=_RETIRED_KEPT)
        self._want_resync: str | None = "initial"
        self._said_waiting = False
        self._closed = False
        # The consumer's queue, filled by the reader thread (which alone uses the sockets).
        self._queue: deque[Event] = deque()
        self._queued_bytes = 0
        self._cond = threading.Condition()
        self._halt = threading.Event()
        self._reader: threading.Thread | None = None
        self._reading = False
        self._consumer_waiting = False  # the consumer waits for an event (its queue is empty)
        self._unanswered = 0  # snapshot requests a publisher took and did not answer in time, in a row
        self._last_contact = self._contact_before_snapshot = time.monotonic()
        self._last_taken: EventType | None = None  # the type of the last event the consumer took
        self._failed_snapshots = 0  # snapshots in a row the consumer could not follow (see resync())
        self._followed = True  # the consumer applied an update on top of the last snapshot it took
        self._retry_at = 0.0  # no snapshot request before
        self._silences = 0  # reconnects in a row after silence, with no word from the publisher since
        self._reconnect_at = 0.0  # no reconnect after silence before
        self._delivered: tuple[bytes | None, int] = (None, 0)  # session, seq of the last state handed out
        self._session_over = False  # the consumer's session ended (END) or was replaced (REPLACED)

    # -- public ----------------------------------------------------------------------------------
    def resync(self, reason: str) -> None:
        """Ask for a fresh snapshot before the next update (e.g. the consumer could not apply one).

        Called after a snapshot and before any update on top of it was applied (the consumer
        could not use the state it was given, or the update that came next), the next request
        waits: 0.1 s, twice as long after each such snapshot in a row, up to 8 ×
        ``snapshot_timeout`` (asking at once only gets the same state, or the same failure,
        again). A snapshot that could not be used itself does not count as contact: a publisher
        whose states cannot be used is ``GONE`` after ``gone_after`` as a silent one is."""
        with self._cond:
            self._drop_queued(self._delivered[0])  # they follow a state the consumer does not have
            if not self._followed:
                self._failed_snapshots += 1
                self._retry_at = time.monotonic() + retry_delay(self._failed_snapshots, self.snapshot_timeout)
            if self._last_taken == EventType.SNAPSHOT:
                self._last_contact = self._contact_before_snapshot
            self._last_taken = None
        self.stats.resyncs += 1
        self._want_resync = reason

    def run(self, callback: Callable[[Event], None], stop: threading.Event | None = None) -> None:
        """Deliver every event to ``callback`` until stopped, ended (``stop_on_end``) or gone."""
        for event in self.events(stop):
            callback(event)

    def events(self, stop: threading.Event | None = None) -> Iterator[Event]:
        """Yield events: a SNAPSHOT first, then UPDATEs in sequence order, END, GONE.

        A session followed by another one without its END (its publisher restarted) ends with
        REPLACED instead, and the next event is the new session's SNAPSHOT. The first call starts
        the reader thread; it reads on between calls (a ``--keep-going`` node iterates once per
        session) until :meth:`close`, GONE, or END with ``stop_on_end``; with ``stop_on_end`` the
        iteration ends after END or REPLACED.
        """
        self._start_reader()
        while True:
            event = self._take(stop)
            if event is None:
                return
            yield event
            if event.type == EventType.GONE or (event.type in _SESSION_OVER and self.stop_on_end):
                return

    def _receive(self) -> Iterator[Event]:
        """The reader thread's protocol loop: what it yields goes on the consumer's queue."""
        self._last_contact = time.monotonic()
        while not self._halt.is_set():
            # A resync waits for a consumer busy with a state to ask for its next event: it then
            # gets the newest state, in one snapshot however long it was busy. Until then the
            # updates are of no use to it, and the publisher need not send them.
            busy = not self._consumer_waiting and self._delivered[0] is not None
            if self._want_resync is not None and busy:
                self._subscribe_updates(False)
            elif self._want_resync is not None:
                self._subscribe_updates(True)  # first, as the Clone pattern does: no update is missed
                wait = self._retry_at - time.monotonic()
                if wait > 0:  # the last snapshot could not be used: not at once again (see resync())
                    if self._gone(self._last_contact):
                        yield self._gone_event(self._last_contact)
                        return
                    self._halt.wait(min(wait, _POLL_SLICE_MS / 1000))
                    continue
                event = self._fetch_snapshot()
                if event is not None:
                    self._contact_before_snapshot = self._last_contact
                    self._heard_publisher()
                    yield event
                    continue
                if self._gone(self._last_contact):
                    yield self._gone_event(self._last_contact)
                    return
                self._say_waiting(self._last_contact)
                continue
            ready = dict(self._poller.poll(_POLL_SLICE_MS))
            if self._sub not in ready and self._watched.monitor in ready:
                self._connection_dropped()  # only once every message that arrived was read
                continue
            if self._sub not in ready:
                silent = time.monotonic() - self._last_contact
                if self._gone(self._last_contact):
                    yield self._gone_event(self._last_contact)
                    return
                if silent > self.heartbeat_timeout and self.session_id is not None:
                    self._reconnect_silent(silent)
                continue
            try:
                frames = self._sub.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                continue
            self.stats.received += 1
            try:
                message = decode_stream_message(frames, self.max_payload)
            except ProtocolError as error:
                self._reject(f"malformed message: {error}")
                continue
            header = message.header
            if header.session_id != self.session_id:
                if self._claims.ignored(header.session_id):
                    continue  # queued from a session we already left
                self._heard_publisher()
                if message.type != END:
                    if self._claims.check():  # the snapshot says which session is current (asked once)
                        self._request_resync(f"new session {session_id_hex(header.session_id)} (publisher restarted?)")
                elif self._claims.check_end():  # a session that began and ended while the consumer was busy?
                    ended = yield from self._unfollowed_end(header.session_id, header.seq)
                    if ended and self.stop_on_end:
                        return
                continue
            self._heard_publisher()
            if self._want_resync is not None and message.type != END:
                continue  # the snapshot the consumer gets next replaces these (sent before unsubscribing)
            if message.type == UPDATE:
                if header.seq <= self.last_seq:
                    self.stats.stale += 1
                    log.info(
                        "dropped update %d: already have up to %d (queued or replayed)",
                        header.seq,
                        self.last_seq,
                    )
                    continue
                if header.seq != self.last_seq + 1:
                    self._request_resync(f"gap: expected update {self.last_seq + 1}, got {header.seq}")
                    continue
                self.last_seq = header.seq
                yield Event(EventType.UPDATE, header.session_id, header.seq, header.kind, message.payload)
            elif message.type == HEARTBEAT:
                if header.seq > self.last_seq:
                    self._request_resync(
                        f"heartbeat reports update {header.seq}, last received {self.last_seq}"
                    )
                elif header.seq < self.last_seq:  # sent before the snapshot we took since
                    self.stats.stale += 1
            else:  # END
                if self._want_resync is not None:  # the final state: the publisher still serves it a moment
                    final = self._final_state(header.session_id)
                    if final is not None:
                        yield final
                if header.seq > self.last_seq:
                    log.warning(
                        "session %s ended at update %d but only %d arrived",
                        session_id_hex(header.session_id),
                        header.seq,
                        self.last_seq,
                    )
                yield from self._ended(header.session_id, header.seq)
                if self.stop_on_end:
                    return

    def _ended(self, session_id: bytes, seq: int) -> Iterator[Event]:
        """The END of ``session_id``, whose messages are dropped from now on."""
        yield Event(EventType.END, session_id, seq, reason="session ended")
        self._retire(session_id)
        self._after_end = True

    def _final_state(self, session_id: bytes) -> Event | None:
        """The state of the followed session whose END just came, while a resync waited: the
        publisher serves it for its end grace. None when no answer came in time, or another
        session answered (a publisher on the same endpoint again): that one is not the final state."""
        reply = self._final_reply()
        if reply is None:
            return None
        assert reply.header is not None
        if reply.header.session_id != session_id:
            log.info("asked for the final state of session %s, got session %s: not that state",
                     session_id_hex(session_id), session_id_hex(reply.header.session_id))
            return None
        return self._synchronise(reply)

    def _final_reply(self) -> SnapshotReply | None:
        """The snapshot service's state right after an END (refusals are asked again), or None
        when none came within ``snapshot_timeout + heartbeat_timeout``."""
        deadline = time.monotonic() + self.snapshot_timeout + self.heartbeat_timeout
        while not self._halt.is_set() and (left := deadline - time.monotonic()) > 0:
            reply = self._ask_snapshot(wait=left)  # None: a refusal ("busy") is asked again
            if reply is not None and reply.header is not None:
                return reply
        return None

    def _unfollowed_end(self, session_id: bytes, seq: int) -> Generator[Event, None, bool]:
        """The END of a session never followed, a claim (:class:`SessionClaims`) that a session
        began and ended while the consumer was busy with an earlier one: its final state is
        asked for at once (the publisher serves it for its end grace only), and the answer
        settles the claim. That session's state: it and the END are queued for the consumer
        (returns True). The followed session's, or that of one that ended: the END was not the
        publisher's (made up or stray), it is ignored and claims are quiet for a while, so that
        a flood of them costs one request per ``heartbeat_timeout``. Another session's: the
        ended one is skipped, and the node follows the one served. No answer: skipped, and
        claims are quiet too."""
        reply = self._final_reply()
        if reply is None:
            self._skip_session(session_id, seq, "its final state could not be fetched (no answer)")
            self._claims.unconfirmed()
            return False
        assert reply.header is not None
        named = reply.header.session_id
        if named == session_id:
            yield self._synchronise(reply)
            yield from self._ended(session_id, seq)
            return True
        if named == self.session_id or self._claims.ignored(named):
            self._claims.unconfirmed()
            if self._made_up_ends():
                log.warning(
                    "the END of session %s, which this node never followed, is not its publisher's: the snapshot "
                    "service serves session %s (%d such ENDs so far); ignored, and so are other sessions for %.1f s",
                    session_id_hex(session_id),
                    session_id_hex(named),
                    self._made_up_ends.count,
                    self.heartbeat_timeout,
                )
            return False
        self._skip_session(session_id, seq, f"the publisher serves session {session_id_hex(named)} now")
        yield self._synchronise(reply, f"session {session_id_hex(named)} served after the END of {session_id_hex(session_id)}")
        return False

    def _skip_session(self, session_id: bytes, seq: int, why: str) -> None:
        """A session that began and ended while the consumer was busy and whose final state
        could not be had: said, counted, and left."""
        self.stats.skipped_sessions += 1
        log.warning(
            "session %s ended at update %d while this node was busy with an earlier one, and %s: skipped, not drawn",
            session_id_hex(session_id),
            seq,
            why,
        )
        self._retire(session_id)

    def _heard_publisher(self) -> None:
        """A message from the publisher: contact, and a silence that called for reconnects is over."""
        self._last_contact = time.monotonic()
        self._silences, self._reconnect_at = 0, 0.0

    def _reconnect_silent(self, silent: float) -> None:
        """The publisher has been silent past ``heartbeat_timeout``: a fresh SUB socket (libzmq
        does not reconnect after a protocol error, such as a message over ZMQ_MAXMSGSIZE) and a
        resync. Silent again: reconnect after 0.1 s, twice as long each time in a row, up to
        8 × ``snapshot_timeout`` (:func:`retry_delay`, as for a snapshot that could not be used),
        and the resync already waiting is not asked for again: a node busy drawing while its
        publisher was dead made a socket and a resync every 60 ms."""
        now = time.monotonic()
        if now < self._reconnect_at:
            return
        self._silences += 1
        self._reconnect_at = now + retry_delay(self._silences, self.snapshot_timeout)
        self._replace_sub()
        reason = f"publisher silent for {silent:.1f} s; reconnected"
        if self._want_resync is None:
            self._request_resync(reason)
        else:
            log.info("%s (%d reconnects in a row, the next one in %.1f s at the soonest; a resync waits for the "
                     "consumer)", reason, self._silences, self._reconnect_at - now)

    def commands(self, stop: threading.Event | None = None) -> Iterator[Any]:
        """The decoded ``sessions.Command`` objects of the stream until its END or GONE.

        For players (``player.sources`` uses this): snapshots come as keyframe commands.
        """
        from transports.live_log import live_commands

        return live_commands(self, stop)

    def close(self) -> None:
        """Stop the reader thread and close the sockets (safe to call twice, from any thread);
        an iteration in progress ends."""
        if self._closed:
            return
        self._closed = True
        self._halt.set()
        with self._cond:
            self._cond.notify_all()
        if self._reader is not None:
            self._reader.join()  # it owns the sockets until it sees the halt (within a poll slice)
        self._watched.close()
        if self._dealer is not None:
            self._dealer.close(0)
        self._context.term()

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the reader thread and the consumer's queue ---------------------------------------------
    def _start_reader(self) -> None:
        if self._reader is None and not self._closed:
            self._reading = True
            self._reader = threading.Thread(target=self._read, name="gsp-subscriber", daemon=True)
            self._reader.start()

    def _read(self) -> None:
        try:
            for event in self._receive():
                self._put(event)
                if event.type == EventType.GONE or (event.type == EventType.END and self.stop_on_end):
                    return
        except Exception as error:  # a bug, not the network (which cannot raise out of _receive)
            log.exception("subscriber reader failed")
            reason = f"reader failed: {error}"
            self._put(Event(EventType.GONE, self.session_id or b"", self.last_seq, reason=reason))
        finally:
            with self._cond:
                self._reading = False
                self._cond.notify_all()

    def _take(self, stop: threading.Event | None) -> Event | None:
        """The consumer's next event; None once stopped, closed, or the reader ended and all is taken."""
        with self._cond:
            if self._last_taken == EventType.UPDATE:  # asks for more without resync(): it applied it
                self._failed_snapshots = 0
                self._followed = True
            try:
                while True:
                    if (stop is not None and stop.is_set()) or self._closed:
                        return None
                    if self._queue:
                        break
                    if not self._reading:
                        return None
                    self._consumer_waiting = True
                    self._cond.wait(_POLL_SLICE_MS / 1000)
            finally:
                self._consumer_waiting = False
            replaced = self._replaced_by(self._queue[0])
            if replaced is not None:
                self._last_taken = replaced.type
                self._session_over = True
                return replaced  # the new session's event stays queued: it comes next
            event = self._queue.popleft()
            self._last_taken = event.type
            self._queued_bytes -= _queued_size(event)
            if event.type == EventType.SNAPSHOT:
                self.stats.snapshots += 1
                self._followed = False  # until the consumer applied an update on top of it
            elif event.type == EventType.UPDATE:
                self.stats.delivered += 1
            if event.type in (EventType.SNAPSHOT, EventType.UPDATE):
                self._delivered = (event.session_id, event.seq)
                self._session_over = False
            elif event.type == EventType.END:
                self._session_over = True
            elif event.type == EventType.GONE:
                self.gone = True
            return event

    def _replaced_by(self, following: Event) -> Event | None:
        """The REPLACED event the consumer gets before ``following``, the state of another session
        than its own, which did not END (with the lock held); None if it is not such an event."""
        session, seq = self._delivered
        if (following.type not in (EventType.SNAPSHOT, EventType.UPDATE) or session is None
                or following.session_id == session or self._session_over):
            return None
        reason = f"session {session_id_hex(following.session_id)} came before its END (publisher restarted?)"
        log.warning("session %s did not end: %s", session_id_hex(session), reason)
        return Event(EventType.REPLACED, session, seq, reason=reason)

    def _put(self, event: Event) -> None:
        """Queue an event for the consumer. A snapshot replaces the updates of its session still
        queued; an update that would take the queue past ``max_queue_bytes`` means the consumer
        is behind: what waits is dropped and it skips to a fresh snapshot (see :meth:`_receive`)."""
        size = _queued_size(event)
        with self._cond:
            full = self._queued_bytes > 0 and self._queued_bytes + size > self.max_queue_bytes
            if event.type == EventType.SNAPSHOT:
                self._drop_queued(event.session_id)
                self._count_skipped(event)
                if self._queued_bytes > 0 and self._queued_bytes + size > self.max_queue_bytes:
                    self._drop_waiting_sessions(size)
            elif event.type == EventType.UPDATE and full:
                waiting, waiting_bytes = self._drop_queued(event.session_id)
                self.stats.behind += 1
                self._request_resync(
                    f"behind: {waiting + 1} updates ({(waiting_bytes + size) / 1e6:.1f} MB) waiting, "
                    f"over the {self.max_queue_bytes / 1e6:.1f} MB queue"
                )
                return
            self._queue.append(event)
            self._queued_bytes += size
            self.stats.peak_queued_bytes = max(self.stats.peak_queued_bytes, self._queued_bytes)
            self._cond.notify_all()

    def _drop_queued(self, session_id: bytes | None) -> tuple[int, int]:
        """Remove the queued snapshots and updates of ``session_id`` (with the lock held): the
        number of updates and the bytes removed. ENDs stay, and other sessions' events."""
        kept: deque[Event] = deque()
        updates = removed = 0
        for event in self._queue:
            if event.session_id == session_id and event.type in (EventType.SNAPSHOT, EventType.UPDATE):
                updates += event.type == EventType.UPDATE
                removed += _queued_size(event)
            else:
                kept.append(event)
        self._queue = kept
        self._queued_bytes -= removed
        return updates, removed

    def _drop_waiting_sessions(self, room: int) -> None:
        """Make room for a new snapshot (with the lock held): the final states of sessions that
        began and ended while the consumer was busy, queued whole, go (oldest first; counted and
        logged as skipped sessions) until ``room`` bytes fit; it is let in all the same, so that
        the queue holds at most ``max_queue_bytes`` and that snapshot, not one scene per session."""
        current = self._delivered[0] if not self._session_over else None
        waiting = [event for event in self._queue
                   if event.type == EventType.END and event.session_id != current]
        for end in waiting:
            removed = [event for event in self._queue if event.session_id == end.session_id]
            self._queue = deque(event for event in self._queue if event.session_id != end.session_id)
            self._queued_bytes -= sum(_queued_size(event) for event in removed)
            self.stats.skipped_sessions += 1
            log.warning("session %s ended while this node was busy, and newer sessions came before it got to "
                        "it: skipped, not drawn (its queue holds at most %.1f MB)",
                        session_id_hex(end.session_id), self.max_queue_bytes / 1e6)
            if self._queued_bytes + room <= self.max_queue_bytes:
                return

    def _count_skipped(self, snapshot: Event) -> None:
        """Count and report the updates of this session the consumer will never get."""
        session, seq = self._delivered
        if session != snapshot.session_id or snapshot.seq <= seq:
            return
        skipped = snapshot.seq - seq
        self.stats.skipped += skipped
        log.warning("%d updates behind, skipped to update %d (%s)", skipped, snapshot.seq, snapshot.reason)

    # -- internals -------------------------------------------------------------------------------
    def _gone(self, last_contact: float) -> bool:
        return self.gone_after is not None and time.monotonic() - last_contact > self.gone_after

    def _say_waiting(self, last_contact: float) -> None:
        """Log once that no publisher has answered yet: a viewer started before its publisher (or
        pointed at the wrong port) would otherwise wait without a word."""
        silent = time.monotonic() - last_contact
        if self._said_waiting or self.session_id is not None or silent < self.heartbeat_timeout:
            return
        self._said_waiting = True
        limit = "waits without limit" if self.gone_after is None else f"gives up after {self.gone_after:g} s"
        # CURVE refusals are silent on the client's side: a key the publisher does not admit
        # looks like no publisher at all.
        curve = " (CURVE: or it refuses this client's key, or --server-key is not its key)" if self._security else ""
        log.warning(
            "waiting for a publisher at %s (snapshots from %s): no answer for %.0f s%s; %s",
            self.endpoint,
            self.snapshot_endpoint,
            silent,
            curve,
            limit,
        )

    def _gone_event(self, last_contact: float) -> Event:
        reason = f"no contact with {self.endpoint} for {time.monotonic() - last_contact:.1f} s"
        if self._failed_snapshots:
            reason += f" (but {self._failed_snapshots} snapshots in a row that could not be used)"
        log.warning("stream gone: %s", reason)
        return Event(EventType.GONE, self.session_id or b"", self.last_seq, reason=reason)

    def _reject(self, reason: str) -> None:
        self.stats.rejected += 1
        if self._rejects():
            log.warning("rejected (%d so far): %s", self.stats.rejected, reason)

    def _request_resync(self, reason: str) -> None:
        log.info("resync: %s", reason)
        self.stats.resyncs += 1
        self._want_resync = reason

    def _retire(self, session_id: bytes) -> None:
        self._claims.retire(session_id)
        if self.session_id == session_id:
            self.session_id = None  # last_seq stays: what we had when the session ended

    @property
    def _sub(self) -> zmq.Socket:
        return self._watched.socket

    def _setup_sub(self, sub: zmq.Socket) -> None:
        sub.rcvhwm = self._rcvhwm
        sub.maxmsgsize = self.max_payload + 1024
        if self._security is not None:
            self._security.apply(sub)
        for prefix in (b"",) if self._updates_on else (HEARTBEAT, END):
            sub.setsockopt(zmq.SUBSCRIBE, prefix)

    def _subscribe_updates(self, on: bool) -> None:
        """Subscribe to every message, or to heartbeats and session ends only (the publisher
        filters: a node waiting to resync costs it no updates). New filters go first, so that
        no heartbeat or END falls between the two."""
        if on == self._updates_on:
            return
        self._updates_on = on
        new, old = ((b"",), (HEARTBEAT, END)) if on else ((HEARTBEAT, END), (b"",))
        for prefix in new:
            self._sub.setsockopt(zmq.SUBSCRIBE, prefix)
        for prefix in old:
            self._sub.setsockopt(zmq.UNSUBSCRIBE, prefix)

    def _replace_sub(self) -> None:
        self._watched.replace()

    def _connection_dropped(self) -> None:
        # After the publisher ended its session (a --loop pass, a serve done) a close is expected.
        if not self._watched.replace_if_dropped(self._after_end, self.max_payload):
            return
        if self.session_id is not None:
            self._request_resync("connection dropped")

    def _new_dealer(self) -> zmq.Socket:
        if self._dealer is not None:
            self._dealer.close(0)  # lazy pirate: a fresh socket forgets requests to a dead peer
        dealer = self._context.socket(zmq.DEALER)
        dealer.linger = 0
        dealer.maxmsgsize = self.max_payload + 1024
        if self._security is not None:
            self._security.apply(dealer)
        dealer.connect(self.snapshot_endpoint)
        self._dealer = dealer
        return dealer

    def _fetch_snapshot(self) -> Event | None:
        """One request/wait round; the SNAPSHOT event on success (the node is then synchronised
        to its session), None otherwise."""
        reply = self._ask_snapshot()
        if reply is None:
            return None
        assert reply.header is not None
        named = reply.header.session_id
        if named != self.session_id and self._claims.ignored(named):
            # A session that ended here, which its publisher serves for its end grace: the claim
            # that asked was stray or made up. Taking it again would draw that session twice.
            log.info("resync: the snapshot service still serves session %s, which ended; waiting for the next",
                     session_id_hex(named))
            self._want_resync = None
            self._claims.unconfirmed()
            return None
        return self._synchronise(reply)

    def _ask_snapshot(self, wait: float | None = None) -> SnapshotReply | None:
        """One request/wait round: the reply with a state, or None after a refusal or ``wait``
        seconds (by default ``snapshot_timeout``, doubled after each request a publisher took but
        did not answer in time: building the snapshot of a big scene takes it a while, and asking
        again would only make it build another one)."""
        dealer = self._dealer or self._new_dealer()
        nonce = os.urandom(NONCE_SIZE)
        try:
            dealer.send_multipart(encode_snapshot_request(nonce), zmq.NOBLOCK)
            sent = True
        except zmq.Again:
            sent = False  # not connected yet: the wait below times out and we retry with a new socket
        if wait is None:
            wait = self.snapshot_timeout * 2**self._unanswered
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self._halt.is_set():
                return None
            if not dealer.poll(_POLL_SLICE_MS):
                continue
            frames = dealer.recv_multipart()
            try:
                reply = decode_snapshot_reply(frames, self.max_payload)
            except ProtocolError as error:
                self._reject(f"malformed snapshot reply: {error}")
                continue
            if reply.nonce != nonce:
                log.info("ignored a snapshot reply to an older request")
                continue
            if reply.header is None:
                log.info("snapshot refused: %s; retrying", reply.reason)
                time.sleep(0.05)
                return None
            self._unanswered = 0
            return reply
        if sent:
            self._unanswered = min(self._unanswered + 1, _MAX_BACKOFF)
        self._new_dealer()
        return None

    def _synchronise(self, reply: SnapshotReply, reason: str | None = None) -> Event:
        """Take a snapshot reply's state as the node's: its session is followed from now on.
        ``reason``: why it was fetched, when not for the resync that waited."""
        header = reply.header
        assert header is not None  # a state, not a refusal
        self._claims.answered(header.session_id, self.session_id)  # retires a session left
        self.session_id = header.session_id
        self.last_seq = header.seq
        waited, self._want_resync = self._want_resync or "", None
        reason = waited if reason is None else reason
        log.info("synchronised to session %s at update %d", session_id_hex(header.session_id), header.seq)
        self._after_end = False
        return Event(
            EventType.SNAPSHOT,
            header.session_id,
            header.seq,
            PayloadKind.KEYFRAME,
            reply.payload,
            reason=reason,
            session_header=reply.session_header,
        )


def _queued_size(event: Event) -> int:
    return len(event.payload) + len(event.session_header)


def follow(
    subscriber: Subscriber,
    state: StreamState,
    stop: threading.Event | None = None,
    on_event: Callable[[Event, StreamState], None] | None = None,
) -> Event | None:
    """Apply a subscriber's events to ``state`` until END (with ``stop_on_end``), GONE or stop.

    A payload the state cannot apply is logged with its reason and triggers a resync, so a
    corrupt chunk never crashes the node. Returns the last END or GONE event, if any.
    """
    last: Event | None = None
    failures = LogLimit(first=1, every=10)  # the same error again is counted, not logged each time
    for event in subscriber.events(stop):
        try:
            if event.type == EventType.SNAPSHOT:
                state.reset(event.payload)
            elif event.type == EventType.UPDATE:
                state.apply(event.kind, event.payload)
            else:
                last = event
        except Exception as error:  # the payload came from the network: never crash on it
            if failures(str(error)):
                again = f" ({failures.count} times in a row)" if failures.count > 1 else ""
                log.error("cannot apply %s %d%s: %s; resynchronising", event.type.value, event.seq, again, error)
            subscriber.resync(f"could not apply {event.type.value} {event.seq}")
            continue
        if event.type == EventType.UPDATE:  # the run of failures ends with an update, as the resync backoff's
            failures.reset()
        if on_event is not None:
            on_event(event, state)
    return last
