"""Interactive playback logic, free of any GUI so that it can be tested without a display.

Keys: space pauses/resumes, right arrow steps one frame forward, left arrow steps one frame
back (through a bounded history of the frames already shown), ``q`` or escape quits.
A window loop asks :meth:`PlaybackController.next_action` what to do on each tick:

- ``"new"``: draw the next frame of the session and :meth:`push` it;
- ``"show"``: the current frame changed (a step inside the history): display :meth:`current`;
- ``"wait"``: nothing to do (paused, or the session ended);
- ``"quit"``: close the window.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, Literal, TypeVar

from player.clock import Clock

__all__ = ["PlaybackController", "Action"]

Action = Literal["new", "show", "wait", "quit"]
FrameT = TypeVar("FrameT")

PAUSE_KEYS = frozenset({" ", "space"})
FORWARD_KEYS = frozenset({"right", "n"})
BACK_KEYS = frozenset({"left", "p"})
QUIT_KEYS = frozenset({"q", "Q", "escape"})


class PlaybackController(Generic[FrameT]):
    """Pause, step and quit over a stream of frames, with a history for stepping back."""

    def __init__(self, history: int = 256, clock: Clock | None = None, paused: bool = False) -> None:
        if history < 1:
            raise ValueError(f"history {history!r}: must keep at least one frame")
        self._frames: deque[FrameT] = deque(maxlen=history)
        self._pos = -1  # index of the frame shown, in _frames
        self._clock = clock
        self._step_forward = False
        self._moved_back = False  # the current frame changed under a pause: show it once
        self.paused = paused
        self.quit_requested = False
        self.finished = False

    # -- keys ----------------------------------------------------------------------------------
    def on_key(self, key: str | None) -> bool:
        """Handle one key name (Matplotlib spelling); True when the key did something."""
        if key is None:
            return False
        if key in QUIT_KEYS:
            self.quit_requested = True
        elif key in PAUSE_KEYS:
            self.toggle_pause()
        elif key in FORWARD_KEYS:
            self.step_forward()
        elif key in BACK_KEYS:
            self.step_back()
        else:
            return False
        return True

    def toggle_pause(self) -> None:
        """Pause when playing, resume when paused."""
        self.set_paused(not self.paused)

    def set_paused(self, paused: bool) -> None:
        """Pause or resume (the clock, if any, stops meanwhile)."""
        if paused == self.paused:
            return
        self.paused = paused
        self._step_forward = False
        if self._clock is not None:
            if paused:
                self._clock.pause()
            else:
                self._clock.resume()

    def step_forward(self) -> None:
        """Pause, and move one frame forward (drawing a new one at the end of the history)."""
        self.set_paused(True)
        self._step_forward = True

    def step_back(self) -> None:
        """Pause, and move one frame back in the history (stays on the oldest kept frame)."""
        self.set_paused(True)
        self._step_forward = False
        if self._pos > 0:
            self._pos -= 1
            self._moved_back = True

    # -- frames --------------------------------------------------------------------------------
    def push(self, frame: FrameT) -> None:
        """A new frame from the session becomes the current one."""
        self._frames.append(frame)
        self._pos = len(self._frames) - 1
        self._step_forward = False

    def end_of_session(self) -> None:
        """The session has no more frames."""
        self.finished = True
        self._step_forward = False

    def restart(self) -> None:
        """The session starts again (``--loop``): new frames may come."""
        self.finished = False

    def current(self) -> FrameT | None:
        """The frame to display (None before the first one)."""
        return self._frames[self._pos] if self._pos >= 0 else None

    @property
    def at_live_edge(self) -> bool:
        """True when the current frame is the newest one drawn."""
        return self._pos == len(self._frames) - 1

    def next_action(self) -> Action:
        """What the window loop should do now (see the module docstring)."""
        if self.quit_requested:
            return "quit"
        if self._moved_back:
            self._moved_back = False
            return "show"
        if self.paused and not self._step_forward:
            return "wait"
        if not self.at_live_edge:
            self._pos += 1
            self._step_forward = False
            return "show"
        if self.finished:
            self._step_forward = False
            return "wait"
        return "new"
