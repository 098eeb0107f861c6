"""A fork server for the SIGKILL test: imports once, then forks one recording child per request.

Protocol (lines on stdin / stdout):
- it prints ``ready`` once everything is imported;
- ``run <log path> <progress path> <flush interval s>``: forks a child that records an
  animation into the log and appends ``<frame> <t_ns>`` to the progress file after each frame
  (``t_ns`` on the recorder's clock, taken after the frame's calls returned); prints the pid;
- ``reap <pid>``: waits for that child and prints ``reaped <pid> <status>``;
- ``quit``.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

import recorder
from gsp.core import Camera, Canvas, Viewport
from gsp.types import Buffer, BufferType
from gsp.utils.bufferx import Bufferx
from gsp.visuals import Points
from player.backends.null import NullRenderer
from sessions.scene import SceneState  # noqa: F401 - imported once here, not in every child

N_POINTS = 1000


def animate(log_path: str, progress_path: str, flush_interval_s: float) -> None:
    """Record frames until killed (or 20 s): positions re-set every frame, then a render."""
    progress = os.open(progress_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    white = bytearray([255, 255, 255, 255])
    with recorder.record(log_path, flush_interval_s=flush_interval_s) as rec:
        canvas = Canvas(64, 48, 72.0, white)
        viewport = Viewport(0, 0, 64, 48, white)
        camera = Camera(Bufferx.mat4_identity(), Bufferx.mat4_identity())
        positions = Buffer(N_POINTS, BufferType.vec3)
        sizes = Bufferx.from_numpy(np.full(N_POINTS, 4.0, np.float32), BufferType.float32)
        colors = Bufferx.from_numpy(np.full((N_POINTS, 4), 255, np.uint8), BufferType.rgba8)
        widths = Bufferx.from_numpy(np.zeros(N_POINTS, np.float32), BufferType.float32)
        points = Points(positions, sizes, colors, colors, widths)
        renderer = NullRenderer(canvas)
        model = Bufferx.mat4_identity()
        data = np.zeros((N_POINTS, 3), np.float32)
        deadline = time.monotonic() + 20
        frame = 0
        while time.monotonic() < deadline:
            data[:, 0] = frame  # frame number readable back from the log
            positions.set_data(data, 0, N_POINTS)
            renderer.render([viewport], [points], [model], [camera])
            os.write(progress, f"{frame} {rec.now_ns()}\n".encode())
            frame += 1
            time.sleep(0.002)


def main() -> None:
    from sessions.fileformat import default_metadata

    default_metadata()  # warm its version look-ups once, not in every child
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "run":
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    animate(words[1], words[2], float(words[3]))
                except BaseException:
                    code = 1
                os._exit(code)
            print(pid, flush=True)
        elif words[0] == "reap":
            pid = int(words[1])
            _, status = os.waitpid(pid, 0)
            print(f"reaped {pid} {status}", flush=True)
        elif words[0] == "quit":
            return


if __name__ == "__main__":
    main()
