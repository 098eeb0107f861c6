"""Slow and stalled nodes on real sockets: memory stays bounded in bytes on both sides, and a node
that fell behind skips to the newest state (and says so) instead of working through a backlog."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from scene_helpers import CliProcess, file_state_hash, free_port_pair, gsp_record_example
from transport_helpers import (
    PeakMemory,
    local_publisher,
    node_result,
    start_node,
    wait_connected,
)

from transports.protocol import PayloadKind

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

MB = 1 << 20
# The documented bounds (docs/live.md, "Slow and stalled nodes").
PUBLISHER_HWM = 32  # messages a publisher queues for one node
NODE_QUEUE = 64 * MB  # bytes of updates a node lets wait for its consumer
BIG = 4 * MB  # a chunk of a 350 k-point frame


def _big(i: int) -> bytes:
    """A distinct 4 MiB payload, every page written (so that it is resident while held)."""
    return b"%08d;" % i + bytes([i % 251]) * (BIG - 9)


def test_a_stalled_node_costs_the_publisher_its_hwm_and_then_skips_to_the_final_state(tmp_path: Path) -> None:
    """QA: a node stopped (SIGSTOP) after it joined made the publisher hold every chunk sent
    meanwhile (SNDHWM 1000 messages of up to 12 MB); once resumed, the node took that whole
    backlog in. Now the publisher holds PUBLISHER_HWM chunks for it, and the resumed node
    skips to the newest state, with at most its queue's bytes waiting."""
    pub = local_publisher()
    out = tmp_path / "node.json"
    node = start_node(pub.endpoint, pub.snapshot_endpoint, out)
    own = os.getpid()
    try:
        wait_connected(pub)
        for i in range(3):  # it follows
            pub.publish(_big(i), PayloadKind.KEYFRAME)
        time.sleep(1.0)
        node_memory = PeakMemory(node.pid)
        os.kill(node.pid, signal.SIGSTOP)
        publisher_memory = PeakMemory(own)
        for i in range(3, 103):  # 400 MiB the stalled node cannot take
            pub.publish(_big(i), PayloadKind.KEYFRAME)
            time.sleep(0.02)
        time.sleep(0.5)
        publisher_peak = publisher_memory.stop()
        os.kill(node.pid, signal.SIGCONT)
        served = pub.service_stats.snapshots
        deadline = time.monotonic() + 20
        while pub.service_stats.snapshots == served:  # it resynchronises
            assert time.monotonic() < deadline, "the resumed node asked for no snapshot"
            time.sleep(0.02)
        for i in range(103, 106):
            pub.publish(_big(i), PayloadKind.KEYFRAME)
            time.sleep(0.05)
    finally:
        os.kill(node.pid, signal.SIGCONT)
        pub.close()
    result = node_result(node, out)
    node_peak = node_memory.stop()
    # The publisher: its HWM's worth of chunks for the stalled node (plus one in libzmq's hands,
    # and the allocator's slack); the 100 chunks would be 400 MiB.
    assert publisher_peak - publisher_memory.first < (PUBLISHER_HWM + 4) * BIG, (
        f"publisher grew by {(publisher_peak - publisher_memory.first) / MB:.0f} MiB"
    )
    stats = result["stats"]
    assert stats["peak_queued_bytes"] <= NODE_QUEUE + BIG
    assert node_peak - node_memory.first < NODE_QUEUE + 16 * BIG, (
        f"node grew by {(node_peak - node_memory.first) / MB:.0f} MiB"
    )
    assert stats["skipped"] > 0 and stats["resyncs"] >= 1
    assert stats["delivered"] < 60  # it did not work through the backlog
    assert result["end"] == "end"
    assert result["hash"] == pub.state.state_hash()


def test_a_slow_node_skips_to_the_newest_state_and_ends_with_the_final_one(tmp_path: Path) -> None:
    """A consumer that takes 0.3 s an update while 4 MiB updates come 40 times a second: its
    reader thread keeps reading, the queue stays within its bytes, and the node skips."""
    pub = local_publisher()
    out = tmp_path / "slow.json"
    node = start_node(pub.endpoint, pub.snapshot_endpoint, out, "--sleep", "0.3")
    try:
        wait_connected(pub)
        time.sleep(0.3)
        for i in range(120):  # 480 MiB in 3 s: 40 s of work for this node
            pub.publish(b"%08d;" % i + bytes([i % 251]) * (4 * MB), PayloadKind.KEYFRAME)
            time.sleep(0.025)
    finally:
        pub.close()
    ended = time.monotonic()
    result = node_result(node, out)
    assert time.monotonic() - ended < 10  # it did not draw the backlog after the session ended
    stats = result["stats"]
    assert stats["behind"] >= 1 and stats["skipped"] > 0
    assert stats["peak_queued_bytes"] <= NODE_QUEUE + 5 * MB
    assert result["end"] == "end"
    assert result["hash"] == pub.state.state_hash()


def test_a_slow_render_node_reports_what_it_skipped_and_ends_with_the_logs_scene(tmp_path: Path) -> None:
    """The QA repro in small: ``gsp node --backend matplotlib`` drawing 400 k points a frame
    while ``gsp record --publish`` sends a 4.8 MB chunk a frame as fast as it records them."""
    endpoint = f"tcp://127.0.0.1:{free_port_pair()}"
    node = CliProcess("node", endpoint, "--backend", "matplotlib", "-o", str(tmp_path / "node.png"),
                      "--timeout", "60", "-v")
    log = tmp_path / "session.gsplog"
    try:
        recorded = gsp_record_example(log, endpoint, 50, 400_000, "--wait", "1.5", timeout=90)
        ended = time.monotonic()
        assert recorded.returncode == 0, recorded.stderr
        summary = node.result(timeout=60)
    finally:
        node.stop()
    assert time.monotonic() - ended < 20  # it did not draw the backlog after the session ended
    assert summary["ended"] is True
    assert summary["state_hash"] == file_state_hash(log)  # the final scene
    assert summary["behind"] >= 1 and summary["skipped"] > 0 and summary["resyncs"] >= 1
    assert summary["frames"] < 50
    assert summary["peak_queued_bytes"] <= NODE_QUEUE + 5 * MB  # its bound, and one chunk past it
    said = "".join(node.lines)
    assert "updates behind, skipped to update" in said, said[-3000:]
