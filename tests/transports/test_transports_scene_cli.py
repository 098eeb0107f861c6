"""Real sessions end to end: recorder -> publisher -> ``gsp node`` processes, ``gsp serve``, ``gsp relay``."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from scene_helpers import CliProcess, file_state_hash, free_port_pair, gsp_record_example, record_animation

from player.replay import replay
from sessions import LogReader

pytestmark = [pytest.mark.timeout(90), pytest.mark.slow]


def test_recorded_session_to_cli_nodes_exact_copy_and_same_image(tmp_path: Path) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port_pair()}"
    copy, picture = tmp_path / "copy.gsplog", tmp_path / "node.png"
    saver = CliProcess("node", endpoint, "--save", str(copy), "--null", "--timeout", "30", "-v")
    painter = CliProcess(
        "node", endpoint, "--backend", "matplotlib", "-o", str(picture), "--timeout", "30", "-v"
    )
    original = tmp_path / "session.gsplog"

    def nodes_joined() -> None:
        saver.wait_for("synchronised to session")
        painter.wait_for("synchronised to session")

    try:
        record_animation(original, publish=endpoint, frames=20, before_calls=nodes_joined)
        saved, painted = saver.result(), painter.result()
    finally:
        saver.stop()
        painter.stop()
    assert copy.read_bytes() == original.read_bytes()  # an exact copy of the recorded file
    expected = file_state_hash(original)
    assert saved["state_hash"] == expected and saved["frames"] == 20  # the frames a --null node received
    assert painted["state_hash"] == expected and painted["frames"] == 20
    with LogReader(original) as reader:
        recorded = sum(1 for _ in reader.commands())
    for node in (saved, painted):  # the session's own commands; the empty snapshot it joined with apart
        assert (node["commands"], node["keyframes"]) == (recorded, 1), node
    reference = tmp_path / "reference.png"
    replay(original, "matplotlib", reference)
    node_pixels = np.asarray(Image.open(picture).convert("RGBA"))
    reference_pixels = np.asarray(Image.open(reference).convert("RGBA"))
    assert node_pixels.shape == reference_pixels.shape
    assert np.array_equal(node_pixels, reference_pixels)
    assert len(np.unique(node_pixels.reshape(-1, 4), axis=0)) > 10  # points were drawn


def test_gsp_record_wait_lets_a_waiting_node_save_an_exact_copy(tmp_path: Path) -> None:
    """A node started before ``gsp record --publish`` connects once the publisher binds, which
    the script's first calls outran: it resynchronised and its copy was not the log. --wait
    gives it the time, before the session's clock starts: the first call is at t = 0, not 1.5 s
    in (a replay used to show a blank canvas for the wait)."""
    endpoint = f"tcp://127.0.0.1:{free_port_pair()}"
    copy, log = tmp_path / "copy.gsplog", tmp_path / "rec.gsplog"
    node = CliProcess("node", endpoint, "--null", "--save", str(copy), "--timeout", "30")
    try:
        time.sleep(1.0)  # the node is up, no publisher yet
        recorded = gsp_record_example(log, endpoint, 10, 500, "--wait", "1.5")
        assert recorded.returncode == 0, recorded.stderr
        summary = node.result()
    finally:
        node.stop()
    assert summary["ended"] and summary["keyframes"] == 1  # the empty snapshot it joined with, no resync
    assert copy.read_bytes() == log.read_bytes()
    from sessions import LogReader

    with LogReader(log) as reader:
        first = next(iter(reader.commands()))
    assert first.t_ns < 0.5e9, first


def test_a_node_joining_after_the_last_frame_draws_the_scene_it_joined(tmp_path: Path) -> None:
    """A late joiner draws the renders of the snapshot it joins with: a session that renders no
    more (a static scene, a slow one) used to leave it blank, 0 frames and no picture."""
    endpoint = f"tcp://127.0.0.1:{free_port_pair()}"
    original, picture = tmp_path / "session.gsplog", tmp_path / "late.png"
    nodes: list[CliProcess] = []

    def join_late() -> None:
        nodes.append(CliProcess("node", endpoint, "-o", str(picture), "--timeout", "30", "-v"))
        nodes.append(CliProcess("node", endpoint, "--null", "--timeout", "30", "-v"))
        for node in nodes:
            node.wait_for("synchronised to session")

    try:
        record_animation(original, publish=endpoint, frames=5, after_calls=join_late)
        painted, applied = (node.result() for node in nodes)
    finally:
        for node in nodes:
            node.stop()
    assert painted["frames"] == applied["frames"] == 1  # the scene as joined, as every node counts it
    assert painted["state_hash"] == applied["state_hash"] == file_state_hash(original)
    reference = tmp_path / "reference.png"
    replay(original, "matplotlib", reference)
    assert np.array_equal(np.asarray(Image.open(picture)), np.asarray(Image.open(reference)))


def test_serve_relay_and_late_nodes_end_equal(tmp_path: Path) -> None:
    session = tmp_path / "session.gsplog"
    record_animation(session, frames=60, interval=0.04)  # 2.4 s recorded, served in 6 s
    serve_port, relay_port = free_port_pair(), free_port_pair()
    while abs(relay_port - serve_port) < 2:
        relay_port = free_port_pair()
    upstream, downstream = f"tcp://127.0.0.1:{serve_port}", f"tcp://127.0.0.1:{relay_port}"
    server = CliProcess("serve", str(session), "--bind", upstream, "--wait", "1.5", "--speed", "0.4")
    relay = CliProcess("relay", "--sub", upstream, "--pub", downstream)
    early = CliProcess(
        "node", upstream, "--save", str(tmp_path / "early.gsplog"), "--null", "--timeout", "30"
    )
    try:
        copy = tmp_path / "early.gsplog"
        deadline = time.monotonic() + 20
        while not (copy.exists() and copy.stat().st_size > 2000):  # the first chunks went out
            assert time.monotonic() < deadline, "the early node saved nothing"
            time.sleep(0.02)
        # The session is under way: the next nodes join late.
        late = CliProcess("node", upstream, "--null", "--timeout", "30")
        hop = CliProcess("node", downstream, "--null", "--timeout", "30")
        results = [proc.result() for proc in (early, late, hop)]
        server.proc.wait(30)
        assert server.proc.returncode == 0
    finally:
        for proc in (server, relay, early):
            proc.stop()
    expected = file_state_hash(session)
    for result in results:
        assert result["state_hash"] == expected, result
    assert (tmp_path / "early.gsplog").read_bytes() == session.read_bytes()
    assert results[1]["commands"] < results[0]["commands"]  # the late node started from a snapshot


def test_a_late_node_behind_an_opaque_relay_joins_from_its_glued_snapshot(tmp_path: Path) -> None:
    """An --opaque relay's snapshot is the last keyframe and every chunk since, end to end: a
    late node used to refuse it ("chunk has N bytes, its header declares M") and draw nothing."""
    session = tmp_path / "session.gsplog"
    record_animation(session, frames=40, interval=0.04)
    serve_port, relay_port = free_port_pair(), free_port_pair()
    while abs(relay_port - serve_port) < 2:
        relay_port = free_port_pair()
    upstream, downstream = f"tcp://127.0.0.1:{serve_port}", f"tcp://127.0.0.1:{relay_port}"
    relay = CliProcess("relay", "--opaque", "--sub", upstream, "--pub", downstream)
    early = CliProcess("node", downstream, "--save", str(tmp_path / "early.gsplog"), "--null", "--timeout", "30")
    server = CliProcess("serve", str(session), "--bind", upstream, "--wait", "1.5", "--speed", "0.4")
    try:
        copy = tmp_path / "early.gsplog"
        deadline = time.monotonic() + 20
        while not (copy.exists() and copy.stat().st_size > 4000):  # several chunks went through
            assert time.monotonic() < deadline, "the early node saved nothing"
            time.sleep(0.02)
        late = CliProcess("node", downstream, "-o", str(tmp_path / "late.png"), "--timeout", "30", "-v")
        results = [proc.result() for proc in (early, late)]
        assert server.proc.wait(30) == 0
    finally:
        for proc in (server, relay, early):
            proc.stop()
    assert not any("cannot decode" in line for line in late.lines), "".join(late.lines)[-2000:]
    expected = file_state_hash(session)
    assert [result["state_hash"] for result in results] == [expected, expected]
    joined = [int(line.rsplit("at update", 1)[1]) for line in late.lines if "synchronised to session" in line]
    assert joined and joined[0] > 0  # it joined part way, from the relay's snapshot
    assert results[1]["commands"] == results[0]["commands"]  # no keyframe yet: the snapshot held every chunk
    reference = tmp_path / "reference.png"
    replay(session, "matplotlib", reference)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "late.png")), np.asarray(Image.open(reference)))


def _serve_to_one_node(session: Path, port: int, serve_args: list[str],
                       node_args: list[str]) -> tuple[dict[str, Any], list[str]]:
    """``gsp serve`` of ``session`` to one ``gsp node`` on ``port``: the node's JSON line and the
    server's stderr lines, once both ended (the server with exit code 0)."""
    endpoint = f"tcp://127.0.0.1:{port}"
    server = CliProcess("serve", str(session), "--bind", endpoint, *serve_args)
    node = CliProcess("node", endpoint, *node_args)
    try:
        result = node.result()
        server.proc.wait(30)
        assert server.proc.returncode == 0, "".join(server.lines)[-3000:]
    finally:
        for proc in (server, node):
            proc.stop()
    return result, server.lines


def test_serve_sends_a_linked_keyframe_as_the_keyframe_it_stands_for(tmp_path: Path) -> None:
    """A file's LINKED_KEYFRAME points into the file; on the wire it travels self-contained, and
    a node saving the stream gets a log that verifies and ends in the same state."""
    from sessions import ChunkKind, LogReader, SceneState, tools

    session = Path(__file__).resolve().parents[1] / "sessions" / "golden" / "linked_v1_2.gsplog"
    copy = tmp_path / "copy.gsplog"
    result, _ = _serve_to_one_node(session, free_port_pair(), ["--wait", "2"], ["--save", str(copy), "--null", "--timeout", "30"])
    assert result["state_hash"] == file_state_hash(session)
    assert tools.verify(copy).ok
    with LogReader(session) as original, LogReader(copy) as saved:
        assert [original.index.entries[i].kind for i in original.index.keyframes] == [
            ChunkKind.LINKED_KEYFRAME, ChunkKind.KEYFRAME]
        assert [saved.index.entries[i].kind for i in saved.index.keyframes] == [ChunkKind.KEYFRAME] * 2
        states = [SceneState(), SceneState()]
        for state, reader in zip(states, (original, saved)):
            for command in reader.keyframe_commands(reader.index.keyframes[0]):
                state.apply(command)
        assert states[0].state_hash() == states[1].state_hash()


def test_a_node_holds_its_scene_to_max_scene_gib(tmp_path: Path) -> None:
    """The golden session's scene holds 264 000 bytes: a node bound to 0.0001 GiB (107 374 bytes)
    refuses the command that would pass that, says so and goes on; a node with the default bound
    ends in the recorded state."""
    session = Path(__file__).resolve().parents[1] / "sessions" / "golden" / "linked_v1_2.gsplog"
    endpoint = f"tcp://127.0.0.1:{free_port_pair()}"
    server = CliProcess("serve", str(session), "--bind", endpoint, "--wait", "2")
    bounded = CliProcess("node", endpoint, "--null", "--timeout", "30", "--max-scene-gib", "0.0001")
    unbounded = CliProcess("node", endpoint, "--null", "--timeout", "30")
    try:
        refused, applied = bounded.result(), unbounded.result()
        server.proc.wait(30)
    finally:
        for proc in (server, bounded, unbounded):
            proc.stop()
    assert applied["state_hash"] == file_state_hash(session)
    assert refused["state_hash"] != applied["state_hash"]
    assert any("Limits.max_scene_bytes" in line and "the scene would hold" in line for line in bounded.lines)
    assert not any("max_scene_bytes" in line for line in unbounded.lines)


def test_a_relay_holds_its_snapshot_scene_to_max_scene_gib(tmp_path: Path) -> None:
    """A relay keeps the stream's scene to serve snapshots: bound to 0.0001 GiB, it refuses the
    golden session's 264 000-byte scene and says why, rather than building it."""
    session = Path(__file__).resolve().parents[1] / "sessions" / "golden" / "linked_v1_2.gsplog"
    serve_port, relay_port = free_port_pair(), free_port_pair()
    while abs(relay_port - serve_port) < 2:
        relay_port = free_port_pair()
    upstream, downstream = f"tcp://127.0.0.1:{serve_port}", f"tcp://127.0.0.1:{relay_port}"
    relay = CliProcess("relay", "--sub", upstream, "--pub", downstream, "--max-scene-gib", "0.0001", "-v")
    server = CliProcess("serve", str(session), "--bind", upstream, "--wait", "1", "--loop")
    try:
        relay.wait_for("Limits.max_scene_bytes", timeout=30)
    finally:
        for proc in (server, relay):
            proc.stop()
    refusals = [line for line in relay.lines if "Limits.max_scene_bytes" in line]
    assert all("would hold" in line and "over the limit" in line for line in refusals), refusals


def test_a_rendering_node_outlives_a_frame_it_cannot_draw(tmp_path: Path) -> None:
    """A damaged or hostile session's render that the backend refuses is logged and skipped;
    the node draws the other frames and says how many it skipped."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "player"))
    from player_sessions import record_moving_disc, with_undrawable_render

    original = record_moving_disc(tmp_path / "disc.gsplog", 5)
    assert original is not None
    damaged = with_undrawable_render(original, tmp_path / "damaged.gsplog", frame=3)
    endpoint = f"tcp://127.0.0.1:{free_port_pair()}"
    picture = tmp_path / "node.png"
    node = CliProcess("node", endpoint, "--backend", "matplotlib", "-o", str(picture), "--timeout", "30")
    server = CliProcess("serve", str(damaged), "--bind", endpoint, "--wait", "2")
    try:
        result = node.result()
        server.proc.wait(30)
    finally:
        for proc in (server, node):
            proc.stop()
    assert result["frames"] == 4 and result["errors"] == 1, result  # frame 3 skipped, the node went on
    assert any("frame 3, seq" in line and "cannot draw it" in line for line in node.lines)
    reference = tmp_path / "reference.png"
    replay(original, "matplotlib", reference)  # the last frame, drawn from the undamaged session
    assert np.array_equal(np.asarray(Image.open(picture)), np.asarray(Image.open(reference)))


def test_nodes_import_the_users_link_module_with_links_and_serve_needs_none(tmp_path: Path) -> None:
    """A session drawn through the user's own transform link: a node without --links skipped its
    command and drew a wrong picture without a word beyond a warning, exit status 0; now it
    counts it (unknown_links), names the type and --links, and exits 1. A node given --links
    draws it, also when it joins late: `gsp serve`, without --links, keeps the link as recorded
    in the scene its snapshots are made of (it once dropped it there, and late joiners lacked it)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "player"))
    from player_sessions import record_custom_link_session

    session = record_custom_link_session(tmp_path)  # two frames, 0.4 s apart
    links = str(tmp_path / "lablinks.py")
    endpoint = f"tcp://127.0.0.1:{free_port_pair()}"
    picture = tmp_path / "late.png"
    early = CliProcess("node", endpoint, "--null", "--timeout", "30", "-v")
    server = CliProcess("serve", str(session), "--bind", endpoint, "--wait", "2", "--speed", "0.08", "-v")
    late: CliProcess | None = None
    try:
        early.wait_for("synchronised to session")  # the second frame comes 5 s later
        late = CliProcess("node", endpoint, "-o", str(picture), "--links", links, "--timeout", "30", "-v")
        late.wait_for("synchronised to session")
        lacking, drawn = early.result(code=1), late.result()
        server.proc.wait(30)
    finally:
        for proc in (server, early, late):
            if proc is not None:
                proc.stop()
    assert lacking["unknown_links"] == {"LabScaleLink": 1} and lacking["frames"] == 2, lacking
    said = "".join(early.lines)
    assert "'LabScaleLink' is not registered" in said and "--links" in said
    assert drawn["unknown_links"] == {} and drawn["keyframes"] >= 1, drawn  # joined from a snapshot
    assert "is not registered" not in "".join(server.lines)
    rgba = np.asarray(Image.open(picture).convert("RGBA"))
    assert ((rgba[..., 0] > 200) & (rgba[..., 1] < 80)).sum() > 200  # the points the link scaled into view


def test_serve_leaves_out_a_damaged_chunk_and_the_nodes_go_on(tmp_path: Path) -> None:
    """A chunk whose checksum fails is not forwarded (the publisher's own state could not apply
    it either, and would refuse snapshots until the next keyframe): the node gets every other
    chunk, the session's END, and the state of a replay that skips the same chunk."""
    from sessions import LogReader, SceneState

    session, damaged = tmp_path / "session.gsplog", tmp_path / "damaged.gsplog"
    record_animation(session, frames=30, interval=0.005)
    with LogReader(session) as reader:
        chunks = [e for e in reader.index.entries if e.kind == 1]  # COMMANDS
        victim = chunks[len(chunks) // 2]
        kept = [c for c in reader.commands() if not victim.seq_first <= c.seq <= victim.seq_last]
    data = bytearray(session.read_bytes())
    data[victim.offset + victim.size - 3] ^= 0x20  # inside the payload: the checksum fails
    damaged.write_bytes(data)
    result, served = _serve_to_one_node(damaged, free_port_pair(), ["--wait", "1.5", "--speed", "4"],
                                        ["--null", "--timeout", "20"])
    assert any("left out a damaged chunk" in line and "checksum mismatch" in line for line in served)
    expected = SceneState()
    for command in kept:
        expected.apply(command)
    assert result["commands"] == len(kept) and result["state_hash"] == expected.state_hash(), result


def test_a_resync_behind_an_opaque_state_draws_and_saves_nothing_twice(tmp_path: Path) -> None:
    """An opaque publisher's (or relay's) snapshot repeats every chunk since its last keyframe:
    a node that resynchronised mid-session drew those frames again and wrote those chunks again
    into its --save copy, seqs going backwards."""
    import threading

    from player.engine import ReplayEngine
    from sessions import tools
    from transports.live_log import LiveCopy, LiveTally, live_commands
    from transports.publisher import Publisher
    from transports.state import OpaqueState
    from transports.subscriber import Subscriber

    session = tmp_path / "session.gsplog"
    data, header, chunks = _recorded_chunks(session)
    pub = Publisher("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", state=OpaqueState(), heartbeat_interval=0.05,
                    session_header=header)
    sub = Subscriber(pub.endpoint, pub.snapshot_endpoint, stop_on_end=True, gone_after=20)
    copy, tally = LiveCopy(tmp_path / "copy.gsplog"), LiveTally()
    engine = ReplayEngine("null", image="none", joined_live=True)
    frames: list[int] = []

    def node() -> None:
        for rendered in engine.frames(live_commands(sub, None, copy, tally)):
            frames.append(rendered.number)
            if len(frames) == 3:
                sub.resync("the test asks for a snapshot mid-session")

    thread = threading.Thread(target=node)
    thread.start()
    try:
        _publish_to_a_joined_node(pub, data, chunks, pause_s=0.15)  # time for the node's resync between chunks
        thread.join(30)
    finally:
        sub.close()
    assert not thread.is_alive() and tally.ended
    assert pub.service_stats.snapshots >= 2  # the resync's snapshot: every chunk so far, again
    assert frames == list(range(1, 13))  # each frame drawn once, in order
    assert tools.verify(tmp_path / "copy.gsplog").ok
    with LogReader(tmp_path / "copy.gsplog") as saved:
        seqs = [c.seq for c in saved.commands()]
    assert seqs == sorted(set(seqs)) and file_state_hash(tmp_path / "copy.gsplog") == file_state_hash(session)


def test_a_node_that_skips_ahead_draws_the_snapshots_renders(tmp_path: Path) -> None:
    """A node that falls behind drops what waits and skips to a fresh snapshot. The snapshot's
    renders are drawn when they are newer than the node's last frame: a slow node that skipped
    the session's last render used to end on an older picture than the log's."""
    import threading

    from player.engine import ReplayEngine
    from transports.live_log import LiveTally, live_commands
    from transports.publisher import Publisher
    from transports.scene_state import SceneStreamState
    from transports.subscriber import Subscriber

    session = tmp_path / "session.gsplog"
    data, header, chunks = _recorded_chunks(session)
    pub = Publisher("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", state=SceneStreamState(), heartbeat_interval=0.05,
                    session_header=header, end_grace=10)
    sub = Subscriber(pub.endpoint, pub.snapshot_endpoint, stop_on_end=True, gone_after=20, max_queue_bytes=1)
    engine = ReplayEngine("matplotlib", image="rgba", joined_live=True)
    frames: list[Any] = []

    def slow_node() -> None:
        for frame in engine.frames(live_commands(sub, None, None, LiveTally())):
            frames.append(frame)
            time.sleep(0.5)  # more than the whole session takes to publish: updates pile up

    thread = threading.Thread(target=slow_node)
    thread.start()
    try:
        _publish_to_a_joined_node(pub, data, chunks, pause_s=0.02)
        thread.join(30)
    finally:
        sub.close()
    assert not thread.is_alive() and sub.stats.behind >= 1 and sub.stats.skipped > 0
    with LogReader(session) as reader:
        last = list(ReplayEngine("matplotlib", image="rgba").frames(reader.commands()))[-1]
    assert 2 <= len(frames) < 12 and np.array_equal(frames[-1].rgba, last.rgba)


def _publish_to_a_joined_node(pub: Any, data: bytes, chunks: list[tuple[int, int]], pause_s: float) -> None:
    """Once a node has joined (``pub`` served its empty snapshot), publish the log's chunks
    (``(offset, size)`` in ``data``) ``pause_s`` apart, then end the session."""
    from transports.protocol import PayloadKind

    deadline = time.monotonic() + 20
    while pub.service_stats.snapshots < 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    for offset, size in chunks:
        pub.publish(data[offset:offset + size], PayloadKind.DELTA)
        time.sleep(pause_s)
    pub.close()


def _recorded_chunks(session: Path) -> tuple[bytes, bytes, list[tuple[int, int]]]:
    """Record a 12-frame animation into ``session``: its bytes, its file header, and the
    (offset, size) of its COMMANDS chunks (at least 4), for a test to publish one by one."""
    from sessions import ChunkKind

    record_animation(session, frames=12, interval=0.01)
    data = session.read_bytes()
    with LogReader(session) as reader:
        chunks = [(e.offset, e.size) for e in reader.index.entries if e.kind == ChunkKind.COMMANDS]
        header = data[:reader.header.size]
    assert len(chunks) >= 4
    return data, header, chunks


def test_a_node_behind_an_opaque_relay_counts_each_command_once_across_a_resync(tmp_path: Path) -> None:
    """An opaque relay drops a damaged chunk: its node sees the gap (an update, or a heartbeat,
    past its last) and resynchronises from the relay's snapshot, which repeats every chunk
    since the keyframe. The node counted the chunks it already had a second time in its
    ``commands`` (124 of the 71 it applied); each command counts once."""
    from sessions import SceneState
    from transports.protocol import PayloadKind
    from transports.publisher import Publisher
    from transports.scene_state import SceneStreamState

    session = tmp_path / "session.gsplog"
    data, header, chunks = _recorded_chunks(session)
    victim = len(chunks) // 2  # a few chunks before it reach the node, a few after
    damaged = bytearray(data[chunks[victim][0]:sum(chunks[victim])])
    damaged[-1] ^= 0xFF  # its payload checksum fails: the relay drops it
    with LogReader(session) as reader:
        entry = next(e for e in reader.index.entries if e.offset == chunks[victim][0])
        kept = [c for c in reader.commands() if not entry.seq_first <= c.seq <= entry.seq_last]
    pub = Publisher("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", state=SceneStreamState(), heartbeat_interval=0.05,
                    session_header=header)
    downstream = f"tcp://127.0.0.1:{free_port_pair()}"
    relay = CliProcess("relay", "--opaque", "--sub", pub.endpoint, "--sub-snapshot", pub.snapshot_endpoint,
                       "--pub", downstream, "-v")
    node = CliProcess("node", downstream, "--null", "--timeout", "30", "-v")
    try:
        relay.wait_for("relay synchronised to session")
        node.wait_for("synchronised to session")
        time.sleep(0.3)  # the node's subscription reaches the relay
        for number, (offset, size) in enumerate(chunks):
            pub.publish(bytes(damaged) if number == victim else data[offset:offset + size], PayloadKind.DELTA)
            time.sleep(0.1)
        pub.close()
        result = node.result()
    finally:
        pub.close()
        for proc in (relay, node):
            proc.stop()
    assert any("skipped to update" in line for line in node.lines), "".join(node.lines)[-3000:]  # it resynced
    expected = SceneState()
    for command in kept:
        expected.apply(command)
    assert result["ended"] and result["resyncs"] >= 1, result
    assert result["state_hash"] == expected.state_hash(), result
    assert result["commands"] == len(kept), result  # each command once, the resync's repeats apart


def test_a_relay_serves_the_final_state_for_its_end_grace_once_its_upstream_is_gone(tmp_path: Path) -> None:
    """After its session's END a relay refused its nodes once the upstream fell silent (past its
    heartbeat timeout), and sent no END: a node joining the relay after the publisher exited
    got no state, or a state and never the END (exit 1, "ended": false). It serves the final
    state for --end-grace after the last END it heard, repeating the END, then stops serving."""
    session, picture = tmp_path / "session.gsplog", tmp_path / "late.png"
    record_animation(session, frames=5)
    serve_port, relay_port = free_port_pair(), free_port_pair()
    while abs(relay_port - serve_port) < 2:
        relay_port = free_port_pair()
    upstream, downstream = f"tcp://127.0.0.1:{serve_port}", f"tcp://127.0.0.1:{relay_port}"
    relay = CliProcess("relay", "--sub", upstream, "--pub", downstream, "--end-grace", "5", "-v")
    server = CliProcess("serve", str(session), "--bind", upstream, "--wait", "1")
    late = None
    try:
        relay.wait_for("relay synchronised to session")
        assert server.proc.wait(30) == 0  # the session ended and its publisher is gone
        late = CliProcess("node", downstream, "-o", str(picture), "--timeout", "15", "-v")
        summary = late.result(timeout=30)
        relay.wait_for("its final state is no longer served", timeout=30)
        assert relay.proc.poll() is None  # it waits for the upstream's next session
    finally:
        for proc in (server, relay, late):
            if proc is not None:
                proc.stop()
    assert summary["ended"] is True and summary["state_hash"] == file_state_hash(session), summary
    reference = tmp_path / "reference.png"
    replay(session, "matplotlib", reference)
    assert np.array_equal(np.asarray(Image.open(picture)), np.asarray(Image.open(reference)))


def test_serve_end_grace_serves_the_final_state_to_a_node_joining_after_the_end(tmp_path: Path) -> None:
    """`gsp serve` had no --end-grace: its final state was served for the publisher's 1 s after
    the END. With --end-grace 8, a node joining 1.5 s after the session ended (past the default
    grace) still ends with the session's final state."""
    session = tmp_path / "session.gsplog"
    record_animation(session, frames=4)

    def after_the_end(first: dict[str, Any], server: CliProcess) -> None:
        assert first["ended"] is True
        time.sleep(1.5)  # past the default grace of 1 s after the END
        assert server.proc.poll() is None  # still serving the final state

    _, summary, _ = _serve_then_join_late(session, after_the_end, "-v")
    assert summary["ended"] is True and summary["state_hash"] == file_state_hash(session), summary


def _serve_then_join_late(log: Path, between: Callable[[dict[str, Any], CliProcess], None] | None,
                          *node_args: str) -> tuple[dict[str, Any], dict[str, Any], CliProcess]:
    """``gsp serve LOG --end-grace 8`` with a node following from the start, then, once that node
    has its summary (and ``between(summary, server)`` ran), a second node joining late: (first
    summary, late summary, the server, ended with status 0)."""
    endpoint = f"tcp://127.0.0.1:{free_port_pair()}"
    first = CliProcess("node", endpoint, "--timeout", "20", *node_args)  # connected: the publisher waits its grace
    server = CliProcess("serve", str(log), "--bind", endpoint, "--wait", "1", "--end-grace", "8")
    late = None
    try:
        followed = first.result(timeout=30)
        if between is not None:
            between(followed, server)
        late = CliProcess("node", endpoint, "--timeout", "10", *node_args)
        joined = late.result(timeout=30)
        assert server.proc.wait(30) == 0
    finally:
        for proc in (server, first, late):
            if proc is not None:
                proc.stop()
    return followed, joined, server


def test_serve_leaves_out_a_command_it_cannot_apply_and_still_serves_late_nodes(tmp_path: Path) -> None:
    """One command of a served log that the scene cannot take (here a canvas of 10^6 x 10^6,
    over --max-scene-gib) made `gsp serve` refuse every snapshot ("state resynchronising")
    until a keyframe, for good in a log without one: a node joining late never got the session.
    The command is now logged and left out, as every node leaves it out, and a late node ends
    in the state of one that followed from the start."""
    from sessions import Command, LogWriter

    session = tmp_path / "session.gsplog"
    record_animation(session, frames=3)
    with LogReader(session) as reader:
        commands = list(reader.commands())
    viewport = next(c.target for c in commands if c.op == "Viewport.new")
    last = commands[-1]
    with LogWriter(tmp_path / "hostile.gsplog", keyframes=False) as writer:
        for command in commands:
            writer.append(command)
        writer.flush()
        writer.append(Command(last.seq + 1, last.t_ns + 1, "Canvas.new", "huge", (10**6, 10**6, 100.0, bytearray(4))))
        writer.append(Command(last.seq + 2, last.t_ns + 2, "Viewport.set_x", viewport, (7,)))
    followed, joined, server = _serve_then_join_late(tmp_path / "hostile.gsplog", None, "--null")
    assert followed["ended"] is True and followed["errors"] == 1, followed
    assert joined["ended"] is True and joined["state_hash"] == followed["state_hash"], joined
    assert any("left out of the scene served to late joiners" in line and "Canvas.new" in line
               for line in server.lines)
