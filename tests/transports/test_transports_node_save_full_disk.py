"""``gsp node --save`` on a disk that fills up: the copy stops, the node does not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from scene_helpers import CliProcess, file_state_hash, free_port_pair, record_animation

from sessions import LogReader, tools

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

FRAMES = 300


@pytest.mark.parametrize("free_pages", [4, 0])
def test_a_save_copy_that_meets_a_full_disk_stops_and_the_node_goes_on(
        tmp_path: Path, small_disk: Callable[[str], Any], free_pages: int) -> None:
    """The node died with a traceback ending in LogWriteError, printed no summary and stopped
    following. Now: one warning line naming the copy and the error, every frame still drawn,
    the usual JSON line with ``save_error``, exit status 1 (as `gsp record` whose log stopped
    early); the copy keeps its whole chunks and reads (none at all when even its header did not
    fit: then no file is left)."""
    session = tmp_path / "session.gsplog"
    record_animation(session, frames=FRAMES, interval=0.005)  # ~75 chunks of a few kB
    disk = small_disk("1m")
    disk.fill(leave=free_pages * 4096)
    copy = disk.path / "copy.gsplog"
    endpoint = f"tcp://127.0.0.1:{free_port_pair()}"
    server = CliProcess("serve", str(session), "--bind", endpoint, "--wait", "2")
    node = CliProcess("node", endpoint, "--null", "--save", str(copy), "--timeout", "30")
    try:
        result = node.result(timeout=60, code=1)
        server.proc.wait(30)
    finally:
        for process in (server, node):
            process.stop()
    assert result["frames"] == FRAMES and result["ended"]  # the node drew the session whole
    assert result["state_hash"] == file_state_hash(session)
    assert str(copy) in result["save_error"] and "No space left on device" in result["save_error"]
    text = "".join(node.lines)
    assert "Traceback" not in text, text
    warnings = [line for line in node.lines if "WARNING" in line]
    assert len(warnings) == 1 and str(copy) in warnings[0] and "No space left on device" in warnings[0], text
    assert node.lines[-1].startswith("Error: ") and str(copy) in node.lines[-1], text
    if free_pages == 0:
        assert not copy.exists()  # not even its header was written
        return
    with LogReader(copy) as reader:  # readable up to its last whole chunk
        saved = [command.seq for command in reader.commands()]
    with LogReader(session) as reader:
        recorded = [command.seq for command in reader.commands()]
    assert saved and saved == recorded[: len(saved)] and len(saved) < len(recorded)
    report = tools.verify(copy)
    assert report.header_ok and report.footer_offset is None  # unterminated: `gsp repair` mends it
