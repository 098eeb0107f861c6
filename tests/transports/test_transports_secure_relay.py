"""CURVE with an allow-list, and multi-hop fan-out through a relay."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from transport_helpers import local_publisher, node_result, publish_series, start_node, wait_connected

from transports.relay import Relay
from transports.security import ClientSecurity, SecurityError, ServerSecurity, generate_keys
from transports.state import OpaqueState
from transports.subscriber import Event, EventType, Subscriber, follow

pytestmark = pytest.mark.timeout(60)


def _collect(sub: Subscriber, seconds: float) -> list[Event]:
    events: list[Event] = []
    stop = threading.Event()
    thread = threading.Thread(target=lambda: sub.run(events.append, stop))
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join(10)
    return events


@pytest.mark.slow
def test_curve_allow_list_admits_only_listed_clients(tmp_path: Path) -> None:
    keys, allowed = tmp_path / "keys", tmp_path / "allowed"
    _, server_secret = generate_keys(keys, "server")
    good_public, good_secret = generate_keys(keys, "good")
    _, bad_secret = generate_keys(keys, "intruder")
    allowed.mkdir()
    (allowed / good_public.name).write_bytes(good_public.read_bytes())
    server_public = keys / "server.key"

    pub = local_publisher(security=ServerSecurity(server_secret, allowed))
    stop = threading.Event()

    def stream() -> None:
        i = 0
        while not stop.is_set():
            publish_series(pub, i, 1, interval=0.01)
            i += 1

    thread = threading.Thread(target=stream)
    thread.start()
    subs = {
        "good": Subscriber(
            pub.endpoint,
            pub.snapshot_endpoint,
            security=ClientSecurity(good_secret, server_public),
            gone_after=None,
        ),
        "intruder": Subscriber(
            pub.endpoint,
            pub.snapshot_endpoint,
            security=ClientSecurity(bad_secret, server_public),
            gone_after=None,
        ),
        "plain": Subscriber(pub.endpoint, pub.snapshot_endpoint, gone_after=None),
    }
    try:
        results: dict[str, list[Event]] = {}
        threads = [
            threading.Thread(target=lambda name=name, sub=sub: results.__setitem__(name, _collect(sub, 2.0)))
            for name, sub in subs.items()
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
    finally:
        stop.set()
        thread.join()
        pub.close()
        for sub in subs.values():
            sub.close()
    assert any(e.type == EventType.SNAPSHOT for e in results["good"])
    assert sum(e.type == EventType.UPDATE for e in results["good"]) > 10
    assert results["intruder"] == []
    assert results["plain"] == []
    assert subs["intruder"].stats.received == 0 and subs["plain"].stats.received == 0


def test_key_files_are_checked(tmp_path: Path) -> None:
    public, secret = generate_keys(tmp_path, "node")
    with pytest.raises(SecurityError, match="holds no secret key"):
        ClientSecurity(public, public)
    with pytest.raises(SecurityError, match="does not exist"):
        ClientSecurity(secret, tmp_path / "missing.key")
    with pytest.raises(SecurityError, match="not a folder"):
        ServerSecurity(secret, tmp_path / "nowhere")
    with pytest.raises(SecurityError, match="plain file name"):
        generate_keys(tmp_path, "../evil")


@pytest.mark.slow
def test_relay_fans_out_with_its_own_snapshots(tmp_path: Path) -> None:
    pub = local_publisher()
    relay = Relay(
        pub.endpoint,
        "tcp://127.0.0.1:*",
        upstream_snapshot=pub.snapshot_endpoint,
        state=OpaqueState(),
        heartbeat_timeout=1.0,
        snapshot_timeout=0.5,
    ).start()
    direct_out = tmp_path / "direct.json"
    direct = start_node(pub.endpoint, pub.snapshot_endpoint, direct_out)
    outs = [tmp_path / f"hop{i}.json" for i in range(2)]
    try:
        wait_connected(pub)
        publish_series(pub, 0, 150, interval=0.002)
        hops = [start_node(relay.endpoint, relay.snapshot_endpoint, out) for out in outs]  # late, via relay
        deadline = time.monotonic() + 15
        while relay.service_stats.snapshots < 2 and time.monotonic() < deadline:
            publish_series(pub, 1000, 1, interval=0.01)
        publish_series(pub, 2000, 150, interval=0.002)
    finally:
        pub.close()
    try:
        results = [node_result(proc, out) for proc, out in zip(hops, outs)]
        direct_result = node_result(direct, direct_out)
    finally:
        relay.stop()
    expected = pub.state.state_hash()
    assert direct_result["hash"] == expected
    for result in results:
        assert result["end"] == "end"
        assert result["hash"] == expected
    assert relay.stats.synced and relay.stats.rejected == 0
    assert relay.state.state_hash() == expected


def test_follow_survives_a_payload_the_state_cannot_apply() -> None:
    class Picky(OpaqueState):
        def apply(self, kind, payload):  # type: ignore[no-untyped-def]
            if payload.startswith(b"00000003"):
                raise ValueError("corrupt chunk")
            super().apply(kind, payload)

    pub = local_publisher()
    sub = Subscriber(pub.endpoint, pub.snapshot_endpoint, stop_on_end=True, gone_after=10)
    state = Picky()
    result: list[Event | None] = []
    thread = threading.Thread(target=lambda: result.append(follow(sub, state)))
    thread.start()
    try:
        wait_connected(pub)
        time.sleep(0.3)
        publish_series(pub, 0, 10, interval=0.01)
        time.sleep(0.5)
        publish_series(pub, 10, 10, interval=0.01)
    finally:
        pub.close()
    thread.join(15)
    sub.close()
    assert result and result[0] is not None and result[0].type == EventType.END
    assert sub.stats.snapshots >= 2  # resynchronised after the failure
    assert state.state_hash() == pub.state.state_hash()
