"""A relay facing a hostile or broken upstream: it recovers, stays bounded and stays quiet."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable

import pytest
import zmq

from sessions.limits import DEFAULT_LIMITS
from transports.protocol import (
    Header,
    PayloadKind,
    ProtocolError,
    SnapshotReply,
    decode_snapshot_reply,
    decode_snapshot_request,
    encode_end,
    encode_heartbeat,
    encode_refusal,
    encode_snapshot_reply,
    encode_snapshot_request,
    encode_update,
    new_session_id,
)
from transports.relay import Relay
from transports.scene_state import SceneStreamState
from transports.state import OpaqueState

pytestmark = pytest.mark.timeout(60)

#: What the fake upstream answers a snapshot request with: (seq, payload) or a refusal reason.
Answer = Callable[[], "tuple[int, bytes] | str"]


class FakeUpstream:
    """A raw PUB + ROUTER pair; a thread answers snapshot requests with ``answer()``."""

    def __init__(self, answer: Answer) -> None:
        self.context = zmq.Context()
        self.pub = self.context.socket(zmq.PUB)
        self.pub.sndhwm = 100_000
        self.router = self.context.socket(zmq.ROUTER)
        for sock in (self.pub, self.router):
            sock.linger = 0
            sock.bind("tcp://127.0.0.1:*")
        self.endpoint = self.pub.last_endpoint.decode()
        self.snapshot = self.router.last_endpoint.decode()
        self.session = new_session_id()
        self.answer = answer
        self.requests = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self.router.poll(20):
                continue
            identity, *body = self.router.recv_multipart()
            try:
                nonce = decode_snapshot_request(body)
            except ProtocolError:
                continue
            self.requests += 1
            answer = self.answer()
            if isinstance(answer, str):
                frames = encode_refusal(nonce, answer)
            else:
                seq, payload = answer
                frames = encode_snapshot_reply(nonce, Header(self.session, seq, PayloadKind.KEYFRAME), payload)
            self.router.send_multipart([identity, *frames])

    def update(self, seq: int, payload: bytes) -> None:
        self.pub.send_multipart(encode_update(Header(self.session, seq, PayloadKind.DELTA), payload, 1 << 40))

    def heartbeat(self, seq: int) -> None:
        self.pub.send_multipart(encode_heartbeat(self.session, seq))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.pub.close(0)
        self.router.close(0)
        self.context.term()


def _relay(upstream: FakeUpstream, **kwargs: object) -> Relay:
    kwargs.setdefault("state", OpaqueState())
    return Relay(
        upstream.endpoint,
        "tcp://127.0.0.1:*",
        upstream_snapshot=upstream.snapshot,
        snapshot_bind="tcp://127.0.0.1:*",
        **kwargs,  # type: ignore[arg-type]
    ).start()


def _downstream(relay: Relay) -> tuple[zmq.Context, zmq.Socket]:
    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.linger = 0
    sub.setsockopt(zmq.SUBSCRIBE, b"U")
    sub.connect(relay.endpoint)
    return context, sub


def _wait_for(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_relay_reconnects_after_an_upstream_message_over_max_message(caplog: pytest.LogCaptureFixture) -> None:
    """libzmq drops the connection that brought a message over ZMQ_MAXMSGSIZE and does not
    reconnect it: the relay makes a fresh socket (a warning says why) and forwards again."""
    seq = [0]
    upstream = FakeUpstream(lambda: (seq[0], b""))
    relay = _relay(upstream, max_payload=4096, heartbeat_timeout=30.0)  # silence alone would take 30 s
    context, sub = _downstream(relay)
    caplog.set_level(logging.INFO, logger="transports.relay")
    try:
        _wait_for(lambda: relay.stats.synced, what="the relay to synchronise")

        def send(size: int = 100) -> None:
            seq[0] += 1
            upstream.update(seq[0], b"p" * size)

        got: list[int] = []
        deadline = time.monotonic() + 20
        while not got and time.monotonic() < deadline:  # the downstream SUB joins after a while
            send()
            if sub.poll(100):
                got.append(Header.unpack(sub.recv_multipart()[1]).seq)
        assert got, "nothing was forwarded before the oversized message"
        send(10_000)  # over 4096 + 1024: libzmq closes the upstream connection
        oversized = seq[0]
        after: list[int] = []
        deadline = time.monotonic() + 20
        while not after and time.monotonic() < deadline:
            send()
            upstream.heartbeat(seq[0])
            while sub.poll(100):
                forwarded = Header.unpack(sub.recv_multipart()[1]).seq
                if forwarded > oversized:
                    after.append(forwarded)
        assert after, "the relay forwarded nothing after the oversized message"
    finally:
        sub.close(0)
        context.term()
        relay.stop()
        upstream.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("dropped mid-session" in w and "4096" in w for w in warnings), warnings


def test_relay_bounds_in_bytes_what_waits_for_a_refused_snapshot(caplog: pytest.LogCaptureFixture) -> None:
    """While the upstream refuses snapshots, the updates kept for after the snapshot stay under
    max_pending_bytes: past it they are dropped and a fresh snapshot asked for; once the upstream
    answers, the relay synchronises and forwards."""
    refusing = [True]
    seq = [0]
    upstream = FakeUpstream(lambda: "state resynchronising" if refusing[0] else (seq[0], b""))
    bound = 4 << 20
    relay = _relay(upstream, max_pending_bytes=bound, heartbeat_timeout=30.0)
    caplog.set_level(logging.WARNING, logger="transports.relay")
    peak = 0
    try:
        _wait_for(lambda: upstream.requests > 0, what="a snapshot request")
        payload = bytes(1 << 20)
        deadline = time.monotonic() + 30
        while relay.stats.dropped_pending < 10 and time.monotonic() < deadline:
            seq[0] += 1
            upstream.update(seq[0], payload)
            time.sleep(0.01)
            peak = max(peak, relay._pending_bytes)
        assert relay.stats.dropped_pending >= 10, "nothing was dropped"
        assert not relay.stats.synced
        refusing[0] = False
        _wait_for(lambda: relay.stats.synced, what="the relay to synchronise once answered")
    finally:
        relay.stop()
        upstream.close()
    assert peak <= bound + len(payload)
    assert any("over the 4.2 MB bound" in r.getMessage() for r in caplog.records)


def _golden_scene() -> bytes:
    """A keyframe of the golden session's scene (264 000 bytes of buffers)."""
    from pathlib import Path

    from sessions import LogReader, encode_chunk

    session = Path(__file__).resolve().parents[1] / "sessions" / "golden" / "linked_v1_2.gsplog"
    state = SceneStreamState()
    with LogReader(session) as reader:
        state.apply(PayloadKind.DELTA, encode_chunk(list(reader.commands())))
    return state.snapshot()


def _snapshot_reply(relay: Relay) -> SnapshotReply:
    """The relay's answer to a node's snapshot request."""
    context = zmq.Context()
    dealer = context.socket(zmq.DEALER)
    dealer.linger = 0
    dealer.connect(relay.snapshot_endpoint)
    try:
        dealer.send_multipart(encode_snapshot_request(bytes(range(8))))
        assert dealer.poll(10_000), "the relay did not answer"
        return decode_snapshot_reply(dealer.recv_multipart())
    finally:
        dealer.close(0)
        context.term()


def _refusal_from(relay: Relay) -> str:
    """The reason the relay gives a node for refusing its snapshot request."""
    reply = _snapshot_reply(relay)
    assert reply.header is None, "the relay served a snapshot"
    return str(reply.reason)


@pytest.mark.parametrize("case", ["undecodable", "over max-scene-gib"])
def test_relay_backs_off_from_an_upstream_snapshot_it_cannot_apply(
    case: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An upstream snapshot the relay cannot apply is asked for again after 0.1 s, 0.2 s, 0.4 s...
    (it asked thousands of times a second), its error logged once; a scene over the relay's
    --max-scene-gib says so in a warning, and in the refusals its nodes get."""
    payload = b"not a chunk" * 10 if case == "undecodable" else _golden_scene()
    upstream = FakeUpstream(lambda: (3, payload))
    limits = dataclasses.replace(DEFAULT_LIMITS, max_scene_bytes=100_000)
    relay = _relay(upstream, state=SceneStreamState(limits=limits))
    caplog.set_level(logging.WARNING, logger="transports.relay")
    try:
        _wait_for(lambda: relay.stats.failed_snapshots > 0, what="a failed snapshot")
        time.sleep(3)
        reason = _refusal_from(relay)
        asked = upstream.requests
    finally:
        relay.stop()
        upstream.close()
    assert 2 <= asked <= 12, asked
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    if case == "undecodable":
        assert lines[0].levelno == logging.ERROR and "cannot apply the upstream snapshot" in lines[0].getMessage()
        assert "cannot use the upstream state" in reason
    else:
        assert lines[0].levelno == logging.WARNING and "--max-scene-gib" in lines[0].getMessage()
        assert "--max-scene-gib" in reason


def _damaged(chunk: bytes) -> bytes:
    """The chunk with one payload byte changed: its header holds, its payload checksum does not."""
    damaged = bytearray(chunk)
    damaged[-1] ^= 0xFF
    return bytes(damaged)


def test_opaque_relay_drops_a_damaged_chunk_instead_of_serving_it_in_every_snapshot(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An opaque relay kept a chunk whose payload checksum fails, and served it in its snapshots
    until the next keyframe (nodes behind it resynced in a loop): it drops it, with a warning,
    forwards the rest, and its snapshots hold only good chunks."""
    from sessions import Command, encode_chunk
    from sessions.chunk import check_chunk, split_chunks

    chunks = [encode_chunk([Command(i, i, "Recorder.mark", "", (f"m{i}",), {})]) for i in (1, 2, 3)]
    upstream = FakeUpstream(lambda: (0, b""))
    relay = _relay(upstream, heartbeat_timeout=30.0)
    context, sub = _downstream(relay)
    caplog.set_level(logging.WARNING, logger="transports.relay")
    forwarded: list[int] = []
    try:
        _wait_for(lambda: relay.stats.synced, what="the relay to synchronise")
        deadline = time.monotonic() + 20
        while not sub.poll(100):  # the downstream SUB joins after a while: heartbeats until then
            assert time.monotonic() < deadline, "the downstream never joined"
            upstream.heartbeat(0)
            sub.setsockopt(zmq.SUBSCRIBE, b"H")
        sub.setsockopt(zmq.UNSUBSCRIBE, b"H")
        time.sleep(0.2)
        while sub.poll(100):
            sub.recv_multipart()
        for seq, payload in enumerate([chunks[0], _damaged(chunks[1]), chunks[2]], start=1):
            upstream.update(seq, payload)
        while len(forwarded) < 2 and sub.poll(5000):
            forwarded.append(Header.unpack(sub.recv_multipart()[1]).seq)
        _wait_for(lambda: relay._seq == 3, what="the relay to follow the three updates")
        kept = relay.state.snapshot()
    finally:
        sub.close(0)
        context.term()
        relay.stop()
        upstream.close()
    assert forwarded == [1, 3]
    assert [bytes(part) for part in split_chunks(kept)] == [chunks[0], chunks[2]]
    for part in split_chunks(kept):
        check_chunk(part)
    assert relay.stats.rejected == 1 and relay.stats.synced
    assert any("update 2, a damaged chunk" in r.getMessage() for r in caplog.records)


def test_a_flood_of_garbage_upstream_does_not_flood_the_relay_log(caplog: pytest.LogCaptureFixture) -> None:
    """50 000 garbage upstream messages made 50 000 relay lines: it logs what it rejects as a
    node does, the first 20 then every 100th, with the count."""
    upstream = FakeUpstream(lambda: (0, b""))
    relay = _relay(upstream, heartbeat_timeout=30.0)
    caplog.set_level(logging.WARNING, logger="transports.relay")
    try:
        deadline = time.monotonic() + 20
        while relay.stats.forwarded == 0:  # heartbeats until the relay hears the upstream
            assert time.monotonic() < deadline, "the relay never heard the upstream"
            upstream.heartbeat(0)
            time.sleep(0.05)
        for _ in range(300):
            upstream.pub.send_multipart([b"junk"])
        _wait_for(lambda: relay.stats.rejected == 300, what="300 rejections")
    finally:
        relay.stop()
        upstream.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "transports.relay"]
    assert len(lines) == 23, lines[-5:]
    assert lines[-1] == "relay: rejected (300 so far): upstream message: unknown message type b'junk'"


def _snapshot_from(relay: Relay) -> tuple[bytes, int, bytes]:
    """The session, sequence and payload of the relay's snapshot for a node."""
    reply = _snapshot_reply(relay)
    assert reply.header is not None, f"the relay refused: {reply.reason}"
    return reply.header.session_id, reply.header.seq, reply.payload


def _joined_downstream(relay: Relay, upstream: FakeUpstream, seq: int) -> tuple[zmq.Context, zmq.Socket]:
    """A raw SUB on the relay taking every message, once it receives (heartbeats until then)."""
    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.linger = 0
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(relay.endpoint)
    deadline = time.monotonic() + 20
    while not sub.poll(100):
        assert time.monotonic() < deadline, "the downstream never joined"
        upstream.heartbeat(seq)
    time.sleep(0.2)
    while sub.poll(100):
        sub.recv_multipart()
    return context, sub


def _forged(pub: zmq.Socket, size: int) -> None:
    """A well-formed update and heartbeat of a made-up session."""
    made_up = new_session_id()
    pub.send_multipart(encode_update(Header(made_up, 1, PayloadKind.DELTA), bytes(size), 1 << 40))
    pub.send_multipart(encode_heartbeat(new_session_id(), 5))


def test_a_flood_of_made_up_sessions_is_not_forwarded_and_does_not_unsettle_the_relay() -> None:
    """A hostile upstream's well-formed updates of made-up sessions (QA: 50 MB at 3/s) were
    forwarded, made the relay drop its session for each and resynchronise (refusing its nodes
    meanwhile), and held ~1 GB in its queue to a node, whose END was lost. The upstream's snapshot
    service says which session is real: the relay asks it, goes on with its session, forwards
    none of the others, keeps what waits for the answer under max_pending_bytes, and its nodes
    get every update, the END and the final state."""
    from transports.subscriber import EventType, Subscriber

    seq = [0]
    upstream = FakeUpstream(lambda: (seq[0], b"s0;"))
    bound = 4 << 20
    relay = _relay(upstream, max_pending_bytes=bound, heartbeat_timeout=30.0)
    node = Subscriber(relay.endpoint, relay.snapshot_endpoint, stop_on_end=True, gone_after=20.0)
    events: list = []
    consumer = threading.Thread(target=lambda: events.extend(node.events()), daemon=True)
    forwarded: list[tuple[bytes, bytes, int]] = []
    peak = 0
    try:
        _wait_for(lambda: relay.stats.synced, what="the relay to synchronise")
        context, sub = _joined_downstream(relay, upstream, 0)
        consumer.start()
        _wait_for(lambda: relay.service_stats.snapshots > 0, what="the node to join")
        for i in range(1, 21):
            seq[0] = i
            upstream.update(i, f"s{i};".encode())
            _forged(upstream.pub, 3 << 20)
            peak = max(peak, relay._pending_bytes)
        upstream.pub.send_multipart(encode_end(upstream.session, 20))
        for _ in range(5):  # after the END too: the final state stays the one served
            _forged(upstream.pub, 3 << 20)
        upstream.heartbeat(20)  # forwarded once the relay has read all the above
        while sub.poll(10_000):
            frames = sub.recv_multipart()
            header = Header.unpack(frames[1])
            forwarded.append((frames[0], header.session_id, header.seq))
            if frames[0] == b"H" and header.seq == 20 and header.session_id == upstream.session:
                break
        consumer.join(20)
        final = _snapshot_from(relay)
    finally:
        node.close()
        sub.close(0)
        context.term()
        relay.stop()
        upstream.close()
    updates = [(s, n) for kind, s, n in forwarded if kind == b"U"]
    assert updates == [(upstream.session, n) for n in range(1, 21)]
    assert {s for _, s, _ in forwarded} == {upstream.session}, "a made-up session was forwarded"
    assert (b"E", upstream.session, 20) in forwarded
    assert relay.stats.synced and relay.stats.resyncs == 0
    assert relay.stats.other_sessions == 50 and relay.stats.checks >= 1
    assert peak <= bound
    assert final == (upstream.session, 20, b"".join(f"s{i};".encode() for i in range(21)))
    assert [e.type for e in events][-1] == EventType.END and node.last_seq == 20
    assert node.stats.resyncs == 0 and node.stats.rejected == 0


def test_a_relay_follows_the_session_its_upstream_names_when_the_publisher_restarts() -> None:
    """The messages of a new session are checked with the upstream's snapshot service: when it
    names the new session the relay switches to it, and forwards its updates past the snapshot,
    those that came while it asked included, in order."""
    seq = [0]
    upstream = FakeUpstream(lambda: (seq[0], b"state;"))
    relay = _relay(upstream, heartbeat_timeout=30.0)
    forwarded: list[tuple[bytes, int]] = []
    try:
        _wait_for(lambda: relay.stats.synced, what="the relay to synchronise")
        context, sub = _joined_downstream(relay, upstream, 0)
        old = upstream.session
        upstream.update(1, b"old;")
        upstream.session, seq[0] = new_session_id(), 2  # a restart: its snapshot service answers the new session
        for i in range(1, 7):
            upstream.update(i, f"n{i};".encode())
        while len(forwarded) < 5 and sub.poll(5000):
            frames = sub.recv_multipart()
            if frames[0] == b"U":
                header = Header.unpack(frames[1])
                forwarded.append((header.session_id, header.seq))
        _wait_for(lambda: relay._seq == 6, what="the relay to follow the new session")
        final = _snapshot_from(relay)
    finally:
        sub.close(0)
        context.term()
        relay.stop()
        upstream.close()
    assert forwarded == [(old, 1)] + [(upstream.session, n) for n in range(3, 7)]
    assert final == (upstream.session, 6, b"state;n3;n4;n5;n6;")
    assert relay.stats.checks == 1 and relay.stats.resyncs == 0


def test_a_stream_faster_than_a_snapshot_round_trip_does_not_keep_the_relay_from_synchronising() -> None:
    """Before its first snapshot, a relay whose waiting updates went past max_pending_bytes
    dropped them and asked afresh, ignoring the answer on its way: an upstream streaming more
    than that during one snapshot round trip (a scene that takes a while to build) kept it from
    ever synchronising (30 requests in 6 s, none taken). It keeps the request in flight and
    takes its answer before the updates read after it."""
    seq = [0]

    def slow_answer() -> tuple[int, bytes]:
        time.sleep(0.3)  # building a big scene's snapshot takes the upstream a while
        return seq[0], b""

    upstream = FakeUpstream(slow_answer)
    relay = _relay(upstream, max_pending_bytes=256 << 10, heartbeat_timeout=30.0)
    payload = bytes(64 << 10)
    try:
        deadline = time.monotonic() + 8
        while not relay.stats.synced and time.monotonic() < deadline:
            seq[0] += 1
            upstream.update(seq[0], payload)
            time.sleep(0.002)
        assert relay.stats.synced, f"not synchronised after {upstream.requests} requests"
        assert relay.stats.dropped_pending > 0  # the stream did outrun the round trip
    finally:
        relay.stop()
        upstream.close()
