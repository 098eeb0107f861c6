"""Golden logs of every released format version still read, with exactly the expected commands."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from make_golden import build, expected_dump

from sessions import ChunkKind, LogReader, tools
from sessions.fileformat import FORMAT_MAJOR, FORMAT_MINOR

GOLDEN_DIR = Path(__file__).with_name("golden")
GOLDENS = sorted(GOLDEN_DIR.glob("golden_v*.gsplog"))


CURRENT = GOLDEN_DIR / f"golden_v{FORMAT_MAJOR}_{FORMAT_MINOR}.gsplog"


def test_there_is_a_golden_file_for_every_version() -> None:
    assert GOLDEN_DIR / "golden_v1_0.gsplog" in GOLDENS
    assert CURRENT in GOLDENS


@pytest.mark.parametrize("golden", GOLDENS, ids=lambda p: p.name)
def test_golden_log_reads_with_the_exact_expected_commands(golden: Path) -> None:
    expected = golden.with_suffix(".expected.jsonl").read_text().splitlines()
    out = io.StringIO()
    tools.dump(golden, out, full=True)
    assert out.getvalue().splitlines() == expected
    assert tools.verify(golden).ok
    with LogReader(golden) as reader:
        assert reader.complete and reader.metadata["user"]["golden"] is True
        assert [m.label for m in reader.index.markers] == ["middle"]
        keyframe, target = reader.seek("@middle")
        assert keyframe is not None and target == 17
        seeked = list(reader.commands(start="@middle"))
        assert seeked[0].op == "Scene.keyframe" and seeked[-1].seq == 23


def test_golden_v1_0_first_commands_are_exactly_these() -> None:
    lines = [json.loads(line) for line in (GOLDEN_DIR / "golden_v1_0.expected.jsonl").read_text().splitlines()]
    assert len(lines) == 23
    assert lines[0] == {"seq": 1, "t_ns": 1_000_000, "op": "Canvas.new",
                        "target": "00000000-0000-0000-0000-000000000001",
                        "args": [200, 150, 100.0, {"$bytearray": 4, "hex": "ffffffff"}], "kwargs": {}}
    assert lines[2]["args"] == [8, {"$enum": "BufferType.vec3", "value": 7}]
    assert lines[16] == {"seq": 17, "t_ns": 17_000_000, "op": "Recorder.mark", "target": "",
                         "args": ["middle"], "kwargs": {}}


def test_the_writer_still_produces_the_golden_bytes(tmp_path: Path) -> None:
    # Not a compatibility requirement (readers must read old files), but a change here means the
    # format changed: bump FORMAT_MINOR/MAJOR, document it and add a new golden file.
    # Keyframe contents come from gsp's _snapshot_(), so only the header and COMMANDS chunks are
    # compared byte for byte.
    path = tmp_path / "again.gsplog"
    build(path)
    golden = CURRENT
    with LogReader(path) as new, LogReader(golden) as old:
        assert new.header == old.header
        new_bytes, old_bytes = path.read_bytes(), golden.read_bytes()
        assert [e.kind for e in new.index.entries] == [e.kind for e in old.index.entries]
        for a, b in zip(new.index.entries, old.index.entries):
            if a.kind == ChunkKind.COMMANDS:
                assert new_bytes[a.offset : a.offset + a.size] == old_bytes[b.offset : b.offset + b.size]
    assert expected_dump(path) == CURRENT.with_suffix(".expected.jsonl").read_text()
