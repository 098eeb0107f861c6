"""Big buffer writes: logged as consecutive partial writes (sessions/pieces.py), replayed, sought,
checked, cut and joined as any log. Most tests use 1 MiB pieces and a few MB of data; one test
records a real write over 1 GiB (the readers' chunk limit), which used to stop the recording."""

from __future__ import annotations

import gc
import io
import os
import resource
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rec_support import make_scene  # noqa: E402

from gsp.types import Buffer, BufferType  # noqa: E402
from recorder import record  # noqa: E402
from recorder.queue import CommandQueue  # noqa: E402
from recorder.writer_thread import WriterThread  # noqa: E402
from sessions import ChunkKind, Command, LogReader, LogWriter, tools  # noqa: E402
from sessions.command import LogRef  # noqa: E402
from sessions.limits import DEFAULT_LIMITS, Limits  # noqa: E402
from sessions.scene import SceneState  # noqa: E402

PIECE = 1 << 20
SMALL_PIECES = {"piece_bytes": PIECE, "keyframe_interval_s": 0.0}  # and a keyframe after every chunk


def _state(reader: LogReader, start: str | None = None, before_seq: int | None = None) -> SceneState:
    """The scene replayed from the start or from a seek, up to (not including) ``before_seq``."""
    state = SceneState()
    for cmd in reader.commands(start=start):
        if before_seq is not None and cmd.seq >= before_seq and cmd.op != "Scene.keyframe":
            break
        state.apply(cmd)
    return state


def _writes(reader: LogReader, target: str) -> list[list[Command]]:
    """The set_data commands of ``target``, grouped into runs of consecutive seqs."""
    runs: list[list[Command]] = []
    for cmd in reader.commands():
        if cmd.op == "Buffer.set_data" and cmd.target == target:
            if runs and runs[-1][-1].seq + 1 == cmd.seq:
                runs[-1].append(cmd)
            else:
                runs.append([cmd])
    return runs


def _record_script(path: Path, n: int, **writer_options: Any) -> tuple[str, np.ndarray]:
    """A Points scene of ``n`` points, drawn after a whole write (lent), a partial write (copied)
    and a write in place (the render logs the whole contents); (positions uuid, last contents)."""
    with record(path, writer_options=writer_options) as rec:
        s = make_scene(n)
        s.render()
        s.positions.set_data(np.random.default_rng(1).random((n, 3), dtype=np.float32), 0, n)
        s.render()
        s.positions.set_data(np.full((n * 2 // 3, 3), 0.25, np.float32), 1000, n * 2 // 3)
        s.render()
        s.positions.to_numpy()[::7] *= -1  # behind the log's back: logged before the render
        s.render()
        rec.mark("end")
        expected = np.array(s.positions.read_view())
    assert rec.error is None
    return s.positions.get_uuid(), expected


def test_a_big_write_is_logged_as_consecutive_pieces_that_replay_seek_verify_trim_and_cat(tmp_path: Path) -> None:
    n = 300_000  # 3.6 MB of positions: pieces of about 1 MiB
    path = tmp_path / "pieces.gsplog"
    positions, expected = _record_script(path, n, **SMALL_PIECES)
    with LogReader(path) as reader:
        runs = _writes(reader, positions)
        # make_scene's whole write, the whole write, the partial write, the write in place
        assert [len(run) for run in runs] == [4, 4, 3, 4]
        for run, first in zip(runs, [0, 0, 1000, 0]):
            offsets = [cmd.args[1] for cmd in run]
            counts = [cmd.args[2] for cmd in run]
            assert offsets[0] == first and offsets[1:] == [o + c for o, c in zip(offsets, counts)][:-1]
            assert all(cmd.args[0].nbytes <= PIECE + 12 for cmd in run)  # at item boundaries
        assert sum(runs[2][i].args[2] for i in range(3)) == n * 2 // 3
        # a chunk is cut once it holds 4 MiB (LogWriter.max_chunk_bytes): at most a piece more
        assert max(entry.size for entry in reader.index.entries) < (4 << 20) + PIECE + 4096
        final = _state(reader)
        assert np.array_equal(final.get(positions).read_view(), expected)
        # Keyframes point at each piece of the whole writes; a seek anywhere gives the replayed state.
        links = [c.args[0] for k in reader.index.keyframes for c in reader.read_chunk(k).commands()
                 if c.op == "Buffer.set_data" and c.target == positions and type(c.args[0]) is LogRef]
        assert {link.seq for link in links} >= {cmd.seq for cmd in runs[3]}  # the write in place, raw bytes
        renders = [cmd.seq for cmd in reader.commands() if cmd.op == "Renderer.render"]
        for seq in [*renders, reader.last_seq() + 1]:
            assert _state(reader, f"seq:{seq}", seq).state_hash() == _state(reader, None, seq).state_hash(), seq
        commands = sum(1 for _ in reader.commands())
    assert tools.verify(path).ok
    assert tools.info(path)["commands"] == commands and tools.info(path)["frames"] == 4
    out = io.StringIO()
    tools.dump(path, out)
    assert out.getvalue().count("Buffer.set_data") >= 15
    trimmed = tmp_path / "trimmed.gsplog"
    tools.trim(path, trimmed, start="#3")
    joined = tmp_path / "joined.gsplog"
    tools.cat([path, trimmed], joined)
    for log in (trimmed, joined):
        assert tools.verify(log).ok, log
        with LogReader(log) as reader:
            assert np.array_equal(_state(reader).get(positions).read_view(), expected)


@pytest.mark.slow
def test_the_frames_of_a_log_in_pieces_are_those_of_a_log_in_one_piece(tmp_path: Path) -> None:
    from player.replay import replay

    n = 100_000  # 1.2 MB of positions: two pieces of 1 MiB, one write with the default 64 MiB
    frames: dict[str, bytes] = {}
    for name, options in (("whole", {"keyframe_interval_s": 0.0}), ("pieces", SMALL_PIECES)):
        path = tmp_path / f"{name}.gsplog"
        _record_script(path, n, **options)
        with LogReader(path) as reader:
            runs = _writes(reader, _positions_uuid(reader))
            assert max(len(run) for run in runs) == (2 if name == "pieces" else 1)
        # the last frame (after the partial write and the write in place), reached by a seek
        # from the keyframe that points at the pieces (matplotlib takes seconds a frame here)
        replay(path, "matplotlib", tmp_path / f"{name}.png", frame=4)
        frames[name] = (tmp_path / f"{name}.png").read_bytes()
    assert frames["pieces"] == frames["whole"]


def _positions_uuid(reader: LogReader) -> str:
    """The first Buffer of the scene a Points visual draws (its positions)."""
    points = next(c for c in reader.commands() if c.op == "Points.new")
    return points.args[0].uuid  # type: ignore[no-any-return]


def test_a_big_buffer_made_from_numpy_is_lent_not_copied(tmp_path: Path) -> None:
    """``Buffer.from_numpy`` writes through a memoryview: the recorder lends the buffer's
    contents as it does for an array (no copy of the bytes on the caller's thread), so the log
    holds them as the buffer's typed items, which are then cut into pieces like any array."""
    data = np.random.default_rng(2).random((200_000, 3), dtype=np.float32)
    path = tmp_path / "from_numpy.gsplog"
    with record(path, writer_options={"piece_bytes": PIECE}) as rec:
        buffer = Buffer.from_numpy(data, BufferType.vec3)
        copied = rec._converter.copied_bytes
    assert copied == 0
    with LogReader(path) as reader:
        (run,) = _writes(reader, buffer.get_uuid())
        assert [cmd.args[0].dtype for cmd in run] == [np.float32] * 3
        assert np.array_equal(np.concatenate([cmd.args[0] for cmd in run]), data)


def test_big_bytes_are_kept_not_copied_and_written_in_pieces(tmp_path: Path) -> None:
    """``set_data(array.tobytes(), offset, count)``: bytes are immutable, so the recorder keeps
    them (it used to count them as no payload at all: the writer thread then batched the
    command with the small ones, and no piece was cut however big it was)."""
    data = np.random.default_rng(4).random((200_000, 3), dtype=np.float32)
    path = tmp_path / "bytes.gsplog"
    with record(path, writer_options={"piece_bytes": PIECE}) as rec:
        buffer = Buffer(200_010, BufferType.vec3)
        buffer.set_data(data.tobytes(), 10, 200_000)
        copied = rec._converter.copied_bytes
    assert copied == 0
    with LogReader(path) as reader:
        (run,) = _writes(reader, buffer.get_uuid())
        assert len(run) == 3 and run[0].args[1] == 10 and all(cmd.args[0].dtype == np.uint8 for cmd in run)
        assert b"".join(cmd.args[0].tobytes() for cmd in run) == data.tobytes()


def test_a_stopped_recorder_holds_no_payload(tmp_path: Path) -> None:
    """After stop() the recorder kept its last big payloads, for as long as the script kept the
    recorder (``with record(...) as rec`` at a script's top level: to its end): the copy of a
    partial write, in its pool for the next calls, and the lent contents of a whole write, in
    the writer thread's list of payloads in flight. With 1 GB of data, 1 GB each."""
    n = 1_000_000  # 12 MB
    tracemalloc.start()
    try:
        with record(tmp_path / "held.gsplog") as rec:
            buffer = Buffer(n, BufferType.vec3)
            buffer.set_data(np.ones((n // 2, 3), np.float32), 0, n // 2)  # copied
            buffer.set_data(np.ones((n, 3), np.float32), 0, n)  # lent
            del buffer
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
        assert rec.error is None  # the recorder is still there
    finally:
        tracemalloc.stop()
    assert held < 2_000_000


def test_a_write_failure_while_stop_is_queued_still_ends_the_writer(tmp_path: Path, small_disk: Callable[[str], Any]) -> None:
    """The writer dropped every queued item after a failure, the ``stop`` its caller waits for
    among them: ``Recorder.stop`` then hung for ever (seen when a write over 1 GiB failed)."""
    disk = small_disk("1m")
    queue = CommandQueue()
    log_writer = LogWriter(disk.path / "full.gsplog")
    # 4.8 MB: more than the disk holds, and more than a chunk (4 MiB), so the append writes it
    data = np.random.default_rng(3).random((400_000, 3), dtype=np.float32)
    queue.put((0, "Buffer.set_data", "x", (data, 0, 400_000), {}, data.nbytes))
    queue.put_control("stop")
    writer = WriterThread(queue, log_writer, describe="full.gsplog")
    writer.start()
    writer.join(10)
    assert not writer.is_alive()
    assert writer.error is not None and "No space left" in str(writer.error)


def _available_bytes() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.skipif(not os.path.exists("/proc/meminfo") or _available_bytes() < 6 << 30,
                    reason="records a 1.08 GB write: needs about 3.5 GB of memory, 6 GB free asked")
def test_a_write_over_one_gib_records_replays_seeks_and_trims(tmp_path: Path) -> None:
    """90 M vec3 points (1.08 GB) in one set_data, with the default limits and piece size: the
    write is logged in 17 pieces, the keyframe after it links them, and a reader, verify, a seek
    and a trim (whose opening keyframe cannot hold the buffer) all see the same contents."""
    n = 90_000_000
    assert n * 12 > DEFAULT_LIMITS.max_chunk_bytes
    path = tmp_path / "big.gsplog"
    began = time.perf_counter()
    with record(path) as rec:
        s = make_scene(100)
        big = Buffer(n, BufferType.vec3)
        data = np.arange(n * 3, dtype=np.uint32).view(np.float32).reshape(n, 3)  # never NaN-free, never equal
        big.set_data(data, 0, n)
        del data
        s.render()
        rec.mark("after")
        s.render()
    assert rec.error is None
    uuid = big.get_uuid()
    del big
    recorded_s = time.perf_counter() - began

    def check(state: SceneState) -> None:
        contents = state.get(uuid).read_view()
        for first in range(0, n, 10_000_000):
            rows = min(10_000_000, n - first)
            expected = np.arange(first * 3, (first + rows) * 3, dtype=np.uint32).view(np.float32).reshape(rows, 3)
            assert np.array_equal(contents[first:first + rows].view(np.uint32), expected.view(np.uint32))

    with LogReader(path) as reader:
        (run,) = _writes(reader, uuid)
        assert len(run) == 17 and max(e.size for e in reader.index.entries) < 80 << 20
        kinds = []
        for number in reader.index.keyframes:
            entry = reader.index.entries[number]
            if entry.seq_last < run[0].seq:  # due before the write (a slow machine takes seconds
                # to make 1 GB of zeros): the buffer is its Buffer.new alone, not a keyframe left out
                assert [c.op for c in reader.read_chunk(number).commands() if c.target == uuid] == ["Buffer.new"]
                assert entry.kind == ChunkKind.KEYFRAME and entry.size < 64 << 10
            else:
                kinds.append(entry.kind)
        assert kinds and set(kinds) == {ChunkKind.LINKED_KEYFRAME}
        check(_state(reader))
        check(_state(reader, start="@after"))
    assert tools.verify(path).ok
    trimmed = tmp_path / "trimmed.gsplog"
    tools.trim(path, trimmed, start="@after")
    assert tools.verify(trimmed).ok
    with LogReader(trimmed) as reader:
        assert reader.index.keyframes[0] == 0 and max(e.size for e in reader.index.entries) < 1 << 30
        assert tools.info(trimmed)["frames"] == 1
        check(_state(reader))
    print(f"\nrecorded in {recorded_s:.1f} s; whole test {time.perf_counter() - began:.1f} s; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")


def test_a_big_buffer_not_written_yet_leaves_keyframes_small_and_seeks_and_trims_to_its_zeros(tmp_path: Path) -> None:
    """A script makes a buffer of 6 MB and writes a part of it only later: until then, every
    keyframe (one per chunk here) and the opening keyframe of a cut hold its ``Buffer.new``
    alone. They used to hold its zeros, over the 4 MiB chunk limit: no keyframe was written."""
    n = 500_000
    path = tmp_path / "unwritten.gsplog"
    options = {"limits": Limits(max_chunk_bytes=4 << 20), **SMALL_PIECES}
    patch = np.full((10, 3), 5.0, np.float32)
    with warnings.catch_warnings():
        # once written, its contents are stored in keyframes: over the limit, those are left out
        warnings.filterwarnings("ignore", message="the keyframe at seq")
        with record(path, writer_options=options) as rec:
            s = make_scene(100)
            big = Buffer(n, BufferType.vec3)
            for frame in range(3):
                s.positions.set_data(np.full((100, 3), frame, np.float32), 0, 100)
                s.render()
                rec.flush()
            rec.mark("unwritten")
            s.render()
            rec.flush()
            big.set_data(patch, 1000, 10)
            s.render()
            rec.mark("written")
    assert rec.error is None
    uuid = big.get_uuid()
    expected = np.zeros((n, 3), np.float32)
    with LogReader(path) as reader:
        created = next(c.seq for c in reader.commands() if c.target == uuid)
        (written,) = _writes(reader, uuid)
        after = [k for k in reader.index.keyframes if created < reader.index.entries[k].seq_last < written[0].seq]
        assert len(after) >= 3
        for number in after:
            assert reader.index.entries[number].size < 64 << 10
            assert [c.op for c in reader.keyframe_commands(number) if c.target == uuid] == ["Buffer.new"]
        sought = _state(reader, start="@unwritten", before_seq=written[0].seq)
        assert np.array_equal(sought.get(uuid).read_view(), expected)
        assert sought.state_hash() == _state(reader, before_seq=written[0].seq).state_hash()
        expected[1000:1010] = patch
        assert np.array_equal(_state(reader, start="@written").get(uuid).read_view(), expected)
        assert _state(reader, start="@written").state_hash() == _state(reader).state_hash()
    assert tools.verify(path).ok
    trimmed = tmp_path / "trimmed.gsplog"
    tools.trim(path, trimmed, start="@unwritten")
    with LogReader(trimmed) as reader:
        opening = reader.keyframe_commands(reader.index.keyframes[0])
        assert [c.op for c in opening if c.target == uuid] == ["Buffer.new"]
        assert [c.args[1:] for c in reader.commands() if c.target == uuid and c.op == "Buffer.set_data"] == [(1000, 10)]
        assert np.array_equal(_state(reader).get(uuid).read_view(), expected)
    assert tools.verify(trimmed).ok
