"""LINKED_KEYFRAME chunks (format 1.2): keyframes that point at the whole writes already in the
file instead of storing the same buffer contents again."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_golden import LINKED, LINKED_POINTS, linked_positions  # noqa: E402
from sessions_testkit import Script, uid  # noqa: E402

from sessions import ChunkKind, Command, LogFormatError, LogReader, LogWriter, tools  # noqa: E402
from sessions.chunk import HEADER_SIZE, decode_chunk, encode_chunk  # noqa: E402
from sessions.command import LogRef, Ref, linked_data  # noqa: E402
from sessions.fileformat import default_metadata  # noqa: E402
from sessions.scene import SceneState  # noqa: E402
from sessions.sinks import FileSink, MemorySink  # noqa: E402

POSITIONS = uid(3)


def _replayed(reader: LogReader, before_seq: int, *, seek: bool) -> str:
    """State hash just before ``before_seq``: seeking (keyframe first) or replaying from the start."""
    state = SceneState()
    commands = reader.commands(start=f"seq:{before_seq}") if seek else reader.commands()
    for cmd in commands:
        if cmd.seq >= before_seq and cmd.op != "Scene.keyframe":
            break
        state.apply(cmd)
    return state.state_hash()


def _positions_in(commands: list[Command]) -> np.ndarray:
    data = next(c.args[0] for c in commands if c.op == "Buffer.set_data" and c.target == POSITIONS)
    return np.frombuffer(bytes(data) if isinstance(data, (bytes, bytearray)) else data.tobytes(), np.float32)


def test_the_linked_golden_points_at_frame_two_and_seeks_to_the_replayed_state() -> None:
    with LogReader(LINKED) as reader:
        kinds = [reader.index.entries[i].kind for i in reader.index.keyframes]
        assert kinds == [ChunkKind.LINKED_KEYFRAME, ChunkKind.KEYFRAME]
        linked = reader.read_chunk(reader.index.keyframes[0]).commands()
        links = [c.args[0] for c in linked if c.op == "Buffer.set_data" and type(c.args[0]) is LogRef]
        assert [c.target for c in linked if c.op == "Buffer.set_data" and type(c.args[0]) is LogRef] == [POSITIONS]
        assert reader.read_chunk(reader.index.chunk_for_seq(links[0].seq)).commands()  # an earlier chunk holds it
        resolved = reader.keyframe_commands(reader.index.keyframes[0])
        assert all(type(a) is not LogRef for c in resolved for a in c.args)
        assert np.array_equal(_positions_in(resolved), linked_positions(2).ravel())
        # frame 4's partial write: the second keyframe stores the positions it cannot point at
        stored = reader.keyframe_commands(reader.index.keyframes[1])
        expected = linked_positions(4).copy()
        expected[10:15] = 0
        assert np.array_equal(_positions_in(stored), expected.ravel())
        last = reader.last_seq()
        for before in range(2, last + 2):
            assert _replayed(reader, before, seek=True) == _replayed(reader, before, seek=False), before
    assert tools.verify(LINKED).ok
    assert tools.info(LINKED)["keyframes"] == 2


def test_a_linked_keyframe_is_small_and_live_sinks_get_a_self_contained_one(tmp_path: Path) -> None:
    live = MemorySink()  # a sink that is not the file: what a live stream receives
    n = 100_000  # 1.2 MB of positions
    positions = np.random.default_rng(1).random((n, 3), dtype=np.float32)
    writer = LogWriter(tmp_path / "big.gsplog", sinks=[live], keyframe_interval_s=1e9, keyframe_interval_bytes=1 << 40)
    s = Script()
    s.add("Buffer.new", POSITIONS, n, _vec3())
    s.add("Buffer.set_data", POSITIONS, positions, 0, n)
    for cmd in s.commands:
        writer.append(cmd)
    writer.write_keyframe()
    writer.close()
    with LogReader(tmp_path / "big.gsplog") as reader:
        (keyframe,) = reader.index.keyframes
        entry = reader.index.entries[keyframe]
        assert entry.kind == ChunkKind.LINKED_KEYFRAME and entry.size < 2000
        assert np.array_equal(_positions_in(reader.keyframe_commands(keyframe)), positions.ravel())
        standalone = decode_chunk(reader.standalone_keyframe(keyframe))
        assert standalone.info.kind == ChunkKind.KEYFRAME
        assert np.array_equal(_positions_in(standalone.commands()), positions.ravel())
    sent = [info.kind for _chunk, info in live.chunks]
    assert ChunkKind.LINKED_KEYFRAME not in sent and ChunkKind.KEYFRAME in sent
    chunk = next(decode_chunk(c) for c, info in live.chunks if info.kind == ChunkKind.KEYFRAME)
    state = SceneState()
    for cmd in chunk.commands():  # applies on its own: nothing points elsewhere
        state.apply(cmd)
    assert np.array_equal(_positions_in(chunk.commands()), positions.ravel())


@pytest.mark.parametrize("live_sink", [False, True])
def test_keyframes_are_spaced_by_what_they_cost(tmp_path: Path, live_sink: bool) -> None:
    """A linked keyframe written to the file alone costs the file a few hundred bytes: one comes
    about every ``keyframe_interval_bytes`` (4 MiB), so a seek reads little more than the chunk
    it lands in. With a live sink, which gets the whole scene each time, they stay
    KEYFRAME_SPACING (8) times the scene's bytes apart."""
    n = 250_000  # 3 MB of positions a frame, a chunk each
    sinks = [MemorySink()] if live_sink else []
    writer = LogWriter(tmp_path / "k.gsplog", sinks=sinks, keyframe_interval_s=1e9)
    s = Script()
    s.add("Buffer.new", POSITIONS, n, _vec3())
    rng = np.random.default_rng(2)
    for _frame in range(40):  # 120 MB
        s.add("Buffer.set_data", POSITIONS, rng.random((n, 3), dtype=np.float32), 0, n)
    for cmd in s.commands:
        writer.append(cmd)
        writer.flush()
    writer.close()
    with LogReader(tmp_path / "k.gsplog") as reader:
        keyframes = [reader.index.entries[i] for i in reader.index.keyframes]
        if live_sink:  # every 8 x 3 MB: 24 MB, 8 frames
            assert 4 <= len(keyframes) <= 5, len(keyframes)
        else:  # every 4 MiB (2 frames) once the first, spaced by the scene, has shown that they are linked
            assert all(e.kind == ChunkKind.LINKED_KEYFRAME and e.size < 2000 for e in keyframes)
            gaps = [b.offset - a.offset for a, b in zip(keyframes, keyframes[1:])]
            assert len(keyframes) >= 15 and max(gaps) < 7_000_000, gaps
        last = reader.last_seq()
        for before in (7, 20, 33, last):
            assert _replayed(reader, before, seek=True) == _replayed(reader, before, seek=False), before


def _vec3() -> Any:
    from gsp.types import BufferType

    return BufferType.vec3


def _damage_referenced_chunk(src: Path, dst: Path) -> int:
    """Copy the linked golden with one byte of the chunk its first keyframe points at flipped."""
    shutil.copy(src, dst)
    with LogReader(src) as reader:
        keyframe = reader.index.keyframes[0]
        link = next(c.args[0] for c in reader.read_chunk(keyframe).commands() if type(c.args[0]) is LogRef)
        entry = reader.index.entries[reader.index.chunk_for_seq(link.seq)]
    data = bytearray(dst.read_bytes())
    data[entry.offset + HEADER_SIZE + 10] ^= 0x40
    dst.write_bytes(bytes(data))
    return link.seq


def test_a_keyframe_pointing_at_a_damaged_chunk_is_reported_and_dropped_by_repair(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.gsplog"
    seq = _damage_referenced_chunk(LINKED, damaged)
    report = tools.verify(damaged)
    assert not report.ok
    reasons = [d["reason"] for d in report.damaged]
    assert any("checksum" in r for r in reasons)
    assert any(f"keyframe refers to command {seq}" in r for r in reasons)
    with LogReader(damaged) as reader, pytest.raises(LogFormatError, match="checksum"):
        list(reader.commands(start=f"seq:{reader.index.entries[reader.index.keyframes[0]].seq_last + 1}"))
    repaired = tmp_path / "repaired.gsplog"
    tools.repair(damaged, repaired)
    assert tools.verify(repaired).ok
    with LogReader(repaired) as reader:
        assert [reader.index.entries[i].kind for i in reader.index.keyframes] == [ChunkKind.KEYFRAME]


def _log_with_keyframe(path: Path, keyframe: list[Command]) -> None:
    """A file with the linked golden's commands and one crafted LINKED_KEYFRAME after them."""
    with LogReader(LINKED) as reader:
        chunks = [bytes(reader._pread(e.offset, e.size)) for e in reader.index.entries if e.kind == ChunkKind.COMMANDS]
        last = reader.last_seq()
    sink = FileSink(path, default_metadata())
    for data in chunks:
        sink.write_chunk(data, decode_chunk(data).info)
    data = encode_chunk(keyframe, ChunkKind.LINKED_KEYFRAME, seq_range=(last, last), time_range=(0, 0))
    sink.write_chunk(data, decode_chunk(data).info)
    sink.close()


@pytest.mark.parametrize("args, reason", [
    ((LogRef(10_000), 0, LINKED_POINTS), "which no earlier chunk holds"),
    ((LogRef(1), 0, LINKED_POINTS), "not a Buffer.set_data of"),  # seq 1 is Canvas.new
    ((LogRef(4), 0, 7), "not a Buffer.set_data of .* with arguments \\[0, 7\\]"),  # a whole write of 6000
    ((np.zeros(3, np.float32), LogRef(4), 1), "holds a log reference where none may be"),
])
def test_a_bad_log_reference_is_a_format_error(tmp_path: Path, args: tuple[Any, ...], reason: str) -> None:
    path = tmp_path / "hostile.gsplog"
    _log_with_keyframe(path, [Command(40, 0, "Scene.keyframe", "", (40,)),
                              Command(40, 0, "Buffer.set_data", POSITIONS, args)])
    with LogReader(path) as reader:
        (keyframe,) = reader.index.keyframes
        with pytest.raises(LogFormatError, match=reason) as caught:
            reader.keyframe_commands(keyframe)
        assert caught.value.offset == reader.index.entries[keyframe].offset


@pytest.mark.parametrize("kind", [ChunkKind.COMMANDS, ChunkKind.KEYFRAME])
def test_a_log_reference_outside_a_linked_keyframe_is_a_format_error(tmp_path: Path, kind: ChunkKind) -> None:
    """Only a LINKED_KEYFRAME's references are resolved: one in any other chunk reached trim's and
    cat's writer as buffer data (a raw TypeError traceback) and verify called the file OK."""
    path = tmp_path / "hostile.gsplog"
    rows = [Command(1, 0, "Buffer.set_data", POSITIONS, (LogRef(1), 0, 1))]
    if kind == ChunkKind.KEYFRAME:
        rows.insert(0, Command(1, 0, "Scene.keyframe", "", (1,)))
    data = encode_chunk(rows, kind, seq_range=(1, 1), time_range=(0, 0))
    sink = FileSink(path, default_metadata())
    sink.write_chunk(data, decode_chunk(data).info)
    sink.close()
    with LogReader(path) as reader:
        with pytest.raises(LogFormatError, match="log reference .* outside a LINKED_KEYFRAME") as caught:
            reader.read_chunk(0).commands()
        assert caught.value.offset == reader.index.entries[0].offset
    assert not tools.verify(path).ok
    with pytest.raises(LogFormatError, match="outside a LINKED_KEYFRAME"):
        tools.trim(path, tmp_path / "cut.gsplog")


def test_trim_after_a_linked_keyframe_opens_with_a_self_contained_keyframe(tmp_path: Path) -> None:
    with LogReader(LINKED) as reader:
        start = reader.index.entries[reader.index.keyframes[0]].seq_last + 1
        final = _replayed(reader, reader.last_seq() + 1, seek=False)
    out = tmp_path / "trimmed.gsplog"
    tools.trim(LINKED, out, start=f"seq:{start}")
    assert tools.verify(out).ok
    with LogReader(out) as reader:
        assert reader.index.entries[0].kind == ChunkKind.KEYFRAME
        assert _replayed(reader, reader.last_seq() + 1, seek=False) == final


def test_bit_flips_never_make_a_seek_through_a_linked_keyframe_wrong(tmp_path: Path) -> None:
    """Flip one bit anywhere in the linked golden: seeking past its linked keyframe either raises
    LogFormatError or rebuilds exactly the state of the intact file."""
    import random
    import warnings

    data = LINKED.read_bytes()
    with LogReader(LINKED) as reader:
        start = reader.index.entries[reader.index.keyframes[0]].seq_last + 1
        expected = _replayed(reader, reader.last_seq() + 1, seek=False)
    rng = random.Random(5)
    path = tmp_path / "flipped.gsplog"
    exact = 0
    for _ in range(300):
        damaged = bytearray(data)
        damaged[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        path.write_bytes(damaged)
        state = SceneState()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with LogReader(path) as reader:
                    for cmd in reader.commands(start=f"seq:{start}"):
                        state.apply(cmd)
        except LogFormatError:
            continue
        assert state.state_hash() == expected
        exact += 1
    assert exact > 0  # flips in the footer: the index is rebuilt by scanning


def test_a_deferred_whole_write_is_applied_before_a_later_partial_one(tmp_path: Path) -> None:
    """With the file as its only sink, the writer's scene state skips copying contents a linked
    keyframe points at; a partial write after them must still land on the right contents."""
    n = 20_000  # 240 kB of positions: linked
    first = np.random.default_rng(2).random((n, 3), dtype=np.float32)
    patch = np.full((3, 3), 7.0, np.float32)
    path = tmp_path / "deferred.gsplog"
    writer = LogWriter(path, keyframe_interval_s=1e9, keyframe_interval_bytes=1 << 40)
    writer.append(Command(1, 1, "Buffer.new", POSITIONS, (n, _vec3())))
    writer.append(Command(2, 2, "Buffer.set_data", POSITIONS, (first, 0, n)))
    writer.write_keyframe()
    assert writer._ledger is not None and writer._ledger.deferred == {POSITIONS}
    writer.append(Command(3, 3, "Buffer.set_data", POSITIONS, (patch, 100, 3)))
    writer.write_keyframe()
    writer.close()
    expected = first.copy()
    expected[100:103] = patch
    with LogReader(path) as reader:
        linked, stored = reader.index.keyframes
        assert reader.index.entries[linked].kind == ChunkKind.LINKED_KEYFRAME
        assert reader.index.entries[stored].kind == ChunkKind.KEYFRAME
        assert np.array_equal(_positions_in(reader.keyframe_commands(linked)), first.ravel())
        assert np.array_equal(_positions_in(reader.keyframe_commands(stored)), expected.ravel())


def _catch_up_log(path: Path) -> None:
    """Points whose positions (72 kB: linked in keyframes) change in four ways, a keyframe after
    nearly every chunk: a whole write then a render; a render then a whole write; a partial
    write; another call (a viewport move) before a whole write."""
    from gsp.constants import Constants
    from gsp.types import BufferType

    n = 6000
    rng = np.random.default_rng(11)
    s = Script()
    s.add("Canvas.new", uid(1), 200, 150, 100.0, bytearray(Constants.Color.white))
    s.add("Viewport.new", uid(2), 0, 0, 200, 150, bytearray(Constants.Color.white))
    s.buffer(POSITIONS, rng.random((n, 3), dtype=np.float32), BufferType.vec3)
    s.buffer(uid(4), np.full(n, 3.0, np.float32), BufferType.float32)
    s.buffer(uid(5), np.tile(np.uint8([255, 0, 0, 255]), (n, 1)), BufferType.rgba8)
    s.add("Points.new", uid(7), Ref(POSITIONS), Ref(uid(4)), Ref(uid(5)), Ref(uid(5)), Ref(uid(4)))
    s.add("Renderer.new", uid(8), Ref(uid(1)))

    def write(offset: int = 0, count: int = n) -> None:
        data = rng.random((count, 3), dtype=np.float32)
        s.add("Buffer.set_data", POSITIONS, bytearray(data.tobytes()), offset, count)

    def render() -> None:
        s.add("Renderer.render", uid(8), [Ref(uid(2))], [Ref(uid(7))], [None], [None])

    for frame in range(40):
        kind = frame % 4
        if kind == 0:
            write(), render()
        elif kind == 1:
            render(), s.add("Recorder.mark", "", f"m{frame}"), write()
        elif kind == 2:
            write(10 * frame, 5), render()
        else:
            s.add("Viewport.set_x", uid(2), frame), write(), render()
    writer = LogWriter(path, max_chunk_bytes=160_000, keyframe_interval_s=1e9, keyframe_interval_bytes=1)
    for cmd in s.commands:
        writer.append(cmd)
        writer.flush_if_due()
    writer.close()


def test_a_seek_leaves_out_keyframe_data_the_catch_up_writes_over_and_gets_the_replayed_state(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A seek's keyframe leaves out the positions that the commands after it write over, with
    only renders and markers before (an animation's next frame), and does not read the chunk
    holding them: damaged, that chunk no longer stops such a seek. Every seek, to every seq,
    gives the state replaying from the start gives."""
    import sessions.writer

    monkeypatch.setattr(sessions.writer, "KEYFRAME_SPACING", 0)  # a keyframe after every chunk
    path = tmp_path / "catch_up.gsplog"
    _catch_up_log(path)
    with LogReader(path) as reader:
        # Replayed state just before each seq, in one pass.
        expected: dict[int, str] = {}
        state = SceneState()
        for cmd in reader.commands():
            expected.setdefault(cmd.seq, state.state_hash())
            state.apply(cmd)
        last = reader.last_seq()
        expected[last + 1] = state.state_hash()
        keyframes = [k for k in reader.index.keyframes if reader.index.entries[k].kind == ChunkKind.LINKED_KEYFRAME]
        assert len(keyframes) >= 10
        for seq in range(reader.index.entries[keyframes[0]].seq_last + 1, last + 2):
            assert _replayed(reader, seq, seek=True) == expected[seq], seq
        # A keyframe whose next chunk writes the positions over before anything but renders and marks.
        skipped = []
        for k in keyframes:
            if k + 1 == len(reader.index) or reader.index.entries[k + 1].kind != ChunkKind.COMMANDS:
                continue
            after = reader.index.entries[k].seq_last
            nxt = [c for c in reader.read_chunk(k + 1).commands() if c.seq > after]
            first_other = next(c for c in nxt if c.op not in ("Renderer.render", "Recorder.mark"))
            if first_other.op == "Buffer.set_data" and first_other.args[1:] == (0, 6000):
                link = next(linked_data(c) for c in reader.read_chunk(k).commands() if c.target == POSITIONS
                            and c.op == "Buffer.set_data")
                skipped.append((k, first_other.seq, reader.index.chunk_for_seq(link.seq)))
        assert skipped
        entries = list(reader.index.entries)
    data = path.read_bytes()
    for keyframe, overwrite_seq, source in skipped[:4]:
        damaged = bytearray(data)
        entry = entries[source]
        damaged[entry.offset + entry.size - 100] ^= 0xFF  # in the payload: its checksum fails
        broken = tmp_path / "broken.gsplog"
        broken.write_bytes(damaged)
        with LogReader(broken) as reader:
            assert reader.seek(f"seq:{overwrite_seq + 1}")[0] == keyframe
            assert _replayed(reader, overwrite_seq + 1, seek=True) == expected[overwrite_seq + 1]
            with pytest.raises(LogFormatError, match="checksum"):
                reader.read_chunk(source)
