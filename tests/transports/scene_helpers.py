"""Real GSP sessions for the transport tests: a recorded Points animation, free ports, gsp CLI."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from transport_helpers import checkout_env

import recorder
from gsp.core import Camera, Canvas, Viewport
from gsp.types import BufferType
from gsp.utils.bufferx import Bufferx
from gsp.visuals import Points
from player.backends.null import NullRenderer
from sessions import LogReader, SceneState


def free_port_pair() -> int:
    """A loopback port P with P + 1 also free (PUB on P, snapshots on P + 1)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port >= 65535:
            continue
        with socket.socket() as second:
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free pair of ports")


def record_animation(
    path: Path,
    publish: Any = None,
    frames: int = 20,
    interval: float = 0.0,
    before_calls: Callable[[], None] | None = None,
    after_calls: Callable[[], None] | None = None,
) -> None:
    """Record a small Points animation (positions change every frame).

    ``before_calls`` runs once recording (and publishing) started, before the first GSP call;
    ``after_calls`` after the last frame, before the recording ends.
    """
    rng = np.random.default_rng(7)
    n = 200
    with recorder.record(path, publish=publish, flush_interval_s=0.02):
        if before_calls is not None:
            before_calls()
        white = bytearray([255, 255, 255, 255])
        canvas = Canvas(160, 120, 72.0, white)
        viewport = Viewport(0, 0, 160, 120, white)
        camera = Camera(Bufferx.mat4_identity(), Bufferx.mat4_identity())
        xyz = rng.uniform(-0.9, 0.9, (n, 3)).astype(np.float32)
        xyz[:, 2] = 0
        positions = Bufferx.from_numpy(xyz, BufferType.vec3)
        sizes = Bufferx.from_numpy(np.full(n, 30.0, np.float32), BufferType.float32)
        colors = Bufferx.from_numpy(rng.integers(0, 255, (n, 4), dtype=np.uint8) | 0x80, BufferType.rgba8)
        edges = Bufferx.from_numpy(np.zeros((n, 4), np.uint8), BufferType.rgba8)
        widths = Bufferx.from_numpy(np.zeros(n, np.float32), BufferType.float32)
        points = Points(positions, sizes, colors, edges, widths)
        renderer = NullRenderer(canvas)
        model = Bufferx.mat4_identity()
        for frame in range(frames):
            xyz[:, 0] = np.clip(xyz[:, 0] + 0.01 * np.sin(frame + np.arange(n)), -0.95, 0.95)
            positions.set_data(Bufferx.from_numpy(xyz, BufferType.vec3).to_bytearray(), 0, n)
            renderer.render([viewport], [points], [model], [camera])
            if interval:
                time.sleep(interval)
        if after_calls is not None:
            after_calls()


def file_state_hash(path: Path) -> str:
    """The scene state hash after every command of a log."""
    state = SceneState()
    with LogReader(path) as reader:
        for command in reader.commands():
            state.apply(command)
    return str(state.state_hash())


def gsp_record_example(log: Path, endpoint: str, frames: int, points: int, *options: str,
                       timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``gsp record examples/animation.py -o LOG --no-render --frames N --publish ENDPOINT
    OPTIONS`` with ``points`` points, run to its end (stderr captured)."""
    example = Path(__file__).resolve().parents[2] / "examples" / "animation.py"
    return subprocess.run(
        [sys.executable, "-m", "gsplog_cli.main", "record", str(example), "-o", str(log), "--no-render",
         "--frames", str(frames), "--publish", endpoint, *options],
        env=checkout_env(GSP_EXAMPLE_POINTS=str(points), MPLBACKEND="Agg"), capture_output=True, text=True,
        timeout=timeout,
    )


class CliProcess:
    """``gsp ARGS`` running as a process; its stderr lines are collected as they come."""

    def __init__(self, *args: str) -> None:
        env = checkout_env(PYTHONUNBUFFERED="1", MPLBACKEND="Agg")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gsplog_cli.main", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float = 20.0) -> None:
        """Wait until a stderr line contains ``text``."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.proc.poll() is None, "".join(self.lines)[-3000:]
            assert time.monotonic() < deadline, f"no {text!r} in:\n" + "".join(self.lines)[-3000:]
            time.sleep(0.02)

    def result(self, timeout: float = 30.0, code: int = 0) -> dict[str, Any]:
        """Wait for the process to end with exit status ``code``; its last stdout line parsed as JSON."""
        try:  # not communicate(): it would read stderr too, and take lines from self.lines
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(
                f"process did not finish in {timeout} s:\n" + "".join(self.lines)[-3000:]
            ) from None
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()  # one JSON line: the pipe never filled
        self._reader.join(5)
        assert self.proc.returncode == code, "".join(self.lines)[-3000:]
        return dict(json.loads(out.strip().splitlines()[-1]))

    def stop(self) -> None:
        """Terminate (SIGTERM, then SIGKILL)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate()
