"""``gsp node`` across sessions: a publisher killed and restarted, a session that published nothing,
a session without a frame; real ``gsp serve`` and ``gsp node`` processes on 127.0.0.1."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scene_helpers import CliProcess, file_state_hash, free_port_pair, record_animation

from player.replay import replay
from sessions import LogReader, tools

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


def _wait_until(condition, what: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_publisher_killed_and_restarted_makes_two_sessions_not_one(tmp_path: Path) -> None:
    """QA: a `gsp serve` SIGKILLed mid-session and a new one on the same port were merged into
    one session: the --save node warned that its copy held the first session unterminated, yet
    exited 0 with "ended": true and the commands of both; a --keep-going node wrote no -2
    output. The first session did not end: exit 1 without --keep-going; with it, two sessions,
    two outputs. The summary names the (last) session it drew ("session" was null)."""
    first, second = tmp_path / "first.gsplog", tmp_path / "second.gsplog"
    record_animation(first, frames=60, interval=0.02)
    record_animation(second, frames=4)
    endpoint = f"tcp://127.0.0.1:{free_port_pair()}"
    copy, picture = tmp_path / "copy.gsplog", tmp_path / "last.png"
    saver = CliProcess("node", endpoint, "--null", "--save", str(copy), "--timeout", "20", "-v")
    keeper = CliProcess("node", endpoint, "--keep-going", "-o", str(picture), "--timeout", "3", "-v")
    killed = CliProcess("serve", str(first), "--bind", endpoint, "--wait", "1", "--speed", "0.2")
    restarted = None
    try:
        saver.wait_for("synchronised to session")
        keeper.wait_for("synchronised to session")
        with LogReader(first) as reader:
            header = reader.header.size  # the copy's: it holds the session's own header
        _wait_until(lambda: copy.exists() and copy.stat().st_size > header, "no update reached the copy")
        killed.proc.send_signal(signal.SIGKILL)
        killed.proc.wait(10)
        restarted = CliProcess("serve", str(second), "--bind", endpoint, "--wait", "0.5")
        saved = saver.result(timeout=60, code=1)
        kept = keeper.result(timeout=60)
        assert restarted.proc.wait(30) == 0
    finally:
        for process in (killed, restarted, saver, keeper):
            if process is not None:
                process.stop()
    assert saved["sessions"] == 1 and saved["ended"] is False and saved["save_error"] is None
    assert "the session did not end" in "".join(saver.lines)
    with LogReader(first) as reader:
        in_first = sum(1 for _ in reader.commands())
    assert 0 < saved["commands"] < in_first  # the first session's only
    report = tools.verify(copy)
    assert not report.ok and report.footer_offset is None and not report.damaged  # unterminated, intact
    with LogReader(copy) as reader:
        assert sum(1 for _ in reader.commands()) == saved["commands"]
    assert kept["sessions"] == 2 and kept["ended"] is True
    assert kept["outputs"] == [str(picture), str(tmp_path / "last-2.png")]
    assert kept["state_hash"] == file_state_hash(second)
    assert re.fullmatch("[0-9a-f]{32}", kept["session"]) and kept["session"] != saved["session"]
    assert re.fullmatch("[0-9a-f]{32}", saved["session"])
    reference = tmp_path / "reference.png"
    replay(second, "matplotlib", reference)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "last-2.png")), np.asarray(Image.open(reference)))


def test_a_session_that_published_nothing_is_no_session(tmp_path: Path) -> None:
    """QA: `gsp serve` stopped (SIGTERM) during its --wait announced an empty session: a
    --keep-going node counted it ("sessions": 2 after a real one), and a `gsp node -o E.png`
    exited 0 with no file while `gsp replay ... -o X.png` exited 2 ("no rendered frame, nothing
    written"). A session that published nothing is not counted: a node waits for the next one,
    and one that got none says so, naming its output."""
    session = tmp_path / "s.gsplog"
    record_animation(session, frames=3)
    endpoint = f"tcp://127.0.0.1:{free_port_pair()}"
    picture = tmp_path / "E.png"
    single = CliProcess("node", endpoint, "-o", str(picture), "--timeout", "3", "-v")
    keeper = CliProcess("node", endpoint, "--keep-going", "--null", "--timeout", "3", "-v")
    server = CliProcess("serve", str(session), "--bind", endpoint, "--wait", "60")
    try:
        single.wait_for("synchronised to session")
        keeper.wait_for("synchronised to session")
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 143
        alone = single.result(timeout=60, code=1)
        kept = keeper.result(timeout=60, code=1)
    finally:
        for process in (server, single, keeper):
            process.stop()
    said = "".join(single.lines)
    assert f"{endpoint}: the session has no rendered frame, nothing written to {picture}" in said, said
    assert not picture.exists() and alone["outputs"] == [] and alone["sessions"] == 0
    assert kept["sessions"] == 0 and kept["state_hash"] is None and kept["session"] is None
    assert f"{endpoint}: the session published nothing" in "".join(keeper.lines)


def test_node_and_replay_agree_on_a_session_without_a_frame(tmp_path: Path) -> None:
    """A session of commands that renders nothing: `gsp replay tcp://... -o X.png` failed
    naming its output, `gsp node -o N.png` exited 0 with "outputs": [] and no file."""
    session = tmp_path / "s.gsplog"
    record_animation(session, frames=0)
    endpoint = f"tcp://127.0.0.1:{free_port_pair()}"
    node_picture, replay_picture = tmp_path / "N.png", tmp_path / "X.png"
    node = CliProcess("node", endpoint, "-o", str(node_picture), "--timeout", "20", "-v")
    player = CliProcess("replay", endpoint, "-o", str(replay_picture), "--timeout", "20")
    server = CliProcess("serve", str(session), "--bind", endpoint, "--wait", "2")
    try:
        node.wait_for("synchronised to session")
        summary = node.result(timeout=60, code=1)
        assert player.proc.wait(60) == 2
        player._reader.join(5)
        assert server.proc.wait(30) == 0
    finally:
        for process in (server, node, player):
            process.stop()
    assert summary["sessions"] == 1 and summary["ended"] is True and summary["frames"] == 0
    for process, picture in ((node, node_picture), (player, replay_picture)):
        said = "".join(process.lines)
        assert f"{endpoint}: the session has no rendered frame, nothing written to {picture}" in said, said
        assert not picture.exists()


def test_a_live_replay_whose_publisher_restarts_says_its_session_did_not_end(tmp_path: Path) -> None:
    """`gsp replay tcp://... -o X.png` followed a session whose publisher was killed and restarted
    on the same port: it stopped at the REPLACED event and exited 0, its picture claiming to be
    the session's end. As `gsp node` without --keep-going: exit 1, naming the session that did
    not end, how far it got and the output; what arrived is drawn (X.png holds it)."""
    first, second = tmp_path / "first.gsplog", tmp_path / "second.gsplog"
    record_animation(first, frames=60, interval=0.02)
    record_animation(second, frames=4)
    endpoint = f"tcp://127.0.0.1:{free_port_pair()}"
    picture = tmp_path / "X.png"
    player = CliProcess("replay", endpoint, "-o", str(picture), "--timeout", "20")
    killed = CliProcess("serve", str(first), "--bind", endpoint, "--wait", "1", "--speed", "0.2")
    restarted = None
    try:
        _wait_until(picture.exists, "the live replay drew nothing")  # joined: its PNG is kept current
        killed.proc.send_signal(signal.SIGKILL)
        killed.proc.wait(10)
        restarted = CliProcess("serve", str(second), "--bind", endpoint, "--wait", "0.5")
        assert player.proc.wait(60) == 1, "".join(player.lines)
        player._reader.join(5)
        assert restarted.proc.wait(30) == 0
    finally:
        for process in (killed, restarted, player):
            if process is not None:
                process.stop()
    said = "".join(player.lines)
    match = re.search(f"Error: {endpoint}: " + r"session ([0-9a-f]{32}) did not end: session ([0-9a-f]{32}) came "
                      r"before its END", said)
    assert match is not None and match.group(1) != match.group(2), said
    assert f"{picture} holds it up to update" in said and "not its end" in said, said
    assert picture.exists()
