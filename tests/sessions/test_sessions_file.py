"""LogWriter + LogReader on real files: round trips, chunks, footer, seek, keyframes, sinks."""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sessions_testkit import final_hash, points_scene

from sessions import ChunkKind, LogReader, LogWriter, MemorySink, decode_chunk, encode_chunk, tools
from sessions.chunk import HEADER_SIZE, ChunkFlags, peek_chunk_header
from sessions.command import Command
from sessions.errors import LogFormatError, LogWriteError
from sessions.reader import use_map
from sessions.sinks import FileSink


def write(path: Path, commands: list[Command], flush_every: int = 5, **options: object) -> LogWriter:
    writer = LogWriter(path, metadata={"user": {"test": True}}, **options)
    for i, cmd in enumerate(commands, 1):
        writer.append(cmd)
        if i % flush_every == 0:
            writer.flush()
    writer.close()
    return writer


def test_round_trip_header_index_and_commands(tmp_path: Path) -> None:
    cmds = points_scene(frames=12)
    path = tmp_path / "a.gsplog"
    write(path, cmds)
    with LogReader(path) as reader:
        assert reader.complete and reader.index.from_footer
        assert reader.metadata["user"] == {"test": True}
        assert reader.metadata["protocol"] == "1.2" and reader.metadata["format"] == "1.3"
        assert "created" in reader.metadata and "host" in reader.metadata
        got = list(reader.commands())
        assert [c.seq for c in got] == [c.seq for c in cmds]
        assert [c.op for c in got] == [c.op for c in cmds]
        for a, b in zip(got, cmds):
            for x, y in zip(a.args, b.args):
                if isinstance(y, bytearray):
                    assert type(x) is bytearray and x == y
        assert reader.index.total_frames == 12
        assert [m.label for m in reader.index.markers] == ["middle"]
        assert reader.index.total_commands == len(cmds)
    assert final_hash(got) == final_hash(cmds)


def test_reader_rebuilds_the_index_of_an_unterminated_log(tmp_path: Path) -> None:
    cmds = points_scene(frames=8)
    path = tmp_path / "u.gsplog"
    writer = LogWriter(path, keyframe_interval_s=0.003)
    for cmd in cmds:
        writer.append(cmd)
        writer.flush()
    # no close(): as after a crash
    with LogReader(path) as reader:
        assert not reader.complete
        assert reader._map is None  # a recorder may still truncate it: never mapped
        assert [c.seq for c in reader.commands()] == [c.seq for c in cmds]
        assert reader.index.keyframes and reader.index.markers
    with LogReader(tmp_path / "u.gsplog") as again:
        assert again.index.entries == reader.index.entries


@pytest.mark.parametrize("mapped", [True, False], ids=["mapped", "GSP_NO_MMAP"])
def test_a_complete_log_is_read_from_a_map_and_nothing_decoded_holds_it(tmp_path: Path, mapped: bool) -> None:
    """Chunks of lz4 blocks, plain lz4 and stored bytes read back the same from the map as with
    ``read``; the stored chunk's arrays are copies, so closing the reader unmaps the file."""
    smooth = np.cumsum(np.full((300_000, 3), 1e-3, np.float32), axis=0)  # lz4 blocks, shuffled
    noisy = np.random.default_rng(2).integers(0, 2**32, 100_000, dtype=np.uint32).view(np.float32)  # stored
    path = tmp_path / "m.gsplog"
    writer = LogWriter(path, keyframes=False)
    for seq, data in enumerate((smooth, noisy, smooth[:1000]), 1):
        writer.append(Command(seq, seq, "Buffer.set_data", "b", (data,)))
        writer.flush()
    writer.close()
    default = use_map(mapped)
    try:
        reader = LogReader(path)
    finally:
        use_map(default)
    with reader:
        the_map = reader._map
        assert (the_map is not None) == mapped
        flags = [reader.read_chunk(n).info.flags for n in range(3)]
        assert flags[0] & ChunkFlags.BLOCKS and not flags[1] & ChunkFlags.LZ4 and flags[2] == ChunkFlags.LZ4
        got = [c.args[0] for c in reader.commands()]
    if the_map is not None:
        assert the_map.closed  # close() could unmap it: no decoded array is a view of the file
    for array, expected in zip(got, (smooth, noisy, smooth[:1000]), strict=True):
        np.testing.assert_array_equal(array, expected)


_CUT_WHILE_READ = """
import sys
import numpy as np
from sessions import LogReader, LogWriter
from sessions.command import Command
from sessions.errors import LogFormatError
from sessions.reader import use_map

path, mapped = sys.argv[1], sys.argv[2] == "mapped"
rounded = np.round(np.random.default_rng(0).random((200_000, 3)), 2).astype(np.float32)
writer = LogWriter(path, keyframes=False)
for seq in range(1, 9):  # 8 lz4 chunks, decoded from the map
    writer.append(Command(seq, seq, "Buffer.set_data", "b", (np.roll(rounded, seq, axis=0),)))
    writer.flush()
writer.close()
use_map(mapped)
with LogReader(path) as reader:
    assert (reader._map is not None) == mapped
    seen = 0
    try:
        for command in reader.commands():
            seen += 1
            if seen == 2:  # another program writes over the file in place (cp, scp, a shell's >)
                with open(path, "r+b") as file:
                    file.truncate(reader.index.entries[1].offset + 100)
    except LogFormatError as error:
        print(seen, error)
"""


@pytest.mark.parametrize("mapped", ["mapped", "read"])
def test_a_log_cut_in_place_while_read_gives_an_error_not_a_crash(tmp_path: Path, mapped: str) -> None:
    """Touching a mapped page past a file's end kills the process (SIGBUS): the reader checks
    the file's size before it takes each chunk from the map. A real process, so that a crash
    does not take the test run with it."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _CUT_WHILE_READ, str(tmp_path / "cut.gsplog"), mapped],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    seen, _, message = done.stdout.strip().partition(" ")
    assert seen == "2" and "chunk 2: chunk cut short (0 of" in message and "written over since it was opened" in message


def _resident_file_bytes() -> int:
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return int(fields["RssFile"].split()[0]) * 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux's /proc tells resident memory")
def test_a_mapped_log_read_whole_does_not_stay_resident(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pages of decoded chunks leave the process every DROP_MAPPED_EVERY bytes (they stay
    in the page cache): a log read whole would otherwise count in full in the reader's resident
    memory."""
    import sessions.reader

    monkeypatch.setattr(sessions.reader, "DROP_MAPPED_EVERY", 8 << 20)  # a smaller file does
    path = tmp_path / "long.gsplog"
    rounded = np.round(np.random.default_rng(3).random((250_000, 3)), 2).astype(np.float32)
    writer = LogWriter(path, keyframes=False)
    for seq in range(1, 31):  # 3 MB a frame, lz4 makes it 1.7 MB
        writer.append(Command(seq, seq, "Buffer.set_data", "b", (np.roll(rounded, seq, axis=0),)))
        writer.flush()
    writer.close()
    size = path.stat().st_size
    assert size > 40e6
    default = use_map(True)  # whatever GSP_NO_MMAP says for the rest of the run
    try:
        reader = LogReader(path)
    finally:
        use_map(default)
    with reader:
        assert reader._map is not None
        before = _resident_file_bytes()
        for _ in reader.commands():
            pass
        grown = _resident_file_bytes() - before
    assert grown < (8 << 20) + 4e6, f"{grown} bytes of the {size}-byte file stayed resident"


def test_max_chunk_bytes_cuts_chunks(tmp_path: Path) -> None:
    cmds = points_scene(frames=20, n=2000)
    path = tmp_path / "c.gsplog"
    write(path, cmds, flush_every=10_000, max_chunk_bytes=50_000, keyframes=False)
    with LogReader(path) as reader:
        sizes = [e.size for e in reader.index.entries]
        assert len(sizes) >= 8 and max(sizes) < 50_000 + 30_000
        assert [c.seq for c in reader.commands()] == [c.seq for c in cmds]


def test_flush_if_due_waits_for_the_interval(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "f.gsplog", flush_interval_s=0.1)
    writer.append(Command(1, 0, "Recorder.mark", "", ("x",)))
    start = writer._pending_since
    assert start is not None
    assert not writer.flush_if_due(start + 50_000_000)
    assert writer.chunks_written == 0
    assert writer.flush_if_due(start + 100_000_000)
    assert writer.chunks_written == 1
    writer.close()


def test_sinks_get_the_same_chunk_bytes_as_the_file_and_an_end_chunk(tmp_path: Path) -> None:
    cmds = points_scene(frames=6)
    sink = MemorySink()
    path = tmp_path / "s.gsplog"
    writer = LogWriter(path, sinks=[sink], keyframe_interval_s=0.002)
    for cmd in cmds:
        writer.append(cmd)
        writer.flush()
    writer.close()
    assert sink.closed
    *body, (end, end_info) = sink.chunks
    assert end_info.kind == ChunkKind.END
    data = path.read_bytes()
    with LogReader(path) as reader:
        assert len(reader.index) == len(body)
        for entry, (chunk, info) in zip(reader.index.entries, body):
            assert data[entry.offset : entry.offset + entry.size] == chunk
            assert info.offset is None and info.kind == entry.kind and info.is_keyframe == (entry.kind == ChunkKind.KEYFRAME)
    assert sum(info.frames for _, info in body) == 6
    assert [m for _, info in body for m in info.markers][0][0] == "middle"
    # a subscriber saving the wire chunks gets the same log
    copy = FileSink(tmp_path / "copy.gsplog", header=writer.header)
    for chunk, _info in sink.chunks:
        copy.write_chunk(chunk)  # info rebuilt from the bytes; END is not stored
    copy.close()
    with LogReader(tmp_path / "copy.gsplog") as reader:
        assert [c.seq for c in reader.commands()] == [c.seq for c in cmds]
        assert reader.index.markers[0].label == "middle"
        # as the writer indexes its own: a keyframe's render is state, not a frame
        assert reader.index.keyframes and all(reader.index.entries[k].frames == 0 for k in reader.index.keyframes)
        assert reader.index.total_frames == 6


def test_keyframes_by_time_and_bytes_and_on_demand(tmp_path: Path) -> None:
    cmds = points_scene(frames=30, n=500)
    path = tmp_path / "k.gsplog"
    write(path, cmds, flush_every=4, keyframe_interval_s=0.01)
    with LogReader(path) as reader:
        kf_times = [reader.index.entries[i].t_first for i in reader.index.keyframes]
        assert len(kf_times) >= 4 and all(b - a >= 10_000_000 for a, b in zip(kf_times, kf_times[1:]))
    path2 = tmp_path / "kb.gsplog"
    # By bytes: at least KEYFRAME_SPACING x the scene's buffer bytes (~12 KB here) apart.
    long_cmds = points_scene(frames=160, n=500)
    write(path2, long_cmds, flush_every=4, keyframe_interval_s=1e9, keyframe_interval_bytes=20_000)
    with LogReader(path2) as reader:
        kf = [reader.index.entries[i] for i in reader.index.keyframes]
        assert len(kf) >= 3
        total = reader.index.entries[-1].offset + reader.index.entries[-1].size
        assert sum(e.size for e in kf) < 0.2 * total
    path3 = tmp_path / "kd.gsplog"
    writer = LogWriter(path3, keyframe_interval_s=1e9, keyframe_interval_bytes=1 << 40)
    writer.append_many(cmds[:20])
    snap = writer.snapshot_chunk()
    assert snap is not None and snap[1] == 20
    chunk = decode_chunk(snap[0])
    assert chunk.info.kind == ChunkKind.KEYFRAME and chunk.info.seq_first == chunk.info.seq_last == 20
    assert final_hash(chunk.commands()) == final_hash(cmds[:20])
    assert writer.write_keyframe()
    writer.append_many(cmds[20:])
    writer.close()
    with LogReader(path3) as reader:
        assert len(reader.index.keyframes) == 1


@pytest.mark.parametrize("where", ["seq:25", "0.03", "#7", "@middle", 25_000_000, "seq:1", "seq:9999"])
def test_seek_from_a_keyframe_gives_the_same_state(tmp_path: Path, where: object) -> None:
    cmds = points_scene(frames=20, n=64)
    path = tmp_path / "seek.gsplog"
    write(path, cmds, flush_every=3, keyframe_interval_s=0.005)
    with LogReader(path) as reader:
        target = reader.resolve(where)  # type: ignore[arg-type]
        stop = target + 6  # past the log's end for seq:9999 (a stop before the start is refused)
        seeked = list(reader.commands(start=where, stop=f"seq:{stop}"))  # type: ignore[arg-type]
        keyframe, _ = reader.seek(where)  # type: ignore[arg-type]
        if keyframe is not None:
            assert seeked[0].op == "Scene.keyframe"
            replayed_from = reader.index.entries[keyframe].seq_last + 1
            after = [c.seq for c in seeked if c.op != "Scene.keyframe" and c.seq >= replayed_from]
            assert not after or after[0] == replayed_from
        assert all(c.seq < stop for c in seeked)
    assert final_hash(seeked) == final_hash([c for c in cmds if c.seq < stop])


@pytest.mark.parametrize("where", ["0.03", "#7"])
def test_a_seek_reads_the_chunk_of_its_target_once(tmp_path: Path, where: str) -> None:
    """Resolving a time or frame reads the chunk holding it; the replay that follows, after the
    keyframe and the chunks its links point at, gets that chunk again without reading it."""
    cmds = points_scene(frames=20, n=64)
    path = tmp_path / "seek.gsplog"
    write(path, cmds, flush_every=3, keyframe_interval_s=0.005)
    with LogReader(path) as reader:
        reads: list[int] = []
        pread = reader._pread

        def counted(offset: int, size: int) -> memoryview:
            reads.append(offset)
            return pread(offset, size)

        reader._pread = counted  # type: ignore[method-assign]
        target = reader.resolve(where)
        keyframe, _ = reader.seek(where)
        assert keyframe is not None and reader.index.chunk_for_seq(target) != keyframe  # the keyframe is read between
        seeked = list(reader.commands(start=where))
    chunk_reads = [offset for offset in reads if offset in {entry.offset for entry in reader.index.entries}]
    assert len(chunk_reads) == len(set(chunk_reads)), chunk_reads
    assert final_hash(seeked) == final_hash(cmds)


def test_resolve_positions(tmp_path: Path) -> None:
    cmds = points_scene(frames=10, marker_at=4)
    path = tmp_path / "r.gsplog"
    write(path, cmds)
    renders = [c.seq for c in cmds if c.op == "Renderer.render"]
    mark = next(c.seq for c in cmds if c.op == "Recorder.mark")
    with LogReader(path) as reader:
        assert reader.resolve("#1") == renders[0] and reader.resolve("f10") == renders[9]
        assert reader.resolve("#11") == len(cmds) + 1
        assert reader.resolve("@middle") == mark
        assert reader.resolve("0.005s") == 5 and reader.resolve(0.005) == 5 and reader.resolve(5_000_000) == 5
        with pytest.raises(ValueError, match="no marker 'nope'"):
            reader.resolve("@nope")
        with pytest.raises(ValueError, match="expected seconds"):
            reader.resolve("yesterday")


def test_unknown_chunk_kinds_are_skipped_with_a_warning(tmp_path: Path) -> None:
    cmds = points_scene(frames=4)
    path = tmp_path / "x.gsplog"
    sink = FileSink(path, {"format": "1.0"})
    first = encode_chunk(cmds[:10])
    future = bytearray(encode_chunk(cmds[10:12]))
    future[5] = 42  # a kind from the future...
    from sessions.chunk import _CHECKED, checksum

    future[_CHECKED:HEADER_SIZE] = checksum(bytes(future[:_CHECKED])).to_bytes(8, "little")  # ...correctly framed
    sink.write_chunk(first)
    sink.write_chunk(bytes(future), peek_chunk_header(bytes(future)))
    sink.write_chunk(encode_chunk(cmds[12:]))
    sink.close()
    with LogReader(path) as reader, pytest.warns(UserWarning, match="unknown kind 42"):
        got = [c.seq for c in reader.commands()]
    assert got == [c.seq for c in cmds[:10] + cmds[12:]]


def test_byte_shuffle_is_chosen_for_smooth_floats_and_not_for_random(tmp_path: Path) -> None:
    smooth = np.cumsum(np.full((50_000, 3), 1e-3, np.float32), axis=0)
    noisy = np.random.default_rng(1).integers(0, 2**32, (50_000, 3), dtype=np.uint32).view(np.float32)
    chunk_s = encode_chunk([Command(1, 0, "Buffer.set_data", "b", (smooth,))])
    chunk_n = encode_chunk([Command(1, 0, "Buffer.set_data", "b", (noisy,))])
    info_s, info_n = peek_chunk_header(chunk_s), peek_chunk_header(chunk_n)
    assert info_s.flags & ChunkFlags.SHUFFLE and not info_n.flags & ChunkFlags.SHUFFLE
    plain = encode_chunk([Command(1, 0, "Buffer.set_data", "b", (smooth,))], shuffle=False)
    assert len(chunk_s) < 0.8 * len(plain)
    np.testing.assert_array_equal(decode_chunk(chunk_s).commands()[0].args[0], smooth)


def test_write_failure_is_one_log_write_error_and_the_file_stays_readable(tmp_path: Path) -> None:
    cmds = points_scene(frames=5)
    path = tmp_path / "w.gsplog"
    writer = LogWriter(path)
    writer.append_many(cmds[:10])
    writer.flush()
    assert writer.file_sink is not None
    import os

    os.close(writer.file_sink._fd)  # the disk goes away under us
    writer.file_sink._fd = os.open(os.devnull, os.O_RDONLY)
    writer.append_many(cmds[10:])
    with pytest.raises(LogWriteError, match="writing chunk 1 at offset"):
        writer.flush()
    writer.close()  # after a failure: releases the file, writes nothing more
    with LogReader(path) as reader:
        assert [c.seq for c in reader.commands()] == [c.seq for c in cmds[:10]]


def test_unencodable_commands_raise_log_write_error_and_cost_only_themselves(tmp_path: Path) -> None:
    """A value the codec refuses (here found when the chunk is encoded) used to lose every
    other command of its chunk."""
    import numpy as np

    writer = LogWriter(tmp_path / "e.gsplog", keyframes=False)
    writer.append(Command(0, 0, "Viewport.new", "v", (0, 0, 10, 10, bytearray(4))))  # what the others name
    writer.append(Command(1, 0, "X.y", "t", (object(),)))
    with pytest.raises(LogWriteError, match="seq=1 op=X.y"):
        writer.flush()
    for seq in range(2, 8):
        writer.append(Command(seq, seq, "Viewport.set_x", "v", (seq,)))
    writer.append(Command(8, 8, "Viewport.set_x", "v", (np.complex64(1 + 2j),)))
    writer.append(Command(9, 9, "Viewport.set_x", "v", (2**70,)))
    with pytest.raises(LogWriteError, match=r"seq=8 op=Viewport.set_x: .*; .*seq=9 op=Viewport.set_x: .*other commands were written"):
        writer.flush()
    writer.append(Command(10, 10, "Viewport.set_y", "v", (3,)))
    writer.write_keyframe()  # the scene knows no refused value: nothing to refuse again
    writer.close()
    assert tools.verify(tmp_path / "e.gsplog").ok
    with LogReader(tmp_path / "e.gsplog") as reader:
        assert [c.args[0] for c in reader.commands()] == [0, *range(2, 8), 3]


@pytest.mark.parametrize(("seq", "t_ns"), [(2, 30), (1, 50), (3, 10)], ids=["seq repeats", "seq goes back", "time goes back"])
def test_commands_out_of_order_are_refused_and_the_log_goes_on(tmp_path: Path, seq: int, t_ns: int) -> None:
    path = tmp_path / "order.gsplog"
    with LogWriter(path, keyframes=False) as writer:
        writer.append(Command(1, 10, "Viewport.set_x", "v", (1,)))
        writer.append(Command(2, 20, "Viewport.set_x", "v", (2,)))
        with pytest.raises(ValueError, match=rf"seq={seq} t_ns={t_ns} comes after seq=2 t_ns=20"):
            writer.append(Command(seq, t_ns, "Viewport.set_x", "v", (9,)))
        with pytest.raises(ValueError, match="append_rows"):
            writer.append_rows([(seq, t_ns, "Viewport.set_x", "v", (9,), {})])
        writer.append(Command(3, 20, "Viewport.set_x", "v", (3,)))  # same time is fine
    with LogReader(path) as reader:
        assert [(c.seq, c.args) for c in reader.commands()] == [(1, (1,)), (2, (2,)), (3, (3,))]


def test_bad_commands_disable_keyframes_with_a_warning_not_the_log(tmp_path: Path) -> None:
    path = tmp_path / "bad.gsplog"
    writer = LogWriter(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        writer.append(Command(1, 0, "Buffer.set_data", "no-such-buffer", (bytearray(4), 0, 1)))
        # The writer's state is brought up to date lazily: the failure shows at the keyframe.
        assert writer.write_keyframe() is False
        writer.append(Command(2, 0, "Viewport.set_x", "v", (3,)))
        assert writer._ledger is not None and len(writer._ledger) == 0  # holds nothing any more
    assert any("keyframes disabled" in str(w.message) for w in caught)
    writer.close()
    with LogReader(path) as reader:
        assert len(list(reader.commands())) == 2


def test_chunk_info_round_trips_through_dataclasses(tmp_path: Path) -> None:
    chunk = encode_chunk(points_scene(frames=2))
    info = peek_chunk_header(chunk)
    assert dataclasses.replace(info, frames=2).frames == 2
    with pytest.raises(LogFormatError, match="declares"):
        decode_chunk(chunk + b"x")


_HEADER_FAILS = """
import os, resource, signal, sys
from sessions.errors import LogWriteError
from sessions.sinks import FileSink
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
path = sys.argv[1]
resource.setrlimit(resource.RLIMIT_FSIZE, (10, resource.RLIM_INFINITY))
try:
    FileSink(path, {"note": "x" * 100})
except LogWriteError as error:
    print("first failed:", error)
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
print("open fds to the log:", sum(os.path.realpath(f"/proc/self/fd/{fd}") == os.path.realpath(path)
                                  for fd in os.listdir("/proc/self/fd")))
FileSink(path, {"note": "again"}).close()  # the path is not held by the sink that failed
print("second wrote a log")
"""


def test_a_sink_whose_header_cannot_be_written_lets_go_of_the_file(tmp_path: Path) -> None:
    """It kept the file open and locked: in the same process, a retry on that path was refused
    as "another recorder is writing this log now"."""
    import subprocess
    import sys

    path = tmp_path / "header.gsplog"
    result = subprocess.run([sys.executable, "-c", _HEADER_FAILS, str(path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "first failed:" in result.stdout and "open fds to the log: 0" in result.stdout
    assert "second wrote a log" in result.stdout
    with LogReader(path) as reader:
        assert reader.metadata["note"] == "again"



@pytest.mark.parametrize("where", ["", "afile/x.gsplog", "afile/a/b/x.gsplog"])
def test_a_log_that_cannot_be_created_says_where(tmp_path: Path, where: str) -> None:
    # A file where a folder should be gave a bare NotADirectoryError from a probe (no "cannot
    # create the log"), and an empty path "': cannot create the log: No such file or directory".
    (tmp_path / "afile").write_text("not a folder")
    path = str(tmp_path / where) if where else ""
    says = "its path is empty" if not where else f"{str(tmp_path / 'afile')!r} is a file, not a folder"
    with pytest.raises(LogWriteError, match=f"cannot create the log: {re.escape(says)}$"):
        LogWriter(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]

def test_a_header_that_meets_a_full_disk_leaves_no_log_and_an_earlier_one_as_it_was(
        small_disk: Callable[[str], Any]) -> None:
    """A new log whose header cannot be written is no log: nothing is left at its path (a 0-byte
    file was). A log already there stays whole: it is replaced only once the new header is
    written."""
    disk = small_disk("1m")
    earlier, new = disk.path / "earlier.gsplog", disk.path / "new.gsplog"
    write(earlier, points_scene(frames=2))
    before = earlier.read_bytes()
    disk.fill()
    for path in (new, earlier):
        with pytest.raises(LogWriteError, match="No space left on device") as caught:
            LogWriter(path)
        assert str(path) in str(caught.value)
    assert not new.exists()
    assert earlier.read_bytes() == before
    assert sorted(p.name for p in disk.path.iterdir()) == ["earlier.gsplog", "filler"]  # nothing half made


def test_index_queries_keep_up_with_chunks_added_after_them() -> None:
    """The index's queries answer for every chunk, also for those added after a query (a
    followed log's index grows; the lists the queries use are made again then)."""
    from sessions.index import IndexEntry, LogIndex

    index = LogIndex()

    def add(kind: int, seq_first: int, seq_last: int, t_last: int) -> None:
        offset = 100 + 10 * len(index.entries)
        index.entries.append(IndexEntry(offset, 10, kind, seq_last - seq_first + 1, seq_first, seq_last,
                                        t_last - 5, t_last, 1))

    add(ChunkKind.COMMANDS, 1, 10, 100)
    add(ChunkKind.KEYFRAME, 10, 10, 100)
    assert index.keyframes == [1] and index.keyframe_before_seq(20) == 1 and index.keyframe_before_seq(10) is None
    assert index.chunk_for_seq(15) is None and index.time_range() == (95, 100)
    add(ChunkKind.COMMANDS, 11, 20, 200)
    add(ChunkKind.LINKED_KEYFRAME, 20, 20, 200)
    add(ChunkKind.COMMANDS, 21, 30, 300)
    assert index.keyframes == [1, 3] and index.command_chunks() == [0, 2, 4]
    assert index.keyframe_before_seq(25) == 3 and index.keyframe_before_seq(20) == 1
    assert index.chunk_for_seq(15) == 2 and index.chunk_for_time(250) == 4 and index.chunk_for_time(301) is None
    assert index.seq_range() == (1, 30) and index.time_range() == (95, 300)
    # Keyframes out of seq order (sessions joined one after another): the last one in the file wins.
    add(ChunkKind.KEYFRAME, 5, 5, 300)
    assert index.keyframe_before_seq(25) == 5 and index.keyframe_before_seq(6) == 5 and index.keyframe_before_seq(5) is None
