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


def expected_dump(path: Path) -> str:
    out = io.StringIO()
    tools.dump(path, out, full=True)
    return out.getvalue()


if __name__ == "__main__":
    GOLDEN.parent.mkdir(exist_ok=True)
    build(GOLDEN)
    EXPECTED.write_text(expected_dump(GOLDEN))
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes) and {EXPECTED}")
