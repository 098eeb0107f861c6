"""The snapshot service: a ROUTER answering "what is the state now?" (publisher and relay)."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

import zmq

from transports.protocol import (
    Header,
    PayloadKind,
    ProtocolError,
    decode_snapshot_request,
    encode_refusal,
    encode_snapshot_reply,
)
from transports.state import StreamState
from transports.watch import LogLimit

__all__ = ["SnapshotService", "ServiceStats"]

log = logging.getLogger(__name__)

#: One turn of the service answers at most this many requests, and starts no new one after
#: ``_TURN_BUDGET_S``: its owner's other work (a publisher's updates and heartbeats, a relay's
#: forwarding) comes between turns, however many requests wait.
_MAX_REQUESTS_PER_TURN = 16
_TURN_BUDGET_S = 0.002
_NONCES_KEPT = 4096
_PEERS_KEPT = 4096
#: At most one snapshot per client (DEALER identity) in this many seconds; further requests are
#: refused with the reason, and the client retries (a node does in 50 ms).
DEFAULT_MIN_INTERVAL = 0.5


@dataclass
class ServiceStats:
    """Counters of the snapshot service."""

    snapshots: int = 0  # requests answered with a state
    refused: int = 0  # requests answered with a refusal (state not ready)
    rejected: int = 0  # malformed or replayed requests, logged and not answered
    dropped: int = 0  # replies dropped: the peer was not reading
    limited: int = 0  # requests refused as a client's second within min_interval (counted in refused too)


class SnapshotService:
    """Answers the requests waiting on ``router``; owned by the thread that owns the socket.

    ``min_interval``: at most one snapshot per client in that many seconds (0: no limit).
    """

    def __init__(self, router: zmq.Socket, min_interval: float = DEFAULT_MIN_INTERVAL) -> None:
        self.router = router
        self.min_interval = min_interval
        self.stats = ServiceStats()
        self._served: OrderedDict[bytes, float] = OrderedDict()  # peer identity -> when it got its last snapshot
        self._rejects = LogLimit()
        self._drops = LogLimit()
        # (peer identity, nonce) already answered: a replayed request is rejected, not re-served.
        self._seen: OrderedDict[tuple[bytes, bytes], None] = OrderedDict()

    def serve(
        self,
        session_id: bytes | None,
        seq: int,
        state: StreamState,
        refusal: str | None = None,
        session_header: bytes = b"",
    ) -> None:
        """Answer some waiting requests (16 at most, for 2 ms at most) with ``state`` as of
        ``seq``, or refuse with a reason; the rest wait for the next turn."""
        deadline = time.perf_counter() + _TURN_BUDGET_S
        for turn in range(_MAX_REQUESTS_PER_TURN):
            if turn and time.perf_counter() > deadline:
                return
            try:
                frames = self.router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            identity, body = frames[0], frames[1:]
            peer = identity.hex()[:16]
            try:
                nonce = decode_snapshot_request(body)
            except ProtocolError as error:
                self._reject(peer, str(error))
                continue
            key = (identity, nonce)
            if key in self._seen:
                self._reject(peer, "replayed request")
                continue
            self._seen[key] = None
            if len(self._seen) > _NONCES_KEPT:
                self._seen.popitem(last=False)
            if refusal is None and session_id is None:
                refusal = "no session yet"
            if refusal is not None:
                self._refuse(identity, nonce, refusal)
                continue
            now = time.monotonic()
            last = self._served.get(identity)
            if last is not None and now - last < self.min_interval:
                self.stats.limited += 1
                self._refuse(identity, nonce, f"busy: one snapshot per {self.min_interval:g} s per client; retry")
                continue
            self._served[identity] = now
            self._served.move_to_end(identity)
            if len(self._served) > _PEERS_KEPT:
                self._served.popitem(last=False)
            try:
                payload = state.snapshot()
            except Exception as error:  # a state that cannot snapshot must not kill the service
                log.error("snapshot service: cannot take a snapshot: %s", error)
                self._refuse(identity, nonce, "snapshot failed")
                continue
            assert session_id is not None
            header = Header(session_id, seq, PayloadKind.KEYFRAME)
            try:
                self.router.send_multipart(
                    [identity, *encode_snapshot_reply(nonce, header, payload, session_header)],
                    zmq.NOBLOCK,
                    copy=False,
                )
                self.stats.snapshots += 1
            except zmq.Again:
                self.stats.dropped += 1
                if self._drops():
                    log.warning("snapshot service: peer %s is not reading; reply dropped (%d so far)", peer,
                                self.stats.dropped)

    def _reject(self, peer: str, reason: str) -> None:
        """A malformed or replayed request: counted, and logged as the node logs what it rejects
        (the first 20, then every 100th), so that a flood of them cannot flood the log."""
        self.stats.rejected += 1
        if self._rejects():
            log.warning("snapshot service: rejected request from peer %s (%d so far): %s", peer,
                        self.stats.rejected, reason)

    def _refuse(self, identity: bytes, nonce: bytes, reason: str) -> None:
        self.stats.refused += 1
        try:
            self.router.send_multipart([identity, *encode_refusal(nonce, reason)], zmq.NOBLOCK)
        except zmq.Again:
            pass
