"""The session tools, through click's CliRunner and once through a real ``gsp`` process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sessions_testkit import Script, final_hash, points_scene

from gsplog_cli.main import cli
from sessions import LogFormatError, LogReader, LogWriter, tools
from sessions.command import Command


def make_log(path: Path, frames: int = 12, seed: int = 0, points: int = 50) -> list[Command]:
    cmds = points_scene(frames=frames, n=points, seed=seed, marker_at=5)
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


def test_info_gives_times_on_the_clock_of_from_and_of_the_markers(tmp_path: Path) -> None:
    """`gsp info` said "duration 0.388 s" (first command to last) beside a marker "at 0.509 s"
    (since the session started): two clocks, unnamed. It now names the duration's ends and gives
    the first and last command's times since the session started, the clock of --from seconds
    and of marker times (text and --json: first_t_s, last_t_s; duration_s as before)."""
    path = tmp_path / "late.gsplog"
    script = Script(t_step_ns=250_000_000)  # the first call 0.25 s after the recorder started
    for label in ("a", "b", "c", "d"):
        script.add("Recorder.mark", "", label)
    with LogWriter(path) as writer:
        for cmd in script.commands:
            writer.append(cmd)
    code, out = run("info", str(path))
    assert code == 0
    assert "  duration  0.750 s from the first command to the last, 4 commands, 0 frames" in out
    assert ("  time      0.250..1.000 s since the session started (as --from/--to seconds and marker times count)"
            in out)
    assert "  marker    @b seq 2 at 0.500 s" in out
    code, out = run("info", "--json", str(path))
    summary = json.loads(out)
    assert (summary["first_t_s"], summary["last_t_s"], summary["duration_s"]) == (0.25, 1.0, 0.75)
    assert summary["time_range_ns"] == [250_000_000, 1_000_000_000]
    code, out = run("dump", "--from", "0.5", str(path))  # the same clock: from marker b on
    assert [json.loads(line)["args"] for line in out.splitlines()] == [["b"], ["c"], ["d"]]
    empty = tmp_path / "empty.gsplog"
    LogWriter(empty).close()
    summary = json.loads(run("info", "--json", str(empty))[1])
    assert (summary["first_t_s"], summary["last_t_s"], summary["duration_s"]) == (None, None, 0.0)
    assert "  time " not in run("info", str(empty))[1]


def test_a_repeated_marker_is_named_by_its_number_and_a_bare_label_says_it_repeats(
        log: tuple[Path, list[Command]], tmp_path: Path) -> None:
    """`gsp cat` of two sessions holds each marker twice: `--from @middle` silently took the
    first. It still does, with a warning that says how many there are, where, and how to name
    the others; `@middle#2` names the second (counted from the session's start), one past the
    last is an error, and `gsp info` names each one as --from takes it."""
    path, cmds = log
    joined = tmp_path / "twice.gsplog"
    assert run("cat", str(path), str(path), "-o", str(joined))[0] == 0
    marks = [c for c in LogReader(joined).commands() if c.op == "Recorder.mark"]
    assert len(marks) == 2
    code, out = run("info", str(joined))
    assert [line.split()[1:4] for line in out.splitlines() if line.startswith("  marker")] == [
        ["@middle#1", "seq", str(marks[0].seq)], ["@middle#2", "seq", str(marks[1].seq)]]
    assert [m["position"] for m in json.loads(run("info", "--json", str(joined))[1])["markers"]] == [
        "@middle#1", "@middle#2"]
    result = CliRunner().invoke(cli, ["dump", "--from", "@middle", str(joined)])
    assert result.exit_code == 0 and json.loads(result.stdout.splitlines()[0])["seq"] == marks[0].seq
    assert result.stderr == (f"warning: {joined}: 'middle' labels 2 markers (seq {marks[0].seq} at "
                             f"{marks[0].t_ns / 1e9:.3f} s, seq {marks[1].seq} at {marks[1].t_ns / 1e9:.3f} s): "
                             "@middle is the first; @middle#2 names the second, and so on\n")
    for position, seq in (("@middle#1", marks[0].seq), ("@middle#2", marks[1].seq)):
        result = CliRunner().invoke(cli, ["dump", "--from", position, str(joined)])
        assert result.exit_code == 0 and result.stderr == ""
        assert json.loads(result.stdout.splitlines()[0])["seq"] == seq
    cut = tmp_path / "second.gsplog"
    assert run("trim", str(joined), str(cut), "--from", "@middle#2")[0] == 0
    assert [c.seq for c in LogReader(cut).commands() if c.op == "Recorder.mark"] == [marks[1].seq]
    code, out = run("dump", "--from", "@middle#3", str(joined))
    assert code == 2 and f"no marker @middle#3: 'middle' labels 2 markers (seq {marks[0].seq} at" in out
    code, out = run("dump", "--from", "@middle#0", str(joined))
    assert code == 2 and "counted from 1" in out
    code, out = run("dump", "--from", "@middle#1", "--to", "@middle#2", str(joined))
    assert code == 0 and [json.loads(line)["seq"] for line in out.splitlines()][-1] == marks[1].seq - 1


def test_a_label_that_ends_in_a_number_is_still_found() -> None:
    """`@epoch#3` read as "the third epoch" must not lose a log whose marker is labelled
    "epoch#3": with no marker "epoch" it names that one; `@epoch#3#1` names it exactly."""
    from sessions.position import At, marker_positions, parse_at

    assert parse_at("@half#2") == At.marker("half", 2) and str(parse_at("@half#2")) == "@half#2"
    assert parse_at("@a#2#1") == At.marker("a#2", 1) and parse_at("@#2") == At.marker("#2")
    assert marker_positions(["a", "b", "a", "epoch#3"]) == ["@a#1", "@b", "@a#2", "@epoch#3#1"]


def test_a_marker_labelled_with_a_number_sign(tmp_path: Path) -> None:
    path = tmp_path / "epochs.gsplog"
    script = Script()
    for label in ("epoch#2", "epoch#3"):
        script.add("Recorder.mark", "", label)
    with LogWriter(path) as writer:
        for cmd in script.commands:
            writer.append(cmd)
    for position in ("@epoch#3", "@epoch#3#1"):
        code, out = run("dump", "--from", position, str(path))
        assert code == 0 and [json.loads(line)["args"] for line in out.splitlines()] == [["epoch#3"]]
    code, out = run("info", str(path))
    assert "  marker    @epoch#3#1 seq 2" in out


def test_info_lists_the_first_and_last_markers_unless_asked_for_all(tmp_path: Path) -> None:
    """200 000 markers made 200 017 lines of `gsp info`: the text names the first and last five,
    and how many are left out; --markers lists them all, --json always holds them all."""
    path = tmp_path / "marks.gsplog"
    script = Script()
    for number in range(1, 1001):
        script.add("Recorder.mark", "", f"step{number}")
    with LogWriter(path) as writer:
        for cmd in script.commands:
            writer.append(cmd)
    code, out = run("info", str(path))
    assert code == 0
    markers = [line for line in out.splitlines() if line.startswith("  marker")]
    assert [line.split()[1] for line in markers] == ["@step1", "@step2", "@step3", "@step4", "@step5", "...",
                                                     "@step996", "@step997", "@step998", "@step999", "@step1000"]
    assert markers[5] == "  marker    ... 990 more (--markers lists them all)"
    assert len(out.splitlines()) < 30
    code, out = run("info", "--markers", str(path))
    assert code == 0
    assert [line.split()[1] for line in out.splitlines() if line.startswith("  marker")] == [
        f"@step{number}" for number in range(1, 1001)]
    code, out = run("info", "--json", str(path))
    assert [marker["label"] for marker in json.loads(out)["markers"]] == [f"step{n}" for n in range(1, 1001)]
    few = tmp_path / "few.gsplog"
    with LogWriter(few) as writer:
        for cmd in script.commands[:11]:
            writer.append(cmd)
    code, out = run("info", str(few))
    assert [line.split()[1] for line in out.splitlines() if line.startswith("  marker")] == [
        f"@step{number}" for number in range(1, 12)]  # eleven: no "... 1 more" for one left out


def test_info_shows_the_info_a_marker_holds(tmp_path: Path) -> None:
    """`recorder.mark("stimulus", intensity=0.5)`: the intensity was in `gsp dump` alone. `gsp
    info` now shows it after the marker, and `--json` under the marker's "info"."""
    import numpy as np

    import recorder

    path = tmp_path / "marks.gsplog"
    with recorder.record(path):
        recorder.mark("stimulus", intensity=0.5, trial="a")
        recorder.mark("end")
        recorder.mark("wave", samples=np.arange(1000, dtype=np.float32), note="x" * 200)
    code, out = run("info", str(path))
    markers = [line for line in out.splitlines() if line.startswith("  marker")]
    assert code == 0 and markers[0].endswith(' s  {"intensity": 0.5, "trial": "a"}'), markers
    assert markers[1].endswith(" s")  # no info: nothing after the time
    assert markers[2].endswith("...") and len(markers[2]) < 200  # long info is cut in the text
    summary = json.loads(run("info", "--json", str(path))[1])
    assert [marker["info"] for marker in summary["markers"][:2]] == [{"intensity": 0.5, "trial": "a"}, {}]
    wave = summary["markers"][2]["info"]
    assert wave["note"] == "x" * 200 and wave["samples"]["$ndarray"] == "<f4" and wave["samples"]["shape"] == [1000]


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
        victim = reader.index.entries[7]  # a frame's commands: every object they name is created before
        assert victim.kind == 1 and victim.seq_first > 12
    data[victim.offset + victim.size // 2] ^= 0x10
    bad = tmp_path / "bad.gsplog"
    bad.write_bytes(data[:-40])  # damaged in the middle and the footer gone
    code, out = run("verify", str(bad))
    assert code == 1 and "DAMAGED" in out and f"offset {victim.offset}" in out and "recoverable" in out
    code, out = run("verify", "--json", str(bad))
    report = json.loads(out)
    assert code == 1 and not report["ok"] and report["damaged"][0]["chunk"] == 7
    assert report["damaged"][0]["seq_range"] == [victim.seq_first, victim.seq_last] and report["dangling_commands"] == 0
    fixed = tmp_path / "fixed.gsplog"
    code, out = run("repair", str(bad), str(fixed))
    assert code == 0 and "dropped 1 damaged" in out
    assert run("verify", str(fixed))[0] == 0
    with LogReader(fixed) as reader:
        seqs = [c.seq for c in reader.commands()]
    lost = set(range(victim.seq_first, victim.seq_last + 1)) if victim.kind == 1 else set()
    assert seqs == [c.seq for c in cmds if c.seq not in lost]


def _log_of_chunks(path: Path, chunks: list[bytes]) -> Path:
    """A log of exactly these chunks (each checksummed, its footer entry right), in this order."""
    from sessions.fileformat import default_metadata
    from sessions.sinks import FileSink

    sink = FileSink(path, default_metadata())
    for data in chunks:
        sink.write_chunk(data)
    sink.close()
    return path


def _chunk(commands: list[Command], kind: int = 1, seqs: tuple[int, int] | None = None) -> bytes:
    from sessions import encode_chunk

    return encode_chunk(commands, kind, seq_range=seqs or (commands[0].seq, commands[-1].seq),
                        time_range=(commands[0].t_ns, commands[-1].t_ns))


def _restamped(commands: list[Command], seq: int) -> list[Command]:
    return [Command(seq, c.t_ns, c.op, c.target, c.args, c.kwargs) for c in commands]


@pytest.mark.parametrize("name, says", [
    ("a chunk again", "its first seq 9 does not follow seq 12, before it"),
    ("an earlier seq", "its first seq 2 does not follow seq 12, before it"),
    ("a keyframe from the future", "its first seq 13 does not follow the keyframe at seq 1000000"),
    ("a keyframe of a range", "a keyframe of seqs 1..12: it captures one"),
    ("a keyframe of mixed seqs", "a keyframe at seq 12 holding commands of other seqs"),
    ("a keyframe without its opening", "a keyframe that opens with Canvas.new, not Scene.keyframe"),
    ("a keyframe from the past", "a keyframe at seq 5, after seq 12"),
])
def test_verify_names_chunks_out_of_the_order_of_seqs(tmp_path: Path, name: str, says: str) -> None:
    """A log is in seq order (format.md §2), and seeks and positions bisect its seqs: a chunk
    repeated, seqs going back, a keyframe at a seq its place contradicts or not shaped as one
    (each checksummed, from a collaborator's tool) made seeks go wrong, and `gsp verify` said OK."""
    from sessions.scene import SceneState

    cmds = points_scene(frames=6, n=20, marker_at=None)
    plain = [_chunk(cmds[i:i + 4]) for i in range(0, len(cmds), 4)]
    state = SceneState()
    for cmd in cmds[:12]:
        state.apply(cmd)
    keyframe = state.snapshot(12, cmds[11].t_ns)
    odd = {
        "a chunk again": plain[2],
        "an earlier seq": _chunk([Command(2, cmds[11].t_ns, "Viewport.set_x", cmds[1].target, (5,), {})]),
        "a keyframe from the future": _chunk(_restamped(keyframe, 10**6), 2),
        "a keyframe of a range": _chunk(keyframe, 2, (1, 12)),
        "a keyframe of mixed seqs": _chunk([Command(i, c.t_ns, c.op, c.target, c.args, c.kwargs)
                                            for i, c in enumerate(keyframe, 1)], 2, (12, 12)),
        "a keyframe without its opening": _chunk(keyframe[1:], 2),
        "a keyframe from the past": _chunk(_restamped(keyframe, 5), 2),
    }[name]
    good = _log_of_chunks(tmp_path / "good.gsplog", [*plain[:3], _chunk(keyframe, 2), *plain[3:]])
    assert tools.verify(good).ok
    path = _log_of_chunks(tmp_path / "odd.gsplog", [*plain[:3], odd, *plain[3:]])
    report = tools.verify(path)
    assert not report.ok and report.out_of_order_chunks == 1
    assert report.out_of_order[0]["reason"].startswith(says)
    code, out = run("verify", str(path))
    assert code == 1 and "INCONSISTENT" in out and says in out


def test_repair_of_an_intact_log_naming_unknown_objects_does_not_blame_lost_chunks(tmp_path: Path) -> None:
    """A log made with a command naming an object nothing creates (a collaborator's tool), not
    damaged: `gsp repair` said its commands "depend on lost ones" after dropping 0 regions."""
    path = tmp_path / "made.gsplog"
    with LogWriter(path, keyframes=False) as writer:
        for cmd in points_scene(frames=2, n=10, marker_at=None):
            writer.append(cmd)
        writer.append(Command(100, 10**9, "Viewport.set_x", "no-such-viewport", (3,)))
    code, out = run("repair", str(path), str(tmp_path / "out.gsplog"))
    assert code == 1 and "dropped 0 damaged regions" in out
    assert "depend on lost ones" not in out and "no command of" in out and "no-such-viewport" in out


@pytest.mark.parametrize("data", [5, None, "text"])
def test_trim_and_cat_copy_a_write_whose_data_is_no_buffer_contents(tmp_path: Path, data: object) -> None:
    """A Buffer.set_data whose data is no bytes nor array (a hostile log's; a transform link's
    map decodes as its recorded link in the tools) crashed trim's and cat's writer with a raw
    TypeError (its keyframe ledger took the data's len()). The command is copied as it is."""
    cmds = points_scene(frames=3, n=10, marker_at=None)
    buffer = next(c.target for c in cmds if c.op == "Buffer.new")
    path = tmp_path / "odd.gsplog"
    with LogWriter(path, keyframes=False) as writer:
        for cmd in cmds:
            writer.append(cmd)
        writer.append(Command(100, cmds[-1].t_ns + 1, "Buffer.set_data", buffer, (data, 0, 1)))
    code, out = run("trim", "--from", "seq:10", str(path), str(tmp_path / "cut.gsplog"))
    assert code == 0, out
    code, out = run("cat", str(path), str(path), "-o", str(tmp_path / "joined.gsplog"))
    assert code == 0, out
    with LogReader(tmp_path / "joined.gsplog") as reader:
        odd = [c.args[0] for c in reader.commands() if c.op == "Buffer.set_data" and c.args[1:] == (0, 1)]
    assert odd == [data, data]


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
    # The header says where the cut starts in its source: wall-clock times can still be told
    # (source created_unix_ns + source_start_ns + t_ns); the cut's own created_unix_ns is today.
    start_ns = reader.metadata["source_start_ns"]
    originals = {c.seq: c.t_ns for c in cmds}
    assert start_ns > 0 and all(c.t_ns + start_ns == originals[c.seq] for c in body)


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
    # The header says what was added to each input's times (its wall clock can still be told).
    offsets = reader.metadata["source_offsets_ns"]
    assert [c.t_ns - offsets[0] for c in got[:len(ca)]] == [c.t_ns for c in ca]
    assert [c.t_ns - offsets[1] for c in got[len(ca):]] == [c.t_ns for c in cb]
    assert got[len(ca)].t_ns == got[len(ca) - 1].t_ns + 1_000_000  # the gap between sessions
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
    about 121 kB) is held to --max-scene-gib: under it, one clear line naming the log and exit 1;
    over it, the trim goes through."""
    from gsplog_cli.scene_limit import DEFAULT_MAX_SCENE_GIB
    from sessions.limits import DEFAULT_LIMITS

    path, cmds = log
    refused = tmp_path / "refused.gsplog"
    code, out = run("trim", "--from", "#4", str(path), "-o", str(refused), "--max-scene-gib", "0.0001")
    assert code == 1 and out.startswith(f"Error: trim: {path}: seq ") and "Limits.max_scene_bytes" in out
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
        assert code == 2 and f"the range ends before it starts: {says}" in out, (args, out)  # a usage error
        assert "Scene.keyframe" not in out  # nothing dumped before the error
    assert not cut.exists()
    from gsplog_cli.cmd_replay import replay as replay_command

    replayed = CliRunner().invoke(replay_command, [str(path), "-b", "null", "--from", start, "--to", stop])
    assert replayed.exit_code == 2 and "ends before it starts" in replayed.stderr  # the same mistake, the same status
    with LogReader(path) as reader, pytest.raises(ValueError, match="ends before it starts"):
        next(reader.commands(start, stop))
    with LogReader(path) as reader:  # one frame, and a range of one instant, are not backwards
        reader.check_range("#5", "#5")
        reader.check_range("0.2", "0.2")
        reader.check_range("@middle", "@middle")


@pytest.mark.parametrize("start", ["#999", "#13", "99", "seq:9999"])
def test_a_range_that_starts_past_the_end_is_refused(log: tuple[Path, list[Command]], tmp_path: Path,
                                                     start: str) -> None:
    """dump printed nothing (status 0) and trim wrote a log of no command (status 0) for
    --from #999 on a session of 12 frames; gsp-replay refuses it: so do they, naming what the
    session holds, before anything is written."""
    path, cmds = log
    cut = tmp_path / "cut.gsplog"
    for args in (("trim", "--from", start, str(path), "-o", str(cut)), ("dump", "--from", start, str(path))):
        code, out = run(*args)
        assert code == 2, (args, out)  # a usage error, as gsp-replay says it
        assert out.startswith(f"Error: {path}: the range starts past the end of the session: ")
        assert "(the session has 12 frames, " in out and f"seq 1..{len(cmds)})" in out
        first, last = cmds[0].t_ns / 1e9, cmds[-1].t_ns / 1e9  # on the clock of --from 99
        assert f"commands from {first:.3f} to {last:.3f} s since it started" in out
    assert not cut.exists()
    code, out = run("dump", "--from", "#12", str(path))  # the last frame is not past the end
    assert code == 0 and out.count("\n") == 1


def test_no_tool_writes_over_its_input(log: tuple[Path, list[Command]], tmp_path: Path) -> None:
    path, cmds = log
    original = path.read_bytes()
    alias = tmp_path / "alias.gsplog"
    alias.symlink_to(path)
    for output in (path, alias):
        for args in (("trim", str(path), "-o", str(output)), ("repair", str(path), "-o", str(output)),
                     ("cat", str(path), "-o", str(output))):
            code, out = run(*args)
            assert code == 2 and "is the input" in out, (args, out)
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


def test_no_failure_of_a_tool_harms_a_file_already_at_its_output(log: tuple[Path, list[Command]],
                                                                 tmp_path: Path) -> None:
    """repair, trim and cat write their output under a hidden name and give it its name only
    when it is finished: a usage mistake found late (a backwards range), a limit met part way,
    a damaged input or Ctrl-C leave a file already there (or the file a link there points at) as
    it was, and no hidden file behind. They used to open the output first, then remove it."""
    from sessions.chunk import HEADER_SIZE

    path, _ = log
    with LogReader(path) as reader:
        entry = reader.index.entries[3]
    damaged = tmp_path / "damaged.gsplog"
    data = bytearray(path.read_bytes())
    data[entry.offset + HEADER_SIZE + 5] ^= 0x10
    damaged.write_bytes(bytes(data))
    precious = tmp_path / "precious.gsplog"
    link = tmp_path / "link.gsplog"
    link.symlink_to(precious)
    precious.write_bytes(b"an earlier log")
    before = set(tmp_path.iterdir())
    for output in (precious, link):
        for args, status in ((("trim", str(path), "-o", str(output), "--from", "2", "--to", "1"), 2),  # usage
                             (("trim", str(path), "-o", str(output), "--from", "#5", "--to", "#2"), 2),
                             (("trim", str(path), "-o", str(output), "--from", "#4", "--max-scene-gib", "0.0000001"), 1),
                             (("cat", str(path), str(damaged), "-o", str(output)), 1)):
            precious.write_bytes(b"an earlier log")
            code, out = run(*args)
            assert code == status and out.startswith("Error: "), (args, out)
            assert precious.read_bytes() == b"an earlier log", args
            assert link.is_symlink(), args
            assert set(tmp_path.iterdir()) == before, args  # no hidden file left

    def interrupted(_: int) -> None:
        raise KeyboardInterrupt

    for tool in (lambda dst: tools.trim(path, dst, "#2", progress=interrupted),
                 lambda dst: tools.cat([path], dst, progress=interrupted),
                 lambda dst: tools.repair(path, dst, progress=interrupted)):
        precious.write_bytes(b"an earlier log")
        with pytest.raises(KeyboardInterrupt):
            tool(precious)
        assert precious.read_bytes() == b"an earlier log"
        assert set(tmp_path.iterdir()) == before

    code, out = run("trim", str(path), "-o", str(link), "--from", "#4")  # a success replaces it
    assert code == 0 and link.is_symlink()
    with LogReader(precious) as reader:
        assert next(reader.commands()).op == "Scene.keyframe"
    assert set(tmp_path.iterdir()) == before


def test_tools_make_the_folder_of_their_output_and_remove_it_after_a_failure(
        log: tuple[Path, list[Command]], tmp_path: Path) -> None:
    """repair/trim/cat -o nodir/x.gsplog failed (no such folder) where gsp-replay -o makes it;
    a failure part way leaves no folder made for nothing."""
    path, cmds = log
    for args in (("repair", str(path), str(tmp_path / "r" / "x.gsplog")),
                 ("trim", str(path), "-o", str(tmp_path / "t" / "u" / "x.gsplog"), "--from", "#4"),
                 ("cat", str(path), "-o", str(tmp_path / "c" / "x.gsplog"))):
        code, out = run(*args)
        assert code == 0, (args, out)
    for output in ("r/x.gsplog", "t/u/x.gsplog", "c/x.gsplog"):
        with LogReader(tmp_path / output) as reader:
            assert reader.complete
    code, out = run("trim", str(path), "-o", str(tmp_path / "n" / "m" / "x.gsplog"), "--from", "#4",
                    "--max-scene-gib", "0.0000001")
    assert code == 1 and "Limits.max_scene_bytes" in out
    assert not (tmp_path / "n").exists()


def test_bad_input_gives_clear_errors(tmp_path: Path, log: tuple[Path, list[Command]]) -> None:
    junk = tmp_path / "junk.gsplog"
    junk.write_bytes(b"hello world, not a log at all")
    code, out = run("info", str(junk))
    assert code == 1 and "not a gsplog file" in out and "Traceback" not in out
    code, out = run("verify", str(junk))
    assert code == 1 and "  damaged at offset 0 (the header): not a gsplog file\n" in out
    code, out = run("dump", "--from", "yesterday", str(log[0]))
    assert code == 2 and "expected seconds" in out
    code, out = run("dump", "--from", "@nope", str(log[0]))
    assert code == 2 and "no marker 'nope'" in out
    code, out = run("cat", str(log[0]), "-o", str(log[0]))
    assert code == 2 and "is the input" in out


def test_tools_library_info_counts_kinds(log: tuple[Path, list[Command]]) -> None:
    summary = tools.info(log[0])
    assert summary["chunk_kinds"]["COMMANDS"] + summary["chunk_kinds"]["KEYFRAME"] == summary["chunks"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_an_output_that_cannot_be_written_is_one_line_not_a_traceback(log: tuple[Path, list[Command]]) -> None:
    """An OSError no command reports itself (here stdout on a full disk) ends the gsp group with
    `Error: <why>`, exit status 1: it printed a Python traceback."""
    for args in (("info", str(log[0])), ("verify", str(log[0]))):
        with open("/dev/full", "w") as full:
            proc = subprocess.run([sys.executable, "-m", "gsplog_cli.main", *args], stdout=full,
                                  stderr=subprocess.PIPE, text=True, timeout=120)
        assert proc.returncode == 1 and proc.stderr == "Error: No space left on device\n", (args, proc.stderr)


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
    assert proc.returncode == 141  # 128 + SIGPIPE: what a shell reports for cat, yes, ... in its place


@pytest.mark.slow
@pytest.mark.parametrize("args", [["info"], ["info", "--json"], ["dump"], ["verify"], ["verify", "--json"],
                                  ["trim", "--to", "#3"], ["repair"], ["cat"], ["keys", "-o"]])
def test_every_command_writing_to_stdout_ends_quietly_when_its_reader_is_gone(
        log: tuple[Path, list[Command]], tmp_path: Path, args: list[str]) -> None:
    """``gsp info log | head -0``: the reader closed the pipe before the command wrote its first
    line. Every command that writes to stdout then ends without a word, with exit status 141."""
    gsp = shutil.which("gsp")
    command = [gsp] if gsp else [sys.executable, "-m", "gsplog_cli.main"]
    name, options = args[0], args[1:]
    if name == "keys":
        operands = [*options, str(tmp_path / "keys"), "node1"]
    elif name in ("trim", "repair"):
        operands = [str(log[0]), str(tmp_path / "out.gsplog"), *options]
    elif name == "cat":
        operands = [str(log[0]), "-o", str(tmp_path / "out.gsplog")]
    else:
        operands = [*options, str(log[0])]
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will read: the first write meets a closed pipe
    try:
        done = subprocess.run([*command, name, *operands], stdout=write_end, stderr=subprocess.PIPE,
                              text=True, timeout=60)
    finally:
        os.close(write_end)
    assert done.stderr == "", done.stderr
    assert done.returncode == 141


# ---- trim of a trimmed log ------------------------------------------------------------------
def test_a_trimmed_log_trims_again_with_or_without_a_range(log: tuple[Path, list[Command]], tmp_path: Path) -> None:
    """A log cut by trim opens with a keyframe: trimming it again (no range, only --to, or a
    --from before its first command) starts from that keyframe instead of appending its
    commands, which share one seq, as recorded ones."""
    path, cmds = log
    renders = [c.seq for c in cmds if c.op == "Renderer.render"]
    cut = tmp_path / "cut.gsplog"
    assert run("trim", str(path), str(cut), "--from", "#3")[0] == 0  # frames 3 to 12
    with LogReader(cut) as reader:
        first = reader.index.seq_range()[0]  # type: ignore[index]
        cut_count = reader.index.total_commands
    cases = {
        "to.gsplog": (["--to", "#5"], renders[6], 5),  # its frames 1-5: frames 3-7 of the original
        "all.gsplog": ([], renders[-1], 10),
        "early.gsplog": (["--from", "seq:1"], renders[-1], 10),  # before its first command
        "from.gsplog": (["--from", "#2", "--to", "#4"], renders[5], 3),
    }
    for name, (options, last_seq, frames) in cases.items():
        again = tmp_path / name
        code, out = run("trim", str(cut), str(again), *options)
        assert code == 0, (name, out)
        assert run("verify", str(again))[0] == 0
        with LogReader(again) as reader:
            assert reader.index.entries[0].kind == 2  # opens with a keyframe
            got = list(reader.commands())
            assert reader.index.total_frames == frames, name
            assert reader.index.seq_range()[1] == last_seq  # type: ignore[index]
        assert got[0].op == "Scene.keyframe" and got[0].t_ns == 0
        assert final_hash(got) == final_hash([c for c in cmds if c.seq <= last_seq]), name  # replays the same
    with LogReader(tmp_path / "all.gsplog") as reader:  # the same commands, the same keyframe
        assert reader.index.total_commands == cut_count and reader.index.seq_range()[0] == first  # type: ignore[index]
    with LogReader(cut) as reader:  # a start before a trimmed log's first command: its keyframe first
        assert next(reader.commands(start="seq:1")).op == "Scene.keyframe"


# ---- cat keeps every input's metadata -------------------------------------------------------
def test_cat_keeps_the_metadata_of_every_input(tmp_path: Path) -> None:
    parts = []
    for name in ("a", "b", "c"):
        path = tmp_path / f"{name}.gsplog"
        writer = LogWriter(path, metadata={"user": {"take": name}, "recorder": {"pid": ord(name)}})
        for cmd in points_scene(frames=2, n=5, seed=ord(name)):
            writer.append(cmd)
        writer.close()
        parts.append(path)
    trimmed = tmp_path / "c_cut.gsplog"
    assert run("trim", str(parts[2]), str(trimmed), "--from", "#2")[0] == 0
    inputs = [parts[0], parts[1], trimmed]
    joined = tmp_path / "joined.gsplog"
    assert run("cat", *map(str, inputs), "-o", str(joined))[0] == 0
    with LogReader(joined) as reader:
        meta = reader.metadata
    assert meta["user"] == {"take": "a"} and meta["recorder"] == {"pid": ord("a")}  # the first's, as before
    assert "source" not in meta  # not the first input's (trim's) key: its metadata is in sources
    expected = []
    for part in inputs:
        with LogReader(part) as reader:
            expected.append(reader.metadata)
    assert meta["sources"] == expected  # every input's whole header metadata, in order
    assert [m["user"] for m in meta["sources"]] == [{"take": "a"}, {"take": "b"}, {"take": "c"}]
    assert meta["sources"][2]["source"]["recorder"] == {"pid": ord("c")}  # trim's record of its input
    again = tmp_path / "again.gsplog"  # a cat of a cat: its own list is kept inside
    assert run("cat", str(joined), str(parts[1]), "-o", str(again))[0] == 0
    with LogReader(again) as reader:
        assert [len(m.get("sources", [])) for m in reader.metadata["sources"]] == [3, 0]
        assert reader.metadata["user"] == {"take": "a"}


# ---- no partial output when the output cannot be written whole ------------------------------
FSIZE_CHILD = """
import json, resource, signal, sys
sys.dont_write_bytecode = True
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from click.testing import CliRunner
from gsplog_cli.main import cli
results = []
for args in json.loads(sys.argv[2]):
    result = CliRunner().invoke(cli, args)
    results.append([result.exit_code, result.output])
print(json.dumps(results))
"""


def test_a_tool_that_cannot_write_its_output_whole_leaves_none(tmp_path: Path) -> None:
    """Under a file size limit the writes fail part way (repair: at a chunk; trim and cat: when
    closing, where their one pending chunk, the footer and the trailer are written): one line,
    exit status 1, and no output left that would pass for the whole."""
    big = tmp_path / "big.gsplog"
    writer = LogWriter(big, keyframes=False)
    for cmd in points_scene(frames=8, n=4000, seed=3):  # 48 kB of random positions a frame
        writer.append(cmd)
        if cmd.op == "Renderer.render":
            writer.flush()
    writer.close()
    assert big.stat().st_size > 400_000
    outputs = {name: tmp_path / f"{name}.gsplog" for name in ("trim_from", "trim", "cat", "repair")}
    commands = [
        ["trim", str(big), str(outputs["trim_from"]), "--from", "#2"],
        ["trim", str(big), str(outputs["trim"])],
        ["cat", str(big), str(big), "-o", str(outputs["cat"])],
        ["repair", str(big), str(outputs["repair"])],
    ]
    done = subprocess.run([sys.executable, "-c", FSIZE_CHILD, "150000", json.dumps(commands)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for args, (code, out) in zip(commands, json.loads(done.stdout)):
        assert code == 1, (args, out)
        assert out.startswith("Error: ") and out.count("\n") == 1 and "File too large" in out, (args, out)
    assert not any(path.exists() for path in outputs.values()), sorted(p.name for p in tmp_path.iterdir())


# ---- warnings are warning: lines ------------------------------------------------------------
def test_info_on_a_damaged_log_prints_a_warning_line_not_a_python_warning(log: tuple[Path, list[Command]],
                                                                          tmp_path: Path) -> None:
    from sessions.chunk import HEADER_SIZE

    path, _ = log
    with LogReader(path) as reader:
        entry = reader.index.entries[5]
    data = bytearray(path.read_bytes())
    data[entry.offset + HEADER_SIZE + 3] ^= 0x08
    damaged = tmp_path / "damaged.gsplog"
    damaged.write_bytes(bytes(data))
    gsp = shutil.which("gsp")
    command = [gsp] if gsp else [sys.executable, "-m", "gsplog_cli.main"]
    done = subprocess.run([*command, "info", str(damaged)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == (f"warning: {damaged}, offset {entry.offset}, chunk 5: chunk payload checksum mismatch; "
                           f"the log is read up to offset {entry.offset}\n")
    assert f"  problem   {damaged}, offset {entry.offset}, chunk 5: chunk payload checksum mismatch" in done.stdout


# ---- verify: chunk numbers and wording ------------------------------------------------------
def test_verify_numbers_chunks_by_their_place_in_the_file(log: tuple[Path, list[Command]], tmp_path: Path) -> None:
    """Damaged chunks count: a chunk after them keeps its number, whether the damage left the
    chunk's size readable (a payload) or not (a header: the next chunk is found by its magic)."""
    from sessions.chunk import HEADER_SIZE

    path, _ = log
    with LogReader(path) as reader:
        entries = reader.index.entries
    data = bytearray(path.read_bytes())
    data[entries[2].offset + 1] ^= 0x01  # chunk 2's magic
    data[entries[6].offset + HEADER_SIZE + 2] ^= 0x01  # chunk 6's payload
    data[entries[9].offset + HEADER_SIZE + 2] ^= 0x01  # chunk 9's payload
    damaged = tmp_path / "damaged.gsplog"
    damaged.write_bytes(bytes(data))
    report = tools.verify(damaged)
    assert [(d["offset"], d["chunk"]) for d in report.damaged] == [(entries[n].offset, n) for n in (2, 6, 9)]
    assert report.chunks_ok == len(entries) - 3 and report.footer_ok and report.trailer_ok
    code, out = run("verify", str(damaged))
    assert code == 1 and f"damaged at offset {entries[2].offset} (chunk 2): bad chunk magic" in out  # no header: no seqs
    assert f"damaged at offset {entries[9].offset} (chunk 9, seq {entries[9].seq_first}..{entries[9].seq_last}): " \
        "chunk payload checksum" in out


def test_verify_numbers_a_keyframe_after_damage_by_its_place(tmp_path: Path) -> None:
    """The linked golden: chunk 1, a linked keyframe, points at chunk 0; with chunk 0 damaged both
    are reported, each with its own number."""
    from sessions.chunk import HEADER_SIZE

    golden = Path(__file__).with_name("golden") / "linked_v1_2.gsplog"
    with LogReader(golden) as reader:
        entries = reader.index.entries
        assert reader.index.keyframes[0] == 1 and entries[1].kind == 4  # LINKED_KEYFRAME
    data = bytearray(golden.read_bytes())
    data[entries[0].offset + HEADER_SIZE + 10] ^= 0x40
    damaged = tmp_path / "damaged.gsplog"
    damaged.write_bytes(bytes(data))
    report = tools.verify(damaged)
    assert [(d["offset"], d["chunk"]) for d in report.damaged] == [(entries[0].offset, 0), (entries[1].offset, 1)]
    assert "keyframe refers to command" in report.damaged[1]["reason"]


def _verify_text(path: Path) -> tuple[int, str]:
    return run("verify", str(path))


def test_verify_words_what_is_wrong_after_the_chunks(log: tuple[Path, list[Command]], tmp_path: Path) -> None:
    path, cmds = log
    data = path.read_bytes()
    with LogReader(path) as reader:
        footer = reader.index.entries[-1].offset + reader.index.entries[-1].size
        n_chunks = len(reader.index)

    def case(name: str, content: bytes) -> tuple[tools.VerifyReport, str]:
        target = tmp_path / name
        target.write_bytes(content)
        code, out = _verify_text(target)
        assert code == 1 and "DAMAGED" in out, out
        assert "incomplete last chunk" not in out, out
        return tools.verify(target), out

    flipped = bytearray(data)
    flipped[-3] ^= 0x20  # the trailer's checksum
    report, out = case("trailer.gsplog", bytes(flipped))
    assert report.footer_ok and not report.trailer_ok and not report.damaged and report.chunks_ok == n_chunks
    assert "  trailer (the 24 bytes after the footer) damaged or missing" in out
    assert "every chunk is intact; `gsp repair` writes them again" in out and "footer index" not in out

    report, out = case("junk.gsplog", data + b"appended by someone else")  # 24 bytes
    assert report.footer_ok and report.trailer_ok and report.after_end_bytes == 24
    assert "  24 bytes after the end of the log (after its trailer): readers ignore them" in out
    assert "trailer (" not in out

    broken_footer = bytearray(data)
    broken_footer[footer + 100] ^= 0x01  # the footer's payload; the trailer still points at it
    report, out = case("footer.gsplog", bytes(broken_footer))
    assert not report.footer_ok and report.trailer_ok and not report.damaged and report.footer_offset == footer
    assert f"  footer index at offset {footer} damaged: chunk payload checksum mismatch" in out

    report, out = case("unclosed.gsplog", data[:footer])  # a crash before the footer
    assert report.footer_offset is None and not report.damaged
    assert "  no footer index (the log was not closed" in out and "every chunk is intact" in out

    for name in ("trailer.gsplog", "junk.gsplog", "footer.gsplog", "unclosed.gsplog"):  # repair mends them all
        fixed = tmp_path / f"fixed_{name}"
        assert run("repair", str(tmp_path / name), str(fixed))[0] == 0
        assert _verify_text(fixed)[0] == 0
        with LogReader(fixed) as reader:
            assert [c.seq for c in reader.commands()] == [c.seq for c in cmds]


def test_a_damaged_header_loses_the_metadata_only(log: tuple[Path, list[Command]], tmp_path: Path) -> None:
    """No reader opens a log whose header is damaged, but its chunks carry their own magic and
    checksums: verify says so, and repair keeps every one under a new header (it used to give
    up: one flipped bit in the header lost the whole session)."""
    path, cmds = log
    data = bytearray(path.read_bytes())
    data[20] ^= 0x01  # in the header's metadata
    damaged = tmp_path / "header.gsplog"
    damaged.write_bytes(bytes(data))
    with pytest.raises(LogFormatError, match="header"):
        LogReader(damaged)
    code, out = _verify_text(damaged)
    assert code == 1 and "header damaged: no reader can open this file" in out and "(the header)" in out
    assert "repair` keeps its intact chunks under a new header" in out
    fixed = tmp_path / "fixed.gsplog"
    code, out = run("repair", str(damaged), str(fixed))
    assert code == 0, out
    assert tools.verify(fixed).ok
    with LogReader(fixed) as reader:
        assert [c.seq for c in reader.commands()] == [c.seq for c in cmds]
        assert "file header checksum mismatch" in reader.metadata["repaired"]["header"]
    newer = bytearray(path.read_bytes())
    newer[8] = 9  # major format version 9: unreadable here, but no damage
    future = tmp_path / "future.gsplog"
    future.write_bytes(bytes(newer))
    code, out = run("repair", str(future), str(tmp_path / "downgraded.gsplog"))
    assert code == 1 and "format version 9" in out and not (tmp_path / "downgraded.gsplog").exists()
    noise = tmp_path / "noise.gsplog"  # no header and no chunk: nothing to keep
    noise.write_bytes(bytes(range(256)) * 8)
    code, out = _verify_text(noise)
    assert code == 1 and "not a gsplog file" in out
    code, out = run("repair", str(noise), str(tmp_path / "none.gsplog"))
    assert code == 1 and not (tmp_path / "none.gsplog").exists()


# ---- dump: keyframes and non-finite floats --------------------------------------------------
def test_dump_of_a_trimmed_log_leaves_its_keyframe_out_unless_with_state(log: tuple[Path, list[Command]],
                                                                        tmp_path: Path) -> None:
    path, _ = log
    cut = tmp_path / "cut.gsplog"
    assert run("trim", str(path), str(cut), "--from", "#4")[0] == 0
    summary = tools.info(cut)
    code, out = run("dump", str(cut))
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(lines) == summary["commands"]  # as many as gsp info counts
    assert [lines[0]["seq"], lines[-1]["seq"]] == summary["seq_range"] and "Scene.keyframe" not in out
    code, out = run("dump", "--with-state", str(cut))
    state = [json.loads(line) for line in out.splitlines()]
    assert state[0]["op"] == "Scene.keyframe" and state[len(state) - len(lines):] == lines
    assert {entry["seq"] for entry in state[:len(state) - len(lines)]} == {summary["seq_range"][0] - 1}
    code, out = run("dump", "--from", "#2", str(cut))  # a range: its commands alone, as on any log
    second_render = [entry["seq"] for entry in lines if entry["op"] == "Renderer.render"][1]
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [e["seq"] for e in lines if e["seq"] >= second_render]


def _no_constant(name: str) -> None:
    raise ValueError(f"not JSON: {name}")


def test_dump_and_info_write_non_finite_floats_as_valid_json(tmp_path: Path) -> None:
    import numpy as np

    path = tmp_path / "nan.gsplog"
    nan, inf = float("nan"), float("inf")
    with LogWriter(path, metadata={"user": {"gain": nan}}) as writer:
        writer.append(Command(1, 0, "Recorder.mark", "", ("m",), {"v": nan, "hi": inf, "lo": -inf, "ok": 1.5}))
        writer.append(Command(2, 1, "Recorder.mark", "", ("a",), {"a": np.array([nan, -inf, 2.0], np.float64)}))
    for full in ([], ["--full"]):
        code, out = run("dump", *full, str(path))
        assert code == 0
        lines = [json.loads(line, parse_constant=_no_constant) for line in out.splitlines()]
        assert lines[0]["kwargs"] == {"v": {"$float": "NaN"}, "hi": {"$float": "Infinity"},
                                      "lo": {"$float": "-Infinity"}, "ok": 1.5}
        array = lines[1]["kwargs"]["a"]
        if full:
            assert array["data"] == [{"$float": "NaN"}, {"$float": "-Infinity"}, 2.0]
        else:
            assert array["head"] == [{"$float": "NaN"}, {"$float": "-Infinity"}, 2.0]
    code, out = run("info", "--json", str(path))
    assert code == 0 and json.loads(out, parse_constant=_no_constant)["metadata"]["user"] == {"gain": {"$float": "NaN"}}


def test_dump_writes_every_value_type_as_valid_json(tmp_path: Path) -> None:
    """Complex arrays made `gsp dump` crash (complex is not JSON): their items are [re, im]
    pairs, with no min/max (complex numbers have no order). Every other value a log may hold
    (0-d, float16, bool and uint64 arrays, numpy scalars, which are stored as native values)
    prints as strict JSON too."""
    import numpy as np

    path = tmp_path / "values.gsplog"
    big = 2**64 - 1
    arrays = {"c8": np.array([[1 + 2j, 3 - 4j], [0j, -1.5j]], "<c8"), "c16": np.array(2.5 - 1j, "<c16"),
              "cnan": np.array([complex(float("nan"), float("inf"))], "<c16"), "cempty": np.zeros((0, 3), "<c8"),
              "f2": np.array([0.5, -2.0], "<f2"), "b1": np.array([True, False]), "u8": np.array([big, 0], "<u8"),
              "zero_d": np.array(3.5, "<f4")}
    scalars = {"f4": np.float32(3.5), "i8": np.int64(-7), "b": np.bool_(True), "u8": np.uint64(big), "f2": np.float16(1.5)}
    with LogWriter(path, keyframes=False) as writer:
        writer.append(Command(1, 0, "Test.set", "obj", (), dict(arrays)))
        writer.append(Command(2, 1, "Test.set", "obj", (), dict(scalars)))
    expected_full = {"c8": [[[1.0, 2.0], [3.0, -4.0]], [[0.0, 0.0], [0.0, -1.5]]], "c16": [2.5, -1.0],
                     "cnan": [[{"$float": "NaN"}, {"$float": "Infinity"}]], "cempty": [],
                     "f2": [0.5, -2.0], "b1": [True, False], "u8": [big, 0], "zero_d": 3.5}
    expected_summary = {"c8": {"head": [[1.0, 2.0], [3.0, -4.0], [0.0, 0.0], [0.0, -1.5]]},
                        "c16": {"head": [[2.5, -1.0]]}, "cnan": {"head": [[{"$float": "NaN"}, {"$float": "Infinity"}]]},
                        "cempty": {}, "f2": {"min": -2.0, "max": 0.5, "head": [0.5, -2.0]},
                        "b1": {"min": False, "max": True, "head": [True, False]},
                        "u8": {"min": 0, "max": big, "head": [big, 0]}, "zero_d": {"min": 3.5, "max": 3.5, "head": [3.5]}}
    for full in (False, True):
        code, out = run("dump", *(["--full"] if full else []), str(path))
        assert code == 0, out
        first, second = (json.loads(line, parse_constant=_no_constant) for line in out.splitlines())
        for name, array in arrays.items():
            extra = {"data": expected_full[name]} if full else expected_summary[name]
            assert first["kwargs"][name] == {"$ndarray": array.dtype.str, "shape": list(array.shape), **extra}, name
        assert second["kwargs"] == {"f4": 3.5, "i8": -7, "b": True, "u8": big, "f2": 1.5}


def test_info_on_a_damaged_log_with_its_footer_counts_what_is_read(log: tuple[Path, list[Command]],
                                                                   tmp_path: Path) -> None:
    """A damaged chunk in a log whose footer is intact: `gsp info --json` said complete, with the
    footer's commands and frames but the ops of the chunks before the damage. Every count is now
    of the chunks read (before the damage), the footer's own are under "footer", and complete
    is false."""
    from sessions.chunk import HEADER_SIZE, ChunkKind

    path, cmds = log
    with LogReader(path) as reader:
        entries = reader.index.entries
        damaged_chunk = next(i for i, e in enumerate(entries) if i >= 7 and e.kind == ChunkKind.COMMANDS)
        before = entries[:damaged_chunk]
    data = bytearray(path.read_bytes())
    data[entries[damaged_chunk].offset + HEADER_SIZE + 3] ^= 0x08
    damaged = tmp_path / "damaged.gsplog"
    damaged.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="payload checksum mismatch"):
        summary = json.loads(json.dumps(tools.info(damaged)))
    read = [c for c in cmds if c.seq <= max(e.seq_last for e in before if e.kind == ChunkKind.COMMANDS)]
    assert summary["complete"] is False and len(summary["problems"]) == 1
    assert summary["footer"] == {"chunks": len(entries), "commands": len(cmds), "frames": 12}
    assert summary["chunks"] == damaged_chunk == sum(summary["chunk_kinds"].values())
    assert summary["commands"] == len(read) == sum(summary["commands_per_op"].values())
    assert summary["frames"] == sum(c.op == "Renderer.render" for c in read) == summary["commands_per_op"]["Renderer.render"]
    assert summary["keyframes"] == sum(e.kind != ChunkKind.COMMANDS for e in before)
    assert summary["seq_range"] == [1, read[-1].seq] and summary["time_range_ns"] == [read[0].t_ns, read[-1].t_ns]
    assert summary["stored_bytes"] == sum(e.size for e in before)
    assert summary["markers"] == [] and any(c.op == "Recorder.mark" for c in cmds)  # the footer's is after the damage
    code, out = run("info", str(damaged))
    assert code == 0 and f"{damaged}: gsplog 1.3, {len(data)} bytes (damaged: read up to the damage; the footer " \
        f"lists {len(entries)} chunks, {len(cmds)} commands, 12 frames)\n" in out
    code, out = run("info", "--json", str(path))
    summary = json.loads(out)
    assert summary["complete"] is True and summary["footer"] == {"chunks": len(entries), "commands": len(cmds), "frames": 12}
    assert summary["chunks"] == len(entries) and summary["commands"] == len(cmds)


# ---- verify / repair: commands that name objects lost with damaged chunks --------------------
def _damaged_copy(path: Path, chunk: int, out: Path) -> Path:
    """``path`` with one bit of chunk ``chunk``'s payload flipped, written to ``out``."""
    from sessions.chunk import HEADER_SIZE

    with LogReader(path) as reader:
        entry = reader.index.entries[chunk]
    data = bytearray(path.read_bytes())
    data[entry.offset + HEADER_SIZE + 3] ^= 0x08
    out.write_bytes(bytes(data))
    return out


def test_verify_finds_commands_that_name_objects_no_kept_command_creates(tmp_path: Path) -> None:
    """A damaged first chunk (the canvas, viewport and a buffer): `gsp repair` kept the later
    chunks and said nothing, `gsp verify` then said OK, and every replay stopped at the first
    command naming a lost object. verify now reports those commands (exit 1) in the damaged log
    and in its repair; repair says the kept commands depend on lost ones (exit 1, the output
    written) and its output's metadata says what was lost; verify prints no Python None."""
    from sessions_testkit import uid

    path = tmp_path / "s.gsplog"
    cmds = points_scene(frames=6, n=50, marker_at=None)
    with LogWriter(path, keyframes=False, metadata={"user": {"experiment": "lab-42"}}) as writer:
        for i, cmd in enumerate(cmds, 1):
            writer.append(cmd)
            if i % 3 == 0:
                writer.flush()
    damaged = _damaged_copy(path, 0, tmp_path / "damaged.gsplog")  # seq 1..3: Canvas, Viewport, Buffer.new
    lost = {uid(1), uid(2), uid(3)}
    naming = [c.seq for c in cmds if c.seq > 3 and (c.target in lost or any(
        getattr(a, "uuid", None) in lost or (isinstance(a, list) and any(getattr(b, "uuid", None) in lost for b in a))
        for a in c.args))]
    report = tools.verify(damaged)
    assert report.damaged[0]["chunk"] == 0 and report.damaged[0]["seq_range"] == [1, 3]
    assert report.dangling_commands == len(naming) and report.dangling[0] == {
        "seq": 4, "op": "Buffer.set_data", "object": uid(3)}
    assert report.last_intact_seq is None and report.seq_range == [4, len(cmds)] and report.restart_keyframe_seq is None
    code, out = run("verify", str(damaged))
    assert code == 1 and "None" not in out, out
    assert f"  damaged at offset {report.damaged[0]['offset']} (chunk 0, seq 1..3): chunk payload checksum" in out
    assert (f"  {len(naming)} commands name objects that no earlier command creates, the first seq 4 Buffer.set_data "
            f"(object {uid(3)}): a replay cannot apply them") in out
    assert "no command before the first damage is intact" in out and "no intact keyframe follows the damage" in out

    repaired = tmp_path / "repaired.gsplog"
    result = CliRunner().invoke(cli, ["repair", str(damaged), str(repaired)])
    assert result.exit_code == 1 and repaired.exists(), result.output  # written, but it does not replay
    kept = len(cmds) // 3 - 1  # a chunk every 3 commands, the first lost
    assert result.stdout.startswith(f"{repaired}: kept {kept} chunks ({len(cmds) - 3} commands); dropped 1 damaged region "
                                    "(chunk 0: seq 1..3)")
    assert result.stderr.startswith(f"Error: {repaired}: written, but the kept commands depend on lost ones: "
                                    f"{len(naming)} commands name objects"), result.stderr
    with LogReader(repaired) as reader:
        meta = reader.metadata
    assert meta["user"] == {"experiment": "lab-42"}  # the session's own metadata stays
    assert meta["repaired"]["from"] == str(damaged) and meta["repaired"]["lost_regions"] == 1
    assert meta["repaired"]["lost"] == [{"offset": report.damaged[0]["offset"], "chunk": 0,
                                         "reason": "chunk payload checksum mismatch", "seq_range": [1, 3]}]
    assert meta["repaired"]["dangling"]["commands"] == len(naming)
    code, out = run("verify", str(repaired))
    assert code == 1 and out.startswith(f"{repaired}: INCONSISTENT: {kept} intact chunks"), out
    assert f"  this log was repaired from {damaged}, which lost chunk 0: seq 1..3" in out
    assert json.loads(run("verify", "--json", str(repaired))[1])["dangling_commands"] == len(naming)
    assert tools.verify(path).ok  # the log as recorded names nothing it does not create


@pytest.mark.parametrize("points", [50, 6000])  # 6000: buffers of 72 kB, held by linked keyframes
@pytest.mark.parametrize("chunk", [0, 4])  # the log's first chunk; the chunk creating the visual and renderer
def test_repair_starts_at_the_first_keyframe_after_a_lost_setup(tmp_path: Path, points: int, chunk: int) -> None:
    """When the damage took what creates the scene, no intact command after it can replay until
    a keyframe: repair starts its output at the first intact keyframe after the damage (a
    linked one written whole, as its chunks are left out), says so, and the output replays the
    session's whole scene; --keep-all keeps every intact chunk, as before."""
    from sessions.chunk import ChunkKind

    path = tmp_path / "s.gsplog"
    cmds = make_log(path, points=points)
    with LogReader(path) as reader:
        entries = reader.index.entries
    keyframe = next(e for e in entries[chunk + 1:] if e.kind != ChunkKind.COMMANDS)
    assert keyframe.kind == (ChunkKind.LINKED_KEYFRAME if points == 6000 else ChunkKind.KEYFRAME)
    damaged = _damaged_copy(path, chunk, tmp_path / "damaged.gsplog")
    assert tools.verify(damaged).restart_keyframe_seq == keyframe.seq_last
    code, out = run("verify", str(damaged))
    assert f"`gsp repair` starts its output at the keyframe at seq {keyframe.seq_last}" in out
    repaired = tmp_path / "repaired.gsplog"
    code, out = run("repair", str(damaged), str(repaired))
    assert code == 0, out
    assert f"{repaired}: starts at the keyframe at seq {keyframe.seq_last}, the first intact one after the damage" in out
    assert tools.verify(repaired).ok
    dropped = [e for e in entries[:entries.index(keyframe)] if e is not entries[chunk]]
    with LogReader(repaired) as reader:
        assert reader.index.entries[0].kind == ChunkKind.KEYFRAME  # a linked one stands on its own now
        assert final_hash(reader.commands()) == final_hash(cmds)
        assert reader.index.total_frames == 12
        repaired_meta = reader.metadata["repaired"]
    commands_dropped = [e for e in dropped if e.kind == ChunkKind.COMMANDS]
    assert repaired_meta["started_at_keyframe_seq"] == keyframe.seq_last
    assert repaired_meta["dropped_before_keyframe"] == {
        "chunks": len(dropped),
        "seq_range": [commands_dropped[0].seq_first, commands_dropped[-1].seq_last] if commands_dropped else None}
    everything = tmp_path / "everything.gsplog"
    code, out = run("repair", "--keep-all", str(damaged), str(everything))
    assert code == 1 and "written, but the kept commands depend on lost ones" in out
    assert f"--keep-all kept the chunks before the keyframe at seq {keyframe.seq_last}" in out, out
    assert "no intact keyframe follows" not in out, out  # one does: --keep-all kept what comes before it
    with LogReader(everything) as reader:
        assert len(reader.index) == len(entries) - 1


def test_repair_keeps_every_chunk_when_frames_come_before_the_loss(tmp_path: Path) -> None:
    """A visual created part way through is lost: the frames before it replay, so nothing is
    left out (a keyframe follows); repair says the output stops there (exit 1)."""
    from sessions_testkit import uid

    from sessions.chunk import ChunkKind
    from sessions.command import Ref

    script = Script()
    script.commands.extend(points_scene(frames=3, n=20, marker_at=None))
    script.add("Points.new", uid(10), Ref(uid(3)), Ref(uid(4)), Ref(uid(5)), Ref(uid(5)), Ref(uid(6)))
    for _ in range(4):
        script.add("Buffer.set_data", uid(3), bytearray(240), 0, 20)
        script.add("Renderer.render", uid(8), [Ref(uid(2))], [Ref(uid(10))], [None], [None])
    path = tmp_path / "s.gsplog"
    with LogWriter(path, keyframe_interval_s=0.001) as writer:
        for cmd in script.commands:
            writer.append(cmd)
            if cmd.op in ("Renderer.render", "Points.new"):
                writer.flush()
    with LogReader(path) as reader:
        entries = reader.index.entries
    creating = next(n for n, e in enumerate(entries) if e.kind == ChunkKind.COMMANDS and e.seq_last == len(script.commands) - 8)
    assert any(e.kind != ChunkKind.COMMANDS for e in entries[creating + 1:])  # a keyframe follows
    damaged = _damaged_copy(path, creating, tmp_path / "damaged.gsplog")
    assert tools.verify(damaged).restart_keyframe_seq is None
    code, out = run("repair", str(damaged), str(tmp_path / "repaired.gsplog"))
    assert code == 1 and f"kept {len(entries) - 1} chunks" in out and "starts at the keyframe" not in out, out
    assert "no intact keyframe follows the damage, or frames drawn before it replay" in out, out


def test_a_command_skipped_for_a_newer_value_still_creates_its_object(tmp_path: Path) -> None:
    """A `.new` holding a value of a newer protocol is left out when decoded (with a warning):
    the object exists in the session all the same, so the commands naming it are no damage."""
    import msgpack

    from sessions import FileSink
    from sessions.chunk import ChunkKind, _frame

    rows = [[1, 0, "Viewport.new", "v", [msgpack.ExtType(99, b"future")], {}], [2, 1, "Viewport.set_x", "v", [3], {}],
            [3, 2, "Viewport.set_y", "w", [4], {}]]
    meta = msgpack.packb(rows, use_bin_type=True)
    path = tmp_path / "newer.gsplog"
    sink = FileSink(path, {})
    with pytest.warns(UserWarning, match="unknown extension type 99"):
        sink.write_chunk(_frame(ChunkKind.COMMANDS, meta, len(meta), 3, (1, 3), (0, 2), 0, False))
    sink.close()
    with pytest.warns(UserWarning, match="seq=1 op=Viewport.new: .*unknown extension type 99"):
        report = tools.verify(path)
    assert report.dangling_commands == 1 and report.dangling == [{"seq": 3, "op": "Viewport.set_y", "object": "w"}]


# ---- trim / cat of a log that did not end cleanly --------------------------------------------
def test_trim_and_cat_say_when_an_input_did_not_end_cleanly(log: tuple[Path, list[Command]], tmp_path: Path) -> None:
    """A log whose recorder was killed (no footer, a torn last chunk) was cut and joined without a
    word, and the outputs verified OK: the archive lost every trace that the session was cut
    short. trim and cat now warn, naming the input, what is wrong and its last intact command,
    and the output's metadata says how each input ended (gsp info shows it)."""
    from sessions.chunk import HEADER_SIZE

    path, cmds = log
    with LogReader(path) as reader:
        entries = reader.index.entries
    last = entries[-1]
    killed = tmp_path / "killed.gsplog"
    killed.write_bytes(path.read_bytes()[:last.offset + HEADER_SIZE + 5])  # the last chunk torn, no footer
    kept = [c for c in cmds if c.seq < last.seq_first]  # the commands of the chunks before it
    cut = tmp_path / "cut.gsplog"
    result = CliRunner().invoke(cli, ["trim", str(killed), "-o", str(cut)])
    assert result.exit_code == 0, result.output
    assert result.stderr == (f"warning: trim: {killed}: the log has no footer (its recorder was killed or is still "
                             f"writing; its last chunk is cut short): {cut} holds its commands up to the last intact "
                             f"one (seq {kept[-1].seq}, {kept[-1].t_ns / 1e9:.3f} s since it started), and its metadata "
                             "says so\n")
    with LogReader(cut) as reader:
        assert reader.metadata["source_file"] == {"path": str(killed), "ended": "unterminated", "incomplete_tail": True,
                                                  "last_seq": kept[-1].seq, "last_t_s": kept[-1].t_ns / 1e9}
    code, out = run("info", str(cut))
    assert f"  source    {killed}: no footer: its recorder was killed, or was still writing, its last chunk cut " \
           f"short; read up to seq {kept[-1].seq} at {kept[-1].t_ns / 1e9:.3f} s\n" in out

    joined = tmp_path / "joined.gsplog"
    result = CliRunner().invoke(cli, ["cat", str(path), str(killed), "-o", str(joined)])
    assert result.exit_code == 0 and result.stderr.count("warning: ") == 1, result.output
    assert result.stderr.startswith(f"warning: cat: {killed}: the log has no footer")
    with LogReader(joined) as reader:
        states = reader.metadata["source_files"]
    assert [(s["path"], s["ended"]) for s in states] == [(str(path), "complete"), (str(killed), "unterminated")]
    code, out = run("info", str(joined))
    assert f"  source    {path}: ended cleanly\n  source    {killed}: no footer" in out

    trailer = bytearray(path.read_bytes())
    trailer[-3] ^= 0x01  # the trailer: its footer is found by scanning, no reader says a word
    (tmp_path / "trailer.gsplog").write_bytes(bytes(trailer))
    result = CliRunner().invoke(cli, ["trim", str(tmp_path / "trailer.gsplog"), "-o", str(tmp_path / "t.gsplog")])
    assert result.exit_code == 0 and "the log's footer is damaged" in result.stderr
    assert "holds every command, all intact" in result.stderr
    with LogReader(tmp_path / "t.gsplog") as reader:
        assert reader.metadata["source_file"]["ended"] == "footer damaged"

    result = CliRunner().invoke(cli, ["trim", str(path), "-o", str(tmp_path / "whole.gsplog")])
    assert result.exit_code == 0 and result.stderr == ""  # a log that ended cleanly: not a word
    with LogReader(tmp_path / "whole.gsplog") as reader:
        assert reader.metadata["source_file"]["ended"] == "complete"
    damaged = _damaged_copy(path, 7, tmp_path / "damaged.gsplog")
    code, out = run("trim", str(damaged), "-o", str(tmp_path / "never.gsplog"))
    assert code == 1 and "chunk 7: chunk payload checksum mismatch; `gsp repair` keeps its intact chunks" in out


def _filled(folder: Path, size: int) -> bool:
    """Whether a file in ``folder`` holds more than ``size`` bytes (or went away meanwhile: renamed
    into place, the tool done)."""
    for path in folder.iterdir():
        try:
            if path.stat().st_size > size:
                return True
        except FileNotFoundError:
            return True
    return False


@pytest.mark.parametrize("tool", ["trim", "cat"])
def test_sigterm_leaves_no_hidden_output_behind(tmp_path: Path, tool: str) -> None:
    """SIGTERM (kill, timeout, a batch scheduler) killed `gsp trim` / `gsp cat` part way, and the
    hidden output (.out.gsplog.<pid>-<id>.new, as big as what was written) stayed in the folder.
    It now stops as Ctrl-C does, removing it: exit status 143."""
    import signal
    import time

    import numpy as np

    from gsp.types import BufferType

    source = tmp_path / "big.gsplog"
    rng = np.random.default_rng(0)
    with LogWriter(source) as writer:  # 48 MiB that lz4 cannot shrink: a while to copy
        writer.append(Command(1, 0, "Buffer.new", "b", (1 << 21, BufferType.uint8)))
        for seq in range(2, 26):
            writer.append(Command(seq, seq, "Buffer.set_data", "b", (rng.bytes(1 << 21), 0, 1 << 21)))
            writer.flush()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    args = ["trim", str(source), str(out_dir / "cut.gsplog")] if tool == "trim" else \
        ["cat", str(source), str(source), "-o", str(out_dir / "cut.gsplog")]
    proc = subprocess.Popen([sys.executable, "-m", "gsplog_cli.main", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        # The hidden output is being filled (not just made: a signal in the instant between the
        # file's creation and its cleanup being armed is not covered)
        while not _filled(out_dir, 1 << 20):
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()[0]
            time.sleep(0.001)
        proc.send_signal(signal.SIGSTOP)  # held where it is, whatever the machine's pace
        if proc.poll() is not None or (out_dir / "cut.gsplog").exists():
            pytest.skip(f"{tool} finished before it could be stopped")
        proc.terminate()
        proc.send_signal(signal.SIGCONT)
        output, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, output
    assert list(out_dir.iterdir()) == []
