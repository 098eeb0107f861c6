"""Regenerate the golden session logs: ``python tests/sessions/make_golden.py``.

Golden files are kept for every released format version; a new version adds a new file, it
never rewrites an old one. Deterministic: fixed UUIDs, times, metadata and data; keyframes
forced at fixed places. ``golden_v1_0.expected.jsonl`` holds the exact commands the reader must
return (``gsp dump --full`` format).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
from sessions_testkit import points_scene  # noqa: E402

from sessions import LogWriter, Ref, tools  # noqa: E402
from sessions.fileformat import FORMAT_MAJOR, FORMAT_MINOR  # noqa: E402

GOLDEN = HERE / "golden" / f"golden_v{FORMAT_MAJOR}_{FORMAT_MINOR}.gsplog"
EXPECTED = GOLDEN.with_suffix(".expected.jsonl")
FIXED_METADATA = {
    "created": "2026-01-01T00:00:00+00:00",
    "created_unix_ns": 1767225600000000000,
    "monotonic_anchor_ns": 0,
    "host": "golden",
    "platform": "linux",
    "versions": {"gsplog": "0.1.0"},
    "user": {"golden": True, "description": "5 frames of 8 points, a marker, one keyframe"},
}


def build(path: Path) -> None:
    cmds = points_scene(frames=5, n=8, seed=42, marker_at=3)
    writer = LogWriter(path, metadata=FIXED_METADATA, keyframe_interval_s=1e9,
                       keyframe_interval_bytes=1 << 40, shuffle=False)
    for cmd in cmds:
        writer.append(cmd)
        if cmd.seq in (12, 20):
            writer.flush()
        if cmd.seq == 16:
            writer.write_keyframe()
    writer.close()


LINKED = HERE / "golden" / "linked_v1_2.gsplog"
LINKED_POINTS = 6000  # positions of 72 kB: whole writes a keyframe points at (LINK_MIN_BYTES is 64 KiB)


def linked_positions(frame: int) -> np.ndarray:
    """Positions of frame ``frame`` of the linked golden: exact in float32, compressible."""
    values = (np.arange(LINKED_POINTS * 3) % (7 + frame)).astype(np.float32) / 8
    return values.reshape(LINKED_POINTS, 3)


def build_linked(path: Path) -> None:
    """Format 1.2: 4 frames of 6000 points; after frame 2 a LINKED_KEYFRAME (its positions are a
    LogRef to frame 2's whole write); frame 4 also writes 5 points after its whole write, so the
    KEYFRAME after it stores the positions (no whole write holds them)."""
    from sessions_testkit import Script, uid

    from gsp.constants import Constants
    from gsp.types import BufferType

    s = Script()
    s.add("Canvas.new", uid(1), 200, 150, 100.0, bytearray(Constants.Color.white))
    s.add("Viewport.new", uid(2), 0, 0, 200, 150, bytearray(Constants.Color.white))
    s.buffer(uid(3), linked_positions(0), BufferType.vec3)
    s.buffer(uid(4), np.full(LINKED_POINTS, 30.0, np.float32), BufferType.float32)
    s.buffer(uid(5), np.tile(np.uint8([255, 0, 0, 255]), (LINKED_POINTS, 1)), BufferType.rgba8)
    s.buffer(uid(6), np.full(LINKED_POINTS, 1.0, np.float32), BufferType.float32)
    s.add("Points.new", uid(7), Ref(uid(3)), Ref(uid(4)), Ref(uid(5)), Ref(uid(5)), Ref(uid(6)))
    s.add("Renderer.new", uid(8), Ref(uid(1)))
    keyframes_after = []
    for frame in range(1, 5):
        s.add("Buffer.set_data", uid(3), bytearray(linked_positions(frame).tobytes()), 0, LINKED_POINTS)
        if frame == 4:
            s.add("Buffer.set_data", uid(3), bytearray(np.zeros((5, 3), np.float32).tobytes()), 10, 5)
        keyframes_after.append(s.add("Renderer.render", uid(8), [Ref(uid(2))], [Ref(uid(7))], [None], [None]).seq)
    metadata = {**FIXED_METADATA, "user": {"golden": True, "description": "4 frames of 6000 points, a linked "
                                                                         "keyframe, then a stored one"}}
    writer = LogWriter(path, metadata=metadata, keyframe_interval_s=1e9, keyframe_interval_bytes=1 << 40)
    for cmd in s.commands:
        writer.append(cmd)
        if cmd.seq in (keyframes_after[1], keyframes_after[3]):
            writer.write_keyframe()
    writer.close()


BLOCKS_CHUNK = HERE / "golden" / "blocks_v1_1.chunk"
BLOCKS_CHUNK_BLOCK_SIZE = 4096  # small blocks, so that a small file crosses many block edges


def blocks_arrays() -> list[np.ndarray]:
    """The arrays of the golden BLOCKS chunk: every shuffled itemsize, crossing block edges."""
    x = np.arange(3000, dtype=np.float64)
    return [
        np.sort(np.sin(x / 7.0)).astype(np.float32),  # 12 kB
        np.cumsum(np.cos(x[:1100] / 3.0)),  # float64, 8.8 kB
        (x[:2500] / 100.0).astype(np.float16),  # 5 kB
        (np.exp(1j * x[:400] / 50.0)).astype(np.complex128),  # 6.4 kB, items of 16 bytes
    ]


def build_blocks_chunk(path: Path) -> None:
    """A COMMANDS chunk with the BLOCKS flag (format 1.1): lz4 blocks of 4 KiB, shuffled per block."""
    from sessions.blocks import encode_blocks
    from sessions.chunk import ChunkFlags, _pack_header, _segments, checksum
    from sessions.codec import ALIGN, encode_rows

    rows = [(seq, seq * 1000, "Buffer.set_data", f"buffer-{seq}", (array, 0, len(array)), {})
            for seq, array in enumerate(blocks_arrays(), start=1)]
    batch = encode_rows(rows)
    pad = (-len(batch.meta)) % ALIGN
    raw_size = len(batch.meta) + pad + batch.blob_size
    segments = _segments([batch.meta, b"\0" * pad, *batch.blobs], len(batch.meta) + pad, batch.float_blobs)
    stored = encode_blocks(segments, raw_size, BLOCKS_CHUNK_BLOCK_SIZE)
    flags = ChunkFlags.LZ4 | ChunkFlags.SHUFFLE | ChunkFlags.BLOCKS
    head = _pack_header(1, flags, batch.count, (1, len(rows)), (1000, len(rows) * 1000), raw_size,
                        sum(len(p) for p in stored), len(batch.meta), checksum(*stored))
    path.write_bytes(b"".join([head, *stored]))


SHUFFLE_CHUNK = HERE / "golden" / "shuffle_v1_0.chunk"
SHUFFLE_PLAIN_CHUNK = HERE / "golden" / "shuffle_uncompressed_v1_0.chunk"


def _shuffle_rows() -> list[Any]:
    return [(seq, seq * 1000, "Buffer.set_data", f"buffer-{seq}", (array, 0, len(array)), {})
            for seq, array in enumerate(blocks_arrays(), start=1)]


def shuffled_1_0_chunk(rows: list[Any]) -> bytes:
    """A COMMANDS chunk of ``rows`` in the 1.0 layout of a compressed shuffled chunk (flags
    LZ4|SHUFFLE, no BLOCKS): one lz4 block of the raw body, each float array whole as its byte
    planes. Writers no longer make it (they write BLOCKS), so it is framed from the writer's own
    pieces."""
    from sessions.chunk import ChunkFlags, _frame_parts, _join_shuffled, _segments
    from sessions.codec import ALIGN, encode_rows

    batch = encode_rows(rows)
    pad = (-len(batch.meta)) % ALIGN
    raw_size = len(batch.meta) + pad + batch.blob_size
    raw = _join_shuffled(_segments([batch.meta, b"\0" * pad, *batch.blobs], len(batch.meta) + pad,
                                   batch.float_blobs), raw_size)
    seqs, times = (rows[0][0], rows[-1][0]), (rows[0][1], rows[-1][1])
    return b"".join(_frame_parts(1, [raw], raw_size, len(batch.meta), batch.count, seqs, times,
                                 ChunkFlags.SHUFFLE, True))


def build_shuffle_chunk(path: Path) -> None:
    """The golden 1.0-layout shuffled chunk (:func:`shuffled_1_0_chunk` of the golden arrays)."""
    path.write_bytes(shuffled_1_0_chunk(_shuffle_rows()))


def build_shuffle_plain_chunk(path: Path) -> None:
    """A COMMANDS chunk with SHUFFLE and no LZ4 (flags 2): what ``compress=False, shuffle=True``
    writes, the raw body itself with its float arrays whole as byte planes."""
    from sessions.chunk import encode_chunk
    from sessions.command import Command

    path.write_bytes(encode_chunk([Command(*row) for row in _shuffle_rows()], compress=False, shuffle=True))


def expected_dump(path: Path) -> str:
    out = io.StringIO()
    tools.dump(path, out, full=True)
    return out.getvalue()


if __name__ == "__main__":
    GOLDEN.parent.mkdir(exist_ok=True)
    build(GOLDEN)
    EXPECTED.write_text(expected_dump(GOLDEN))
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes) and {EXPECTED}")
    if not LINKED.exists():  # never rewritten either
        build_linked(LINKED)
        print(f"wrote {LINKED} ({LINKED.stat().st_size} bytes)")
    if not BLOCKS_CHUNK.exists():  # a golden chunk is never rewritten
        build_blocks_chunk(BLOCKS_CHUNK)
        print(f"wrote {BLOCKS_CHUNK} ({BLOCKS_CHUNK.stat().st_size} bytes)")
    for chunk_path, build_chunk in ((SHUFFLE_CHUNK, build_shuffle_chunk), (SHUFFLE_PLAIN_CHUNK, build_shuffle_plain_chunk)):
        if not chunk_path.exists():
            build_chunk(chunk_path)
            print(f"wrote {chunk_path} ({chunk_path.stat().st_size} bytes)")
