"""The recorder in real processes: SIGKILL at random moments, a file-size limit, ``gsp record``."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rec_support import REPO, read_commands, run_python

from sessions import LogReader
from sessions.index import MARK_OP
from sessions.tools import repair, verify

HERE = Path(__file__).resolve().parent


# ---- SIGKILL at random moments --------------------------------------------------------------
class ForkServer:
    """``rec_fork_server.py`` in a subprocess: imports once, forks a recording child per run."""

    def __init__(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1", MPLBACKEND="Agg")
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "rec_fork_server.py")], cwd=REPO, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self._line() == "ready"

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def _send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def run(self, log: Path, progress: Path, flush_interval_s: float) -> int:
        self._send(f"run {log} {progress} {flush_interval_s}")
        return int(self._line())

    def reap(self, pid: int) -> int:
        self._send(f"reap {pid}")
        words = self._line().split()
        assert words[:2] == ["reaped", str(pid)]
        return int(words[2])

    def close(self) -> None:
        self._send("quit")
        self.proc.wait(10)


def _progress(path: Path) -> list[tuple[int, int]]:
    lines = path.read_text().splitlines()
    out = []
    for line in lines:
        words = line.split()
        if len(words) == 2:  # the last line may be torn by the kill
            out.append((int(words[0]), int(words[1])))
    return out


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_at_most_the_flush_interval(tmp_path: Path) -> None:
    flush_s = 0.05
    # A loaded 2-core machine may delay the writer thread; the bound stays far below the run.
    slack_ns = int(0.15e9)
    rng = random.Random(1234)
    server = ForkServer()
    losses = []
    try:
        for run in range(20):
            log, progress = tmp_path / f"kill{run}.gsplog", tmp_path / f"kill{run}.progress"
            pid = server.run(log, progress, flush_s)
            # Wait until the child records, then kill it at a random moment.
            deadline = time.monotonic() + 10
            while (not progress.exists() or progress.stat().st_size == 0) and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.15))
            os.kill(pid, signal.SIGKILL)
            status = server.reap(pid)
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"run {run}: child ended early"

            done = _progress(progress)
            assert done, f"run {run}: no progress"
            report = verify(log)
            assert report.header_ok and not report.damaged, (run, report)
            repaired = tmp_path / f"kill{run}.repaired.gsplog"
            assert repair(log, repaired).header_ok
            with LogReader(repaired) as reader:
                assert reader.complete
            commands = read_commands(log)
            renders = [c for c in commands if c.op == "Renderer.render"]
            # Every frame older than the flush interval (plus slack) is in the file, complete.
            t_kill_at_least = done[-1][1]
            must_have = [f for f, t in done if t <= t_kill_at_least - int(flush_s * 1e9) - slack_ns]
            assert len(renders) >= len(must_have), (run, len(renders), len(must_have))
            frames_logged = [  # the child passes numpy arrays: they come back as arrays
                int(c.args[0][0, 0])
                for c in commands
                if c.op == "Buffer.set_data" and isinstance(c.args[0], np.ndarray) and c.args[0].size == 3000
            ]
            assert frames_logged[: len(must_have)] == must_have
            if renders:
                losses.append(t_kill_at_least - renders[-1].t_ns)
    finally:
        server.close()
    print(f"recorded-but-lost window over 20 kills: max {max(losses) / 1e6:.1f} ms (flush interval {flush_s * 1e3:.0f} ms)")
    assert len(losses) >= 8  # the others were killed before their first chunk was due


# ---- a file-size limit: one report, the script keeps running, the file stays readable ---------
FSIZE_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))
    import recorder
    from gsp.types import Buffer, BufferType
    path = sys.argv[1]
    n = 25_000  # 100 kB of incompressible floats per call
    buf = Buffer(n, BufferType.float32)
    rng = np.random.default_rng(0)
    flushed = []
    with recorder.record(path, flush_interval_s=0.01, writer_options={"keyframes": False}) as rec:
        for i in range(12):
            buf.set_data(rng.random(n, dtype=np.float32), 0, n)
            recorder.mark(f"frame {i}")
            flushed.append(rec.flush())
    print("script kept running", type(rec.error).__name__, flush=True)
    print("flushed", *flushed, flush=True)
    """
)


@pytest.mark.slow
def test_file_size_limit_reports_once_and_keeps_the_file_readable(tmp_path: Path) -> None:
    script, log = tmp_path / "fsize.py", tmp_path / "fsize.gsplog"
    script.write_text(FSIZE_SCRIPT)
    result = run_python([str(script), str(log)])
    assert result.returncode == 0, result.stderr
    assert "script kept running LogWriteError" in result.stdout
    reports = [line for line in result.stderr.splitlines() if "recording stopped" in line]
    assert len(reports) == 1, result.stderr
    assert str(log) in reports[0] and "File too large" in reports[0]
    assert os.path.getsize(log) <= 400_000
    report = verify(log)
    assert report.header_ok and not report.damaged
    commands = read_commands(log)
    marks = [c.args[0] for c in commands if c.op == MARK_OP]
    assert 1 <= len(marks) < 12
    assert marks == [f"frame {i}" for i in range(len(marks))]  # a clean prefix, up to the last good chunk
    # flush() said True once the write had failed too, as if the frames were in the file
    flushed = next(line.split()[1:] for line in result.stdout.splitlines() if line.startswith("flushed"))
    assert flushed == ["True"] * len(marks) + ["False"] * (12 - len(marks))


# ---- gsp record -------------------------------------------------------------------------------
CLI_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import recorder
    from gsp.core import Canvas, Viewport, Camera
    from gsp.types import BufferType
    from gsp.utils.bufferx import Bufferx
    from gsp.utils.renderer_registry import RendererRegistry
    from gsp.visuals import Points
    import helper_module  # found because the script's folder is on sys.path

    def main():
        image, code = sys.argv[1], int(sys.argv[2])
        canvas = Canvas(64, 48, 72.0, bytearray([255, 255, 255, 255]))
        viewport = Viewport(0, 0, 64, 48, bytearray([255, 255, 255, 255]))
        camera = Camera(Bufferx.mat4_identity(), Bufferx.mat4_identity())
        n = 10
        pos = Bufferx.from_numpy(np.linspace(-0.8, 0.8, n * 3).reshape(n, 3).astype(np.float32), BufferType.vec3)
        sizes = Bufferx.from_numpy(np.full(n, 40.0, np.float32), BufferType.float32)
        colors = Bufferx.from_numpy(np.tile(np.array([255, 0, 0, 255], np.uint8), (n, 1)), BufferType.rgba8)
        widths = Bufferx.from_numpy(np.zeros(n, np.float32), BufferType.float32)
        points = Points(pos, sizes, colors, colors, widths)
        renderer = RendererRegistry.create_renderer(sys.argv[3], canvas)
        png = renderer.render([viewport], [points], [Bufferx.mat4_identity()], [camera])
        open(image, "wb").write(png)
        animator = RendererRegistry.create_animator(renderer)
        animator.add_callback(lambda dt: [points])
        animator.start([viewport], [points], [Bufferx.mat4_identity()], [camera])
        recorder.mark(helper_module.LABEL)
        if code < 0:
            raise RuntimeError("the script failed")
        sys.exit(code)

    if __name__ == "__main__":
        main()
    """
)


def _write_cli_script(folder: Path) -> Path:
    script = folder / "scene_script.py"
    script.write_text(CLI_SCRIPT)
    (folder / "helper_module.py").write_text("LABEL = 'from the helper'\n")
    return script


@pytest.mark.slow
def test_gsp_record_runs_an_unmodified_script(tmp_path: Path) -> None:
    script = _write_cli_script(tmp_path)
    log, image = tmp_path / "cli.gsplog", tmp_path / "live.png"
    result = run_python(
        ["-m", "gsplog_cli.main", "record", str(script), "-o", str(log), "--frames", "2", "--fps", "10",
         "--flush-interval", "20", "--meta", "run=7", "--meta", "who=test", "--", str(image), "3", "matplotlib"],
    )
    assert result.returncode == 3, result.stderr  # the script's exit code
    png = image.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"  # live rendering still worked
    import imageio.v3 as iio

    assert iio.imread(png).shape[:2] == (48, 64)
    with LogReader(log) as reader:
        assert reader.complete
        assert reader.metadata["user"] == {"run": "7", "who": "test", "script": "scene_script.py"}
        assert reader.metadata["recorder"]["flush_interval_s"] == pytest.approx(0.02)
        ops = [c.op for c in reader.commands()]
    assert ops.count("Animator.frame") == 2
    assert ops.count("Renderer.render") == 3
    assert ops[-1] == MARK_OP


@pytest.mark.slow
def test_gsp_record_no_render_and_a_failing_script(tmp_path: Path) -> None:
    script = _write_cli_script(tmp_path)
    log, image = tmp_path / "fail.gsplog", tmp_path / "none.png"
    result = run_python(
        ["-m", "gsplog_cli.main", "record", str(script), "-o", str(log), "--no-render", "--frames", "2",
         "--", str(image), "-1", "null"],
    )
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "RuntimeError: the script failed" in result.stderr
    assert "runpy" not in result.stderr and "cmd_record" not in result.stderr  # as `python script.py` shows it
    assert f'File "{script}", line' in result.stderr.splitlines()[1]
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # --no-render: a blank image, drawn by nothing
    with LogReader(log) as reader:
        assert reader.complete  # closed properly despite the exception
        ops = [c.op for c in reader.commands()]
    assert ops.count("Renderer.render") == 3 and ops[-1] == MARK_OP


def test_gsp_record_makes_the_folder_of_its_output(tmp_path: Path) -> None:
    """gsp record -o nodir/x.gsplog failed (no such folder) where gsp-replay -o makes it."""
    script = _write_cli_script(tmp_path)
    log = tmp_path / "new" / "folder" / "x.gsplog"
    result = run_python(["-m", "gsplog_cli.main", "record", str(script), "-o", str(log), "--no-render",
                         "--frames", "2", "--", str(tmp_path / "none.png"), "0", "null"])
    assert result.returncode == 0, result.stderr
    with LogReader(log) as reader:
        assert reader.complete


def test_gsp_record_refuses_bad_options(tmp_path: Path) -> None:
    script = _write_cli_script(tmp_path)
    result = run_python(["-m", "gsplog_cli.main", "record", str(script), "--frames", "2", "--duration", "1"])
    assert result.returncode == 2 and "--frames or --duration" in result.stderr
    result = run_python(["-m", "gsplog_cli.main", "record", str(script), "--meta", "novalue"])
    assert result.returncode == 2 and "key=value" in result.stderr
    # --wait is the time nodes get to connect to --publish: without it, it was ignored silently
    result = run_python(["-m", "gsplog_cli.main", "record", str(script), "--wait", "1", "-o", str(tmp_path / "w.gsplog")])
    assert result.returncode == 2 and "--wait" in result.stderr and "--publish" in result.stderr
    assert not (tmp_path / "w.gsplog").exists()


# ---- a recorder never stopped, a forked child -----------------------------------------------
EXIT_FORK_SCRIPT = textwrap.dedent(
    """
    import os, sys
    import recorder
    from gsp.core import Viewport
    rec = recorder.Recorder(sys.argv[1], max_queue_commands=50).start()  # never stopped
    vp = Viewport(0, 0, 10, 10, bytearray(4))
    vp.set_x(1)
    pid = os.fork()
    if pid == 0:  # the child records nothing and must not block on the parent's full queue
        for i in range(500):
            vp.set_x(1000 + i)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    vp.set_x(2)
    print("child status", status, flush=True)
    """
)


def test_unstopped_recorder_closes_at_exit_and_forked_children_record_nothing(tmp_path: Path) -> None:
    script, log = tmp_path / "exit.py", tmp_path / "exit.gsplog"
    script.write_text(EXIT_FORK_SCRIPT)
    result = run_python([str(script), str(log)], timeout=30)
    assert result.returncode == 0, result.stderr
    assert "child status 0" in result.stdout
    with LogReader(log) as reader:
        assert reader.complete  # footer written by the at-exit stop
        xs = [c.args[0] for c in reader.commands() if c.op == "Viewport.set_x"]
    assert xs == [1, 2]



INTERRUPTED_STOP_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    import recorder
    from gsp.core import Viewport
    from gsp.constants import Constants

    stopping = threading.Event()

    def listener(cmd):  # on the writer thread, which still has the log to finish
        if cmd.op == "Recorder.mark" and cmd.args[0] == "last":
            stopping.wait(10)
            time.sleep(0.2)  # the main thread waits in stop() by now
            os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C, impatient
            time.sleep(0.5)  # the main thread has unwound and the interpreter is exiting

    rec = recorder.Recorder(sys.argv[1], on_command=listener, flush_interval_s=60).start()
    viewport = Viewport(0, 0, 10, 10, Constants.Color.white)
    for x in range(1, 101):
        viewport.set_x(x)
    recorder.mark("last")
    stopping.set()
    rec.stop()
    """
)


def test_an_interrupt_while_stop_finishes_the_log_does_not_cut_it(tmp_path: Path) -> None:
    # The writer is a daemon thread: an interrupted stop() left it behind, the interpreter's exit
    # cut it, and the log lost its last chunk and its footer. (Thread.join, cut short by the
    # interrupt, even marked the writer as ended while it ran.)
    script, log = tmp_path / "interrupted.py", tmp_path / "interrupted.gsplog"
    script.write_text(INTERRUPTED_STOP_SCRIPT)
    result = run_python([str(script), str(log)], timeout=30)
    assert "KeyboardInterrupt" in result.stderr, result.stderr  # the interrupt went on to the script
    with LogReader(log) as reader:
        assert reader.complete
        commands = list(reader.commands())
    assert [c.args[0] for c in commands if c.op == "Viewport.set_x"] == list(range(1, 101))
    assert commands[-1].op == MARK_OP and commands[-1].args[0] == "last"

def test_gsp_record_reports_an_unwritable_output(tmp_path: Path) -> None:
    script = _write_cli_script(tmp_path)
    (tmp_path / "no").write_text("a file, where the output's folder would be\n")
    result = run_python(["-m", "gsplog_cli.main", "record", str(script), "-o", str(tmp_path / "no" / "dir.gsplog")])
    assert result.returncode == 1
    assert "cannot start recording" in result.stderr and result.stderr.count("dir.gsplog") == 1  # named once


def test_gsp_record_on_a_full_disk_leaves_no_log_behind(tmp_path: Path, small_disk: Callable[[str], Any]) -> None:
    """The header cannot be written: `cannot start recording`, exit status 1, and no 0-byte log
    left at the output; a log that was there before stays as it was."""
    script = tmp_path / "canvas.py"
    script.write_text("from gsp.core import Canvas\nCanvas(10, 10, 72.0, bytearray([255, 255, 255, 255]))\n")
    disk = small_disk("1m")
    earlier, new = disk.path / "earlier.gsplog", disk.path / "new.gsplog"
    result = run_python(["-m", "gsplog_cli.main", "record", str(script), "-o", str(earlier), "--no-render"])
    assert result.returncode == 0, result.stderr
    before = earlier.read_bytes()
    disk.fill()
    for output in (new, earlier):
        result = run_python(["-m", "gsplog_cli.main", "record", str(script), "-o", str(output), "--no-render"])
        assert result.returncode == 1
        assert result.stderr.startswith("Error: cannot start recording") and "No space left on device" in result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
    assert not new.exists()
    assert earlier.read_bytes() == before
    assert sorted(p.name for p in disk.path.iterdir()) == ["earlier.gsplog", "filler"]


def test_gsp_record_of_a_script_that_does_not_compile_says_why_as_python_does(tmp_path: Path) -> None:
    script, log = tmp_path / "broken.py", tmp_path / "broken.gsplog"
    script.write_text("import gsp\nx = (\n")
    result = run_python(["-m", "gsplog_cli.main", "record", str(script), "-o", str(log), "--no-render"])
    assert result.returncode == 1
    assert "SyntaxError" in result.stderr and f'File "{script}", line 2' in result.stderr
    assert "Traceback" not in result.stderr  # no frame of the script ran: python prints none either
    with LogReader(log) as reader:
        assert reader.complete and list(reader.commands()) == []


# ---- what gsp record refuses, SIGTERM, two recorders on one path ---------------------------
def _gsp_record(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``gsp record`` run in ``cwd`` (default outputs, and the script's image, land there)."""
    return run_python(["-m", "gsplog_cli.main", "record", *args], cwd=cwd)


LATE_THREAD_SCRIPT = textwrap.dedent(
    """
    import os, threading, time
    from gsp.core import Viewport
    here = os.path.dirname(__file__)
    os.chdir("/")  # a script may change folder, then find its files from __file__
    with open(os.path.join(here, "data.txt")) as file:
        x0 = int(file.read())
    viewport = Viewport(0, 0, 10, 10, bytearray(4))

    def worker():
        time.sleep(0.3)  # still running when the script's body returns
        for i in range(5):
            viewport.set_x(x0 + i)

    threading.Thread(target=worker).start()
    """
)


def test_gsp_record_waits_for_the_script_threads_and_gives_an_absolute_file(tmp_path: Path) -> None:
    """The recording stopped when the script's body returned, so the calls of a thread still
    running (Python waits for it) were lost; and ``__file__`` was relative, where Python 3.11
    makes it absolute, so a script that changed folder could not find its own files."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "late.py").write_text(LATE_THREAD_SCRIPT)
    (folder / "data.txt").write_text("40")
    log = tmp_path / "late.gsplog"
    result = _gsp_record("project/late.py", "-o", str(log), "--no-render", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    xs = [c.args[0] for c in read_commands(log) if c.op == "Viewport.set_x"]
    assert xs == [40, 41, 42, 43, 44]


def test_gsp_record_exits_1_when_the_recording_stopped_early(tmp_path: Path) -> None:
    """A full disk stopped the recording while the script went on: gsp record exited 0, and a
    pipeline ``gsp record ... && gsp-replay ...`` carried on with a cut log."""
    import resource

    script = tmp_path / "writes.py"
    script.write_text(textwrap.dedent(
        """
        import time
        import numpy as np
        from gsp.types import Buffer, BufferType
        buf = Buffer(25_000, BufferType.float32)
        rng = np.random.default_rng(0)
        for i in range(40):  # 100 kB of incompressible floats per call
            buf.set_data(rng.random(25_000, dtype=np.float32), 0, 25_000)
            time.sleep(0.01)
        """
    ))
    log = tmp_path / "full.gsplog"

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    result = run_python(["-m", "gsplog_cli.main", "record", str(script), "-o", str(log), "--flush-interval", "5"],
                        cwd=tmp_path, preexec_fn=small_disk)
    assert result.returncode == 1, result.stderr
    assert "the recording stopped early" in result.stderr and "File too large" in result.stderr
    assert verify(log).header_ok


def test_gsp_record_never_writes_over_its_script_or_a_log_given_as_script(tmp_path: Path) -> None:
    script = _write_cli_script(tmp_path)
    source = script.read_bytes()
    result = _gsp_record(str(script), "-o", str(script), "--no-render", cwd=tmp_path)
    assert result.returncode == 2 and "is the script itself" in result.stderr
    assert script.read_bytes() == source
    log = tmp_path / "precious.gsplog"
    assert _gsp_record(str(script), "-o", str(log), "--no-render", "--frames", "1", "--", "x.png", "0", "null",
                       cwd=tmp_path).returncode == 0
    kept = log.read_bytes()
    # `gsp record precious.gsplog` (meant: replay it) would write precious.gsplog, its default output
    result = _gsp_record(str(log), cwd=tmp_path)
    assert result.returncode == 2 and "is a session log, not a script" in result.stderr and "gsp-replay" in result.stderr
    assert log.read_bytes() == kept


@pytest.mark.parametrize("option", ["--duration", "--fps", "--flush-interval"])
def test_gsp_record_refuses_numbers_that_are_not_finite(tmp_path: Path, option: str) -> None:
    script = _write_cli_script(tmp_path)
    for value in ("inf", "nan"):
        result = _gsp_record(str(script), option, value, "--no-render", cwd=tmp_path)
        assert result.returncode == 2 and "is not a finite number" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def _start_endless_recording(log: Path) -> subprocess.Popen[str]:
    """``gsp record`` of the animation example, endless, once it has written a few chunks."""
    env = dict(os.environ, MPLBACKEND="Agg", GSP_EXAMPLE_POINTS="100")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gsplog_cli.main", "record", str(REPO / "examples" / "animation.py"), "-o", str(log),
         "--no-render", "--frames", "100000000", "--flush-interval", "10"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 30
    while not (log.exists() and log.stat().st_size > 20_000):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    return proc


def test_sigterm_ends_gsp_record_with_a_whole_log(tmp_path: Path) -> None:
    """``kill`` or ``timeout`` used to leave a log without its footer, its last commands lost."""
    log = tmp_path / "term.gsplog"
    proc = _start_endless_recording(log)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert verify(log).ok
    with LogReader(log) as reader:
        assert reader.complete
        assert sum(1 for c in reader.commands() if c.op == "Renderer.render") > 10


SIGTERM_SCRIPT = textwrap.dedent(
    """
    import signal, sys, time
    import recorder
    from gsp.core import Viewport
    own = sys.argv[2] == "own"
    if own:  # a script's own handler is left alone
        signal.signal(signal.SIGTERM, lambda *a: print("own handler", flush=True))
    viewport = Viewport(0, 0, 10, 10, bytearray(4))
    try:
        with recorder.record(sys.argv[1], flush_interval_s=10.0):  # nothing written before the end
            for i in range(10**9):
                viewport.set_x(i)
                if i == 100:
                    print("recording", flush=True)
                    time.sleep(0.5 if own else 60)
                    if own:
                        break
    finally:
        print("handler after:", signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, flush=True)
    """
)


@pytest.mark.parametrize("script_handler", ["none", "own"])
def test_sigterm_closes_the_log_of_a_script_that_records(tmp_path: Path, script_handler: str) -> None:
    """A script under ``with recorder.record(...)`` killed by SIGTERM (``kill``, a batch
    scheduler's time limit) died at once: no footer, and every call since the last flush lost.
    It now unwinds with exit code 143 and a whole log; a handler of its own is left alone."""
    script, log = tmp_path / "term.py", tmp_path / "term.gsplog"
    script.write_text(SIGTERM_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(log), script_handler], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "recording"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert verify(log).ok, err
    with LogReader(log) as reader:
        assert reader.complete
        xs = [c.args[0] for c in reader.commands() if c.op == "Viewport.set_x"]
    if script_handler == "own":
        assert proc.returncode == 0 and out.splitlines() == ["own handler", "handler after: False"], (out, err)
    else:
        assert proc.returncode == 128 + signal.SIGTERM, err
        assert out.splitlines() == ["handler after: True"], (out, err)  # the default action is back
    assert xs == list(range(101))  # every call, though none had been flushed


def test_a_second_recorder_on_a_log_being_written_is_refused(tmp_path: Path) -> None:
    """Both used to succeed, the first session written into a file the second had unlinked."""
    log = tmp_path / "busy.gsplog"
    proc = _start_endless_recording(log)
    try:
        script = _write_cli_script(tmp_path)
        result = _gsp_record(str(script), "-o", str(log), "--no-render", "--frames", "1", "--", "x.png", "0", "null",
                             cwd=tmp_path)
        assert result.returncode == 1 and "another recorder is writing this log now" in result.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert verify(log).ok  # the first session's log, whole
    with LogReader(log) as reader:
        assert reader.metadata["user"]["script"] == "animation.py"
    result = _gsp_record(str(script), "-o", str(log), "--no-render", "--frames", "1", "--", "x.png", "0", "null",
                         cwd=tmp_path)
    assert result.returncode == 0, result.stderr  # once it is done, the path is free again


FORK_LOCK_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    import recorder
    from gsp.core import Viewport
    with recorder.record(sys.argv[1]):
        Viewport(0, 0, 10, 10, bytearray(4))
        pid = os.fork()
        if pid == 0:  # a worker that outlives the recording
            time.sleep(3)
            os._exit(0)
    with recorder.record(sys.argv[1]):  # the child must not hold the first log's lock
        Viewport(0, 0, 20, 20, bytearray(4))
    os.waitpid(pid, 0)
    print("recorded twice", flush=True)
    """
)


def test_a_forked_child_does_not_keep_the_log_locked(tmp_path: Path) -> None:
    script, log = tmp_path / "forklock.py", tmp_path / "forklock.gsplog"
    script.write_text(FORK_LOCK_SCRIPT)
    result = run_python([str(script), str(log)], timeout=30)
    assert result.returncode == 0 and "recorded twice" in result.stdout, result.stderr
    with LogReader(log) as reader:
        assert [c.args[2] for c in reader.commands() if c.op == "Viewport.new"] == [20]


def test_gsp_record_warns_of_a_module_beside_the_script_with_the_name_of_a_gsplog_package(tmp_path: Path) -> None:
    """The script's folder goes first on sys.path: a user's player.py there hid gsplog's `player`
    (or the other way round) with no word of why. A script in the checkout itself is not warned."""
    script = tmp_path / "anim.py"
    script.write_text("import recorder\nprint('ran')\n")
    (tmp_path / "player.py").write_text("value = 1\n")
    (tmp_path / "sessions").mkdir()
    (tmp_path / "sessions" / "__init__.py").write_text("")
    result = run_python(["-m", "gsplog_cli.main", "record", str(script), "-o", str(tmp_path / "a.gsplog")])
    assert result.returncode == 0 and "ran" in result.stdout, result.stderr
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warned) == 2 and "player.py has the name of gsplog's `player` package" in warned[0] + warned[1]
    assert any(f"{tmp_path / 'sessions'}/ has the name of gsplog's `sessions` package" in line for line in warned)
    inside = REPO / "examples" / "animation.py"
    result = run_python(["-m", "gsplog_cli.main", "record", str(inside), "-o", str(tmp_path / "b.gsplog"),
                         "--frames", "2", "--no-render"], env={"GSP_EXAMPLE_POINTS": "100"})
    assert result.returncode == 0 and "warning:" not in result.stderr, result.stderr


IPYTHON_SCRIPT = textwrap.dedent(
    """
    import sys
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    shell.run_cell(f"import recorder, time\\nrec = recorder.Recorder({sys.argv[1]!r}, flush_interval_s=10.0).start()")
    shell.run_cell("from gsp.core import Viewport\\nviewport = Viewport(0, 0, 10, 10, bytearray(4))")
    shell.run_cell(
        "import os, signal\\n"
        "for i in range(10**9):\\n"
        "    viewport.set_x(i)\\n"
        "    if i == 100:\\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\\n"
    )
    print("the shell went on after SIGTERM", flush=True)
    shell.run_cell("viewport.set_x(-1)")
    """
)


def test_sigterm_ends_an_ipython_shell_that_records_with_a_whole_log(tmp_path: Path) -> None:
    """In a Jupyter kernel (an IPython shell) the exception SIGTERM raised was shown under the
    running cell, and the kernel went on, still recording, its log never closed. It now dies of
    SIGTERM once the cell has unwound, its logs closed whole."""
    pytest.importorskip("IPython")
    script, log = tmp_path / "shell.py", tmp_path / "shell.gsplog"
    script.write_text(IPYTHON_SCRIPT)
    result = subprocess.run([sys.executable, str(script), str(log)], cwd=REPO, capture_output=True, text=True,
                            timeout=60, env=dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(REPO)))
    assert result.returncode == -signal.SIGTERM, (result.stdout, result.stderr)
    assert "the shell went on" not in result.stdout
    assert verify(log).ok
    with LogReader(log) as reader:
        xs = [c.args[0] for c in reader.commands() if c.op == "Viewport.set_x"]
    assert xs == list(range(101))
