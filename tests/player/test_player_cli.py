"""``gsp replay`` / ``gsp-replay``: outputs, one-line errors with exit code 2, follow mode."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import imageio.v3 as iio3
import numpy as np
import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from player_sessions import record_moving_disc, record_two_discs, red_columns, with_undrawable_render  # noqa: E402

from gsplog_cli.cmd_replay import replay as replay_cmd  # noqa: E402
from player import replay  # noqa: E402
from sessions import LogReader  # noqa: E402

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_moving_disc(tmp_path_factory.mktemp("cli") / "disc.gsplog", 4, markers={2: "two"})


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(replay_cmd, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_writes_png_frames_and_gif(session: Path, tmp_path: Path) -> None:
    code, _, err = _run(str(session), "-o", str(tmp_path / "out.png"), "--frame", "2", "--size", "40x30")
    assert code == 0, err
    assert iio3.imread(tmp_path / "out.png").shape == (30, 40, 4)
    code, _, err = _run(str(session), "--backend", "matplotlib", "-o", str(tmp_path / "f") + "/", "--from", "@two", "--to", "#3")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == ["frame_000001.png", "frame_000002.png"]
    assert "2 frame(s) replayed" in err
    code, _, err = _run(str(session), "--size", "40x30", "-o", str(tmp_path / "all") + "/", "--no-progress")
    assert code == 0, err
    first, last = tmp_path / "all" / "frame_000001.png", tmp_path / "all" / "frame_000004.png"
    assert "4 frame(s) replayed with matplotlib in" in err and f"-> {first} ... {last} (4 files)" in err
    code, _, err = _run(str(session), "-o", str(tmp_path / "m.gif"), "--fps", "5", "--no-progress")
    assert code == 0, err
    assert iio3.imread(tmp_path / "m.gif", index=None).shape[0] == 4


def test_a_video_says_its_frame_rate_and_where_it_came_from(session: Path, tmp_path: Path) -> None:
    """The 4 frames were recorded microseconds apart (a loop without an animator): the video
    plays at the clamp, 120 fps, and the summary now says so and why. A GIF derived from such
    times stops at 50 fps (delays of 20 ms; it was 120 fps, delays of 10 ms, which browsers show
    for 100 ms); one asked for faster is made, with a warning."""
    movie, gif, asked, fast = (tmp_path / name for name in ("m.mp4", "m.gif", "asked.gif", "fast.gif"))
    code, _, err = _run(str(session), "-o", str(movie), "--no-progress")
    assert code == 0, err
    assert (f"-> {movie} at 120 fps, from the recorded timing (1 / the median interval of the first 8 frames: "
            in err), err
    assert "fps, clamped to 1-120; --fps sets it)" in err
    code, _, err = _run(str(session), "-o", str(gif), "--no-progress")
    assert code == 0, err
    assert f"-> {gif} at 50 fps, from the recorded timing" in err and "50 is the most a GIF plays at in browsers" in err
    assert iio3.immeta(gif)["duration"] == 20  # ms: every delay one that browsers keep
    code, _, err = _run(str(session), "-o", str(asked), "--fps", "5", "--no-progress")
    assert code == 0 and err.strip().endswith(f"-> {asked} at 5 fps, as asked (--fps)"), err
    code, _, err = _run(str(session), "-o", str(fast), "--fps", "100", "--no-progress")
    assert code == 0, err
    assert err.startswith(f"warning: {fast}: a GIF at 100 fps has frame delays under 20 ms, which browsers show for "
                          "100 ms"), err
    assert iio3.immeta(fast)["duration"] == 10  # as asked


@pytest.mark.parametrize("selection", [[], ["--to", "#3"], ["--from", "#2"], ["--from", "@two", "--to", "#3"],
                                       ["--frame", "2"], ["--from", "{t2}", "--to", "{t3}"], ["--to", "seq:{s3}"]])
def test_the_progress_bar_knows_how_many_frames_a_range_holds(session: Path, selection: list[str]) -> None:
    """The index counts the frames of a range: the bar shows N/N (a percentage, an ETA), not a
    bare count, for ranges as for the whole session."""
    renders = [c for c in LogReader(session).commands() if c.op == "Renderer.render"]
    values = {"t2": f"{renders[1].t_ns / 1e9:.9f}", "t3": f"{renders[2].t_ns / 1e9:.9f}", "s3": str(renders[2].seq)}
    code, _, err = _run(str(session), "--backend", "null", "--progress", *(a.format(**values) for a in selection))
    assert code == 0, err
    drawn = int(err.strip().splitlines()[-1].split()[0])  # "N frame(s) replayed with null ..."
    assert drawn > 0
    assert f"| {drawn}/{drawn} [" in err and "100%" in err, err


def _assert_one_line_error(code: int, err: str, *words: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0]


def _replay_process(*args: str) -> tuple[int, str]:
    """``gsp replay ARGS`` as a process: (exit status, all it wrote on stderr, ffmpeg's too)."""
    done = subprocess.run([sys.executable, "-m", "gsplog_cli.main", "replay", *args], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, MPLBACKEND="Agg"))
    return done.returncode, done.stderr


def test_frames_that_meet_a_full_disk_name_the_file_and_frame(session: Path,
                                                              small_disk: Callable[[str], Any]) -> None:
    """`-o frames/` on a disk that fills up: the error names the frame and its file, not only
    "[Errno 28] No space left on device"; no torn PNG is left behind."""
    disk = small_disk("1m")
    disk.fill(leave=2 * 4096)  # two pages: two small PNGs
    code, err = _replay_process(str(session), "-o", str(disk.path / "frames") + "/", "--no-progress")
    _assert_one_line_error(code, err, "No space left on device")
    match = re.search(r"frame (\d+) to (\S+): No space left on device", err)
    assert match, err
    assert match.group(2) == str(disk.path / "frames" / f"frame_{int(match.group(1)):06d}.png")
    for png in (disk.path / "frames").iterdir():
        iio3.imread(png)  # whole


@pytest.mark.parametrize("name", ["m.mp4", "m.gif", "last.png"])
def test_an_output_file_that_meets_a_full_disk_is_one_line_naming_it(
        session: Path, small_disk: Callable[[str], Any], name: str) -> None:
    """A video printed ffmpeg's command line, its own messages and "Broken pipe" (or, when every
    frame fit in the pipe, passed for written: exit status 0 and an empty file): now one line
    that names the output and why, and no video cut short (no torn PNG) is left."""
    disk = small_disk("1m")
    disk.fill()
    code, err = _replay_process(str(session), "-o", str(disk.path / name), "--no-progress")
    _assert_one_line_error(code, err, str(disk.path / name), "No space left on device")
    assert "ffmpeg -y" not in err and "Broken pipe" not in err
    assert not (disk.path / name).exists()


def test_cli_bad_logs_exit_2_one_line(session: Path, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.gsplog"
    garbage.write_bytes(b"this is not a session log" * 10)
    _assert_one_line_error(*_run(str(garbage))[::2], "garbage.gsplog", "offset 0")
    assert "gsp repair" not in _run(str(garbage))[2]  # no log at all: nothing to repair
    truncated = tmp_path / "cut.gsplog"
    truncated.write_bytes(session.read_bytes()[:40])
    _assert_one_line_error(*_run(str(truncated), "-b", "null")[::2], "cut.gsplog")
    # a damaged chunk (flip bytes inside the first command chunk's payload)
    reader = LogReader(session)
    entry = reader.index.entries[reader.index.command_chunks()[0]]
    reader.close()
    data = bytearray(session.read_bytes())
    for k in range(entry.offset + entry.size // 2, entry.offset + entry.size // 2 + 4):
        data[k] ^= 0xFF
    damaged = tmp_path / "damaged.gsplog"
    damaged.write_bytes(bytes(data))
    _assert_one_line_error(*_run(str(damaged), "-b", "null")[::2], "damaged.gsplog", "chunk", "`gsp repair` keeps it")
    _assert_one_line_error(*_run(str(tmp_path / "missing.gsplog"))[::2], "missing.gsplog")


def test_cli_warns_on_an_unterminated_log_and_refuses_an_empty_output(session: Path, tmp_path: Path) -> None:
    reader = LogReader(session)
    entries = reader.index.entries
    first_commands = entries[reader.index.command_chunks()[0]].offset
    end_of_chunks = max(e.offset + e.size for e in entries)
    reader.close()
    # Cut inside the footer: every chunk is intact, the index is gone.
    cut = tmp_path / "unterminated.gsplog"
    cut.write_bytes(session.read_bytes()[: end_of_chunks + 3])
    code, _, err = _run(str(cut), "-o", str(tmp_path / "u.png"))
    assert code == 0, err
    assert "warning:" in err and "no footer" in err and "gsp repair" in err
    assert iio3.imread(tmp_path / "u.png").ndim == 3
    # Only the scene setup survives (no render): asking for an image is an error, not silence.
    setup_only = tmp_path / "setup.gsplog"
    setup_only.write_bytes(session.read_bytes()[:first_commands])
    code, _, err = _run(str(setup_only), "-o", str(tmp_path / "none.png"))
    assert code == 2 and "no rendered frame" in err and not (tmp_path / "none.png").exists()


def test_a_damaged_footer_is_called_damaged_not_missing(session: Path, tmp_path: Path) -> None:
    """A log whose footer alone is damaged was said to have "no footer (its recorder was killed
    or is still writing)", and the reader's warning named no file ("offset 57207: chunk payload
    checksum mismatch"). It is now called what it is, with the file's name; every command is
    replayed."""
    with LogReader(session) as reader:
        footer = max(e.offset + e.size for e in reader.index.entries)
    data = bytearray(session.read_bytes())
    data[footer + 100] ^= 0x01  # the footer's payload: its checksum fails, the trailer still points at it
    damaged = tmp_path / "footer.gsplog"
    damaged.write_bytes(bytes(data))
    code, _, err = _run(str(damaged), "-b", "null")
    assert code == 0 and "4 frame(s) replayed" in err, err
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert warnings == [f"warning: {damaged}: the footer index cannot be used (offset {footer}: chunk payload checksum "
                        "mismatch); rebuilding the index by scanning (`gsp repair` writes a valid one)"], err
    trailer = bytearray(session.read_bytes())
    trailer[-3] ^= 0x01  # the trailer: no reader finds the footer, the scan meets it
    (tmp_path / "trailer.gsplog").write_bytes(bytes(trailer))
    code, _, err = _run(str(tmp_path / "trailer.gsplog"), "-b", "null")
    assert code == 0 and "no footer" not in err, err
    assert "the log's footer is damaged (its index or its trailer; every chunk before it is intact" in err


def test_the_second_of_a_repeated_marker_is_named_by_its_number(session: Path, tmp_path: Path) -> None:
    """Two sessions joined by `gsp cat` (4 frames each, marker "two" before frame 2 of each):
    `--from @two` took the first without a word; it still does, and says the label repeats.
    `@two#2` names the second, counted from the session's start whether the replay seeks (a
    file) or reads a stream (--follow); `--to @nosuch` replayed everything, exit 0."""
    from gsplog_cli.main import cli

    joined = tmp_path / "twice.gsplog"
    assert CliRunner().invoke(cli, ["cat", str(session), str(session), "-o", str(joined)]).exit_code == 0
    for follow in ([], ["--follow", "--timeout", "1"]):
        for selection, frames in ((["--from", "@two#2"], 3), (["--to", "@two#2"], 5), (["--from", "@two#1"], 7),
                                  (["--from", "@two#1", "--to", "@two#2"], 4)):
            code, _, err = _run(str(joined), "-b", "null", *follow, *selection)
            assert code == 0 and err == f"{frames} frame(s) replayed" + err.split("replayed", 1)[1], (selection, err)
            assert "warning" not in err
        code, _, err = _run(str(joined), "-b", "null", "--from", "@two", *follow)
        assert code == 0 and "7 frame(s) replayed" in err, err
        assert err.startswith("warning: ") and "@two#2 names the second" in err
    code, _, err = _run(str(joined), "-b", "null", "--from", "@two#3")
    _assert_one_line_error(code, err, "no marker @two#3: 'two' labels 2 markers (seq ")
    code, _, err = _run(str(joined), "-b", "null", "--to", "@nosuch")
    _assert_one_line_error(code, err, "no marker 'nosuch' (markers: ['two'])")


def test_a_replay_that_writes_nothing_leaves_no_folder_it_made(session: Path, tmp_path: Path) -> None:
    """"nothing written" left the folders it had made (`frames/`, `deep/sub/`) behind, empty; now
    they go, as after a replay that fails before its first frame. A folder that was there keeps
    what it held: an earlier replay's frames are not taken for this one's stale ones."""
    import recorder
    from gsp.core import Canvas

    log = tmp_path / "norender.gsplog"
    with recorder.record(log):
        Canvas(20, 20, 72.0, bytearray([255, 255, 255, 255]))  # a scene, and no renderer to draw it
    for output, why in (("frames/", "no rendered frame"), ("deep/sub/", "no rendered frame"),
                        ("range/", "no frame matched")):
        source = session if output == "range/" else log
        more = ["--from", "#9"] if output == "range/" else []
        code, _, err = _run(str(source), "-o", str(tmp_path / output), *more)
        _assert_one_line_error(code, err, why)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["norender.gsplog"]
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "frame_000001.png").write_bytes(b"an earlier replay's")
    code, _, err = _run(str(log), "-o", f"{kept}/")
    _assert_one_line_error(code, err, "nothing written")
    assert [p.read_bytes() for p in kept.iterdir()] == [b"an earlier replay's"]


@pytest.mark.parametrize("backend", ["matplotlib", pytest.param("datoviz", marks=pytest.mark.datoviz)])
def test_size_draws_every_visual_of_a_viewport(tmp_path: Path, backend: str) -> None:
    """``--size`` draws the recorded scene at another size: both visuals of the one viewport, in
    every frame (the scaled viewport is one per recorded viewport, not one per visual)."""
    two = record_two_discs(tmp_path / "two.gsplog", 80, 60, frames=2)
    plain, same, big = tmp_path / "plain", tmp_path / "same", tmp_path / "big"
    for out, size in ((plain, None), (same, "80x60"), (big, "160x120")):
        assert replay(two, backend, f"{out}/", size=size).frames == 2
    for name in ("frame_000001.png", "frame_000002.png"):
        expected = iio3.imread(plain / name)
        assert np.array_equal(iio3.imread(same / name), expected)
        for picture in (expected, iio3.imread(big / name)):
            row = picture[picture.shape[0] // 2, :, :3].astype(int)
            red = np.flatnonzero((row[:, 0] > 200) & (row[:, 2] < 80))
            blue = np.flatnonzero((row[:, 2] > 200) & (row[:, 0] < 80))
            width = picture.shape[1]
            assert len(red) and len(blue), name  # both discs drawn
            assert abs(red.mean() - width / 4) <= 2 and abs(blue.mean() - 3 * width / 4) <= 2


@pytest.mark.parametrize("selection", [("--from", "#2"), ("--to", "#3"), ("--from", "@two", "--to", "seq:9999"),
                                       ("--from", "0", "--to", "@two")])
def test_one_png_of_a_range_is_its_last_frame_drawn_alone(session: Path, tmp_path: Path,
                                                          selection: tuple[str, ...]) -> None:
    code, out, err = _run(str(session), *selection, "-o", str(tmp_path / "all") + "/")
    assert code == 0, err
    last = sorted((tmp_path / "all").iterdir())[-1]
    code, out, err = _run(str(session), *selection, "-o", str(tmp_path / "one.png"))
    assert code == 0, err
    assert "1 frame(s) replayed" in err + out  # seeks to it: the frames before are not drawn
    assert np.array_equal(iio3.imread(tmp_path / "one.png"), iio3.imread(last))


def test_one_png_to_a_time_ends_where_the_frames_to_that_time_end(session: Path, tmp_path: Path) -> None:
    """A render at exactly the --to time is drawn (the engine's rule): the PNG shortcut used the
    tools' cut, which stops before it, and drew the frame before."""
    from sessions import At

    with LogReader(session) as reader:
        t = [c.t_ns for c in reader.commands() if c.op == "Renderer.render"][2]
    folder = replay(session, "matplotlib", f"{tmp_path}/all/", stop=At.time(t))
    one = replay(session, "matplotlib", tmp_path / "one.png", stop=At.time(t))
    assert folder.frames == 3 and one.frames == 1
    assert np.array_equal(iio3.imread(tmp_path / "one.png"), iio3.imread(folder.outputs[-1]))


def test_cli_bad_options_exit_2(session: Path, tmp_path: Path) -> None:
    _assert_one_line_error(*_run(str(session), "--backend", "nope", "-o", str(tmp_path / "x.png"))[::2], "nope", "matplotlib")
    _assert_one_line_error(*_run(str(session), "--size", "big")[::2], "size")
    _assert_one_line_error(*_run(str(session), "--from", "yesterday")[::2], "yesterday")
    _assert_one_line_error(*_run(str(session), "--frame", "99", "-o", str(tmp_path / "x.png"))[::2], "4 frames")
    _assert_one_line_error(*_run(str(session), "--to", "0", "-o", str(tmp_path / "x.png"))[::2],
                           "no frame matched --to 0 (the session has 4 frames)")
    _assert_one_line_error(*_run(str(session), "--frame", "2", "--from", "#1", "-o", str(tmp_path / "x.png"))[::2],
                           "not both")
    _assert_one_line_error(*_run(str(session), "--fast", "--speed", "2", "-b", "null")[::2], "--speed or --fast")
    _assert_one_line_error(*_run(str(session), "-b", "null", "-o", str(tmp_path / "x.png"))[::2], "cannot write images")
    # --fps is a video's frame rate: with images or no output it used to be taken and ignored
    for output in ("x.png", "frames/"):
        _assert_one_line_error(*_run(str(session), "--fps", "10", "-o", str(tmp_path / output))[::2], "--fps", "images")
        assert not (tmp_path / output).exists()
    _assert_one_line_error(*_run(str(session), "--fps", "10", "--no-window")[::2], "--fps", "video output")
    # --timeout is how long --follow or a live source waits for data: on a finished log it was ignored
    _assert_one_line_error(*_run(str(session), "--timeout", "5", "-o", str(tmp_path / "x.png"))[::2], "--timeout", "--follow")
    assert not (tmp_path / "x.png").exists()
    _assert_one_line_error(*_run(str(session), "--size", "32768x32768", "--max-scene-gib", "1", "-o",
                                 str(tmp_path / "x.png"))[::2], "4.0 GiB, over the scene limit of 1.0 GiB")
    for output in ("x.png", "m.mp4", "frames/", "deeper/x.png"):  # a file where a folder should be
        _assert_one_line_error(*_run(str(session), "-o", str(session / output))[::2], "is a file, not a folder")


def test_cli_refuses_a_range_that_ends_before_it_starts(session: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.png"
    _assert_one_line_error(*_run(str(session), "--from", "#3", "--to", "#2", "-o", str(out))[::2], "#2 comes before #3")
    _assert_one_line_error(*_run(str(session), "--from", "#4", "--to", "@two", "-o", str(out))[::2],
                           "@two comes before #4")  # only the log knows where the marker falls
    assert not out.exists()
    folder, mine = tmp_path / "new" / "frames", tmp_path / "mine"
    mine.mkdir()
    for where in (folder, mine):
        _assert_one_line_error(*_run(str(session), "--from", "#4", "--to", "@two", "-o", f"{where}/")[::2], "@two comes before #4")
    assert not (tmp_path / "new").exists()  # the folders the replay made are gone again
    assert mine.is_dir() and not any(mine.iterdir())  # the user's own folder stays
    not_a_log = tmp_path / "notalog.gsplog"
    not_a_log.write_text("hello, this is no session log at all\n")
    _assert_one_line_error(*_run(str(not_a_log), "-o", f"{tmp_path}/made/frames/")[::2], "not a gsplog file")
    assert not (tmp_path / "made").exists()  # nor when the source cannot be read
    with LogReader(session) as reader:
        commands = list(reader.commands())
    with pytest.raises(ValueError, match="0.1s comes before 0.2s"):  # a source with no index: same kinds still compare
        replay(commands, "null", start=0.2, stop=0.1)


@pytest.mark.slow
def test_cli_refuses_a_scene_over_its_memory_limit(session: Path, tmp_path: Path) -> None:
    """A log asking for a 128 GiB buffer is refused with one line, not an attempt to allocate it;
    --max-scene-gib sets the limit."""
    from gsp.types import BufferType
    from sessions import LogWriter
    from sessions.command import Command

    hostile = tmp_path / "hostile.gsplog"
    with LogWriter(hostile, keyframes=False) as writer:  # a recorder would build that scene for its keyframes
        writer.append(Command(1, 0, "Buffer.new", "b", (2**33, BufferType.vec4)))
    _assert_one_line_error(*_run(str(hostile), "-b", "null")[::2], "seq 1 Buffer.new", "Limits.max_scene_bytes")
    code, _, err = _run(str(session), "-b", "null", "--max-scene-gib", "1")
    assert code == 0, err
    _assert_one_line_error(*_run(str(session), "-b", "null", "--max-scene-gib", "0.00001")[::2], "max_scene_bytes")
    code, _, err = _run(str(session), "--max-scene-gib", "0")
    assert code == 2 and "Invalid value for '--max-scene-gib'" in err
    assert "[default: 8]" in CliRunner().invoke(replay_cmd, ["--help"]).output
    from sessions.limits import DEFAULT_LIMITS

    assert DEFAULT_LIMITS.max_scene_bytes == 8 << 30  # as the help says


def test_gsp_replay_subprocess(session: Path, tmp_path: Path) -> None:
    env = dict(os.environ, MPLBACKEND="Agg")
    ok = subprocess.run(
        ["gsp-replay", str(session), "-o", str(tmp_path / "last.png")], capture_output=True, text=True, env=env, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
    assert red_columns(iio3.imread(tmp_path / "last.png")).size > 10
    bad = subprocess.run(
        [sys.executable, "-m", "gsplog_cli.main", "replay", str(session), "-b", "nosuch"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    _assert_one_line_error(bad.returncode, bad.stderr, "nosuch")


@pytest.mark.slow
def test_follow_a_growing_file(tmp_path: Path) -> None:
    path = tmp_path / "growing.gsplog"
    frames = 8
    writer = subprocess.Popen(
        [sys.executable, str(HERE / "player_writer_proc.py"), str(path), str(frames), "0.15"],
        env=dict(os.environ, MPLBACKEND="Agg"),
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if path.exists():
                try:
                    with LogReader(path) as reader:
                        if reader.index.total_frames >= 1:
                            break
                except Exception:  # the header may not be complete yet
                    pass
            time.sleep(0.02)
        with LogReader(path) as reader:
            assert reader.index.total_frames < frames  # the file is still growing
        result = replay(path, "matplotlib", tmp_path / "frames", follow=True, follow_timeout_s=10)
        assert writer.wait(timeout=30) == 0
    finally:
        if writer.poll() is None:
            writer.kill()
    assert result.frames == frames
    assert len(list((tmp_path / "frames").iterdir())) == frames


@pytest.mark.slow
def test_follow_waits_for_a_log_its_recorder_has_not_created_yet(tmp_path: Path) -> None:
    path = tmp_path / "later.gsplog"
    frames = 4
    follower = subprocess.Popen(
        [sys.executable, "-m", "gsplog_cli.main", "replay", str(path), "--follow", "--timeout", "20",
         "-b", "null"],
        env=dict(os.environ, MPLBACKEND="Agg"), stderr=subprocess.PIPE, text=True,
    )
    try:
        time.sleep(3.0)  # the follower waits, and says so after 2 s
        assert follower.poll() is None
        writer = subprocess.run([sys.executable, str(HERE / "player_writer_proc.py"), str(path), str(frames), "0.05"],
                                env=dict(os.environ, MPLBACKEND="Agg"), timeout=60)
        assert writer.returncode == 0
        _, err = follower.communicate(timeout=60)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 0, err
    assert f"waiting for {path} to be created" in err
    assert f"{frames} frame(s) replayed" in err


def _free_port_pair() -> int:
    import socket

    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free pair of ports")


@pytest.mark.slow
def test_live_tcp_source(tmp_path: Path) -> None:
    port = _free_port_pair()
    endpoint = f"tcp://127.0.0.1:{port}"
    frames = 10
    publisher = subprocess.Popen(
        [sys.executable, str(HERE / "player_writer_proc.py"), endpoint, str(frames), "0.1", "0.5"],
        env=dict(os.environ, MPLBACKEND="Agg"),
    )
    try:
        result = replay(endpoint, "matplotlib", tmp_path / "live", follow_timeout_s=20)
        assert publisher.wait(timeout=30) == 0
    finally:
        if publisher.poll() is None:
            publisher.kill()
    # joined before or during the session: at least the later frames, ending on the last one
    assert 1 <= result.frames <= frames
    last = iio3.imread(result.outputs[-1])
    cols = red_columns(last)
    assert cols.size and abs((cols[0] + cols[-1]) / 2 - 72) <= 2  # the disc at x = 0.8 NDC


def test_cat_of_trimmed_parts_replays_the_frames_of_each_part(tmp_path: Path) -> None:
    """`gsp cat` of a session and cut-outs of it (each opening with a snapshot) draws, frame by
    frame, what the parts drew in the original."""
    from gsplog_cli.main import cli

    original = record_moving_disc(tmp_path / "disc.gsplog", 10)
    assert original is not None

    def gsp(*args: str) -> None:
        result = CliRunner().invoke(cli, list(args))
        assert result.exit_code == 0, result.output

    def frames_of(log: Path) -> list[np.ndarray]:
        folder = tmp_path / f"{log.stem}_frames"
        replay(log, "matplotlib", str(folder) + "/")
        return [iio3.imread(png) for png in sorted(folder.glob("*.png"))]

    gsp("trim", "--from", "#2", "--to", "#4", str(original), "-o", str(tmp_path / "early.gsplog"))
    gsp("trim", "--from", "#7", "--to", "#10", str(original), "-o", str(tmp_path / "late.gsplog"))
    drawn = frames_of(original)
    assert len(drawn) == 10 and len({red_columns(f).mean() for f in drawn}) == 10  # the disc moves
    # --to keeps that frame: early holds frames 2-4, late frames 7-10
    for names, expected in ((["disc", "late"], drawn + drawn[6:10]), (["early", "late"], drawn[1:4] + drawn[6:10])):
        joined = tmp_path / ("_".join(names) + ".gsplog")
        gsp("cat", *[str(tmp_path / f"{name}.gsplog") for name in names], "-o", str(joined))
        got = frames_of(joined)
        assert len(got) == len(expected)
        assert all(np.array_equal(a, b) for a, b in zip(got, expected))


def test_cli_says_which_frame_it_cannot_draw_in_one_line(session: Path, tmp_path: Path) -> None:
    damaged = with_undrawable_render(session, tmp_path / "damaged.gsplog", frame=2)
    code, _, err = _run(str(damaged), "-o", str(tmp_path / "frames") + "/")
    assert code == 2 and "Traceback" not in err  # gsp-replay's exit status for a bad log
    assert "frame 2, seq" in err and "Renderer.render: cannot draw it: TypeError" in err


@pytest.mark.timeout(30)  # the bug this guards against: a window nobody sees, waiting for its q
def test_cli_window_forced_without_a_display_is_refused(session: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    code, _, err = _run(str(session), "--window")
    assert code == 2 and "no display" in err and "Traceback" not in err


def test_sequence_numbers_select_the_frames_their_commands_belong_to(session: Path, tmp_path: Path) -> None:
    with LogReader(session) as reader:
        renders = [c.seq for c in reader.commands() if c.op == "Renderer.render"]
    by_frame, by_seq = tmp_path / "frames", tmp_path / "seqs"
    code, _, err = _run(str(session), "--from", "#2", "--to", "#3", "-o", f"{by_frame}/")
    assert code == 0, err
    # from frame 2's render up to the command after frame 3's render, which --to seq: stops before
    code, _, err = _run(str(session), "--from", f"seq:{renders[1]}", "--to", f"seq:{renders[2] + 1}", "-o", f"{by_seq}/")
    assert code == 0, err
    names = sorted(p.name for p in by_seq.iterdir())
    assert names == sorted(p.name for p in by_frame.iterdir()) == ["frame_000001.png", "frame_000002.png"]
    for name in names:
        assert np.array_equal(iio3.imread(by_seq / name), iio3.imread(by_frame / name))
    assert not np.array_equal(iio3.imread(by_seq / names[0]), iio3.imread(by_seq / names[1]))  # the disc moved


def test_a_video_of_frames_of_two_sizes_is_refused_whole_or_drawn_at_one_size(tmp_path: Path) -> None:
    from sessions import tools

    small = record_moving_disc(tmp_path / "small.gsplog", 2, width=80, height=60)
    big = record_moving_disc(tmp_path / "big.gsplog", 2, width=120, height=90)
    assert small is not None and big is not None
    both = tmp_path / "both.gsplog"
    tools.cat([small, big], both)
    for name in ("both.mp4", "both.gif"):
        code, _, err = _run(str(both), "-o", str(tmp_path / name))
        _assert_one_line_error(code, err, "frame 3 is 120x90", "--size WxH")
        assert not (tmp_path / name).exists()  # no video cut short at the failing frame
    code, _, err = _run(str(both), "-o", str(tmp_path / "both.mp4"), "--size", "100x80")
    assert code == 0, err
    assert iio3.imread(tmp_path / "both.mp4").shape == (4, 80, 100, 3)


def test_replay_without_datoviz_is_refused_before_reading_the_log(session: Path, tmp_path: Path) -> None:
    """gsp-replay --backend datoviz without datoviz failed only at the first render, after the
    log up to it was decoded: it is refused at once, in one line saying what to install."""
    code = (
        "import sys; sys.modules['datoviz'] = None\n"  # what a machine without datoviz sees
        "from gsplog_cli.main import replay_entry\n"
        f"replay_entry([{str(session)!r}, '-b', 'datoviz', '-o', {str(tmp_path / 'x.png')!r}])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("Error: the 'datoviz' backend needs the datoviz package (pip install"), out.stderr
    assert len(out.stderr.splitlines()) == 1 and "Renderer.render" not in out.stderr
    assert not (tmp_path / "x.png").exists()


def test_replay_without_output_or_display_is_refused_unless_asked_for(session: Path) -> None:
    """gsp-replay log without -o where no window can open rendered every frame, then said
    '-> no output'. It is refused, naming -o, before a frame is drawn (a bad log still says so
    first); --no-window and -b null replay without output on purpose (checking, timing)."""
    runner = CliRunner(env={"DISPLAY": None, "WAYLAND_DISPLAY": None})
    result = runner.invoke(replay_cmd, [str(session)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: {session}: no output and no display for a window")
    assert "-o out.png" in result.stderr and "frame(s) replayed" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    result = runner.invoke(replay_cmd, [str(session) + ".missing"])
    assert result.exit_code == 2 and "no such session log" in result.stderr
    for asked in (["--no-window"], ["-b", "null"]):
        result = runner.invoke(replay_cmd, [str(session), *asked])
        assert result.exit_code == 0 and "4 frame(s) replayed" in result.stderr, (asked, result.stderr)


def test_a_window_with_an_output_is_refused(session: Path, tmp_path: Path) -> None:
    """--window with -o played in the window and wrote nothing ('-> no output', exit 0), leaving
    an empty frames folder behind."""
    for output in ("x.png", "frames/", "m.mp4"):
        result = CliRunner(env={"DISPLAY": ":0"}).invoke(replay_cmd, [str(session), "--window", "-o", str(tmp_path / output)])
        assert result.exit_code == 2 and "give one of them" in result.stderr, (output, result.output)
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_follow_of_a_log_whose_recorder_was_killed_says_it_did_not_end(tmp_path: Path) -> None:
    """A follower whose recorder was killed gave up after --timeout and exited 0 with no word of
    it: `gsp-replay --follow ... && next` went on as if the session had ended."""
    path = tmp_path / "killed.gsplog"
    writer = subprocess.Popen([sys.executable, str(HERE / "player_writer_proc.py"), str(path), "200", "0.05"],
                              env=dict(os.environ, MPLBACKEND="Agg"))
    try:
        deadline = time.monotonic() + 30
        while not (path.exists() and path.stat().st_size > 2000):
            assert time.monotonic() < deadline and writer.poll() is None
            time.sleep(0.02)
        follower = subprocess.Popen(
            [sys.executable, "-m", "gsplog_cli.main", "replay", str(path), "--follow", "--timeout", "2",
             "-o", str(tmp_path / "frames")],
            env=dict(os.environ, MPLBACKEND="Agg"), stderr=subprocess.PIPE, text=True,
        )
        time.sleep(1.0)
        writer.kill()
        _, err = follower.communicate(timeout=60)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert follower.returncode == 1, err
    assert "the log did not end (nothing new for 2 s and no footer" in err
    assert len(list((tmp_path / "frames").iterdir())) >= 1  # what arrived was drawn


def test_a_repaired_log_replays_from_its_keyframe_or_says_what_it_lost(tmp_path: Path) -> None:
    """A recorded session whose first chunk (the scene's setup) is damaged: repaired, it replays
    from the first intact keyframe after the damage, to the same last frame as the session. A
    session without keyframes cannot: the replay error named no file and gave no hint ("seq 35
    Buffer.set_data: unknown target object ..."); it now names the log, what its repair lost,
    and gsp verify."""
    from gsplog_cli.main import cli
    from sessions.chunk import HEADER_SIZE

    def damaged_first_chunk(source: Path) -> Path:
        with LogReader(source) as reader:
            first = reader.index.entries[0]
        data = bytearray(source.read_bytes())
        data[first.offset + HEADER_SIZE + 3] ^= 0x08
        damaged = source.with_name(f"damaged_{source.name}")
        damaged.write_bytes(bytes(data))
        return damaged

    with_keyframes = record_moving_disc(tmp_path / "k.gsplog", 8, interval_s=0.02, flush_interval_s=0.01,
                                        writer_options={"keyframe_interval_s": 0.03})
    repaired = tmp_path / "k_repaired.gsplog"
    result = CliRunner().invoke(cli, ["repair", str(damaged_first_chunk(with_keyframes)), str(repaired)])
    assert result.exit_code == 0 and "starts at the keyframe at seq" in result.stdout, result.output
    assert _run(str(with_keyframes), "-o", str(tmp_path / "whole.png"))[0] == 0
    code, _, err = _run(str(repaired), "-o", str(tmp_path / "repaired.png"))
    assert code == 0, err
    assert np.array_equal(iio3.imread(tmp_path / "repaired.png"), iio3.imread(tmp_path / "whole.png"))

    without = record_moving_disc(tmp_path / "n.gsplog", 4, interval_s=0.02, flush_interval_s=0.01,
                                 writer_options={"keyframes": False})
    damaged = damaged_first_chunk(without)
    repaired = tmp_path / "n_repaired.gsplog"
    assert CliRunner().invoke(cli, ["repair", str(damaged), str(repaired)]).exit_code == 1  # written, not replayable
    with LogReader(without) as reader:
        lost = reader.index.entries[0]
    code, _, err = _run(str(repaired), "-b", "null")
    _assert_one_line_error(code, err, f"Error: {repaired}: seq ", ": unknown ",
                           f": no earlier command of the log creates it: the log was repaired from {damaged}, which "
                           f"lost chunk 0: seq {lost.seq_first}..{lost.seq_last}", "`gsp verify` lists")


@pytest.mark.parametrize("output", ["movie.mp4", "frames/"])
def test_sigterm_while_writing_an_output_removes_a_video_cut_short(tmp_path: Path, output: str) -> None:
    """SIGTERM (kill, timeout, a batch scheduler) killed gsp-replay outright: a video cut short
    stayed at the output's path. It now unwinds as Ctrl-C does: exit status 143, the video
    removed, the frames a folder holds each whole."""
    import signal

    log = record_moving_disc(tmp_path / "long.gsplog", 3000)
    target = tmp_path / output
    replaying = subprocess.Popen([sys.executable, "-m", "gsplog_cli.main", "replay", str(log), "-o", str(target),
                                  "--no-progress"], stderr=subprocess.PIPE, text=True,
                                 env=dict(os.environ, MPLBACKEND="Agg"))
    try:
        deadline = time.monotonic() + 60
        # ffmpeg makes the video once the first frames set its rate; a folder holds frames one by one
        while not (target.is_file() or (target.is_dir() and len(list(target.iterdir())) >= 2)):
            assert replaying.poll() is None and time.monotonic() < deadline, "the replay ended before it was stopped"
            time.sleep(0.05)
        replaying.send_signal(signal.SIGTERM)
        _, err = replaying.communicate(timeout=60)
    finally:
        if replaying.poll() is None:
            replaying.kill()
            replaying.wait()
    assert replaying.returncode == 143, err
    assert "Traceback" not in err
    if output.endswith("/"):
        for png in target.iterdir():
            iio3.imread(png)  # whole
    else:
        assert not target.exists()


def test_sigterm_stops_a_following_replay_as_ctrl_c_does(tmp_path: Path) -> None:
    """SIGTERM (kill, timeout, a batch scheduler) killed `gsp-replay --follow -o movie.mp4` at
    once: ffmpeg, reading EOF, left a broken video cut short at the output's path. It now stops
    as Ctrl-C does: ffmpeg stopped and the video removed, exit status 143."""
    whole = record_moving_disc(tmp_path / "whole.gsplog", 6, interval_s=0.02, flush_interval_s=0.01)
    with LogReader(whole) as reader:
        last = reader.index.entries[-1]
    growing = tmp_path / "growing.gsplog"  # a log still being written: no END, no footer yet
    growing.write_bytes(whole.read_bytes()[: last.offset + last.size])
    video = tmp_path / "movie.mp4"
    follower = subprocess.Popen(
        [sys.executable, "-m", "gsplog_cli.main", "replay", str(growing), "--follow", "--timeout", "30",
         "--fps", "10", "-o", str(video)],
        env=dict(os.environ, MPLBACKEND="Agg"), stderr=subprocess.PIPE, text=True,
    )
    try:
        children = Path(f"/proc/{follower.pid}/task/{follower.pid}/children")
        deadline = time.monotonic() + 30
        while not children.read_text().split():  # ffmpeg starts with the first frame
            assert time.monotonic() < deadline and follower.poll() is None
            time.sleep(0.02)
        ffmpeg = int(children.read_text().split()[0])
        follower.terminate()
        _, err = follower.communicate(timeout=30)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 143, err
    assert not video.exists()  # not a broken video
    assert not Path(f"/proc/{ffmpeg}").exists()  # ffmpeg stopped (and reaped) before the exit
