"""Logs shared with other processes: follow a writer, disk-full errors, a killed writer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sessions import LogReader

CHILD = str(Path(__file__).with_name("sessions_child.py"))


def start_child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, CHILD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_file(path: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_size > 100):
        assert time.monotonic() < deadline, f"{path} was never created"
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_follow_a_log_while_another_process_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "live.gsplog"
    count = 200
    child = start_child("slow", str(path), str(count))
    try:
        wait_for_file(path)
        with LogReader(path) as reader:
            assert not reader.complete
            seen = []
            start = time.monotonic()
            for cmd in reader.commands(follow=True, timeout=10.0):
                seen.append(cmd.seq)
            took = time.monotonic() - start
        assert child.wait(10) == 0, child.stderr.read() if child.stderr else ""
        assert seen == list(range(1, count + 1))  # every command once, in order, up to the END
        assert took < 9.0  # it stopped at the end, not at the timeout
    finally:
        child.kill()


def test_follow_stops_after_the_timeout_when_nothing_comes(tmp_path: Path) -> None:
    from sessions import Command, LogWriter

    path = tmp_path / "idle.gsplog"
    writer = LogWriter(path, keyframes=False)
    writer.append(Command(1, 0, "Recorder.mark", "", ("a",)))
    writer.flush()
    with LogReader(path) as reader:
        start = time.monotonic()
        got = [c.seq for c in reader.commands(follow=True, timeout=0.3)]
        assert 0.25 < time.monotonic() - start < 3
    assert got == [1]
    # new data arriving while following is picked up
    with LogReader(path) as reader:
        def late() -> None:
            time.sleep(0.2)
            writer.append(Command(2, 1, "Recorder.mark", "", ("b",)))
            writer.close()

        thread = threading.Thread(target=late)
        thread.start()
        got = [c.seq for c in reader.commands(follow=True, timeout=5)]
        thread.join()
    assert got == [1, 2]




def test_closing_the_reader_ends_a_follower_in_another_thread(tmp_path: Path) -> None:
    # The follower met the closed file: ValueError('I/O operation on closed file') in its thread.
    from sessions import Command, LogWriter

    path = tmp_path / "followed.gsplog"
    writer = LogWriter(path, keyframes=False)
    writer.append(Command(1, 0, "Recorder.mark", "", ("a",)))
    writer.flush()
    reader = LogReader(path)
    got: list[int] = []
    failures: list[BaseException] = []
    first = threading.Event()

    def follow() -> None:
        try:
            for cmd in reader.commands(follow=True, timeout=None):  # no END will come
                got.append(cmd.seq)
                first.set()
        except BaseException as error:  # noqa: BLE001 - what the thread met is the test's result
            failures.append(error)

    thread = threading.Thread(target=follow)
    thread.start()
    assert first.wait(10)
    reader.close()
    thread.join(10)
    writer.close()
    assert not thread.is_alive()
    assert failures == []
    assert got == [1]

@pytest.mark.parametrize(("start", "stop", "expected"), [
    (None, "2.5", [1, 2, 3]),  # the first command at or after 2.5 s is seq 4
    (None, "#3", [1, 2, 3, 4, 5]),  # a frame ends with its render (seq 5)
    (None, "@late", [1, 2, 3]),
    ("@late", None, [1, 2, 3, 4, 5, 6]),  # no keyframe: from the start, so the state is whole there
])
def test_follow_finds_positions_the_log_holds_only_later(
        tmp_path: Path, start: str | None, stop: str | None, expected: list[int]) -> None:
    # A stop was resolved once, in the file as it was when iteration began: a time or frame
    # past its end ended the commands there, and a marker not recorded yet was an error.
    from sessions import Command, LogWriter

    path = tmp_path / "growing.gsplog"
    writer = LogWriter(path, keyframes=False)
    second = 1_000_000_000
    writer.append(Command(1, 0, "Recorder.mark", "", ("early",)))
    writer.append(Command(2, 1 * second, "Renderer.render", "r", ()))
    writer.flush()
    with LogReader(path) as reader:
        commands = reader.commands(start, stop, follow=True, timeout=5)
        got = [next(commands).seq]
        writer.append(Command(3, 2 * second, "Renderer.render", "r", ()))
        writer.append(Command(4, 3 * second, "Recorder.mark", "", ("late",)))
        writer.append(Command(5, 4 * second, "Renderer.render", "r", ()))
        writer.append(Command(6, 5 * second, "Renderer.render", "r", ()))
        writer.close()
        got += [cmd.seq for cmd in commands]
    assert got == expected


@pytest.mark.timeout(60)
@pytest.mark.parametrize("writes", ["direct", "background"])
def test_file_size_limit_gives_log_write_error_and_a_readable_file(tmp_path: Path, writes: str) -> None:
    path = tmp_path / "full.gsplog"
    child = start_child("fsize", str(path), "300000", *(["background"] if writes == "background" else []))
    out, err = child.communicate(timeout=50)
    assert child.returncode == 0, err
    assert "LogWriteError at seq" in out and "File too large" in out, out
    assert path.stat().st_size <= 300_000
    with LogReader(path) as reader:  # strict mode: the file is clean up to the last good chunk
        seqs = [c.seq for c in reader.commands()]
    assert seqs and seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) % 10 == 0  # whole chunks only


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.parametrize("writes", ["direct", "background"])
def test_a_killed_writer_loses_at_most_the_flush_interval(tmp_path: Path, writes: str) -> None:
    path = tmp_path / "killed.gsplog"
    child = start_child("killme", str(path), *(["background"] if writes == "background" else []))
    appended: list[tuple[float, int]] = []
    assert child.stdout is not None
    appended.append((time.monotonic(), int(child.stdout.readline())))  # started (slow under load)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        appended.append((time.monotonic(), int(line)))
    os.kill(child.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    child.wait(10)
    with LogReader(path) as reader:
        seqs = [c.seq for c in reader.commands()]
    assert seqs == list(range(1, len(seqs) + 1))
    # everything appended more than flush interval (50 ms) + scheduling slack before the kill is there
    safe = [seq for t, seq in appended if t < killed_at - 0.05 - 0.05]
    assert safe, "the writer printed nothing for 1 s"
    assert seqs and seqs[-1] >= safe[-1], (seqs[-1:], safe[-1])
