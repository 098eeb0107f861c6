"""The session-log tools and a transform link of the user's own type (``@register_link`` in the
recorded script's module, never imported here). ``gsp trim`` and ``gsp cat`` left its command out
with a bare warning, and ``gsp verify`` then called the output OK: the archive had silently lost
it. They now carry every link as it was recorded (no class needed: no chain runs), so the cut
and the joined logs replay, given ``--links``, to the source's very frames; ``gsp dump``,
``info``, ``verify`` and ``repair`` read it as recorded too. A command a tool still cannot decode
(a value of a newer protocol's) is refused, with nothing written, rather than left out.

The tools run in this process: the link type stays unregistered here. The replays, which need
it, run in processes of their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio3
import msgpack
import numpy as np
import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from player_sessions import record_custom_link_session  # noqa: E402

from gsplog_cli.main import cli  # noqa: E402

LINK = {"$link": {"link_type": "LabScaleLink", "scale": 0.9}}


@pytest.fixture(scope="module")
def link_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_custom_link_session(tmp_path_factory.mktemp("links_tools"))


def _gsp(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def _frames(log: Path, out: Path, script: Path) -> list[np.ndarray]:
    """The frames of ``log`` replayed with ``--links script`` (in a process of its own)."""
    done = subprocess.run([sys.executable, "-m", "gsplog_cli.main", "replay", str(log), "-b", "matplotlib",
                           "-o", f"{out}/", "--links", str(script), "--no-progress"], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, MPLBACKEND="Agg"))
    assert done.returncode == 0, done.stderr
    return [iio3.imread(path) for path in sorted(out.glob("frame_*.png"))]


def _dump(log: Path, *options: str) -> list[dict[str, object]]:
    code, out, err = _gsp("dump", log, *options)
    assert code == 0 and err == "", err
    return [json.loads(line) for line in out.splitlines()]


def _red_pixels(rgba: np.ndarray) -> int:
    return int(((rgba[..., 0] > 200) & (rgba[..., 1] < 80) & (rgba[..., 2] < 80)).sum())


def test_trim_and_cat_keep_the_users_link_and_replay_to_the_same_frames(link_session: Path, tmp_path: Path) -> None:
    script = link_session.parent / "script.py"
    whole, second, joined = tmp_path / "whole.gsplog", tmp_path / "second.gsplog", tmp_path / "joined.gsplog"
    for args, said in (((link_session, whole), "27 commands"), ((link_session, second, "--from", "#2"), "1 command"),
                       ((link_session, link_session, "-o", joined), "54 commands")):
        code, out, err = _gsp("cat" if joined in args else "trim", *args)
        assert code == 0 and said in out, out + err
        assert err == "", err  # was: "warning: skipping command seq=5 ...", the command left out
    for log, count in ((whole, 27), (joined, 54)):
        code, out, _ = _gsp("verify", log)
        assert code == 0 and "OK: " in out and f", {count} commands" in out, out
    assert [c["args"] for c in _dump(whole) if c["seq"] == 5] == [[LINK]]
    assert [c["args"] for c in _dump(joined) if c["op"] == "TransformChain.add"][1::2] == [[LINK], [LINK]]
    # the cut from the second frame opens with a keyframe: the chain, its link included
    assert [LINK] in [c["args"] for c in _dump(second, "--with-state")]

    source = _frames(link_session, tmp_path / "source", script)
    assert len(source) == 2 and _red_pixels(source[1]) > 200  # drawn through the link
    for log, expected in ((whole, source), (second, source[1:]), (joined, source + source)):
        frames = _frames(log, tmp_path / log.stem, script)
        assert len(frames) == len(expected) and all(np.array_equal(a, b) for a, b in zip(frames, expected))


def test_dump_info_verify_and_repair_read_the_link_as_recorded(link_session: Path, tmp_path: Path) -> None:
    """They skipped the command with a warning: dump left it out, info and verify counted 26 of
    27 commands, repair said it kept 26 (it copies the chunks' bytes: all 27 are there)."""
    assert [c["args"] for c in _dump(link_session) if c["seq"] == 5] == [[LINK]]
    code, out, err = _gsp("info", "--json", link_session)
    assert code == 0 and err == "", err
    summary = json.loads(out)
    assert summary["commands_per_op"]["TransformChain.add"] == 2 and sum(summary["commands_per_op"].values()) == 27
    code, out, err = _gsp("verify", link_session)
    assert code == 0 and err == "" and ", 27 commands" in out, out + err
    repaired = tmp_path / "repaired.gsplog"
    code, out, err = _gsp("repair", link_session, repaired)
    assert code == 0 and err == "" and "(27 commands)" in out, out + err
    assert _dump(repaired) == _dump(link_session)


def _log_with_a_newer_value(path: Path) -> Path:
    """A log whose second command holds a value of an extension code this version does not know
    (a newer protocol's): written chunk by hand, since our encoder writes none."""
    from sessions.chunk import ChunkKind, _frame
    from sessions.errors import SkippedCommandWarning
    from sessions.sinks import FileSink
    from sessions.writer import LogWriter

    rows = [[1, 0, "Recorder.note", "", [1], {}], [2, 1, "Recorder.future", "", [msgpack.ExtType(99, b"new")], {}]]
    meta = msgpack.packb(rows, use_bin_type=True)
    sink = FileSink(str(path), header=LogWriter.make_header({}))
    with pytest.warns(SkippedCommandWarning):  # the sink reads the chunk's frames and markers
        sink.write_chunk(_frame(ChunkKind.COMMANDS, meta, len(meta), 2, (1, 2), (0, 1), 0, False))
    sink.close()
    return path


def test_trim_and_cat_refuse_a_command_they_cannot_decode_and_write_nothing(tmp_path: Path) -> None:
    log = _log_with_a_newer_value(tmp_path / "newer.gsplog")
    kept = tmp_path / "kept.gsplog"
    kept.write_bytes(b"not overwritten")
    for tool, args in (("trim", [log, kept]), ("cat", [log, "-o", kept])):
        code, _, err = _gsp(tool, *args)
        assert code == 1, err  # was 0, the command left out with a warning
        assert err.strip() == (f"Error: {tool}: {log}: command seq=2 op=Recorder.future holds a value this version "
                               "cannot decode (unknown extension type 99): it would be left out of the output, so "
                               "nothing is written (a newer gsplog may read it)")
        assert kept.read_bytes() == b"not overwritten"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.gsplog", "newer.gsplog"]
    # dump shows what it can and says what it left out
    code, out, err = _gsp("dump", log)
    assert code == 0 and len(out.splitlines()) == 1
    assert "warning: skipping command seq=2 op=Recorder.future: unknown extension type 99" in err


def test_the_tools_refusal_is_their_own_thread_s_not_the_process_s(tmp_path: Path) -> None:
    """trim/cat refuse a skipped command through ``skipped_commands("raise")``, a context
    variable: they turned the process-wide warning filters to "error" before, so a reader on
    another thread then had its own skipped command raised at it instead of warned of."""
    import threading
    import warnings

    from sessions import LogReader
    from sessions.codec import skipped_commands
    from sessions.errors import SkippedCommandWarning

    log = _log_with_a_newer_value(tmp_path / "newer.gsplog")

    def read_all() -> list[str]:
        with warnings.catch_warnings(record=True) as caught, LogReader(log) as reader:
            warnings.simplefilter("always")
            ops = [c.op for c in reader.commands()]
        return ops + [str(w.message) for w in caught if issubclass(w.category, SkippedCommandWarning)]

    seen: list[object] = []
    with skipped_commands("raise"):
        with pytest.raises(SkippedCommandWarning, match="seq=2 op=Recorder.future"), LogReader(log) as reader:
            list(reader.commands())
        thread = threading.Thread(target=lambda: seen.append(read_all()))
        thread.start()
        thread.join()
    assert len(seen) == 1 and isinstance(seen[0], list) and len(seen[0]) == 2, seen
    assert "skipping command seq=2 op=Recorder.future" in seen[0][-1]
    with skipped_commands("quiet"), warnings.catch_warnings():
        warnings.simplefilter("error")
        with LogReader(log) as reader:
            assert len(list(reader.commands())) == 1
    with pytest.raises(ValueError, match="policy must be"):
        with skipped_commands("loud"):  # type: ignore[arg-type]
            pass
