"""The playback window for real: ``gsp replay`` opens a Tk window on an X server (Xvfb), and keys
sent to it with xdotool step and quit the replay. Needs Xvfb, xdotool and tkinter (`.ci/run`
installs them and sets GSP_REQUIRE_WINDOW=1, which turns a skip here into a failure)."""

from __future__ import annotations

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

from player_sessions import record_moving_disc  # noqa: E402

pytestmark = [pytest.mark.window, pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed")
    try:
        import tkinter  # noqa: F401
    except ImportError:
        pytest.skip("tkinter is not available")
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "640x480x24", "-nolisten", "tcp"],
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


def _xdotool(display: str, *args: str) -> str:
    result = subprocess.run(["xdotool", *args], env=dict(os.environ, DISPLAY=display), capture_output=True,
                            text=True, timeout=10)
    return result.stdout.strip()


def _until(what: str, check: Callable[[], object], timeout: float = 30.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("backend", ["matplotlib", pytest.param("datoviz", marks=pytest.mark.datoviz)])
def test_keys_step_back_and_quit_a_replay_in_a_real_window(display: str, tmp_path: Path, backend: str) -> None:
    if backend == "datoviz":
        pytest.importorskip("datoviz")
    session = record_moving_disc(tmp_path / "disc.gsplog", 4, width=120, height=90, interval_s=0.05)
    env = dict(os.environ, DISPLAY=display, MPLBACKEND="TkAgg")
    replay = subprocess.Popen([sys.executable, "-m", "gsplog_cli.main", "replay", str(session), "-b", backend],
                              env=env, stderr=subprocess.PIPE, text=True)
    try:
        window = str(_until("the window", lambda: _xdotool(display, "search", "--name", "gsp replay")))
        window = window.splitlines()[0]

        def frame_shown() -> int:
            match = re.search(r"frame (\d+)", _xdotool(display, "getwindowname", window))
            return int(match.group(1)) if match else 0

        _until("the last frame", lambda: frame_shown() == 4)  # played at its recorded pace, then kept
        size = _xdotool(display, "getwindowgeometry", window)
        width, height = (int(v) for v in re.search(r"Geometry: (\d+)x(\d+)", size).groups())  # type: ignore[union-attr]
        assert abs(width / height - 120 / 90) < 0.05, size  # the frame's shape: no toolbar widening it
        # one window: the backend draws off-screen, the player's window shows its frames
        assert _xdotool(display, "search", "--class", "Matplotlib").split() == [window]
        _xdotool(display, "windowfocus", "--sync", window)  # Tk takes keys where the focus is
        _xdotool(display, "key", "Left")
        _until("a step back", lambda: frame_shown() == 3)
        _xdotool(display, "key", "q")
        _, err = replay.communicate(timeout=30)
    finally:
        if replay.poll() is None:
            replay.kill()
    assert replay.returncode == 0, err
    assert "4 frame(s) replayed" in err
