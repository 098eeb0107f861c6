"""Live streams over real sockets on 127.0.0.1 with real node processes (opaque payloads)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from transport_helpers import local_publisher, node_result, publish_series, start_node, wait_connected

from transports.protocol import PayloadKind
from transports.publisher import Publisher
from transports.state import OpaqueState
from transports.subscriber import EventType, Subscriber, follow

pytestmark = pytest.mark.timeout(60)


@pytest.mark.slow
def test_fan_out_to_four_node_processes_ends_with_equal_state(tmp_path: Path) -> None:
    pub = local_publisher()
    outs = [tmp_path / f"node{i}.json" for i in range(4)]
    procs = [start_node(pub.endpoint, pub.snapshot_endpoint, out) for out in outs]
    try:
        publish_series(pub, 0, 100, interval=0.002)  # some may go out before every node joined
        wait_connected(pub, 4)
        time.sleep(0.5)
        publish_series(pub, 100, 300, interval=0.001)
    finally:
        pub.close()
    results = [node_result(proc, out) for proc, out in zip(procs, outs)]
    expected = pub.state.state_hash()
    for result in results:
        assert result["end"] == "end"
        assert result["last_seq"] == 400
        assert result["hash"] == expected


@pytest.mark.slow
def test_late_joiner_ends_equal(tmp_path: Path) -> None:
    pub = local_publisher()
    early_out, late_out = tmp_path / "early.json", tmp_path / "late.json"
    early = start_node(pub.endpoint, pub.snapshot_endpoint, early_out)
    try:
        wait_connected(pub)
        publish_series(pub, 0, 240, interval=0.001)
        late = start_node(pub.endpoint, pub.snapshot_endpoint, late_out)
        deadline = time.monotonic() + 15
        while pub.service_stats.snapshots < 2 and time.monotonic() < deadline:
            publish_series(pub, 1000, 1, interval=0.01)  # keep the stream going while it joins
        publish_series(pub, 2000, 100, interval=0.001)
    finally:
        pub.close()
    early_result, late_result = node_result(early, early_out), node_result(late, late_out)
    assert late_result["stats"]["snapshots"] >= 1
    assert early_result["hash"] == late_result["hash"] == pub.state.state_hash()


@pytest.mark.slow
def test_node_killed_and_restarted_ten_times_during_stream(tmp_path: Path) -> None:
    pub = local_publisher()
    stop = threading.Event()

    def stream() -> None:
        i = 0
        while not stop.is_set():
            publish_series(pub, i, 1, interval=0.002)
            i += 1

    thread = threading.Thread(target=stream)
    thread.start()
    try:
        for round_ in range(10):
            out = tmp_path / f"killed{round_}.json"
            served = pub.service_stats.snapshots
            proc = start_node(pub.endpoint, pub.snapshot_endpoint, out)
            deadline = time.monotonic() + 10
            while pub.service_stats.snapshots == served:  # killed once it has joined and follows
                assert time.monotonic() < deadline and proc.poll() is None, "node did not join"
                time.sleep(0.01)
            time.sleep(0.05 + 0.02 * round_)
            proc.kill()
            proc.wait(5)
        final_out = tmp_path / "final.json"
        final = start_node(pub.endpoint, pub.snapshot_endpoint, final_out)
        served = pub.service_stats.snapshots
        deadline = time.monotonic() + 15
        while pub.service_stats.snapshots == served and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join()
        pub.close()
    result = node_result(final, final_out)
    assert pub.service_stats.snapshots >= 11  # every killed node had joined
    assert result["hash"] == pub.state.state_hash()
    assert result["last_seq"] == pub.last_seq


def _follow_in_thread(
    sub: Subscriber, state: OpaqueState, seen: list, stop: threading.Event
) -> threading.Thread:
    thread = threading.Thread(target=lambda: follow(sub, state, stop, on_event=lambda e, s: seen.append(e)))
    thread.start()
    return thread


def test_publisher_restart_with_new_session_id_resyncs_nodes() -> None:
    first = local_publisher()
    endpoint, snapshot = first.endpoint, first.snapshot_endpoint
    sub = Subscriber(endpoint, snapshot, heartbeat_timeout=0.5, snapshot_timeout=0.3, gone_after=15)
    state, seen, stop = OpaqueState(), [], threading.Event()
    thread = _follow_in_thread(sub, state, seen, stop)
    try:
        wait_connected(first)
        publish_series(first, 0, 30, interval=0.002)
        time.sleep(0.2)
        first.close(end=False)  # a crash: no session-end announcement
        second = Publisher(endpoint, snapshot, state=OpaqueState(), heartbeat_interval=0.1)
        assert second.session_id != first.session_id
        deadline = time.monotonic() + 10
        while not any(e.type == EventType.SNAPSHOT and e.session_id == second.session_id for e in seen):
            assert time.monotonic() < deadline, "node did not resync to the new session"
            publish_series(second, 500, 1, interval=0.02)
        publish_series(second, 600, 20, interval=0.002)
        time.sleep(0.3)
        second.close()
        deadline = time.monotonic() + 10
        while not any(e.type == EventType.END for e in seen):
            assert time.monotonic() < deadline, "node did not see the new session end"
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(10)
        sub.close()
    assert sub.session_id is None or sub.session_id == second.session_id
    assert state.state_hash() == second.state.state_hash()
    assert sub.stats.resyncs >= 1


@pytest.mark.slow
def test_slow_node_does_not_slow_publish_calls(tmp_path: Path) -> None:
    pub = local_publisher(sndhwm=50)
    out = tmp_path / "slow.json"
    slow = start_node(pub.endpoint, pub.snapshot_endpoint, out, "--sleep", "0.05")
    try:
        wait_connected(pub)
        longest = 0.0
        started = time.perf_counter()
        for i in range(3000):
            t0 = time.perf_counter()
            pub.publish(b"%08d" % i + bytes(4096))
            longest = max(longest, time.perf_counter() - t0)
        total = time.perf_counter() - started
    finally:
        pub.close()
        slow.kill()
        slow.wait(5)
    # The slow node would need 150 s to take 3000 updates; publishing never waited for it.
    assert total < 5.0, f"3000 publish() calls took {total:.2f} s"
    assert longest < 1.0, f"one publish() call took {longest:.3f} s"
    assert pub.stats.published == 3000


@pytest.mark.slow
def test_full_queue_drops_and_nodes_recover_at_the_next_keyframe() -> None:
    pub = local_publisher(queue_size=4)
    sub = Subscriber(
        pub.endpoint, pub.snapshot_endpoint, stop_on_end=True, gone_after=15, snapshot_timeout=0.3
    )
    state, seen, stop = OpaqueState(), [], threading.Event()
    thread = _follow_in_thread(sub, state, seen, stop)
    try:
        wait_connected(pub)
        time.sleep(0.3)
        for i in range(3000):  # a burst far faster than the I/O thread: the queue overflows
            pub.publish(b"%08d;" % i + bytes(2000), PayloadKind.DELTA)
        assert pub.stats.dropped > 0
        time.sleep(0.3)
        pub.publish(b"keyframe;", PayloadKind.KEYFRAME)  # the state is whole again from here
        publish_series(pub, 5000, 20, interval=0.005)
        time.sleep(0.5)
    finally:
        pub.close()
        thread.join(15)
        sub.close()
    assert seen[-1].type == EventType.END
    assert state.state_hash() == pub.state.state_hash()
    assert state.snapshot().startswith(b"keyframe;")
