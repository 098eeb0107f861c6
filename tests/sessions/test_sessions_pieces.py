"""Big writes in pieces (sessions/pieces.py) and chunks the writer keeps within the readers' limits:
a set_data cut at item boundaries, a seeded state too big for one keyframe, a command too big for
any chunk, a keyframe too big for the file or for a live publisher."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sessions_testkit import Script, points_scene, uid  # noqa: E402

from sessions import ChunkKind, Command, LogReader, LogWriteError, LogWriter, tools  # noqa: E402
from sessions.command import LogRef  # noqa: E402
from sessions.limits import Limits  # noqa: E402
from sessions.pieces import split_write  # noqa: E402
from sessions.scene import SceneState  # noqa: E402

#: Chunks of at most 4 MiB and pieces of 1 MiB: a few MB of data takes the paths that 1 GiB takes.
SMALL = Limits(max_chunk_bytes=4 << 20)
PIECE = 1 << 20


def _replay(reader: LogReader, start: str | None = None) -> SceneState:
    state = SceneState()
    for cmd in reader.commands(start=start):
        state.apply(cmd)
    return state


def _chunk_sizes_ok(reader: LogReader, limit: int) -> None:
    for entry in reader.index.entries:
        assert entry.size <= limit + 88, entry


def test_split_write_cuts_at_item_boundaries_into_views() -> None:
    data = np.arange(300_000 * 3, dtype=np.float32).reshape(-1, 3)  # 3.6 MB of vec3
    pieces = split_write((data, 5, 300_000), {}, PIECE)
    assert pieces is not None and len(pieces) == 4  # ceil(3.6 MB / 1 MiB), nearly equal
    assert [p[1] for p in pieces] == [5, 75_005, 150_005, 225_005] and sum(p[2] for p in pieces) == 300_000
    assert all(np.shares_memory(p[0], data) and p[0].dtype == np.float32 and p[0].nbytes <= PIECE for p in pieces)
    assert np.array_equal(np.concatenate([p[0] for p in pieces]), data)
    raw = bytearray(data.tobytes())  # raw bytes: flat uint8 views, 12 bytes an item
    by_bytes = split_write((), {"data": raw, "offset": 0, "count": 300_000}, PIECE)
    assert by_bytes is not None and [p[2] for p in by_bytes] == [75_000] * 4
    assert all(p[0].dtype == np.uint8 and p[0].nbytes == 75_000 * 12 for p in by_bytes)
    assert b"".join(p[0].tobytes() for p in by_bytes) == bytes(raw)
    assert split_write((data[:1000], 0, 1000), {}, PIECE) is None  # small enough
    assert split_write((data, 0, 299_999), {}, PIECE) is None  # not a whole number of items: left as it is


def test_a_seeded_state_too_big_for_one_keyframe_continues_as_commands(tmp_path: Path) -> None:
    """trim's opening keyframe of a scene bigger than a chunk: the keyframe holds what fits (and
    the renderer's records), the rest follows in order as plain commands, in chunks within the
    limit; a replay and a seek give the seeded state, and a later keyframe links the pieces."""
    source = SceneState()
    commands = points_scene(frames=1, n=300_000)  # 3.6 MB of positions, 7.2 MB of buffers in all
    render = commands[-1]
    for cmd in commands[:-1]:
        source.apply(cmd)
    path = tmp_path / "seeded.gsplog"
    writer = LogWriter(path, limits=SMALL, piece_bytes=PIECE)
    writer.seed(source.snapshot(source.last_seq, 0))
    tail_end = writer.last_seq
    assert tail_end > source.last_seq  # the commands after the keyframe took seqs of their own
    writer.append(Command(tail_end + 1, 0, render.op, render.target, render.args, render.kwargs))
    assert writer.write_keyframe()
    writer.close()
    source.apply(render)
    with LogReader(path) as reader:
        _chunk_sizes_ok(reader, SMALL.max_chunk_bytes)
        first, later = reader.index.keyframes
        assert first == 0 and reader.index.entries[later].kind == ChunkKind.LINKED_KEYFRAME
        opening = reader.read_chunk(0).commands()
        assert any(c.op == "Renderer.new" for c in opening)
        assert not any(c.op == "Points.new" for c in opening)  # it follows its buffers' contents
        links = [c for c in reader.read_chunk(later).commands() if type(c.args[0] if c.args else None) is LogRef]
        assert len(links) == 10 and reader.index.entries[later].size < 10_000  # points at every piece
        assert _replay(reader).state_hash() == source.state_hash()
        assert _replay(reader, start=f"seq:{tail_end + 1}").state_hash() == source.state_hash()
        assert _replay(reader, start=f"seq:{tail_end + 2}").state_hash() == source.state_hash()
    assert tools.verify(path).ok


def test_a_command_too_big_for_any_chunk_is_left_out_and_named(tmp_path: Path) -> None:
    path = tmp_path / "big_marker.gsplog"
    writer = LogWriter(path, limits=SMALL, piece_bytes=PIECE, keyframes=False)
    s = Script()
    s.add("Buffer.new", uid(1), 10, _vec3())
    s.add("Recorder.mark", "", "huge", blob="x" * (5 << 20))  # 5 MiB of text: no piece of it
    s.add("Recorder.mark", "", "after")
    writer.append(s.commands[0])
    with pytest.raises(LogWriteError, match=r"seq=2 op=Recorder.mark: its chunk would be bigger than the 4 MiB"):
        writer.append(s.commands[1])  # a full chunk is written at once
    writer.append(s.commands[2])
    writer.close()
    with LogReader(path) as reader:
        assert [c.seq for c in reader.commands()] == [1, 3]
    assert tools.verify(path).ok


def test_a_keyframe_too_big_is_not_written_and_said_once(tmp_path: Path) -> None:
    """Partial writes the keyframe cannot point at, 6 MB of them: over the 4 MiB chunk limit."""
    n = 500_000
    path = tmp_path / "kf.gsplog"
    writer = LogWriter(path, limits=SMALL, piece_bytes=PIECE)
    data = np.random.default_rng(0).random((n, 3), dtype=np.float32)
    writer.append(Command(1, 1, "Buffer.new", uid(1), (n, _vec3())))
    writer.append(Command(2, 2, "Buffer.set_data", uid(1), (data[: n // 2], 0, n // 2)))
    assert writer.last_seq == 4  # 3 MB in 3 pieces
    writer.append(Command(5, 5, "Buffer.set_data", uid(1), (data[n // 2:], n // 2, n - n // 2)))
    with pytest.warns(UserWarning, match=r"keyframe at seq \d+ is not written: it would take .* over the 4 MiB"):
        assert not writer.write_keyframe()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once
        assert not writer.write_keyframe()
    writer.close()
    with LogReader(path) as reader:
        assert reader.index.keyframes == []
        _chunk_sizes_ok(reader, SMALL.max_chunk_bytes)
        state = _replay(reader, start=f"seq:{reader.last_seq()}")
        assert bytes(state.get(uid(1)).read_view()) == data.tobytes()
    assert tools.verify(path).ok


def test_a_keyframe_over_a_publishers_message_limit_is_not_sent_and_recording_goes_on(tmp_path: Path) -> None:
    """A live publisher refuses a payload over its max_payload (before, that ended the log): the
    writer no longer hands it the self-contained keyframe of a scene that big, while the file
    gets its linked keyframe and the publisher every chunk of commands."""
    from transports import Publisher

    n = 200_000  # 2.4 MB of positions, over a 1 MiB message limit; pieces of 800 kB, a chunk each
    publisher = Publisher("tcp://127.0.0.1:*", max_payload=1 << 20)
    path = tmp_path / "live.gsplog"
    writer = LogWriter(path, sinks=[publisher], piece_bytes=PIECE, max_chunk_bytes=256 << 10,
                       keyframe_interval_s=1e9, keyframe_interval_bytes=1 << 40)
    data = np.random.default_rng(0).random((n, 3), dtype=np.float32)
    writer.append(Command(1, 1, "Buffer.new", uid(1), (n, _vec3())))
    writer.append(Command(2, 2, "Buffer.set_data", uid(1), (data, 0, n)))
    with pytest.warns(UserWarning, match=r"keyframe at seq 4 is not sent to Publisher: it would take .* over its max_payload of 1 MiB"):
        writer.write_keyframe()
    writer.append(Command(5, 5, "Buffer.set_data", uid(1), (np.ones((4, 3), np.float32), 0, 4)))
    writer.close()
    with LogReader(path) as reader:
        kinds = [e.kind for e in reader.index.entries]
        assert kinds.count(ChunkKind.LINKED_KEYFRAME) == 1
        assert publisher.stats.published == kinds.count(ChunkKind.COMMANDS) + 1  # and the END
        assert [c.seq for c in reader.commands()] == [1, 2, 3, 4, 5]
        assert np.array_equal(_replay(reader, start="seq:5").get(uid(1)).read_view()[4:], data[4:])
    assert tools.verify(path).ok


def test_a_seek_does_not_keep_the_keyframes_decoded_contents(tmp_path: Path) -> None:
    """``LogReader.commands(start=...)`` kept the keyframe's commands, the whole scene's contents
    decoded, until the replay ended: a seek into a 1 GB scene held 1 GB more all along."""
    import gc
    import tracemalloc

    from sessions import spare

    n = 1_000_000  # 12 MB
    path = tmp_path / "seek.gsplog"
    writer = LogWriter(path, keyframe_interval_s=1e9, keyframe_interval_bytes=1 << 40)
    writer.append(Command(1, 1, "Buffer.new", uid(1), (n, _vec3())))
    writer.append(Command(2, 2, "Buffer.set_data", uid(1), (np.random.default_rng(0).random((n, 3), dtype=np.float32), 0, n)))
    writer.write_keyframe()
    for seq in (3, 4, 5):
        writer.append(Command(seq, seq, "Buffer.set_data", uid(1), (b"\0" * 12, 0, 1)))
        writer.flush()
    writer.close()
    spare.release()  # spares made before tracing began are not traced
    tracemalloc.start()
    try:
        with LogReader(path) as reader:
            state = SceneState()
            for cmd in reader.commands(start="seq:5"):
                state.apply(cmd)
                if cmd.seq == 4:  # the replay goes on: the keyframe is behind it
                    gc.collect()
                    held = tracemalloc.get_traced_memory()[0] - spare.held()[1]  # spares: for the next chunks
                    break
    finally:
        tracemalloc.stop()
    assert 12_000_000 < held < 14_000_000  # the scene's buffer, not its decoded keyframe too


def test_piece_bytes_is_checked() -> None:
    with pytest.raises(ValueError, match=r"piece_bytes must be from 1 MiB .* to a quarter of Limits.max_chunk_bytes"):
        LogWriter(sinks=[], piece_bytes=1000)
    with pytest.raises(ValueError, match="piece_bytes"):
        LogWriter(sinks=[], limits=SMALL, piece_bytes=2 << 20)


def _vec3() -> object:
    from gsp.types import BufferType

    return BufferType.vec3
