"""Commands appended as rows (the recorder's hot path) read back equal to Commands appended one by one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sessions_testkit import final_hash, points_scene

from sessions import LogReader, LogWriter
from sessions.codec import encode_commands, encode_rows
from sessions.command import Command, Ref
from sessions.index import MARK_OP


def _mixed() -> list[Command]:
    return [
        Command(1, 10, "Viewport.set_x", "v", (3,), {}),
        Command(2, 11, "Viewport.set_x", "v", (4,), {}),
        Command(3, 12, "Buffer.set_data", "b", (bytearray(b"\x01" * 16), 0, 1), {}),
        Command(4, 13, "Points.set_sizes", "p", (Ref("b"),), {}),
        Command(5, 14, "Viewport.set_attributes", "v", (), {"x": 1.5, "name": "a"}),
        Command(6, 15, "Buffer.set_data", "b", (np.arange(100, dtype=np.float32), 0, 100), {}),
        Command(7, 16, MARK_OP, "", ("here",), {}),
        Command(8, 16, "Viewport.set_x", "v", (2**40,), {}),
        Command(9, 17, "Canvas.set_bytes", "c", (b"\x00" * 300,), {}),
    ]


def _row(c: Command) -> tuple:
    return (c.seq, c.t_ns, c.op, c.target, c.args, c.kwargs)


def test_encode_rows_gives_the_bytes_of_encode_commands() -> None:
    commands = _mixed()
    by_rows = encode_rows([_row(c) for c in commands])
    by_commands = encode_commands(commands)
    assert by_rows.meta == by_commands.meta
    assert [bytes(b) for b in by_rows.blobs] == [bytes(b) for b in by_commands.blobs]


def test_append_rows_reads_back_what_append_writes(tmp_path: Path) -> None:
    commands = _mixed()
    one = LogWriter(tmp_path / "one.gsplog", keyframes=False)
    for cmd in commands:
        one.append(cmd)
    one.close()
    rows = LogWriter(tmp_path / "rows.gsplog", keyframes=False)
    rows.append_rows([_row(c) for c in commands[:4]])
    rows.append(commands[4])
    rows.append_rows([_row(c) for c in commands[5:]])
    rows.close()
    got_one = list(LogReader(tmp_path / "one.gsplog").commands())
    got_rows = list(LogReader(tmp_path / "rows.gsplog").commands())
    assert [c.op for c in got_rows] == [c.op for c in commands]
    assert [(c.seq, c.t_ns, c.op, c.target, repr(c.args), c.kwargs) for c in got_rows] == [
        (c.seq, c.t_ns, c.op, c.target, repr(c.args), c.kwargs) for c in got_one
    ]
    assert type(got_rows[2].args[0]) is bytearray and type(got_rows[8].args[0]) is bytes
    index = LogReader(tmp_path / "rows.gsplog").index
    assert [m.label for m in index.markers] == ["here"]


def test_keyframe_of_a_scene_appended_as_rows_equals_replaying_it(tmp_path: Path) -> None:
    commands = points_scene()
    writer = LogWriter(tmp_path / "k.gsplog")
    writer.append_rows([_row(c) for c in commands])
    writer.write_keyframe()
    writer.close()
    reader = LogReader(tmp_path / "k.gsplog")
    assert any(e.kind == 2 for e in reader.index.entries)
    assert final_hash(list(reader.commands())) == final_hash(commands)
    keyframe = [c for chunk in reader.chunks() if chunk.info.is_keyframe for c in chunk.commands()]
    assert final_hash(keyframe) == final_hash(commands)
