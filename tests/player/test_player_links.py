"""A session drawn through the user's own transform link (``@register_link`` in a module of theirs):
``gsp-replay`` says which link type it lacks and exits 1 (the picture is wrong), and ``--links``
imports the module that registers it. Every replay here runs in a process of its own: a link
registered in this test process would stay registered for every later test."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import imageio.v3 as iio3
import numpy as np
import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from player_sessions import record_custom_link_session  # noqa: E402

from gsplog_cli.cmd_replay import replay as replay_cmd  # noqa: E402
from sessions import LogReader  # noqa: E402


@pytest.fixture(scope="module")
def link_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_custom_link_session(tmp_path_factory.mktemp("links"))


def _replay(*args: str, cwd: Path) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "gsplog_cli.main", "replay", *args, "--no-progress"], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=dict(os.environ, MPLBACKEND="Agg"))
    return done.returncode, done.stderr


def _red_pixels(path: Path) -> int:
    rgba = iio3.imread(path)
    return int(((rgba[..., 0] > 200) & (rgba[..., 1] < 80) & (rgba[..., 2] < 80)).sum())


def test_the_reader_names_the_link_type_it_does_not_know(link_session: Path) -> None:
    """The skipped command's warning carries its seq, op and link type (what the CLI reports)."""
    from sessions import SkippedCommandWarning

    with warnings.catch_warnings(record=True) as caught, LogReader(link_session) as reader:
        warnings.simplefilter("always")
        ops = [c.op for c in reader.commands()]
    skipped = [w.message for w in caught if isinstance(w.message, SkippedCommandWarning)]
    assert len(skipped) == 1 and ops.count("TransformChain.add") == 1  # the immediate link is kept
    assert skipped[0].link_type == "LabScaleLink" and skipped[0].op == "TransformChain.add"
    assert "'LabScaleLink' is not registered" in str(skipped[0]) and "@register_link" in str(skipped[0])


def test_a_replay_without_the_users_link_says_so_and_fails(link_session: Path, tmp_path: Path) -> None:
    """It exited 0 with a blank picture and a bare warning: now one error line names the link
    type, the seq, the recorded script and --links, and the exit status is 1 (the picture, kept
    to look at, lacks what the link did)."""
    code, err = _replay(str(link_session), "-o", str(tmp_path / "blank.png"), cwd=tmp_path)
    assert code == 1, err
    assert "1 frame(s) replayed" in err
    errors = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, err
    assert "'LabScaleLink'" in errors[0] and "TransformChain.add" in errors[0]
    assert "--links script.py" in errors[0] and "runs its code" in errors[0]
    assert "warning: skipping command" not in err  # said once, in the error line
    assert _red_pixels(tmp_path / "blank.png") == 0  # the raw points lie far outside the view


def test_links_imports_a_script_or_a_module_that_registers_the_link(link_session: Path, tmp_path: Path) -> None:
    """--links takes the recorded script's path (its `__main__` part does not run; the module
    beside it that it imports is found) or a module name (from the current folder)."""
    folder = link_session.parent
    by_file, by_name = tmp_path / "by_file.png", tmp_path / "by_name.png"
    code, err = _replay(str(link_session), "-o", str(by_file), "--links", str(folder / "script.py"), cwd=tmp_path)
    assert code == 0, err
    assert "warning" not in err and "Error" not in err
    code, err = _replay(str(link_session), "-o", str(by_name), "--links", "lablinks", cwd=folder)
    assert code == 0, err
    assert _red_pixels(by_file) > 200  # the points, scaled into the view, are drawn
    assert np.array_equal(iio3.imread(by_file), iio3.imread(by_name))


def test_links_that_cannot_be_imported_are_one_line_errors(link_session: Path, tmp_path: Path) -> None:
    for spec, words in (("no_such_module_here", "no module named 'no_such_module_here'"),
                        (str(tmp_path / "missing.py"), "no such file")):
        result = CliRunner().invoke(replay_cmd, [str(link_session), "-b", "null", "--links", spec])
        assert result.exit_code == 2, result.output
        assert result.stderr.strip() == f"Error: --links {spec}: {words}" + (
            " here (give a module name importable from the current folder or sys.path, or the path of a .py file)"
            if "module" in words else "")
    broken = tmp_path / "broken.py"
    broken.write_text("x = 1\nraise RuntimeError('no licence server')\n")
    result = CliRunner().invoke(replay_cmd, [str(link_session), "-b", "null", "--links", str(broken)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"Error: --links {broken}: importing it failed: RuntimeError: no licence server "
                                     f"({broken}, line 2)")


def test_the_error_line_counts_each_unknown_link_type_once_per_command() -> None:
    """A chunk read twice (the last frame found, then drawn) warns twice for one command: each
    command counts once; two types are named together."""
    from gsplog_cli.links import UnknownLinks
    from sessions import SkippedCommandWarning

    unknown = UnknownLinks()
    for seq, link_type in ((5, "A"), (9, "A"), (5, "A"), (7, "B"), (11, "A"), (13, "A")):
        assert unknown.add(SkippedCommandWarning("skipped", seq=seq, op="TransformChain.add", link_type=link_type))
    assert not unknown.add(SkippedCommandWarning("skipped", seq=3, op="Points.new"))  # another reason: a warning
    assert unknown.counts() == {"A": 4, "B": 1}
    line = unknown.message("s.gsplog", "run.py")
    assert line.startswith("s.gsplog: skipped 4 commands holding a transform link of type 'A' (seq 5, 9, 11, ...: "
                           "TransformChain.add); 1 command holding a transform link of type 'B' (seq 7: ")
    assert "link types 'A' and 'B' are not registered here" in line and "give --links run.py to import them" in line


def test_the_error_line_names_the_op_of_each_seq() -> None:
    """Seqs of different ops were listed under the first one's: "(seq 7, 43, 44:
    TransformChain.remove)" when 7 and 44 were adds. Each op now has its own seqs."""
    from gsplog_cli.links import UnknownLinks
    from sessions import SkippedCommandWarning

    unknown = UnknownLinks()
    for seq, op in ((43, "TransformChain.remove"), (7, "TransformChain.add"), (44, "TransformChain.add")):
        unknown.add(SkippedCommandWarning("skipped", seq=seq, op=op, link_type="A"))
    assert "(seq 7, 44: TransformChain.add; seq 43: TransformChain.remove):" in unknown.message("s.gsplog")
    unknown.add(SkippedCommandWarning("skipped", seq=50, op="TransformChain.remove", link_type="A"))
    assert "(seq 7, 44: TransformChain.add; seq 43: TransformChain.remove; ...):" in unknown.message("s.gsplog")
