"""The playback window's key wiring, on a real (Agg) Matplotlib figure: no display needed."""

from __future__ import annotations

import numpy as np
from matplotlib.backend_bases import KeyEvent

from player.controller import PlaybackController
from player.frames import RenderedFrame
from player.window import FrameWindow, run_window


def _frames(count: int) -> list[RenderedFrame]:
    return [
        RenderedFrame(n, n * 10**8, "r", rgba=np.full((20, 30, 4), n * 20, np.uint8)) for n in range(1, count + 1)
    ]


def _press(window: FrameWindow, key: str) -> None:
    canvas = window.figure.canvas
    canvas.callbacks.process("key_press_event", KeyEvent("key_press_event", canvas, key))


def test_keys_pause_step_back_and_quit() -> None:
    controller: PlaybackController[RenderedFrame] = PlaybackController()
    window = FrameWindow(controller)
    source = iter(_frames(10))
    shown: list[int] = []
    script = {3: [" ", "left", "left", "right"]}

    def on_frame(frame: RenderedFrame) -> None:
        shown.append(frame.number)
        for key in script.get(frame.number, []):
            _press(window, key)

    # frames 1..3 play; at 3 we pause, step back twice to 1, forward once to 2; then
    # the "show" of frame 2 does not call on_frame, so quit from a wrapper around show
    original_show = window.show

    def show(frame: RenderedFrame) -> None:
        original_show(frame)
        if frame.number == 2 and shown == [1, 2, 3]:
            _press(window, "q")

    window.show = show  # type: ignore[method-assign]
    run_window(lambda: next(source, None), controller, window, on_frame=on_frame)
    assert shown == [1, 2, 3]
    current = controller.current()
    assert current is not None and current.number == 2
    assert controller.paused and controller.quit_requested and window.closed


def test_window_shows_the_image_and_stays_at_end() -> None:
    controller: PlaybackController[RenderedFrame] = PlaybackController()
    window = FrameWindow(controller)
    frames = _frames(4)
    source = iter(frames)
    ticks = {"n": 0}
    original_pump = window.pump

    def pump(seconds: float) -> None:
        original_pump(0.0)
        ticks["n"] += 1
        if ticks["n"] == 8:  # well after the end of the session: quit
            _press(window, "escape")

    window.pump = pump  # type: ignore[method-assign]
    titles: list[str] = []
    original_show = window.show

    def show(frame: RenderedFrame) -> None:
        original_show(frame)
        manager = window.figure.canvas.manager
        assert manager is not None
        titles.append(manager.get_window_title())

    window.show = show  # type: ignore[method-assign]
    run_window(lambda: next(source, None), controller, window)
    assert controller.finished
    current = controller.current()
    assert current is frames[-1]
    assert np.array_equal(window._image.get_array(), frames[-1].rgba)
    # the frame's number and time are in the title bar: the axes fill the figure, no room above
    assert titles[-1] == "gsp replay: frame 4, t = 0.400 s"
