"""Recording while publishing live: a real ZeroMQ subscriber on 127.0.0.1 sees the session."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rec_support import WHITE, read_commands

import recorder
from gsp.core import Viewport
from gsp.types import Buffer, BufferType
from sessions import ChunkKind, decode_chunk
from sessions.limits import RECORDER_LIMITS
from transports.subscriber import EventType, Subscriber

N_BIG = 250_000


def _frame(k: int) -> np.ndarray:
    return np.random.default_rng(k).random(N_BIG, dtype=np.float32)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_record_and_publish_reach_a_live_subscriber(tmp_path: Path) -> None:
    path = tmp_path / "live.gsplog"
    received: list[Any] = []
    synchronised = threading.Event()

    def collect(sub: Subscriber) -> None:
        for event in sub.events():
            if event.type == EventType.SNAPSHOT:
                synchronised.set()
            if event.payload and event.type in (EventType.SNAPSHOT, EventType.UPDATE):
                chunk = decode_chunk(event.payload)
                if event.type == EventType.SNAPSHOT or chunk.info.kind != ChunkKind.KEYFRAME:  # not a copy of the state
                    received.extend(chunk.commands())

    with recorder.record(path, publish="tcp://127.0.0.1:*", flush_interval_s=0.01) as rec:
        sub = Subscriber(rec.publisher.endpoint, rec.publisher.snapshot_endpoint, gone_after=20, stop_on_end=True)
        assert rec.publisher.state.scene.limits is RECORDER_LIMITS  # its own scene: no replay bound
        collector = threading.Thread(target=collect, args=(sub,), daemon=True)
        collector.start()
        assert synchronised.wait(20), "no snapshot from the recorder's publisher"
        vp = Viewport(0, 0, 10, 10, WHITE)
        big = Buffer(N_BIG, BufferType.float32)  # 1 MB: its contents are lent, not copied
        rec.flush()
        for i in range(200):
            vp.set_x(i)
        for frame in range(10):
            big.set_data(_frame(frame), 0, N_BIG)
        recorder.mark("live")
    collector.join(30)
    sub.close()
    assert not collector.is_alive(), "the subscriber never saw the session end"
    xs = [c.args[0] for c in received if c.op == "Viewport.set_x"]
    assert xs == list(range(200))  # joined before the calls: every update, in order
    assert any(c.op == "Recorder.mark" and c.args[0] == "live" for c in received)
    frames = [c.args[0] for c in received if c.op == "Buffer.set_data" and c.target == big.get_uuid()]
    assert len(frames) == 10 and all(np.array_equal(np.asarray(f), _frame(k)) for k, f in enumerate(frames))
    # The file has everything, the subscriber's view agrees on the end state.
    assert [c.args[0] for c in read_commands(path) if c.op == "Viewport.set_x"] == list(range(200))


def test_a_recording_that_cannot_publish_leaves_an_existing_log_alone(tmp_path: Path) -> None:
    """The publisher binds before the file is made: a port taken by something else used to end
    the recording with an error *and* an empty log where the user's earlier session was."""
    import socket

    path = tmp_path / "precious.gsplog"
    path.write_bytes(b"an earlier session")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for endpoint in (f"tcp://127.0.0.1:{port}", "tcp://127.0.0.1:99999"):
            with pytest.raises(Exception, match="in use|out of range"), recorder.record(path, publish=endpoint):
                Viewport(0, 0, 10, 10, WHITE)
            assert path.read_bytes() == b"an earlier session"
    assert recorder.active_recorder() is None


def test_publish_options_are_for_a_publish_endpoint(tmp_path: Path) -> None:
    """They configure the publisher made for an endpoint: without one they would be ignored."""
    with pytest.raises(ValueError, match="publish_options are for the publisher made for a publish endpoint"):
        recorder.Recorder(tmp_path / "a.gsplog", publish_options={"end_grace": 2.0})
    assert not (tmp_path / "a.gsplog").exists()
    rec = recorder.Recorder(tmp_path / "b.gsplog", publish="tcp://127.0.0.1:*", publish_options={"end_grace": 0.25})
    rec.start()
    try:
        assert rec.publisher.end_grace == 0.25
    finally:
        rec.stop()
