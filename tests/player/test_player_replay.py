"""Replays of real recorded sessions into PNG, frame folders, GIF and MP4, checked by pixels."""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import imageio.v2 as iio2
import imageio.v3 as iio3
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from player_sessions import expected_pixel, record_moving_disc, red_columns, with_undrawable_render  # noqa: E402

from player import replay  # noqa: E402
from sessions import Command, LogReader  # noqa: E402

FRAMES = 5
W, H = 80, 60


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rec") / "disc.gsplog"
    return record_moving_disc(path, FRAMES, width=W, height=H, interval_s=0.02, markers={3: "mid"})


@pytest.fixture(scope="module")
def keyframed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 frames with a keyframe after every frame (so seeks start from one)."""
    path = tmp_path_factory.mktemp("rec") / "kf.gsplog"
    return record_moving_disc(
        path,
        12,
        width=W,
        height=H,
        interval_s=0.01,
        flush_interval_s=0.005,
        writer_options={"keyframe_interval_bytes": 1, "keyframe_interval_s": 0.001},
        markers={7: "seven"},
    )


def _disc_frame(rgba: np.ndarray, frames: int = FRAMES) -> int:
    """Which frame (1-based) of the moving disc this image shows (by the disc's centre column)."""
    cols = red_columns(rgba)
    assert cols.size, "no red disc in the image"
    centre = (cols[0] + cols[-1]) / 2
    width = rgba.shape[1]
    distances = [abs(centre - expected_pixel(f, frames, width, rgba.shape[0])[1]) for f in range(1, frames + 1)]
    best = int(np.argmin(distances)) + 1
    assert min(distances) <= 2, f"disc centre {centre} is at no frame's position"
    return best


def test_png_last_frame(session: Path, tmp_path: Path) -> None:
    result = replay(session, "matplotlib", tmp_path / "out.png")
    # only the last frame is drawn (the index says which it is)
    assert result.frames == 1 and result.frames_seen == FRAMES
    assert result.outputs == [tmp_path / "out.png"]
    image = iio3.imread(tmp_path / "out.png")
    assert image.shape == (H, W, 4)
    assert _disc_frame(image) == FRAMES
    assert tuple(image[2, 2, :3]) == (255, 255, 255)  # white background
    # the disc is 400 pt² = 20 pt = 20 px at 72 dpi
    assert 17 <= red_columns(image).size <= 22


def test_png_chosen_frame(session: Path, tmp_path: Path) -> None:
    result = replay(session, "matplotlib", tmp_path / "f2.png", frame=2)
    assert result.frames == 1
    assert _disc_frame(iio3.imread(tmp_path / "f2.png")) == 2


def test_frames_folder_in_order(session: Path, tmp_path: Path) -> None:
    result = replay(session, "matplotlib", tmp_path / "frames")
    names = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert names == [f"frame_{n:06d}.png" for n in range(1, FRAMES + 1)]
    assert result.outputs == [tmp_path / "frames" / n for n in names]
    shown = [_disc_frame(iio3.imread(p)) for p in result.outputs]
    assert shown == list(range(1, FRAMES + 1))


def test_two_replays_identical(session: Path, tmp_path: Path) -> None:
    replay(session, "matplotlib", tmp_path / "a")
    replay(session, "matplotlib", tmp_path / "b")
    for n in range(1, FRAMES + 1):
        name = f"frame_{n:06d}.png"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_gif(session: Path, tmp_path: Path) -> None:
    result = replay(session, "matplotlib", tmp_path / "m.gif", fps=10)
    frames = iio3.imread(tmp_path / "m.gif", index=None)
    assert frames.shape[:3] == (FRAMES, H, W)
    assert [_disc_frame(np.asarray(f)) for f in frames] == list(range(1, FRAMES + 1))
    assert result.fps == 10
    assert iio3.immeta(tmp_path / "m.gif")["duration"] == 100


def test_mp4_fps_from_recorded_timing(session: Path, tmp_path: Path) -> None:
    result = replay(session, "matplotlib", tmp_path / "m.mp4")
    times = [c.t_ns for c in LogReader(session).commands() if c.op == "Renderer.render"]
    recorded_fps = 1e9 / float(np.median(np.diff(times)))
    assert result.fps == pytest.approx(recorded_fps)
    assert 10 < recorded_fps < 55  # frames were recorded 20 ms apart (plus overhead)
    reader = iio2.get_reader(tmp_path / "m.mp4")
    assert reader.count_frames() == FRAMES
    assert reader.get_meta_data()["size"] == (W, H)
    frames = [np.asarray(f) for f in reader]
    assert [_disc_frame(f) for f in frames] == list(range(1, FRAMES + 1))


def test_speed_makes_a_faster_video_written_as_fast_as_it_can_be(session: Path, tmp_path: Path) -> None:
    """--speed with a video output multiplies its frame rate; it paced the export in real time and
    wrote a video at the recorded rate, as if the option had not been given. Images refuse it."""
    normal = replay(session, "matplotlib", tmp_path / "normal.mp4")
    fast = replay(session, "matplotlib", tmp_path / "fast.mp4", speed=2.0)
    assert fast.fps == pytest.approx(2 * normal.fps)  # recorded at 10-55 fps: under the 120 cap
    assert fast.frame_rate is not None and "times 2 (--speed)" in fast.frame_rate.describe()
    for name, fps in (("normal.mp4", normal.fps), ("fast.mp4", fast.fps)):
        reader = iio2.get_reader(tmp_path / name)
        assert reader.count_frames() == FRAMES
        assert reader.get_meta_data()["fps"] == pytest.approx(fps, rel=0.01)
    slow_gif = replay(session, "matplotlib", tmp_path / "slow.gif", fps=None, speed=0.25)
    assert slow_gif.fps == pytest.approx(normal.fps / 4)
    for output, fps in ((tmp_path / "x.png", None), (tmp_path / "frames", None), (tmp_path / "y.mp4", 10.0)):
        with pytest.raises(ValueError, match="speed"):
            replay(session, "matplotlib", output, speed=2.0, fps=fps)
        assert not output.exists()


@pytest.mark.parametrize("name", ["m.mp4", "m.gif", "frames/"])
def test_an_interrupted_replay_leaves_no_ffmpeg_thread_or_video_cut_short(
        session: Path, tmp_path: Path, name: str) -> None:
    # KeyboardInterrupt skipped the exporter's abort: ffmpeg kept running, its reader thread
    # stayed, and a video cut short stayed at the output's path.
    def interrupted() -> Iterator[Command]:
        renders = 0
        with LogReader(session) as reader:
            for cmd in reader.commands():
                yield cmd
                renders += cmd.op == "Renderer.render"
                if renders == 3:
                    raise KeyboardInterrupt  # Ctrl-C, while the replay writes its output

    def ffmpeg_threads() -> set[int | None]:
        return {t.ident for t in threading.enumerate() if t.name.startswith("gsp-ffmpeg")}

    def children() -> set[str]:  # processes Popen'd by this thread
        return set(Path(f"/proc/self/task/{threading.get_native_id()}/children").read_text().split())

    threads_before, children_before = ffmpeg_threads(), children()
    with pytest.raises(KeyboardInterrupt):  # fps given: ffmpeg starts with the first frame
        replay(interrupted(), "matplotlib", tmp_path / name, fps=None if name.endswith("/") else 10)
    assert ffmpeg_threads() <= threads_before
    assert children() <= children_before  # no ffmpeg left running
    if name.endswith("/"):  # the frames written are whole, and stay
        assert sorted(p.name for p in (tmp_path / name).iterdir())[:2] == ["frame_000001.png", "frame_000002.png"]
    else:
        assert not (tmp_path / name).exists()


@pytest.mark.parametrize(("option", "value"), [
    ("frame", "2"), ("frame", 2.5), ("frame", True), ("speed", "2"), ("fps", "30"), ("follow_timeout_s", "5"),
    ("max_passes", 1.5),
])
def test_an_option_of_the_wrong_type_is_named(session: Path, tmp_path: Path, option: str, value: object) -> None:
    # frame="2" failed deep in the engine: "'<' not supported between instances of 'str' and 'int'".
    with pytest.raises(TypeError, match=f"^{option} {re.escape(repr(value))}: expected an? "):
        replay(session, "matplotlib", tmp_path / "m.mp4", **{option: value})
    assert list(tmp_path.iterdir()) == []

@pytest.mark.parametrize(
    ("start", "stop", "expected"),
    [("#2", "#4", [2, 3, 4]), ("@mid", None, [3, 4, 5]), (None, "#1", [1]), ("f4", None, [4, 5])],
)
def test_from_to(session: Path, tmp_path: Path, start: str | None, stop: str | None, expected: list[int]) -> None:
    result = replay(session, "matplotlib", tmp_path / "sel", start=start, stop=stop)
    assert [_disc_frame(iio3.imread(p)) for p in result.outputs] == expected


def test_from_to_seconds(session: Path, tmp_path: Path) -> None:
    times = [c.t_ns for c in LogReader(session).commands() if c.op == "Renderer.render"]
    start = f"{times[1] / 1e9:.9f}"  # exactly frame 2
    stop = f"{(times[2] + times[3]) / 2e9:.9f}s"  # between frames 3 and 4
    result = replay(session, "matplotlib", tmp_path / "sel", start=start, stop=stop)
    assert [_disc_frame(iio3.imread(p)) for p in result.outputs] == [2, 3]


def test_seek_from_keyframe_draws_the_same_frame(keyframed: Path, tmp_path: Path) -> None:
    full = replay(keyframed, "matplotlib", tmp_path / "all")
    assert full.frames == 12
    reader = LogReader(keyframed)
    assert len(reader.index.keyframes) > 3
    for frame in (1, 6, 12):
        result = replay(keyframed, "matplotlib", tmp_path / f"f{frame}.png", frame=frame)
        assert result.frames == 1 and result.frames_seen == frame
        assert (tmp_path / f"f{frame}.png").read_bytes() == full.outputs[frame - 1].read_bytes()
    # a seek to the end applies far fewer commands than the whole session
    late = replay(keyframed, "null", frame=12)
    last_keyframe = reader.keyframe_commands(reader.index.keyframes[-1])
    assert late.commands <= len(last_keyframe) + 4 < full.commands
    marker = replay(keyframed, "matplotlib", tmp_path / "m", start="@seven", stop="#8")
    assert [p.read_bytes() for p in marker.outputs] == [p.read_bytes() for p in full.outputs[6:8]]


def test_size_override(session: Path, tmp_path: Path) -> None:
    replay(session, "matplotlib", tmp_path / "small.png")
    replay(session, "matplotlib", tmp_path / "big.png", size="160x120")
    image = iio3.imread(tmp_path / "big.png")
    assert image.shape == (120, 160, 4)
    assert _disc_frame(image) == FRAMES
    # everything scales: the disc is twice as wide
    ratio = red_columns(image).size / red_columns(iio3.imread(tmp_path / "small.png")).size
    assert 1.8 <= ratio <= 2.2


def test_null_backend_replays_everything(session: Path) -> None:
    result = replay(session, "null")
    assert result.frames == FRAMES and result.outputs == []
    assert result.commands == sum(1 for _ in LogReader(session).commands())


def test_loop_replays_again(session: Path) -> None:
    result = replay(session, "null", loop=True, max_passes=3)
    assert result.passes == 3 and result.frames == 3 * FRAMES


@pytest.mark.timeout(60)
@pytest.mark.parametrize("selection", [{}, {"start": "#99"}])
def test_loop_ends_when_a_pass_draws_nothing(session: Path, tmp_path: Path, selection: dict[str, str]) -> None:
    """--loop over a session without a render, or a selection matching none, started again and
    again without end (a busy hang, in a window as headless)."""
    import recorder
    from gsp.core import Canvas

    source = session
    if not selection:
        source = tmp_path / "no_render.gsplog"
        with recorder.record(source):
            Canvas(80, 60, 72.0, bytearray([255, 255, 255, 255]))
    result = replay(source, "null", loop=True, **selection)  # type: ignore[arg-type]
    assert result.frames == 0 and result.passes == 1


def test_realtime_and_speed_follow_recorded_times(session: Path) -> None:
    times = [c.t_ns for c in LogReader(session).commands() if c.op == "Renderer.render"]
    span = (times[-1] - times[0]) / 1e9
    assert span >= 0.06
    fast = replay(session, "null")
    real = replay(session, "null", realtime=True)
    double = replay(session, "null", speed=2.0)
    assert real.elapsed_s >= span * 0.95
    assert double.elapsed_s >= span / 2 * 0.95
    assert fast.elapsed_s < real.elapsed_s


def test_bad_options(session: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown renderer"):
        replay(session, "nope", tmp_path / "x.png")
    with pytest.raises(ValueError, match="loop"):
        replay(session, "matplotlib", tmp_path / "x.gif", loop=True)
    with pytest.raises(ValueError, match="marker"):
        replay(session, "null", start="@missing")
    with pytest.raises(ValueError, match="cannot write images"):
        replay(session, "null", tmp_path / "x.png")


def test_replay_commands_iterable(session: Path, tmp_path: Path) -> None:
    commands = list(LogReader(session).commands())
    result = replay(commands, "matplotlib", tmp_path / "it.png", frame=3)
    assert result.frames == 1 and result.frames_seen == 3
    assert _disc_frame(iio3.imread(tmp_path / "it.png")) == 3


@pytest.mark.datoviz
def test_datoviz_backend_replays_the_same_scene(session: Path, tmp_path: Path) -> None:
    pytest.importorskip("datoviz", exc_type=ImportError)
    result = replay(session, "datoviz", tmp_path / "dvz")
    assert result.frames == FRAMES
    images = [iio3.imread(p) for p in result.outputs]
    assert all(image.shape[:2] == (H, W) for image in images)
    assert [_disc_frame(image) for image in images] == list(range(1, FRAMES + 1))


@pytest.mark.datoviz
def test_datoviz_replays_where_stderr_has_no_file_descriptor(session: Path, tmp_path: Path) -> None:
    """A notebook's or a test runner's captured stderr has no fileno, which Datoviz's import
    needs (faulthandler): the backend still loads there, in a fresh process."""
    import subprocess

    code = (
        "import io, sys; sys.stderr = io.StringIO(); import player; "
        f"print(player.replay({str(session)!r}, 'datoviz', {str(tmp_path / 'x.png')!r}).frames)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.split()[-1] == "1"
    assert _disc_frame(iio3.imread(tmp_path / "x.png")) == FRAMES


@pytest.mark.datoviz
def test_datoviz_refuses_a_canvas_over_its_image_limit(session: Path, tmp_path: Path) -> None:
    """Past Vulkan's image limit Datoviz fails an assertion in C, which killed the process."""
    from sessions.errors import CommandError

    with pytest.raises(CommandError, match="at most 16384 pixels a side; the canvas is 16385x10"):
        replay(session, "datoviz", tmp_path / "wide.png", size="16385x10")
    assert not (tmp_path / "wide.png").exists()


def test_size_scales_viewports(tmp_path: Path) -> None:
    from player_sessions import record_two_viewports

    log = record_two_viewports(tmp_path / "two.gsplog", 80, 60)
    for size, (width, height) in (("80x60", (80, 60)), ("160x90", (160, 90))):
        out = tmp_path / f"{size}.png"
        replay(log, "matplotlib", out, size=size)
        image = iio3.imread(out)
        assert image.shape == (height, width, 4)
        row = image[2]
        half = width // 2
        # left viewport red up to the middle, right viewport blue after it
        assert tuple(row[1, :3]) == (255, 0, 0) and tuple(row[half - 2, :3]) == (255, 0, 0)
        assert tuple(row[half + 1, :3]) == (0, 0, 255) and tuple(row[width - 2, :3]) == (0, 0, 255)


def test_a_render_the_backend_cannot_draw_is_a_command_error_or_skipped(session: Path, tmp_path: Path) -> None:
    from player.engine import ReplayEngine
    from sessions.errors import CommandError

    damaged = with_undrawable_render(session, tmp_path / "damaged.gsplog", frame=3)
    with pytest.raises(CommandError, match=r"frame 3, seq \d+ Renderer.render: cannot draw it: TypeError: .*cameras\[0\]"):
        replay(damaged, "matplotlib", str(tmp_path / "frames") + "/")  # every frame drawn
    skipped: list[tuple[int, str]] = []
    engine = ReplayEngine("matplotlib", image="rgba", on_error=lambda cmd, error: skipped.append((cmd.seq, str(error))))
    with LogReader(damaged) as reader:
        drawn = list(engine.frames(reader.commands()))
    engine.close()
    assert [f.number for f in drawn] == [1, 2, 4, 5] and len(skipped) == 1 and "frame 3" in skipped[0][1]
    for rendered in drawn:  # the frames around the bad one are drawn as recorded
        row, column = expected_pixel(rendered.number, FRAMES, W, H)
        assert column in red_columns(rendered.rgba)


def test_a_frame_past_the_last_is_an_error_naming_both(session: Path, tmp_path: Path) -> None:
    """``replay(frame=N)`` past a log's last frame returned a result of 0 frames and wrote
    nothing, without a word (gsp-replay said "no frame matched"); it is now refused before
    anything is drawn, as an index past a list's end is."""
    from player.replay import FrameOutOfRange

    with pytest.raises(FrameOutOfRange, match=rf"disc.gsplog: frame {FRAMES + 1}: the session has {FRAMES} frames"):
        replay(session, "matplotlib", tmp_path / "out" / "past.png", frame=FRAMES + 1)
    assert not (tmp_path / "out").exists()
    assert replay(session, "matplotlib", tmp_path / "last.png", frame=FRAMES).frames == 1
