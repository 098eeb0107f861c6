"""Units of the player that need no session: positions, sizes, clocks, the window controller."""

from __future__ import annotations

import pytest

from player.clock import FastClock, RealtimeClock, make_clock
from player.controller import PlaybackController
from player.positions import Position, parse_position
from player.replay import paced_by_default, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.5", Position("time", 2_500_000_000)),
        ("2.5s", Position("time", 2_500_000_000)),
        ("0", Position("time", 0)),
        (".5", Position("time", 500_000_000)),
        (3, Position("time", 3_000_000_000)),
        ("#12", Position("frame", 12)),
        ("f3", Position("frame", 3)),
        ("@intro", Position("marker", "intro")),
        ("seq:40", Position("seq", 40)),  # the sessions tools' syntax, one parser for both
        (0.25, Position("time", 250_000_000)),  # numbers are seconds in the player's API
    ],
)
def test_parse_position(text: str, expected: Position) -> None:
    assert parse_position(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "#0", "#-1", "-2", "@", "1.2.3", "12ms"])
def test_parse_position_rejects_with_the_text(text: str) -> None:
    with pytest.raises(ValueError, match="position"):
        parse_position(text)


def test_parse_size() -> None:
    assert parse_size("800x600") == (800, 600)
    assert parse_size(" 64X48 ") == (64, 48)
    assert parse_size((10, 20)) == (10, 20)
    assert parse_size(None) is None
    for bad in ("800", "0x10", "axb", "10x99999"):
        with pytest.raises(ValueError, match="size"):
            parse_size(bad)


class FakeTime:
    """A controllable monotonic clock (time source only; the clock logic is the real one)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_fast_clock_never_waits() -> None:
    clock = make_clock()
    assert isinstance(clock, FastClock)
    clock.start(0)
    assert clock.wait_until(10**12) == 0.0


def test_realtime_clock_follows_recorded_pace_and_speed() -> None:
    t = FakeTime()
    clock = RealtimeClock(2.0, now=t.time, sleep=t.sleep)
    clock.start(1_000_000_000)
    assert clock.wait_until(3_000_000_000) == pytest.approx(1.0)  # 2 s recorded at 2x
    t.now += 5.0  # late: no wait
    assert clock.wait_until(4_000_000_000) == 0.0
    assert isinstance(make_clock(realtime=True), RealtimeClock)
    assert make_clock(speed=0.5).speed == 0.5  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="speed"):
        RealtimeClock(0)


def test_realtime_clock_pause_shifts_origin() -> None:
    t = FakeTime()
    clock = RealtimeClock(1.0, now=t.time, sleep=t.sleep)
    clock.start(0)
    clock.pause()
    t.now += 10.0
    assert clock.wait_until(1_000_000_000) == 0.0  # paused: never sleeps
    clock.resume()
    assert clock.wait_until(1_000_000_000) == pytest.approx(1.0)


def test_controller_plays_pauses_steps_and_quits() -> None:
    t = FakeTime()
    clock = RealtimeClock(1.0, now=t.time, sleep=t.sleep)
    clock.start(0)
    ctl: PlaybackController[int] = PlaybackController(history=3, clock=clock)
    assert ctl.next_action() == "new"
    for n in (1, 2, 3, 4):
        ctl.push(n)
    assert ctl.current() == 4
    assert ctl.on_key(" ") and ctl.paused
    assert ctl.next_action() == "wait"
    # left steps back through the bounded history (3 frames kept: 2, 3, 4)
    ctl.on_key("left")
    ctl.on_key("left")
    ctl.on_key("left")
    assert ctl.current() == 2
    assert ctl.next_action() == "show"  # the window must show the frame stepped back to
    assert ctl.next_action() == "wait"
    ctl.on_key("right")
    assert ctl.next_action() == "show" and ctl.current() == 3
    assert ctl.next_action() == "wait"  # one step only
    ctl.on_key("right")
    assert ctl.next_action() == "show" and ctl.current() == 4
    ctl.on_key("right")  # at the live edge: a new frame is drawn
    assert ctl.next_action() == "new"
    ctl.push(5)
    assert ctl.next_action() == "wait" and ctl.paused
    ctl.on_key("space")  # resume
    assert not ctl.paused and ctl.next_action() == "new"
    assert not ctl.on_key("z") and not ctl.on_key(None)
    ctl.end_of_session()
    assert ctl.next_action() == "wait"
    ctl.on_key("q")
    assert ctl.next_action() == "quit"


def test_controller_resume_replays_history_then_continues() -> None:
    ctl: PlaybackController[int] = PlaybackController()
    for n in (1, 2, 3):
        ctl.push(n)
    ctl.step_back()
    ctl.step_back()
    ctl.toggle_pause()
    assert [ctl.next_action(), ctl.current()] == ["show", 1]  # where the steps back led
    assert [ctl.next_action(), ctl.current()] == ["show", 2]
    assert [ctl.next_action(), ctl.current()] == ["show", 3]
    assert ctl.next_action() == "new"


def test_controller_pause_stops_the_clock() -> None:
    t = FakeTime()
    clock = RealtimeClock(1.0, now=t.time, sleep=t.sleep)
    clock.start(0)
    ctl: PlaybackController[int] = PlaybackController(clock=clock)
    ctl.on_key(" ")
    t.now += 30.0
    ctl.on_key(" ")
    # 30 s spent paused do not count: frame at 2 s is still 2 s away
    assert clock.wait_until(2_000_000_000) == pytest.approx(2.0)


def test_a_window_plays_a_log_file_at_its_recorded_pace_by_default() -> None:
    assert paced_by_default("s.gsplog", window=True, follow=False)
    assert not paced_by_default("s.gsplog", window=False, follow=False)  # exports, headless replays
    assert not paced_by_default("s.gsplog", window=True, follow=True)  # a growing file has its own pace
    assert not paced_by_default("tcp://127.0.0.1:5555", window=True, follow=False)  # so has a live stream
    assert not paced_by_default(iter([]), window=True, follow=False)  # commands handed over in Python
