"""The session tools, through click's CliRunner and once through a real ``gsp`` process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sessions_testkit import final_hash, points_scene

from gsplog_cli.main import cli
from sessions import LogReader, LogWriter, tools
from sessions.command import Command


def make_log(path: Path, frames: int = 12, seed: int = 0) -> list[Command]:
    cmds = points_scene(frames=frames, n=50, seed=seed, marker_at=5)
    writer = LogWriter(path, keyframe_interval_s=0.004)
    for i, cmd in enumerate(cmds, 1):
        writer.append(cmd)
        if i % 3 == 0:
            writer.flush()
    writer.close()
    return cmds


@pytest.fixture()
def log(tmp_path: Path) -> tuple[Path, list[Command]]:
    path = tmp_path / "s.gsplog"
    return path, make_log(path)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_info_text_and_json(log: tuple[Path, list[Command]]) -> None:
    path, cmds = log
    code, out = run("info", str(path))
    assert code == 0 and "12 frames" in out and "@middle" in out and f"{len(cmds)} commands" in out
    code, out = run("info", "--json", str(path))
    summary = json.loads(out)
    assert summary["commands"] == len(cmds) and summary["frames"] == 12 and summary["complete"]
    assert summary["keyframes"] >= 2 and summary["seq_range"] == [1, len(cmds)]
    expected_ops: dict[str, int] = {}
    for cmd in cmds:
        expected_ops[cmd.op] = expected_ops.get(cmd.op, 0) + 1
    assert summary["commands_per_op"] == expected_ops
    assert sum(summary["commands_per_op"].values()) == summary["commands"]


def test_dump_summarises_unless_full_and_honours_from_to(log: tuple[Path, list[Command]]) -> None:
    path, cmds = log
    code, out = run("dump", str(path))
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [entry["seq"] for entry in lines] == [c.seq for c in cmds]
    blob = lines[3]["args"][0]
    assert blob["$bytearray"] == 600 and len(blob["head"]) == 32
    code, out = run("dump", "--full", "--to", "seq:5", str(path))
    lines = [json.loads(line) for line in out.splitlines()]
    assert [entry["seq"] for entry in lines] == [1, 2, 3, 4] and len(lines[3]["args"][0]["hex"]) == 1200
    code, out = run("dump", "--from", "@middle", "--to", "#6", "--with-state", str(path))
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["op"] == "Scene.keyframe" and lines[-1]["op"] == "Renderer.render"  # frame 6 kept whole
    sixth_render = [c.seq for c in cmds if c.op == "Renderer.render"][5]
    assert lines[-1]["seq"] == sixth_render
    middle = next(c.seq for c in cmds if c.op == "Recorder.mark")
    code, out = run("dump", "--from", "@middle", "--to", "#6", str(path))  # the range alone
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [c.seq for c in cmds if middle <= c.seq <= sixth_render]


def test_verify_and_repair(log: tuple[Path, list[Command]], tmp_path: Path) -> None:
    path, cmds = log
    assert run("verify", str(path)) == (0, f"{path}: OK: {len(LogReader(path).index)} intact chunks, {len(cmds)} commands\n")
    data = bytearray(path.read_bytes())
    with LogReader(path) as reader:
        victim = reader.index.entries[4]
    data[victim.offset + victim.size // 2] ^= 0x10
    bad = tmp_path / "bad.gsplog"
    bad.write_bytes(data[:-40])  # damaged in the middle and the footer gone
    code, out = run("verify", str(bad))
    assert code == 1 and "DAMAGED" in out and f"offset {victim.offset}" in out and "recoverable" in out
    code, out = run("verify", "--json", str(bad))
    report = json.loads(out)
    assert code == 1 and not report["ok"] and report["damaged"][0]["chunk"] == 4
    fixed = tmp_path / "fixed.gsplog"
    code, out = run("repair", str(bad), str(fixed))
    assert code == 0 and "dropped 1 damaged" in out
    assert run("verify", str(fixed))[0] == 0
    with LogReader(fixed) as reader:
        seqs = [c.seq for c in reader.commands()]
    lost = set(range(victim.seq_first, victim.seq_last + 1)) if victim.kind == 1 else set()
    assert seqs == [c.seq for c in cmds if c.seq not in lost]


def test_trim_is_self_contained(log: tuple[Path, list[Command]], tmp_path: Path) -> None:
    path, cmds = log
    out_path = tmp_path / "cut.gsplog"
    code, out = run("trim", "--from", "#4", "--to", "#9", str(path), str(out_path))
    assert code == 0
    renders = [c.seq for c in cmds if c.op == "Renderer.render"]
    with LogReader(out_path) as reader:
        assert reader.index.entries[0].kind == 2  # opens with a keyframe
        got = list(reader.commands())
        assert reader.metadata["source"]["user"] == {}
        assert reader.index.total_frames == 6  # frames 4 to 9, both drawn
    assert got[0].op == "Scene.keyframe"
    body = [c for c in got if c.op != "Scene.keyframe" and c.seq >= renders[3]]
    assert body[0].seq == renders[3] and body[0].t_ns == 0 and body[-1].seq == renders[8]
    assert final_hash(got) == final_hash([c for c in cmds if c.seq <= renders[8]])
    assert f"{len(body)} commands" in out


def test_cat_shifts_the_second_session_and_separates_reused_uuids(tmp_path: Path) -> None:
    a, b = tmp_path / "a.gsplog", tmp_path / "b.gsplog"
    ca, cb = make_log(a, frames=3), make_log(b, frames=4, seed=5)  # same UUIDs in both
    out_path = tmp_path / "ab.gsplog"
    code, out = run("cat", str(a), str(b), "-o", str(out_path))
    assert code == 0 and f"{len(ca) + len(cb)} commands from 2 logs" in out
    with LogReader(out_path) as reader:
        got = list(reader.commands())
        assert reader.index.total_frames == 7
    assert [c.seq for c in got] == list(range(1, len(ca) + len(cb) + 1))
    assert all(x.t_ns <= y.t_ns for x, y in zip(got, got[1:]))
    second = got[len(ca):]
    assert {c.target for c in second if c.target}.isdisjoint({c.target for c in ca})
    from sessions.scene import SceneState

    state = SceneState()
    for cmd in got:
        state.apply(cmd)
    assert len(state.objects) == 2 * 7 and len(state.records) == 2


def test_cat_of_trimmed_logs_numbers_each_snapshot_command(log: tuple[Path, list[Command]], tmp_path: Path) -> None:
    """A trimmed log opens with a snapshot whose commands share one seq: cat gives each its own
    and drops the snapshot's scene reset and render record (tests/player checks the pictures)."""
    from sessions.scene import KEYFRAME_OP

    path, _ = log
    early, late = tmp_path / "early.gsplog", tmp_path / "late.gsplog"
    assert run("trim", "--from", "#2", "--to", "#5", str(path), str(early))[0] == 0
    assert run("trim", "--from", "#7", "--to", "#10", str(path), str(late))[0] == 0
    with LogReader(late) as reader:
        late_commands = list(reader.commands())
    assert late_commands[0].op == KEYFRAME_OP and late_commands[1].seq == late_commands[0].seq  # shared seq
    for parts in ([path, late], [early, late], [late, path]):
        joined = tmp_path / ("_".join(p.stem for p in parts) + ".gsplog")
        code, out = run("cat", *map(str, parts), "-o", str(joined))
        assert code == 0, out
        assert run("verify", str(joined))[0] == 0
        with LogReader(joined) as reader:
            got = list(reader.commands())
            frames = reader.index.total_frames
        assert [c.seq for c in got] == list(range(1, len(got) + 1))
        assert all(x.t_ns <= y.t_ns for x, y in zip(got, got[1:]))
        assert KEYFRAME_OP not in {c.op for c in got}
        expected_frames = 0
        for part in parts:
            with LogReader(part) as reader:
                expected_frames += reader.index.total_frames
        assert frames == expected_frames == sum(c.op == "Renderer.render" for c in got)


def test_trim_and_repair_take_the_output_as_argument_or_option(log: tuple[Path, list[Command]],
                                                                tmp_path: Path) -> None:
    path, _ = log
    by_argument, by_option = tmp_path / "arg.gsplog", tmp_path / "opt.gsplog"
    assert run("trim", "--from", "#4", str(path), str(by_argument))[0] == 0
    assert run("trim", "--from", "#4", str(path), "-o", str(by_option))[0] == 0
    assert run("dump", "--full", str(by_argument)) == run("dump", "--full", str(by_option))
    assert run("repair", str(path), "--output", str(tmp_path / "fixed.gsplog"))[0] == 0
    code, out = run("trim", str(path), str(by_argument), "-o", str(by_option))
    assert code == 2 and "two outputs" in out
    code, out = run("repair", str(path))
    assert code == 2 and "-o/--output" in out


def test_trim_holds_the_scene_it_rebuilds_to_max_scene_gib(log: tuple[Path, list[Command]], tmp_path: Path) -> None:
    """The scene rebuilt for the opening keyframe (a 200x150 canvas frame and four small buffers,
    about 121 kB) is held to --max-scene-gib: under it, one clear line and exit 1; over it, the
    trim goes through."""
    from gsplog_cli.scene_limit import DEFAULT_MAX_SCENE_GIB
    from sessions.limits import DEFAULT_LIMITS

    path, cmds = log
    refused = tmp_path / "refused.gsplog"
    code, out = run("trim", "--from", "#4", str(path), "-o", str(refused), "--max-scene-gib", "0.0001")
    assert code == 1 and out.startswith("Error: seq ") and "Limits.max_scene_bytes" in out
    assert len(out.strip().splitlines()) == 1
    assert not refused.exists()  # no log that would pass for the trimmed one
    code, out = run("trim", "--from", "#4", str(path), "-o", str(tmp_path / "cut.gsplog"), "--max-scene-gib", "0.001")
    assert code == 0
    renders = [c.seq for c in cmds if c.op == "Renderer.render"]
    with LogReader(tmp_path / "cut.gsplog") as reader:
        assert final_hash(reader.commands()) == final_hash(cmds)
        assert next(reader.commands()).seq == renders[3] - 1  # the keyframe: the state before frame 4
    assert DEFAULT_MAX_SCENE_GIB << 30 == DEFAULT_LIMITS.max_scene_bytes  # what --help says


def test_trim_of_a_range_without_commands_warns(log: tuple[Path, list[Command]], tmp_path: Path) -> None:
    path, _ = log
    code, out = run("trim", "--from", "seq:10", "--to", "seq:10", str(path), "-o", str(tmp_path / "empty.gsplog"))
    assert code == 0 and "0 commands" in out and "warning: no command" in out
    code, out = run("trim", "--from", "#12", "--to", "#12", str(path), "-o", str(tmp_path / "last.gsplog"))
    assert code == 0 and "1 command\n" in out and "warning" not in out  # frame 12's render
    code, out = run("trim", "--from", "#4", "--to", "#6", str(path), "-o", str(tmp_path / "some.gsplog"))
    assert code == 0 and "warning" not in out


@pytest.mark.parametrize(
    ("start", "stop", "says"),
    [
        ("#9", "#3", "#3 comes before #9"),
        ("0.5", "0.2", "0.2s comes before 0.5s"),
        ("seq:40", "seq:12", "seq:12 comes before seq:40"),
        ("#10", "@middle", "@middle comes before #10 (seq "),  # kinds that only the log can order
    ],
)
def test_a_range_that_ends_before_it_starts_is_refused(log: tuple[Path, list[Command]], tmp_path: Path,
                                                      start: str, stop: str, says: str) -> None:
    path, _ = log
    cut = tmp_path / "cut.gsplog"
    for args in (("trim", "--from", start, "--to", stop, str(path), "-o", str(cut)),
                 ("dump", "--from", start, "--to", stop, str(path))):
        code, out = run(*args)
        assert code == 1 and f"the range ends before it starts: {says}" in out, (args, out)
        assert "Scene.keyframe" not in out  # nothing dumped before the error
    assert not cut.exists()
    with LogReader(path) as reader, pytest.raises(ValueError, match="ends before it starts"):
        next(reader.commands(start, stop))
    with LogReader(path) as reader:  # one frame, and a range of one instant, are not backwards
        reader.check_range("#5", "#5")
        reader.check_range("0.2", "0.2")
        reader.check_range("@middle", "@middle")


def test_no_tool_writes_over_its_input(log: tuple[Path, list[Command]], tmp_path: Path) -> None:
    path, cmds = log
    original = path.read_bytes()
    alias = tmp_path / "alias.gsplog"
    alias.symlink_to(path)
    for output in (path, alias):
        for args in (("trim", str(path), "-o", str(output)), ("repair", str(path), "-o", str(output)),
                     ("cat", str(path), "-o", str(output))):
            code, out = run(*args)
            assert code == 1 and "is the input" in out, (args, out)
    with pytest.raises(ValueError, match="is the input"):
        tools.trim(path, alias)
    assert path.read_bytes() == original
    with LogReader(path) as reader:
        assert len(list(reader.commands())) == len(cmds)


def test_a_cat_that_fails_part_way_leaves_no_output(log: tuple[Path, list[Command]], tmp_path: Path) -> None:
    from sessions.chunk import HEADER_SIZE

    path, _ = log
    with LogReader(path) as reader:
        entry = reader.index.entries[3]
    damaged = tmp_path / "damaged.gsplog"
    data = bytearray(path.read_bytes())
    data[entry.offset + HEADER_SIZE + 5] ^= 0x10  # the second log's fourth chunk fails its checksum
    damaged.write_bytes(bytes(data))
    output = tmp_path / "both.gsplog"
    code, out = run("cat", str(path), str(damaged), "-o", str(output))
    assert code == 1 and "checksum mismatch" in out
    assert not output.exists()  # the first log alone would pass for both
    mine = tmp_path / "mine.gsplog"
    mine.write_bytes(b"not written by gsp")
    code, out = run("cat", str(tmp_path / "s.gsplog.missing"), str(path), "-o", str(mine))
    assert code == 2 and mine.read_bytes() == b"not written by gsp"  # failed before writing: left alone
    junk = tmp_path / "junk.gsplog"
    junk.write_bytes(b"hello world, not a log at all")
    code, out = run("cat", str(junk), str(path), "-o", str(mine))
    assert code == 1 and mine.read_bytes() == b"not written by gsp"


def test_bad_input_gives_clear_errors(tmp_path: Path, log: tuple[Path, list[Command]]) -> None:
    junk = tmp_path / "junk.gsplog"
    junk.write_bytes(b"hello world, not a log at all")
    code, out = run("info", str(junk))
    assert code == 1 and "not a gsplog file" in out and "Traceback" not in out
    code, out = run("verify", str(junk))
    assert code == 1 and "  damaged at offset 0: not a gsplog file\n" in out  # the header: no chunk number
    code, out = run("dump", "--from", "yesterday", str(log[0]))
    assert code == 2 and "expected seconds" in out
    code, out = run("dump", "--from", "@nope", str(log[0]))
    assert code == 1 and "no marker 'nope'" in out
    code, out = run("cat", str(log[0]), "-o", str(log[0]))
    assert code == 1 and "is the input" in out


def test_tools_library_info_counts_kinds(log: tuple[Path, list[Command]]) -> None:
    summary = tools.info(log[0])
    assert summary["chunk_kinds"]["COMMANDS"] + summary["chunk_kinds"]["KEYFRAME"] == summary["chunks"]


@pytest.mark.slow
def test_real_gsp_process(log: tuple[Path, list[Command]]) -> None:
    gsp = shutil.which("gsp")
    command = [gsp] if gsp else [sys.executable, "-m", "gsplog_cli.main"]
    done = subprocess.run([*command, "info", "--json", str(log[0])], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["frames"] == 12
    done = subprocess.run([*command, "verify", str(log[0])], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "OK" in done.stdout
    done = subprocess.run([*command, "dump", "--help"], capture_output=True, text=True, timeout=60)
    assert "--from" in done.stdout and "@label" in done.stdout


@pytest.mark.slow
def test_dump_into_a_reader_that_stops_early_ends_quietly(tmp_path: Path) -> None:
    """``gsp dump log | head -1``: the closed pipe ends dump without an error message."""
    path = tmp_path / "long.gsplog"
    make_log(path, frames=400)  # far more JSON than a pipe holds: dump meets the closed pipe
    gsp = shutil.which("gsp")
    command = [gsp] if gsp else [sys.executable, "-m", "gsplog_cli.main"]
    with subprocess.Popen([*command, "dump", "--full", str(path)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()  # what head does after its line
        stderr = proc.stderr.read().decode()
        proc.wait(60)
    assert json.loads(first)["seq"] == 1
    assert stderr == ""
    assert proc.returncode == 1
