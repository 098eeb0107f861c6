"""Keyframes leave out the contents of buffers never written since their ``Buffer.new``: replaying
that ``Buffer.new`` gives the same zeros. A big buffer a script made and had not filled yet used to
fill every keyframe with its zeros, and past ``Limits.max_chunk_bytes`` made the writer skip them
all. Seeking past such a keyframe must still give the state replaying from the start gives,
deferred linked writes and partial writes included."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sessions_testkit import uid  # noqa: E402

from sessions import ChunkKind, Command, LogReader, LogWriter, tools  # noqa: E402
from sessions.command import LogRef  # noqa: E402
from sessions.limits import Limits  # noqa: E402
from sessions.scene import SceneState  # noqa: E402

#: Chunks of at most 4 MiB and pieces of 1 MiB: a few MB of zeros take the paths 1 GiB takes.
SMALL = Limits(max_chunk_bytes=4 << 20)
PIECE = 1 << 20
NO_TIMED_KEYFRAMES = {"keyframe_interval_s": 1e9, "keyframe_interval_bytes": 1 << 40}


def _vec3() -> object:
    from gsp.types import BufferType

    return BufferType.vec3


def _state_before(reader: LogReader, before_seq: int, *, seek: bool) -> SceneState:
    """The scene just before ``before_seq``: seeking (from the keyframe before it) or replaying from the start."""
    state = SceneState()
    for cmd in reader.commands(start=f"seq:{before_seq}") if seek else reader.commands():
        if cmd.seq >= before_seq and cmd.op != "Scene.keyframe":
            break
        state.apply(cmd)
    return state


def _contents(state: SceneState, uuid: str) -> np.ndarray:
    return np.array(state.get(uuid).read_view())


def _writes_in(commands: list[Command], uuid: str) -> list[Command]:
    return [c for c in commands if c.op == "Buffer.set_data" and c.target == uuid]


def test_a_big_buffer_never_written_makes_a_small_keyframe_not_a_skipped_one(tmp_path: Path) -> None:
    """6 MB of zeros, over the 4 MiB chunk limit: the keyframe used to be left out (with a
    warning) and every later one too while the buffer stayed unwritten."""
    n = 500_000
    big, small = uid(1), uid(2)
    path = tmp_path / "unwritten.gsplog"
    writer = LogWriter(path, limits=SMALL, piece_bytes=PIECE, **NO_TIMED_KEYFRAMES)
    writer.append(Command(1, 1, "Buffer.new", big, (n, _vec3())))
    writer.append(Command(2, 2, "Buffer.new", small, (4, _vec3())))
    writer.append(Command(3, 3, "Buffer.set_data", small, (np.ones((4, 3), np.float32), 0, 4)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "the keyframe at seq 3 is not written"
        assert writer.write_keyframe()
    patch = np.full((10, 3), 5.0, np.float32)
    writer.append(Command(4, 4, "Buffer.set_data", big, (patch, 1000, 10)))
    writer.append(Command(5, 5, "Buffer.set_data", small, (np.zeros((1, 3), np.float32), 2, 1)))
    writer.close()
    expected = np.zeros((n, 3), np.float32)
    expected[1000:1010] = patch
    with LogReader(path) as reader:
        (keyframe,) = reader.index.keyframes
        assert reader.index.entries[keyframe].seq_last == 3
        assert reader.index.entries[keyframe].size < 4096  # no zeros in it
        commands = reader.keyframe_commands(keyframe)
        assert [c.op for c in commands if c.target == big] == ["Buffer.new"]
        assert len(_writes_in(commands, small)) == 1
        for before in (4, 5, 6):  # each seek starts at the keyframe
            sought = _state_before(reader, before, seek=True)
            replayed = _state_before(reader, before, seek=False)
            assert sought.state_hash() == replayed.state_hash(), before
            assert np.array_equal(_contents(sought, big), expected if before > 4 else np.zeros((n, 3), np.float32))
        assert np.array_equal(_contents(_state_before(reader, 6, seek=True), small)[2], [0, 0, 0])
    assert tools.verify(path).ok


def test_seeking_past_a_keyframe_with_unwritten_linked_and_partly_written_buffers_gives_the_replayed_state(
    tmp_path: Path,
) -> None:
    """At the keyframe: a buffer never written (left out), one whose only write is a whole write
    the keyframe points at (deferred: the writer's scene has not applied it, so that buffer
    reads as never written there, yet its write must stay), and one written only in part (its
    zeros elsewhere are contents the keyframe stores). Then writes to each, another keyframe,
    more writes: every seek gives exactly the contents replaying from the start gives."""
    n = 20_000  # 240 kB each: whole writes that big are linked
    zero, linked, partial = uid(1), uid(2), uid(3)
    rng = np.random.default_rng(3)
    first = rng.random((n, 3), dtype=np.float32)
    part = rng.random((100, 3), dtype=np.float32)
    path = tmp_path / "seek.gsplog"
    writer = LogWriter(path, **NO_TIMED_KEYFRAMES)
    for seq, uuid in enumerate((zero, linked, partial), 1):
        writer.append(Command(seq, seq, "Buffer.new", uuid, (n, _vec3())))
    writer.append(Command(4, 4, "Buffer.set_data", linked, (first, 0, n)))
    writer.append(Command(5, 5, "Buffer.set_data", partial, (part, 500, 100)))
    assert writer.write_keyframe()
    assert writer._ledger is not None and writer._ledger.deferred == {linked}  # its contents not copied
    later = [
        Command(6, 6, "Buffer.set_data", zero, (np.full((3, 3), 2.0, np.float32), 7, 3)),
        Command(7, 7, "Buffer.set_data", linked, (np.full((2, 3), 3.0, np.float32), 10, 2)),
        Command(8, 8, "Buffer.set_data", partial, (np.full((n, 3), 4.0, np.float32), 0, n)),
    ]
    for cmd in later:
        writer.append(cmd)
    assert writer.write_keyframe()
    later.append(Command(9, 9, "Buffer.set_data", zero, (np.full((1, 3), 6.0, np.float32), 0, 1)))
    writer.append(later[-1])
    writer.close()

    at_keyframe = {uuid: np.zeros((n, 3), np.float32) for uuid in (zero, linked, partial)}
    at_keyframe[linked][:] = first
    at_keyframe[partial][500:600] = part
    with LogReader(path) as reader:
        first_kf, second_kf = reader.index.keyframes
        assert reader.index.entries[first_kf].kind == ChunkKind.LINKED_KEYFRAME
        stored = reader.read_chunk(first_kf).commands()
        assert [c.op for c in stored if c.target == zero] == ["Buffer.new"]
        assert [type(c.args[0]) for c in _writes_in(stored, linked)] == [LogRef]
        assert len(_writes_in(stored, partial)) == 1
        resolved = reader.keyframe_commands(first_kf)
        (partial_write,) = _writes_in(resolved, partial)
        assert partial_write.args[1:] == (0, n)  # the whole contents, zeros around the written part
        # the second keyframe: every buffer written by then, each stored or linked
        assert all(len(_writes_in(reader.keyframe_commands(second_kf), u)) == 1 for u in at_keyframe)
        for before in range(6, 11):
            expected = {uuid: contents.copy() for uuid, contents in at_keyframe.items()}
            for cmd in later:
                if cmd.seq < before:
                    data, offset, count = cmd.args
                    expected[cmd.target][offset:offset + count] = data
            sought = _state_before(reader, before, seek=True)
            replayed = _state_before(reader, before, seek=False)
            assert sought.state_hash() == replayed.state_hash(), before
            for uuid, contents in expected.items():
                assert np.array_equal(_contents(sought, uuid), contents), (before, uuid)
                assert np.array_equal(_contents(replayed, uuid), contents), (before, uuid)
    assert tools.verify(path).ok
