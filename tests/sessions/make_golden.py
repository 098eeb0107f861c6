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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
from sessions_testkit import points_scene  # noqa: E402

from sessions import LogWriter, tools  # noqa: E402
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


def expected_dump(path: Path) -> str:
    out = io.StringIO()
    tools.dump(path, out, full=True)
    return out.getvalue()


if __name__ == "__main__":
    GOLDEN.parent.mkdir(exist_ok=True)
    build(GOLDEN)
    EXPECTED.write_text(expected_dump(GOLDEN))
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes) and {EXPECTED}")
    if not BLOCKS_CHUNK.exists():  # a golden chunk is never rewritten
        build_blocks_chunk(BLOCKS_CHUNK)
        print(f"wrote {BLOCKS_CHUNK} ({BLOCKS_CHUNK.stat().st_size} bytes)")
