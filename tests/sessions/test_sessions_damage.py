"""Damaged, truncated, hostile and newer-version logs: LogFormatError or the intact prefix, nothing else."""

from __future__ import annotations

import random
import struct
import tracemalloc
import warnings
from pathlib import Path

import pytest
from sessions_testkit import points_scene

from sessions import LogReader, LogWriter
from sessions.chunk import _CHECKED, _HEADER, CHUNK_MAGIC, HEADER_SIZE, ChunkFlags, checksum
from sessions.command import Command
from sessions.errors import LogFormatError
from sessions.fileformat import decode_header


@pytest.fixture(scope="module")
def small_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, list[Command]]:
    cmds = points_scene(frames=4, n=6)
    path = tmp_path_factory.mktemp("dmg") / "small.gsplog"
    writer = LogWriter(path, keyframe_interval_s=0.004)
    for i, cmd in enumerate(cmds, 1):
        writer.append(cmd)
        if i % 4 == 0:
            writer.flush()
    writer.close()
    return path.read_bytes(), cmds


def read_all(path: Path, recover: bool) -> list[tuple[int, str]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with LogReader(path, recover=recover) as reader:
            return [(c.seq, c.op) for c in reader.commands()]


def check_damaged(path: Path, expected: list[tuple[int, str]]) -> list[tuple[int, str]] | None:
    """Strict: all commands or LogFormatError (with an offset). Recover: a prefix, or LogFormatError
    when even the header is gone."""
    strict = None
    try:
        strict = got = read_all(path, recover=False)
        assert got == expected[: len(got)]
    except LogFormatError as error:
        assert error.offset is not None or "header" in error.reason or "short" in error.reason
        assert str(error).startswith(str(path))
    try:
        got = read_all(path, recover=True)
    except LogFormatError as error:
        assert "header" in error.reason or error.offset == 0  # only the file header can stop recovery
        return strict
    assert got == expected[: len(got)], "recover mode must return an intact prefix"
    return strict


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_truncation_at_every_byte_offset(small_log: tuple[bytes, list[Command]], tmp_path: Path) -> None:
    data, cmds = small_log
    expected = [(c.seq, c.op) for c in cmds]
    path = tmp_path / "t.gsplog"
    header_size = decode_header(data).size
    lengths = []
    for cut in range(len(data) + 1):
        path.write_bytes(data[:cut])
        strict = check_damaged(path, expected)
        if cut >= header_size:
            assert strict is not None, f"a cut at {cut} is an unterminated log, not an error"
            lengths.append(len(strict))
    assert lengths == sorted(lengths), "a longer file never yields fewer commands"
    assert lengths[-1] == len(expected) and len(data) > 2000


@pytest.mark.timeout(120)
def test_a_thousand_single_bit_flips(small_log: tuple[bytes, list[Command]], tmp_path: Path) -> None:
    data, cmds = small_log
    expected = [(c.seq, c.op) for c in cmds]
    rng = random.Random(1234)
    path = tmp_path / "f.gsplog"
    path.write_bytes(data)
    with LogReader(path) as reader:  # a full read does not read keyframes (gsp verify does)
        unread = [(e.offset, e.offset + e.size) for e in (reader.index.entries[i] for i in reader.index.keyframes)]
    errors = in_unread = 0
    for _ in range(1000):
        damaged = bytearray(data)
        offset = rng.randrange(len(data))
        damaged[offset] ^= 1 << rng.randrange(8)
        path.write_bytes(damaged)
        if check_damaged(path, expected) is None:
            errors += 1
        elif any(start <= offset < end for start, end in unread):
            in_unread += 1  # every command read, as recorded (check_damaged compares them)
    assert errors + in_unread > 500 and errors > 300  # checksums catch flips in the chunk bytes read


@pytest.mark.parametrize("seed", range(20))
def test_random_garbage(tmp_path: Path, seed: int, small_log: tuple[bytes, list[Command]]) -> None:
    rng = random.Random(seed)
    path = tmp_path / "g.gsplog"
    path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 5000))))
    with pytest.raises(LogFormatError, match="offset 0"):
        LogReader(path)
    # garbage after a valid header and first chunks: the prefix survives
    data, cmds = small_log
    header_size = decode_header(data).size
    first_chunk = struct.unpack_from("<Q", data, header_size + 56)[0] + HEADER_SIZE
    path.write_bytes(data[: header_size + first_chunk] + bytes(rng.randrange(256) for _ in range(3000)))
    check_damaged(path, [(c.seq, c.op) for c in cmds])


def test_newer_major_version_is_refused_clearly(small_log: tuple[bytes, list[Command]], tmp_path: Path) -> None:
    data, _ = small_log
    header = decode_header(data)
    newer = bytearray(data)
    struct.pack_into("<HH", newer, 8, 2, 0)
    end = header.size - 8
    struct.pack_into("<Q", newer, end, checksum(bytes(newer[:end])))
    path = tmp_path / "v2.gsplog"
    path.write_bytes(newer)
    with pytest.raises(LogFormatError, match=r"offset 8: format version 2\.0 is not supported"):
        LogReader(path)
    minor = bytearray(data)
    struct.pack_into("<HH", minor, 8, 1, 7)
    struct.pack_into("<Q", minor, end, checksum(bytes(minor[:end])))
    path.write_bytes(minor)
    with LogReader(path) as reader:  # a newer minor version reads
        assert reader.header.minor == 7


def hostile_header(stored: int, raw: int, flags: int = ChunkFlags.LZ4, count: int = 1) -> bytes:
    head = _HEADER.pack(CHUNK_MAGIC, 1, 1, flags, 0, count, 0, 1, 1, 0, 0, raw, stored, 0, 0, 0)
    return head[:_CHECKED] + struct.pack("<Q", checksum(head[:_CHECKED]))


@pytest.mark.parametrize(
    "stored, raw, reason",
    [
        (1 << 40, 100, "declares 1099511627776 bytes, over the limit"),
        (100, 1 << 40, "over the limit"),
        (100, 1 << 29, "impossible for 100 lz4 bytes"),
        (1 << 29, 1 << 29, "cut short|ignored|declares"),
    ],
)
def test_chunk_header_declaring_huge_sizes(small_log: tuple[bytes, list[Command]], tmp_path: Path,
                                           stored: int, raw: int, reason: str) -> None:
    data, cmds = small_log
    header_size = decode_header(data).size
    path = tmp_path / "huge.gsplog"
    path.write_bytes(data[:header_size] + hostile_header(stored, raw) + b"\0" * 200)
    tracemalloc.start()
    try:
        if "cut short" in reason:  # a plausible size past the end of the file: an incomplete tail
            with LogReader(path) as reader:
                assert reader.tail_incomplete and list(reader.commands()) == []
        else:
            with pytest.raises(LogFormatError, match=reason) as info:
                LogReader(path)
            assert info.value.offset == header_size and info.value.chunk_index == 0
            with pytest.warns(UserWarning, match=f"offset {header_size}"), LogReader(path, recover=True) as reader:
                assert list(reader.commands()) == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20


def test_damaged_footer_falls_back_to_scanning(small_log: tuple[bytes, list[Command]], tmp_path: Path) -> None:
    data, cmds = small_log
    path = tmp_path / "footer.gsplog"
    damaged = bytearray(data)
    damaged[-30] ^= 0xFF  # inside the footer chunk
    path.write_bytes(damaged)
    with pytest.warns(UserWarning, match="rebuilding the index"), LogReader(path) as reader:
        assert not reader.complete
        assert [c.seq for c in reader.commands()] == [c.seq for c in cmds]


def test_not_a_log_and_empty_files(tmp_path: Path) -> None:
    path = tmp_path / "e.gsplog"
    path.write_bytes(b"")
    with pytest.raises(LogFormatError, match="too short"):
        LogReader(path)
    path.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(LogFormatError, match="not a gsplog file"):
        LogReader(path)
