"""A node busy with one session while others begin and end, its publisher dies or restarts:
real publishers on 127.0.0.1 and a real Subscriber whose consumer is held busy on an Event
(deterministic, unlike a slow backend)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from transport_helpers import local_publisher, wait_connected

from transports.protocol import PayloadKind
from transports.publisher import Publisher
from transports.state import OpaqueState
from transports.subscriber import Event, EventType, Subscriber

pytestmark = pytest.mark.timeout(60)


class BusyConsumer:
    """Takes a subscriber's events on a thread of its own, and stays busy (does not ask for the
    next event) after its first UPDATE until :meth:`release`."""

    def __init__(self, sub: Subscriber) -> None:
        self.sub = sub
        self.seen: list[Event] = []
        self.busy = threading.Event()  # set once it holds its first update
        self._release = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._consume)
        self._thread.start()

    def _consume(self) -> None:
        for event in self.sub.events(self._stop):
            self.seen.append(event)
            if event.type == EventType.UPDATE and not self._release.is_set():
                self.busy.set()
                self._release.wait(30)

    def release(self) -> None:
        self._release.set()

    def wait_for(self, condition: Callable[[list[Event]], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self.seen):
            assert time.monotonic() < deadline, f"not seen in time: {[(e.type.value, e.seq) for e in self.seen]}"
            time.sleep(0.02)

    def stop(self) -> None:
        self._release.set()
        self._stop.set()
        self._thread.join(10)


@contextmanager
def busy_node(pub: Publisher, **options: float) -> Iterator[BusyConsumer]:
    """A subscriber to ``pub`` whose consumer is busy with the update after its snapshot."""
    options.setdefault("gone_after", 20)
    options.setdefault("snapshot_timeout", 0.5)
    sub = Subscriber(pub.endpoint, pub.snapshot_endpoint, **options)  # type: ignore[arg-type]
    consumer = BusyConsumer(sub)
    try:
        wait_connected(pub)
        pub.publish(b"a1;")
        assert consumer.busy.wait(20), "the consumer got no update"
        yield consumer
    finally:
        consumer.stop()
        sub.close()


def _restarted(pub: Publisher, payloads: list[bytes]) -> Publisher:
    """A publisher on ``pub``'s endpoints (a new session) that publishes ``payloads``."""
    again = Publisher(pub.endpoint, pub.snapshot_endpoint, state=OpaqueState(), heartbeat_interval=0.1)
    for payload in payloads:
        again.publish(payload, PayloadKind.DELTA)
    return again


def _wait(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _wait_heard(caplog: pytest.LogCaptureFixture, pub: Publisher) -> None:
    """Wait until the node heard of ``pub``'s session (it is connected: it will get its END)."""
    said = f"resync: new session {pub.session_id.hex()}"
    _wait(lambda: any(said in record.getMessage() for record in caplog.records), "the node did not hear " + said)


def _session(seen: list[Event], session_id: bytes) -> list[tuple[str, int]]:
    return [(event.type.value, event.seq) for event in seen if event.session_id == session_id]


def test_a_session_that_begins_and_ends_while_the_node_is_busy_is_delivered_whole(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """QA: a matplotlib node drawing a backlog while the next session started and ended never
    saw that session: the resync waited for the busy consumer, was asked again at every
    heartbeat of the new session, and the new session's END was dropped (the end of a session
    never followed). Its final state is fetched when its END comes, as for a followed session,
    and queued with its END behind the first session's events; the resync is asked once."""
    caplog.set_level(logging.INFO, logger="transports.subscriber")
    first = local_publisher()
    with busy_node(first) as node:
        first.publish(b"a2;")
        first.close()  # the first session ends normally, its END is queued
        second = _restarted(first, [])
        _wait_heard(caplog, second)
        time.sleep(0.5)  # five heartbeats of the new session while the resync waits
        for i in range(5):
            second.publish(b"b%d;" % i)
        time.sleep(0.3)
        second.close()  # it ends before the node could follow it: served for its end grace
        assert second.service_stats.snapshots == 1  # the final state, asked for at its END
        node.release()
        node.wait_for(lambda seen: any(e.type == EventType.END and e.session_id == second.session_id for e in seen))
    assert _session(node.seen, first.session_id) == [("snapshot", 0), ("update", 1), ("update", 2), ("end", 2)]
    assert _session(node.seen, second.session_id) == [("snapshot", 5), ("end", 5)]
    final = next(e for e in node.seen if e.type == EventType.SNAPSHOT and e.session_id == second.session_id)
    assert final.payload == b"b0;b1;b2;b3;b4;"
    assert node.sub.stats.resyncs == 1  # asked once for the second session, not at each heartbeat
    assert node.sub.stats.skipped_sessions == 0


def test_a_restarted_publisher_ends_the_busy_consumers_session_with_replaced(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A publisher killed mid-session (no END) and a new one on the same port: the consumer
    went from the first session's updates to the second session's snapshot without a word,
    and `gsp node` merged both into one session that had "ended". It now gets REPLACED (the
    first session will not end) before the new session's events."""
    caplog.set_level(logging.INFO, logger="transports.subscriber")
    first = local_publisher()
    with busy_node(first, heartbeat_timeout=0.5) as node:
        first.publish(b"a2;")
        time.sleep(0.3)
        first.close(end=False)  # killed: no END
        second = _restarted(first, [])
        _wait_heard(caplog, second)
        for i in range(3):
            second.publish(b"b%d;" % i)
        time.sleep(0.3)
        second.close()
        node.release()
        node.wait_for(lambda seen: any(e.type == EventType.END for e in seen))
    kinds = [(event.type.value, event.seq) for event in node.seen]
    assert kinds == [("snapshot", 0), ("update", 1), ("update", 2), ("replaced", 2), ("snapshot", 3), ("end", 3)]
    replaced = node.seen[3]
    assert replaced.session_id == first.session_id and second.session_id.hex() in replaced.reason
    assert node.seen[4].payload == b"b0;b1;b2;"


def test_replaced_comes_to_a_consumer_that_keeps_up_too() -> None:
    """Not only a busy one: a node that follows its publisher, which restarts without an END."""
    first = local_publisher()
    sub = Subscriber(first.endpoint, first.snapshot_endpoint, heartbeat_timeout=0.5, snapshot_timeout=0.3,
                     gone_after=20, stop_on_end=True)
    seen: list[Event] = []
    thread = threading.Thread(target=lambda: seen.extend(sub.events()))
    thread.start()
    try:
        wait_connected(first)
        first.publish(b"a1;")
        _wait(lambda: sub.stats.delivered == 1, "the update did not come")
        first.close(end=False)
        second = _restarted(first, [])
        _wait(lambda: second.service_stats.snapshots == 1, "the node did not resync to the new session")
        second.publish(b"b1;")
        second.close()
        thread.join(20)
    finally:
        sub.close()
        thread.join(10)
    # stop_on_end: the iteration ends with the session, replaced or ended
    assert [(event.type.value, event.session_id) for event in seen] == [
        ("snapshot", first.session_id), ("update", first.session_id), ("replaced", first.session_id)]


def test_a_busy_node_whose_publisher_died_backs_off_its_reconnects_and_resyncs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """QA: a matplotlib node still drawing when its publisher died replaced its SUB socket and
    asked for a resync every poll slice (~60 ms): 71 resyncs in 4 s. The resync already waits
    for the consumer; reconnects are spaced as for a snapshot that could not be used (0.1 s,
    doubled each time in a row)."""
    caplog.set_level(logging.INFO, logger="transports.subscriber")
    first = local_publisher()
    with busy_node(first, heartbeat_timeout=0.3, snapshot_timeout=1.0) as node:
        first.close(end=False)  # killed: silence
        time.sleep(3.0)  # 2.7 s of silence past the heartbeat timeout, the consumer still busy
        reconnects = [r for r in caplog.records if "publisher silent" in r.getMessage()]
        assert node.sub.stats.resyncs == 1, node.sub.stats
    assert 1 <= len(reconnects) <= 7, [r.getMessage() for r in reconnects]  # 0.1 + 0.2 + 0.4 + 0.8 + 1.6 s apart


@pytest.mark.slow
def test_a_busy_nodes_queue_keeps_the_newest_of_the_sessions_it_could_not_draw_yet(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The final states of sessions that begin and end while the consumer is busy wait in its
    queue, bounded by max_queue_bytes as updates are: past it, the oldest are skipped (said,
    counted in stats.skipped_sessions) and the newest is kept."""
    caplog.set_level(logging.INFO, logger="transports.subscriber")
    first = local_publisher()
    publishers = []
    with busy_node(first, max_queue_bytes=1000) as node:
        first.close()
        for name in (b"b", b"c", b"d"):  # 600 bytes of state each: two do not fit in 1000
            again = _restarted(first, [])
            publishers.append(again)
            _wait_heard(caplog, again)
            again.publish(name * 600)
            time.sleep(0.2)
            again.close()
            assert again.service_stats.snapshots == 1  # its final state, fetched at its END
        node.release()
        node.wait_for(lambda seen: sum(e.type == EventType.END for e in seen) == 2)
    assert node.sub.stats.skipped_sessions == 2
    delivered = [(e.type.value, e.session_id) for e in node.seen if e.session_id != first.session_id]
    assert delivered == [("snapshot", publishers[2].session_id), ("end", publishers[2].session_id)]
    skipped = [r.getMessage() for r in caplog.records if "skipped, not drawn" in r.getMessage()]
    assert [publishers[0].session_id.hex() in skipped[0], publishers[1].session_id.hex() in skipped[1]] == [True, True]
