"""Hostile chunks and files whose checksums are right: what a publisher or a file's author could
send on purpose. Mutated bytes reach the decoders (msgpack rows in C and Python, array headers,
block tables, footer index, header metadata, keyframes) and then the scene state; only the
documented errors may come out: LogFormatError, or CommandError when a command cannot apply."""

from __future__ import annotations

import random
import re
import struct
import warnings
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
from sessions_testkit import points_scene

from sessions import CommandError, LogReader, LogWriter, decode_chunk, encode_chunk, tools
from sessions.chunk import _CHECKED, HEADER_SIZE, ChunkFlags, ChunkKind, _frame, checksum
from sessions.command import Command
from sessions.errors import LogFormatError
from sessions.fileformat import TRAILER_SIZE, decode_header, decode_trailer, encode_trailer
from sessions.position import At
from sessions.scene import SceneState

pytestmark = pytest.mark.filterwarnings("ignore")  # skipped commands and unknown kinds warn

# Bytes that change what msgpack reads next: containers, exts, strings, sizes.
_MSGPACK_BYTES = [0x00, 0x01, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xC4, 0xC5, 0xC6,
                  0xC7, 0xC8, 0xC9, 0xCA, 0xCB, 0xCC, 0xCF, 0xD0, 0xD3, 0xD4, 0xD8, 0xD9, 0xDB, 0xDC, 0xDD,
                  0xDE, 0xDF, 0xE0, 0xFF]
_WORDS = [0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 20, 1 << 31]


def mutate(rng: random.Random, data: bytearray) -> bytearray:
    """A few random edits: bit flips, telling bytes, 32-bit sizes, cuts, insertions, copies."""
    for _ in range(rng.choice([1, 1, 2, 3, 8])):
        if len(data) < 8:
            break
        at = rng.randrange(len(data))
        edit = rng.random()
        if edit < 0.35:
            data[at] ^= 1 << rng.randrange(8)
        elif edit < 0.65:
            data[at] = rng.choice(_MSGPACK_BYTES)
        elif edit < 0.75:
            struct.pack_into("<I", data, min(at, len(data) - 4), rng.choice(_WORDS))
        elif edit < 0.85:
            del data[at : at + rng.randrange(1, 64)]
        elif edit < 0.95:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
        else:
            start = rng.randrange(len(data))
            data[at:at] = data[start : start + rng.randrange(1, 200)]
    return data


def corpus() -> list[bytes]:
    """Real chunks of every layout: a GSP scene, small calls, arrays of several dtypes stored,
    lz4, shuffled, and lz4 blocks."""
    from gsp.constants import Constants
    from gsp.types import BufferType

    scene = points_scene(frames=3, n=20)
    # small calls on objects the chunk creates first, so that the calls reach GSP's own checks
    small = [Command(1, 1, "Viewport.new", "v", (0, 0, 200, 150, bytearray(Constants.Color.white)))]
    small += [Command(i, i, "Viewport.set_x", "v", (i,)) for i in range(2, 60)]
    writes = [Command(1, 1, "Buffer.new", "b", (1, BufferType.vec4))]
    writes += [Command(i, i, "Buffer.set_data", "b", (bytearray(np.float32([i, 1, 2, 3]).tobytes()), 0, 1))
               for i in range(2, 60)]
    rng = np.random.default_rng(1)
    arrays = [np.cumsum(rng.random((3000, 3), np.float32), axis=0), rng.integers(0, 9, (50, 4), np.uint8),
              np.arange(20, dtype=np.float64), np.eye(4, dtype=np.float32).reshape(1, 4, 4)]
    with_arrays = [Command(i + 1, i, "Buffer.set_data", "b", (a, 0, len(a))) for i, a in enumerate(arrays)]
    big = [Command(1, 1, "Buffer.set_data", "b", (np.cumsum(rng.random((30_000, 3), np.float32), axis=0), 0, 30_000)),
           Command(2, 2, "Viewport.set_x", "v", (3,))]
    chunks = [encode_chunk(scene), encode_chunk(small), encode_chunk(small, compress=False), encode_chunk(writes),
              encode_chunk(with_arrays), encode_chunk(with_arrays, shuffle=True),
              encode_chunk(with_arrays, compress=False), encode_chunk(big, shuffle=True)]
    assert decode_chunk(chunks[-1]).info.flags & ChunkFlags.BLOCKS
    return chunks


def hostile(rng: random.Random, chunk: bytes) -> bytes:
    """``chunk`` with its decoded bytes, its stored payload or its header fields changed, and
    every checksum made right again."""
    decoded = decode_chunk(chunk)
    info = decoded.info
    way = rng.random()
    if way < 0.55:  # the decoded bytes, framed again (stored or lz4)
        raw = mutate(rng, bytearray(bytes(decoded.raw)))
        meta_size = info.meta_size if rng.random() < 0.8 else rng.randrange(len(raw) + 2)
        count = info.count if rng.random() < 0.9 else rng.choice([0, 1, info.count + 1, 1 << 30])
        flags = 0 if info.flags & ChunkFlags.BLOCKS else info.flags & ChunkFlags.SHUFFLE
        return _frame(info.kind, bytes(raw), meta_size, count, (info.seq_first, info.seq_last),
                      (info.t_first, info.t_last), flags, rng.random() < 0.5)
    data = bytearray(chunk)
    if way < 0.85:  # the stored payload: lz4 streams, block tables
        data[HEADER_SIZE:] = mutate(rng, bytearray(data[HEADER_SIZE:]))
        struct.pack_into("<Q", data, 56, len(data) - HEADER_SIZE)
        struct.pack_into("<Q", data, 72, checksum(data[HEADER_SIZE:]))
    else:  # a header field: kind, flags, count, seqs, sizes
        at = rng.choice([5, 6, 8, 12, 16, 24, 48, 56, 64])
        if at < 8:
            data[at] = rng.randrange(256)
        elif at < 16:
            struct.pack_into("<I", data, at, rng.choice(_WORDS))
        else:
            struct.pack_into("<Q", data, at, rng.choice([0, 1, len(data), 1 << 40, (1 << 64) - 1]))
    struct.pack_into("<Q", data, _CHECKED, checksum(data[:_CHECKED]))
    return bytes(data)


@pytest.mark.parametrize("seed", range(4))
def test_hostile_chunks_with_right_checksums_raise_only_documented_errors(seed: int) -> None:
    rng = random.Random(seed)
    chunks = corpus()
    outcomes = {"decoded": 0, "LogFormatError": 0, "CommandError": 0}
    for _ in range(750):
        data = hostile(rng, rng.choice(chunks))
        try:
            commands = decode_chunk(data).commands()
        except LogFormatError:
            outcomes["LogFormatError"] += 1
            continue
        outcomes["decoded"] += 1
        for command in commands:  # what decoded must be usable: arrays readable, state applicable
            for arg in command.args:
                if isinstance(arg, np.ndarray):
                    arg.sum()
        state = SceneState()
        try:
            for command in commands:
                state.apply(command)
        except CommandError:
            outcomes["CommandError"] += 1
        state.state_hash()
    assert min(outcomes.values()) > 20, outcomes  # every way out was taken


def test_hostile_files_with_right_checksums_raise_only_documented_errors(tmp_path: Path) -> None:
    """Header metadata, the footer index and keyframe or command chunks changed inside a whole
    file: opening, reading, seeking, verify and info raise LogFormatError at worst."""
    base = tmp_path / "base.gsplog"
    writer = LogWriter(base, keyframe_interval_s=0.003, metadata={"user": {"a": [1, 2, {"b": "c"}]}})
    for i, command in enumerate(points_scene(frames=8, n=30, marker_at=4), 1):
        writer.append(command)
        if i % 4 == 0:
            writer.flush()
    writer.close()
    data = base.read_bytes()
    header_size = decode_header(data).size
    footer = decode_trailer(data[-TRAILER_SIZE:])
    assert footer is not None
    with LogReader(base) as reader:
        entries = list(reader.index.entries)
        assert reader.index.keyframes
    rng = random.Random(5)
    path = tmp_path / "hostile.gsplog"
    outcomes = {"read": 0, "LogFormatError": 0}
    for _ in range(400):
        way = rng.random()
        if way < 0.3:  # the header's metadata
            head = mutate(rng, bytearray(data[: header_size - 8]))
            path.write_bytes(bytes(head) + struct.pack("<Q", checksum(bytes(head))) + data[header_size:])
        elif way < 0.65:  # the footer index
            path.write_bytes(data[:footer] + hostile(rng, data[footer:-TRAILER_SIZE]) + encode_trailer(footer))
        else:  # a keyframe or commands chunk (the footer's sizes may then disagree)
            entry = rng.choice(entries)
            end = entry.offset + entry.size
            path.write_bytes(data[: entry.offset] + hostile(rng, data[entry.offset : end]) + data[end:])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with LogReader(path, recover=rng.random() < 0.5) as reader:
                    for _ in reader.commands():
                        pass
                    for position in (At.time(rng.randrange(40_000_000)), At.frame(rng.randrange(1, 10)),
                                     At.seq(rng.randrange(1, 60))):
                        for _ in reader.commands(start=position):
                            pass
                tools.verify(path)
                tools.info(path)
            outcomes["read"] += 1
        except LogFormatError:
            outcomes["LogFormatError"] += 1
    assert min(outcomes.values()) > 20, outcomes


def _with_footer(data: bytes, footer: int, change: Any) -> bytes:
    """``data`` (a whole log whose footer is at ``footer``) with a valid footer of its index changed
    by ``change(payload)``: checksums right, offsets and sizes consistent."""
    payload = decode_chunk(data[footer:-TRAILER_SIZE]).payload_object()
    change(payload)
    raw = msgpack.packb(payload, use_bin_type=True)
    return data[:footer] + _frame(ChunkKind.END, raw, len(raw), 0, (0, 0), (0, 0), 0, False) + encode_trailer(footer)


def _column(name: str, chunk: int, value: int) -> Any:
    return lambda payload: payload["chunks"][name].__setitem__(chunk, value)


@pytest.mark.parametrize("change, says", [
    (_column("kind", 1, ChunkKind.KEYFRAME), "entry kind is 2, the chunk's header says 1"),
    (_column("count", 0, -100), "entry count is -100"),
    (_column("seq_last", 0, 10**9), "entry seq_last is 1000000000"),
    (_column("t_first", 0, -(2**63)), "entry t_first is"),
    (_column("frames", 2, 2**62), "4611686018427387904 frames"),
    (lambda payload: payload.__setitem__("markers", [["m", 1, 0, 2]]), "'m'"),
])
def test_a_footer_that_contradicts_its_chunks_is_not_believed(tmp_path: Path, change: Any, says: str) -> None:
    """A footer is checksummed by whoever wrote it: one calling a COMMANDS chunk a keyframe made
    replays fail ("chunk 1 is not a keyframe"), one giving -100 commands or 2**62 frames was
    shown by `gsp info`, and `gsp verify` called all of them OK. The tools' readers now compare
    each entry with its chunk's header as they open the log (and verify with its commands), and
    rebuild the index by scanning; other readers compare each chunk they read (or skip) with its
    entry, and say which disagrees."""
    base = tmp_path / "base.gsplog"
    with LogWriter(base, keyframes=False) as writer:
        for i, command in enumerate(points_scene(frames=4, n=30, marker_at=2), 1):
            writer.append(command)
            if i % 6 == 0:
                writer.flush()
    data = base.read_bytes()
    footer = decode_trailer(data[-TRAILER_SIZE:])
    assert footer is not None
    with LogReader(base) as reader:
        truth = (reader.index.entries, reader.index.markers, [c.seq for c in reader.commands()])
        assert len(truth[0]) >= 3 and reader.index.markers
    path = tmp_path / "lying.gsplog"
    path.write_bytes(_with_footer(data, footer, change))
    with pytest.warns(UserWarning, match=f"footer index cannot be used .*{says}"), \
            LogReader(path, check_index=True) as reader:
        assert not reader.complete
        assert (reader.index.entries, reader.index.markers, [c.seq for c in reader.commands()]) == truth
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:  # the counts and markers are checked as it opens (the index is rebuilt), the rest as it reads
            with LogReader(path) as reader:
                assert [c.seq for c in reader.commands()] == truth[2]
        except LogFormatError as error:
            assert re.search(f"the footer index does not describe it .*{says}", str(error)), error
    report = tools.verify(path)
    assert not report.ok and report.footer_problem is not None and re.search(says, report.footer_problem)
    assert tools.verify(base).ok
