"""Playback clocks: when may the next frame be shown?

A clock maps recorded timestamps (ns since the session started) to wall-clock deadlines.
``FastClock`` never waits (exports); ``RealtimeClock`` follows the recorded pace, optionally
scaled by a speed factor (2.0 = twice as fast). Pausing shifts the origin so that playback
resumes where it stopped instead of rushing to catch up.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Clock", "FastClock", "RealtimeClock", "make_clock"]


class Clock:
    """As fast as possible: ``wait_until`` returns at once."""

    def start(self, t_ns: int) -> None:
        """Anchor the clock: recorded time ``t_ns`` is now."""

    def wait_until(self, t_ns: int) -> float:
        """Block until recorded time ``t_ns`` is due; returns the seconds slept."""
        return 0.0

    def pause(self) -> None:
        """Stop the clock (a paused window)."""

    def resume(self) -> None:
        """Restart the clock where it was paused."""


class FastClock(Clock):
    """Never waits: every frame is due at once."""


class RealtimeClock(Clock):
    """Waits so that recorded time advances at ``speed`` × wall-clock time."""

    def __init__(
        self,
        speed: float = 1.0,
        *,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed {speed!r}: must be a positive factor")
        self.speed = float(speed)
        self._now = now
        #: How the clock waits: ``time.sleep``, or a playback window's event pump, so that keys
        #: and a close are handled during a long wait between frames.
        self.sleep = sleep
        self._origin_wall: float | None = None
        self._origin_t_ns = 0
        self._paused_at: float | None = None

    def start(self, t_ns: int) -> None:
        self._origin_wall = self._now()
        self._origin_t_ns = t_ns
        self._paused_at = None

    def due_in(self, t_ns: int) -> float:
        """Seconds until recorded time ``t_ns`` is due (negative when late)."""
        if self._origin_wall is None:
            self.start(t_ns)
        assert self._origin_wall is not None
        target = self._origin_wall + (t_ns - self._origin_t_ns) / 1e9 / self.speed
        return target - (self._paused_at if self._paused_at is not None else self._now())

    def wait_until(self, t_ns: int) -> float:
        delay = self.due_in(t_ns)
        if delay > 0 and self._paused_at is None:
            self.sleep(delay)
            return delay
        return 0.0

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = self._now()

    def resume(self) -> None:
        if self._paused_at is not None and self._origin_wall is not None:
            # Shift the origin by the paused time so that playback does not rush afterwards.
            self._origin_wall += self._now() - self._paused_at
        self._paused_at = None


def make_clock(*, realtime: bool = False, speed: float | None = None) -> Clock:
    """The clock for the options: ``speed`` implies real time scaled by it."""
    if speed is not None:
        return RealtimeClock(speed)
    if realtime:
        return RealtimeClock(1.0)
    return FastClock()
