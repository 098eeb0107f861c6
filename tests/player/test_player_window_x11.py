"""The playback window for real: ``gsp replay`` opens a Tk window on an X server (Xvfb), and keys
sent to it with xdotool step and quit the replay. Needs Xvfb, xdotool and tkinter (`.ci/run`
installs them and sets GSP_REQUIRE_WINDOW=1, which turns a skip here into a failure)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from player_sessions import record_moving_disc, record_slow_disc  # noqa: E402

pytestmark = [pytest.mark.window, pytest.mark.slow, pytest.mark.timeout(120)]


@contextlib.contextmanager
def _xvfb(*options: str) -> Iterator[str]:
    """A virtual X server (``Xvfb`` with ``options``) on a free display: yields its name."""
    read, write = os.pipe()
    # -noreset: by default the server resets when its last client leaves, and a client that
    # connects meanwhile fails (Matplotlib then falls back to "headless")
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-nolisten", "tcp", "-noreset", *options],
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()  # written once the server accepts clients
        assert number.isdigit(), "Xvfb did not report its display"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def _skip_without_x_tools() -> None:
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed")
    try:
        import tkinter  # noqa: F401
    except ImportError:
        pytest.skip("tkinter is not available")


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    _skip_without_x_tools()
    with _xvfb("-screen", "0", "640x480x24") as name:
        yield name


def _xdotool(display: str, *args: str) -> str:
    result = subprocess.run(["xdotool", *args], env=dict(os.environ, DISPLAY=display), capture_output=True,
                            text=True, timeout=10)
    return result.stdout.strip()


def _until(what: str, check: Callable[[], object], process: subprocess.Popen[str], timeout: float = 30.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if process.poll() is not None:
            raise AssertionError(f"the replay ended (exit {process.returncode}) before {what}: {process.communicate()[1]}")
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"timed out waiting for {what}; the replay said: {process.communicate()[1]}")


@contextlib.contextmanager
def _gsp(display: str, *args: str, **env: str) -> Iterator[subprocess.Popen[str]]:
    """``gsp ARGS`` running on ``display`` with Tk windows (stderr piped); killed if still
    running when the block ends."""
    environment = dict(os.environ, DISPLAY=display, MPLBACKEND="TkAgg", **env)
    process = subprocess.Popen([sys.executable, "-m", "gsplog_cli.main", *args], env=environment,
                               stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _window(display: str, process: subprocess.Popen[str], *search: str) -> str:
    """The id of the first window ``xdotool search *search`` finds, once ``process`` opened it."""
    found = _until("the window", lambda: _xdotool(display, "search", *search), process)
    return str(found).splitlines()[0]


def _window_size(display: str, window: str) -> tuple[int, int]:
    geometry = _xdotool(display, "getwindowgeometry", window)
    match = re.search(r"Geometry: (\d+)x(\d+)", geometry)
    assert match, geometry
    return int(match.group(1)), int(match.group(2))


def _key(display: str, window: str, key: str) -> None:
    """Press ``key`` in ``window``: Tk takes keys where the focus is."""
    _xdotool(display, "windowfocus", "--sync", window)
    _xdotool(display, "key", key)


@pytest.mark.parametrize("backend", ["matplotlib", pytest.param("datoviz", marks=pytest.mark.datoviz)])
def test_keys_step_back_and_quit_a_replay_in_a_real_window(display: str, tmp_path: Path, backend: str) -> None:
    if backend == "datoviz":
        pytest.importorskip("datoviz")
    session = record_moving_disc(tmp_path / "disc.gsplog", 4, width=120, height=90, interval_s=0.05)
    with _gsp(display, "replay", str(session), "-b", backend) as replay:
        window = _window(display, replay, "--name", "gsp replay")

        def frame_shown() -> int:
            match = re.search(r"frame (\d+)", _xdotool(display, "getwindowname", window))
            return int(match.group(1)) if match else 0

        _until("the last frame", lambda: frame_shown() == 4, replay)  # played at its recorded pace, then kept
        width, height = _window_size(display, window)
        # the frame's own pixels: no toolbar widening it, and Tk's 1.04 device pixels per pixel at
        # Xvfb's 100 dpi drawn at 1, as a script's live window draws them (124 x 93 before, rescaled)
        assert (width, height) == (120, 90)
        # one window: the backend draws off-screen, the player's window shows its frames
        assert _xdotool(display, "search", "--class", "Matplotlib").split() == [window]
        _key(display, window, "Left")
        _until("a step back", lambda: frame_shown() == 3, replay)
        _key(display, window, "q")
        _, err = replay.communicate(timeout=30)
    assert replay.returncode == 0, err
    assert "4 frame(s) replayed" in err


def test_a_key_pressed_while_the_next_frame_is_not_yet_due_is_handled_at_once(display: str, tmp_path: Path) -> None:
    """At the recorded pace the window slept until the next frame was due, its events unread:
    a q pressed during a long pause was lost or waited for the next frame."""
    session = record_slow_disc(tmp_path / "slow.gsplog", [6.0], width=120, height=90)
    with _gsp(display, "replay", str(session)) as replay:
        window = _window(display, replay, "--name", "gsp replay")
        _until("the first frame", lambda: "frame 1" in _xdotool(display, "getwindowname", window), replay)
        time.sleep(0.5)  # the replay now waits for frame 2, due in about 5 s
        pressed = time.monotonic()
        _key(display, window, "q")
        _, err = replay.communicate(timeout=30)
        waited = time.monotonic() - pressed
    assert replay.returncode == 0, err
    assert waited < 3.0, (waited, err)  # not at frame 2, 5 s later
    assert "1 frame(s) replayed" in err  # frame 2, not due when q came, is not drawn after it



def test_steps_pressed_while_the_next_frame_is_not_yet_due_act_at_once(display: str, tmp_path: Path) -> None:
    """Between two frames far apart the window waited for the next one whatever was pressed: a
    step back showed nothing until then, and the next frame then came over it, paused or not."""
    session = record_slow_disc(tmp_path / "slow.gsplog", [0.5, 6.0], width=120, height=90)
    with _gsp(display, "replay", str(session)) as replay:
        window = _window(display, replay, "--name", "gsp replay")

        def shown(number: int) -> Callable[[], bool]:
            return lambda: f"frame {number}," in _xdotool(display, "getwindowname", window)

        _until("frame 2", shown(2), replay)  # frame 3 is due 6 s later
        _key(display, window, "Left")
        _until("the step back", shown(1), replay, timeout=2.5)
        _key(display, window, "Right")
        _until("the step forward in the history", shown(2), replay, timeout=2.5)
        _key(display, window, "Right")
        _until("frame 3, drawn at once", shown(3), replay, timeout=2.5)
        _key(display, window, "q")
        _, err = replay.communicate(timeout=30)
    assert replay.returncode == 0, err


def test_the_window_takes_the_size_of_a_frame_whose_canvas_was_resized(display: str, tmp_path: Path) -> None:
    """A script that resizes its canvas (to follow its window, say) makes frames of a new size:
    the playback window kept the first frame's size and stretched the next ones over it."""
    import numpy as np

    import recorder
    from gsp.core import Camera, Canvas, Viewport
    from gsp.types import Buffer, BufferType
    from gsp.utils.renderer_registry import RendererRegistry
    from gsp.visuals import Points

    session = tmp_path / "resized.gsplog"
    with recorder.record(session):
        white = bytearray([255, 255, 255, 255])
        canvas, viewport = Canvas(120, 90, 72.0, white), Viewport(0, 0, 120, 90, white)
        one = Buffer.from_numpy(np.zeros((1, 3), np.float32), BufferType.vec3)
        red = Buffer.from_numpy(np.array([[255, 0, 0, 255]], np.uint8), BufferType.rgba8)
        size = Buffer.from_numpy(np.array([100.0], np.float32), BufferType.float32)
        points = Points(one, size, red, red, size)
        identity = Buffer.from_numpy(np.eye(4, dtype=np.float32).reshape(1, 4, 4), BufferType.mat4)
        renderer = RendererRegistry.create_renderer("null", canvas)
        for width in (120, 240):
            canvas.set_width(width)
            viewport.set_width(width)
            renderer.render([viewport], [points], [identity], [Camera(identity, identity)])
    with _gsp(display, "replay", str(session)) as replay:
        window = _window(display, replay, "--name", "gsp replay")
        _until("frame 2", lambda: "frame 2," in _xdotool(display, "getwindowname", window), replay)
        time.sleep(0.5)
        width, height = _window_size(display, window)
        _key(display, window, "q")
        _, err = replay.communicate(timeout=30)
    assert replay.returncode == 0, err
    assert abs(width / height - 240 / 90) < 0.05, (width, height)


@contextlib.contextmanager
def _window_following_a_slow_log(display: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A `gsp replay --follow` window showing frame 1 of a log whose frame 2 comes in 30 s."""
    log = tmp_path / "growing.gsplog"
    writer = subprocess.Popen([sys.executable, str(Path(__file__).parent / "player_writer_proc.py"), str(log), "2", "30"])
    try:
        with _gsp(display, "replay", str(log), "--follow", "--timeout", "60") as replay:
            window = _window(display, replay, "--name", "gsp replay")
            _until("frame 1", lambda: "frame 1," in _xdotool(display, "getwindowname", window), replay)
            yield replay, window
    finally:
        writer.kill()
        writer.wait()


def test_a_window_following_a_log_that_waits_for_data_still_quits_at_once(display: str, tmp_path: Path) -> None:
    """``--follow`` in a window: while the log had nothing new, the window waited in the reader's
    poll, frozen: a q (or a close) was handled only once the next frame came, never if none
    came. The source is now read on a thread of its own; a quit before the log ended is the
    user's, not a log that did not end (exit 0)."""
    with _window_following_a_slow_log(display, tmp_path) as (replay, window):
        _key(display, window, "q")  # frame 2 comes in 30 s
        _, err = replay.communicate(timeout=5)
    assert replay.returncode == 0, err
    assert "1 frame(s) replayed" in err, err


def test_ctrl_c_ends_a_replay_in_a_window_waiting_for_data(display: str, tmp_path: Path) -> None:
    """A window waiting for a followed log's next frame runs Tk's event loop: the KeyboardInterrupt
    of a Ctrl-C landing in one of its callbacks (a redraw) was printed by Tk and lost, and the
    replay went on. It ends with status 130, as elsewhere."""
    import signal

    with _window_following_a_slow_log(display, tmp_path) as (replay, _):
        time.sleep(0.5)
        replay.send_signal(signal.SIGINT)
        _, err = replay.communicate(timeout=10)
    assert replay.returncode == 130, err
    assert "Exception in Tkinter callback" not in err, err


IDLE_WINDOW_SCRIPT = """
import json
import numpy as np
from player.controller import PlaybackController
from player.frames import RenderedFrame
from player.window import FrameWindow

window = FrameWindow(PlaybackController())
draws = [0]
window.figure.canvas.mpl_connect("draw_event", lambda event: draws.__setitem__(0, draws[0] + 1))
window.show(RenderedFrame(1, 0, "r", rgba=np.full((90, 120, 4), 200, np.uint8)))
window.pump(0.5)  # shown and drawn
shown = draws[0]
for _ in range(30):  # paused: the window loop pumps its events, with nothing to draw
    window.pump(0.03)
print(json.dumps({"shown": shown, "idle": draws[0] - shown}))
"""


def test_a_paused_window_does_not_redraw(display: str, tmp_path: Path) -> None:
    """The window's event pump was plt.pause, which shows the window again each time: a shown
    Tk window's show() redraws it whole (and raises it above the others), every 30 ms of a
    paused window, or one waiting for its next frame."""
    import json

    script = tmp_path / "idle.py"
    script.write_text(IDLE_WINDOW_SCRIPT)
    result = subprocess.run([sys.executable, str(script)], env=dict(os.environ, DISPLAY=display, MPLBACKEND="TkAgg"),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["shown"] >= 1 and report["idle"] == 0, report


def test_a_window_with_no_frame_to_show_ends_and_says_why(display: str, tmp_path: Path) -> None:
    """A session without a render, or a --frame it does not have: the window opened empty and
    waited for a q, and said nothing (with --loop it was frozen too, starting again and again)."""
    session = record_moving_disc(tmp_path / "disc.gsplog", 2, width=120, height=90)
    with _gsp(display, "replay", str(session), "--frame", "9", "--loop") as replay:
        _, err = replay.communicate(timeout=30)
    assert replay.returncode == 2, err
    assert "no frame matched --frame 9 (the session has 2 frames)" in err, err

def test_ctrl_c_ends_the_recording_of_a_script_with_its_own_window(display: str, tmp_path: Path) -> None:
    """Tk caught the KeyboardInterrupt of a Ctrl-C in the animator's tick, printed it and went
    on with a frozen window: the recording never ended and its log was left without footer."""
    import signal

    from sessions import tools

    example = Path(__file__).resolve().parents[2] / "examples" / "animation.py"
    log = tmp_path / "interrupted.gsplog"
    with _gsp(display, "record", str(example), "-o", str(log), GSP_EXAMPLE_POINTS="2000") as record:
        _window(display, record, "--class", "Matplotlib")
        time.sleep(1.0)  # a few frames
        record.send_signal(signal.SIGINT)
        _, err = record.communicate(timeout=30)
    assert record.returncode == 130, err
    assert "Exception in Tkinter callback" not in err, err
    report = tools.verify(log)
    assert report.ok and report.commands_ok > 20, report


#: The scripts' renderer: a GSP script's MatplotlibRenderer (a window where a display exists),
#: which counts the frames it draws through render()'s PNG path.
LIVE_RENDERER = """
class Live(MatplotlibRenderer):
    pngs = 0

    def _render(self, *scene):
        Live.pngs += 1
        return super()._render(*scene)
"""

LIVE_SCRIPT = """
import io, json, sys
import numpy as np
import matplotlib.pyplot as plt
from PIL import Image
sys.path.insert(0, sys.argv[1])
from player_sessions import WHITE, RED, _f32
from gsp.core import Camera, Canvas, Viewport
from gsp.types import Buffer, BufferType
from gsp.visuals import Points
from player.backends.matplotlib.renderer import MatplotlibRenderer

canvas = Canvas(160, 120, 72.0, WHITE)
viewport = Viewport(0, 0, 160, 120, WHITE)
points = Points(_f32([[0.5, 0.0, 0.0]], BufferType.vec3), _f32([400.0], BufferType.float32),
                Buffer.from_numpy(RED, BufferType.rgba8), Buffer.from_numpy(RED, BufferType.rgba8),
                _f32([0.0], BufferType.float32))
identity = _f32(np.eye(4, dtype=np.float32).reshape(1, 4, 4), BufferType.mat4)
scene = ([viewport], [points], [identity], [Camera(identity, identity)])
off = MatplotlibRenderer(canvas, offscreen=True)
expected = np.asarray(Image.open(io.BytesIO(off.render(*scene))).convert("RGBA"))
""" + LIVE_RENDERER + """
live = Live(canvas)
live.render(*scene)
plt.pause(0.5)  # the window is shown: its canvas may now hold device pixels (a HiDPI screen)
shown = np.asarray(Image.open(io.BytesIO(live.render(*scene))).convert("RGBA"))
window = live.get_figure().canvas.get_width_height(physical=True)
live.get_figure().canvas.manager.resize(300, 90)  # as a user dragging the window's corner
plt.pause(0.5)
resized = np.asarray(Image.open(io.BytesIO(live.render(*scene))).convert("RGBA"))
np.save(sys.argv[2], np.stack([expected, shown, resized]))
print(json.dumps({"window": window, "resized": live.get_figure().canvas.get_width_height(physical=True)}))
live.close()
"""


def test_a_gsp_script_window_has_the_canvas_shape_and_render_returns_its_picture(display: str,
                                                                                 tmp_path: Path) -> None:
    """A GSP script's Matplotlib renderer shows a window where a display exists. The window keeps
    the canvas's shape (no toolbar widening it), and ``render()`` still returns the canvas's
    picture once the window is shown, and once it is resized by hand."""
    import json

    import numpy as np

    script, images = tmp_path / "live.py", tmp_path / "images.npy"
    script.write_text(LIVE_SCRIPT)
    result = subprocess.run([sys.executable, str(script), str(Path(__file__).parent), str(images)],
                            env=dict(os.environ, DISPLAY=display, MPLBACKEND="TkAgg"), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    sizes = json.loads(result.stdout.splitlines()[-1])
    width, height = sizes["window"]
    assert abs(width / height - 160 / 120) < 0.03, (width, height)
    assert abs(sizes["resized"][0] / sizes["resized"][1] - 160 / 120) > 1, sizes  # the resize took
    expected, shown, resized = np.load(images)
    assert shown.shape == resized.shape == expected.shape == (120, 160, 4)

    def red(rgba: np.ndarray) -> np.ndarray:
        mask = (rgba[..., 0] > 200) & (rgba[..., 1] < 80) & (rgba[..., 2] < 80)
        return np.argwhere(mask)

    assert len(red(expected)) > 200
    for picture in (shown, resized):  # the window's picture, then a window of another shape's
        assert abs(len(red(picture)) - len(red(expected))) < 0.1 * len(red(expected))
        assert np.abs(red(picture).mean(axis=0) - red(expected).mean(axis=0)).max() <= 1.5  # the disc where it belongs


EXACT_SCRIPT = """
import json, sys
import numpy as np
import matplotlib.pyplot as plt
from gsp.core import Camera, Canvas, Viewport
from gsp.types import Buffer, BufferType, CapStyle
from gsp.visuals import Points, Segments
from player.backends.matplotlib import MatplotlibAnimator, MatplotlibRenderer

def f32(values, kind):
    return Buffer.from_numpy(np.asarray(values, dtype=np.float32), kind)

def colors(values):
    return Buffer.from_numpy(np.asarray(values, dtype=np.uint8), BufferType.rgba8)

white = bytearray([255, 255, 255, 255])
canvas = Canvas(240, 160, 100.0, white)
viewport = Viewport(0, 0, 240, 160, white)
segments = Segments(f32([[-0.9, -0.8, 0.0], [0.9, 0.8, 0.0], [-0.9, 0.7, 0.0], [0.8, -0.6, 0.0]], BufferType.vec3),
                    f32([2.0], BufferType.float32), CapStyle.ROUND, colors([[0, 0, 0, 255]]))
xyz = np.random.default_rng(1).uniform(-0.9, 0.9, (60, 3))
points = Points(f32(xyz, BufferType.vec3), f32([60.0], BufferType.float32), colors([[200, 30, 30, 160]]),
                colors([[0, 0, 0, 255]]), f32([0.5], BufferType.float32))
identity = f32(np.eye(4).reshape(1, 4, 4), BufferType.mat4)
camera = Camera(identity, identity)
scene = ([viewport, viewport], [segments, points], [identity, identity], [camera, camera])
expected = MatplotlibRenderer(canvas, offscreen=True).render_rgba(*scene)
""" + LIVE_RENDERER + """
live = Live(canvas)
figure = live.get_figure()
draws = [0]
figure.canvas.mpl_connect("draw_event", lambda event: draws.__setitem__(0, draws[0] + 1))
live.render_rgba(*scene)
plt.pause(0.5)  # the window is shown: Tk now knows the screen's pixel ratio
shown = live.render_rgba(*scene)
report = {"ratio": figure.canvas.device_pixel_ratio, "window": figure.canvas.get_width_height(physical=True),
          "differing_pixels": int((shown != expected).any(axis=-1).sum()), "shape": list(shown.shape)}
animator = MatplotlibAnimator(live, fps=20.0)
ticks = []

@animator.event_listener
def tick(delta_time):
    ticks.append(draws[0])
    if len(ticks) == 6:
        animator.stop()
    return [points]

animator.start(*scene)
report["draws_per_frame"] = (ticks[-1] - ticks[1]) / (len(ticks) - 2)
report["pngs"] = Live.pngs
print(json.dumps(report))
"""


@pytest.mark.parametrize("dpi, ratio", [(100, 1.0), (192, 2.0)])
def test_render_from_a_window_is_the_off_screen_picture_pixel_for_pixel(tmp_path: Path, dpi: int,
                                                                         ratio: float) -> None:
    """On an X server at 100 dpi (Xvfb's default) Tk reports 1.04 device pixels per canvas pixel:
    the window's buffer was a few pixels larger than the canvas and ``render()`` scaled it down
    (wavy lines, live frames of ``gsp record`` unlike their replays). Such a ratio near 1 is now
    drawn at 1: the window holds the canvas's own pixels, and ``render()`` returns exactly the
    off-screen picture. At 192 dpi (2) the window stays at its ratio and ``render()`` draws the
    picture again at the canvas's size, where a 2x buffer scaled down was not the same picture
    either. A live animation draws each frame once at 1 (twice at 2: the window's, the
    picture's); the animator's draw_idle after render() drew it once more. The live loop's
    frames are drawn as pixels: it encoded a PNG per frame that nobody read."""
    import json

    _skip_without_x_tools()
    script = tmp_path / "exact.py"
    script.write_text(EXACT_SCRIPT)
    with _xvfb("-screen", "0", "640x480x24", "-dpi", str(dpi)) as display:
        result = subprocess.run([sys.executable, str(script)], env=dict(os.environ, DISPLAY=display, MPLBACKEND="TkAgg"),
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["shape"] == [160, 240, 4] and report["differing_pixels"] == 0, report
    assert report["pngs"] == 0, report
    assert report["ratio"] == pytest.approx(ratio, abs=0.02), report
    if ratio == 1.0:
        assert report["window"] == [240, 160], report  # the canvas's own pixels on screen
        assert report["draws_per_frame"] == 1, report  # one draw, the window's and render()'s
    else:
        assert abs(report["window"][0] - 240 * report["ratio"]) <= 1, report  # sharp, at the screen's ratio
        assert report["draws_per_frame"] == 2, report  # the window's, then the picture's


def test_closing_the_live_window_of_a_recorded_script_ends_it_cleanly(display: str, tmp_path: Path) -> None:
    """``gsp record`` of an animation where a display exists: the script's own window shows it
    live until the user closes it (q); the script then ends without an error, the log whole."""
    from sessions import tools

    example = Path(__file__).resolve().parents[2] / "examples" / "animation.py"
    log = tmp_path / "live.gsplog"
    with _gsp(display, "record", str(example), "-o", str(log), GSP_EXAMPLE_POINTS="2000") as record:
        window = _window(display, record, "--class", "Matplotlib")
        time.sleep(1.0)  # a few frames
        _key(display, window, "q")
        _, err = record.communicate(timeout=30)
    assert record.returncode == 0, err
    assert "Traceback" not in err and "Exception" not in err, err  # no tick after the window closed
    report = tools.verify(log)
    assert report.ok and report.commands_ok > 20, report


#: What the scripts below start with: a red disc on a 200 x 150 canvas, a window of their own.
SCRIPT_START = """
import numpy as np
from gsp.core import Camera, Canvas, Viewport
from gsp.types import Buffer, BufferType
from gsp.utils.renderer_registry import RendererRegistry
from gsp.visuals import Points

WHITE = bytearray([255, 255, 255, 255])
RED = np.array([[255, 0, 0, 255]], dtype=np.uint8)

def f32(values, kind):
    return Buffer.from_numpy(np.asarray(values, dtype=np.float32), kind)

canvas = Canvas(200, 150, 72.0, WHITE)
viewport = Viewport(0, 0, 200, 150, WHITE)
"""

CLICK_SCRIPT = SCRIPT_START + """positions = f32([[0.5, 0.5, 0.0]], BufferType.vec3)
points = Points(positions, f32([400.0], BufferType.float32), Buffer.from_numpy(RED, BufferType.rgba8),
                Buffer.from_numpy(RED, BufferType.rgba8), f32([0.0], BufferType.float32))
identity = f32(np.eye(4, dtype=np.float32).reshape(1, 4, 4), BufferType.mat4)
renderer = RendererRegistry.create_renderer("matplotlib", canvas)
events = RendererRegistry.create_viewport_events(renderer, viewport)
animator = RendererRegistry.create_animator(renderer)

def jump(event):  # the disc jumps to where the user clicks
    positions.set_data(bytearray(np.array([[event.x_ndc, event.y_ndc, 0.0]], np.float32).tobytes()), 0, 1)

events.button_press_event.subscribe(jump)

@animator.event_listener
def frame(delta_time):
    return [points]

animator.start([viewport], [points], [identity], [Camera(identity, identity)])
"""


@pytest.mark.parametrize("dpi", [100, 192])
def test_a_click_in_a_recorded_window_is_captured_where_it_landed_and_replayed(tmp_path: Path, dpi: int) -> None:
    """An interactive session for real: the user clicks in a GSP script's window under
    ``gsp record``; the click is recorded as a viewport event in the canvas's NDC and the replay
    draws the disc where the user clicked. At 100 dpi (Tk: 1.04 device pixels per canvas pixel)
    the window draws at 1; at 192 dpi at 2, and events come in device pixels."""
    import json

    import imageio.v3 as iio
    import numpy as np

    _skip_without_x_tools()
    script, log = tmp_path / "click.py", tmp_path / "click.gsplog"
    script.write_text(CLICK_SCRIPT)
    with _xvfb("-screen", "0", "640x480x24", "-dpi", str(dpi)) as display, \
            _gsp(display, "record", str(script), "-o", str(log)) as record:
        window = _window(display, record, "--class", "Matplotlib")
        time.sleep(1.0)  # mapped and drawn
        width, height = _window_size(display, window)
        _xdotool(display, "mousemove", "--window", window, str(width // 4), str(height * 3 // 4))
        _xdotool(display, "click", "1")
        time.sleep(1.0)  # a few frames with the disc moved
        _key(display, window, "q")
        _, err = record.communicate(timeout=30)
    assert record.returncode == 0, err
    dump = subprocess.run([sys.executable, "-m", "gsplog_cli.main", "dump", str(log)], capture_output=True, text=True,
                          timeout=60)
    resizes = [json.loads(line)["args"][1] for line in dump.stdout.splitlines() if "canvas_resize_event" in line]
    last_size = (resizes[-1]["canvas_width_px"], resizes[-1]["canvas_height_px"])
    assert abs(last_size[0] - 200) <= 2 and abs(last_size[1] - 150) <= 2, resizes  # canvas pixels, not device pixels
    presses = [json.loads(line)["args"][1] for line in dump.stdout.splitlines() if "button_press_event" in line]
    assert len(presses) == 1, presses
    assert abs(presses[0]["x_ndc"] + 0.5) < 0.03 and abs(presses[0]["y_ndc"] + 0.5) < 0.03, presses
    last = tmp_path / "last.png"
    replayed = subprocess.run([sys.executable, "-m", "gsplog_cli.main", "replay", str(log), "-o", str(last)],
                              env=dict(os.environ, MPLBACKEND="Agg"), capture_output=True, text=True, timeout=60)
    assert replayed.returncode == 0, replayed.stderr
    rgba = iio.imread(last)
    rows, cols = np.nonzero((rgba[..., 0] > 200) & (rgba[..., 1] < 80) & (rgba[..., 2] < 80))
    assert abs(cols.mean() - 50) < 2 and abs(rows.mean() - 112.5) < 2  # NDC (-0.5, -0.5) of 200 x 150


def _recorded_events(log: Path, name: str) -> list[dict[str, object]]:
    """The payloads of the ``name`` viewport events of a log, in order (``gsp dump``)."""
    import json

    dump = subprocess.run([sys.executable, "-m", "gsplog_cli.main", "dump", str(log)], capture_output=True, text=True,
                          timeout=60)
    return [json.loads(line)["args"][1] for line in dump.stdout.splitlines() if name in line]


def test_clicks_in_a_window_the_user_resized_are_recorded_where_they_land_on_the_picture(display: str,
                                                                                         tmp_path: Path) -> None:
    """A window resized by hand shows the canvas stretched to its new size. Its clicks were
    mapped as if the window still had the canvas's pixels: in a window made twice as large, a
    click at its centre was recorded at the viewport's top-right corner, and one further up and
    right was dropped as outside the viewport."""
    script, log = tmp_path / "click.py", tmp_path / "resized.gsplog"
    script.write_text(CLICK_SCRIPT)
    with _gsp(display, "record", str(script), "-o", str(log)) as record:
        window = _window(display, record, "--class", "Matplotlib")
        time.sleep(1.0)  # mapped and drawn
        _xdotool(display, "windowsize", window, "400", "300")  # the canvas is 200 x 150
        _until("the resize", lambda: _window_size(display, window) == (400, 300), record)
        time.sleep(0.5)
        for x, y in ((200, 150), (300, 75)):  # the centre, then NDC (0.5, 0.5)
            _xdotool(display, "mousemove", "--window", window, str(x), str(y))
            _xdotool(display, "click", "1")
            time.sleep(0.3)
        _key(display, window, "q")
        _, err = record.communicate(timeout=30)
    assert record.returncode == 0, err
    presses = [(p["x_ndc"], p["y_ndc"]) for p in _recorded_events(log, "button_press_event")]
    assert len(presses) == 2, presses
    assert presses[0] == pytest.approx((0.0, 0.0), abs=0.03) and presses[1] == pytest.approx((0.5, 0.5), abs=0.03)


def test_matplotlib_keys_that_change_axes_leave_a_recorded_window_alone(display: str, tmp_path: Path) -> None:
    """Matplotlib's default keys acted on a GSP window's Axes: l (or k, L) log-scaled the
    viewport's NDC limits, every later frame failed to draw, and the recording ended with
    ``ValueError: Data cannot be log-scaled``. The keys are the script's, and q still closes."""
    script, log = tmp_path / "click.py", tmp_path / "keys.gsplog"
    script.write_text(CLICK_SCRIPT)
    with _gsp(display, "record", str(script), "-o", str(log)) as record:
        window = _window(display, record, "--class", "Matplotlib")
        time.sleep(1.0)  # mapped and drawn
        _xdotool(display, "mousemove", "--window", window, "100", "75")  # over the viewport
        for key in ("g", "l", "k"):
            _key(display, window, key)
        time.sleep(0.5)  # a few frames
        _key(display, window, "q")
        _, err = record.communicate(timeout=30)
    assert record.returncode == 0, err
    assert "Traceback" not in err, err
    assert [e["key_name"] for e in _recorded_events(log, "key_press_event")] == ["g", "l", "k", "q"]


FAILING_SCRIPT = SCRIPT_START + """points = Points(f32([[0.0, 0.0, 0.0]], BufferType.vec3), f32([400.0], BufferType.float32),
                Buffer.from_numpy(RED, BufferType.rgba8), Buffer.from_numpy(RED, BufferType.rgba8),
                f32([0.0], BufferType.float32))
identity = f32(np.eye(4, dtype=np.float32).reshape(1, 4, 4), BufferType.mat4)
animator = RendererRegistry.create_animator(RendererRegistry.create_renderer("matplotlib", canvas))
frames = []

@animator.event_listener
def frame(delta_time):
    frames.append(delta_time)
    if len(frames) == 3:
        raise ValueError("the science went wrong at frame 3")
    return [points]

animator.start([viewport], [points], [identity], [Camera(identity, identity)])
print("not reached")
"""


def test_an_error_in_a_live_frame_ends_the_script_with_that_error(display: str, tmp_path: Path) -> None:
    """A frame callback that raises inside the window's event loop: Tk would print it and go on
    with a frozen window that never ends. The loop ends, the window closes, and ``start()``
    raises the error, so the script fails as it would headless; the log keeps what was drawn."""
    from sessions import tools

    script = tmp_path / "failing.py"
    script.write_text(FAILING_SCRIPT)
    log = tmp_path / "failing.gsplog"
    with _gsp(display, "record", str(script), "-o", str(log)) as record:
        try:
            _, err = record.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            record.kill()
            raise AssertionError(f"the script did not end: {record.communicate()[1]}") from None
    assert record.returncode not in (0, None), err
    assert "ValueError: the science went wrong at frame 3" in err, err
    assert err.count("the science went wrong") <= 2, err  # raised once, not once per tick
    report = tools.verify(log)
    assert report.ok and report.commands_ok > 5, report


#: A dashboard of two windows: the second canvas is drawn from the first one's animation, which
#: stops itself after 3 frames; then the second window's renderer draws once more.
TWO_WINDOWS_SCRIPT = SCRIPT_START + """import json
other_canvas = Canvas(120, 90, 72.0, WHITE)
points = Points(f32([[0.0, 0.0, 0.0]], BufferType.vec3), f32([400.0], BufferType.float32),
                Buffer.from_numpy(RED, BufferType.rgba8), Buffer.from_numpy(RED, BufferType.rgba8),
                f32([0.0], BufferType.float32))
identity = f32(np.eye(4, dtype=np.float32).reshape(1, 4, 4), BufferType.mat4)
scene = ([viewport], [points], [identity], [Camera(identity, identity)])
renderer = RendererRegistry.create_renderer("matplotlib", canvas)
other = RendererRegistry.create_renderer("matplotlib", other_canvas)
animator = RendererRegistry.create_animator(renderer)
frames = []

@animator.event_listener
def frame(delta_time):
    frames.append(delta_time)
    other.render(*scene)  # the dashboard's second window follows the first
    if len(frames) == 3:
        animator.stop()
    return [points]

animator.start(*scene)
after = other.render_rgba(*scene)
print(json.dumps({"frames": len(frames), "other": list(after.shape)}))
"""


def test_stop_ends_the_animation_of_one_window_of_a_dashboard(display: str, tmp_path: Path) -> None:
    """An animator's ``stop()`` closed its window, yet ``start()`` waited on in ``plt.show()``
    until every window of the script was closed: with a second canvas's window open (a
    dashboard), the script hung there."""
    import json

    script = tmp_path / "two_windows.py"
    script.write_text(TWO_WINDOWS_SCRIPT)
    result = subprocess.run([sys.executable, str(script)], env=dict(os.environ, DISPLAY=display, MPLBACKEND="TkAgg"),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {"frames": 3, "other": [90, 120, 4]}
