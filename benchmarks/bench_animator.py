"""Frames per second of the Matplotlib animator's loop: live (a window) or headless.

A Points visual of N points whose positions buffer the frame callback rewrites, drawn by
``MatplotlibAnimator``. Live: the window loop on a 1 ms Matplotlib timer (``fps=1000``), so
that the frame's own cost bounds the rate; headless: ``configure_headless(frames)``, as fast
as it goes. frames/s = frames after the first / the time from the first callback to the last.
Prints each run and the median. To compare two trees, run it with ``PYTHONPATH`` set to each
in turn.

    xvfb-run -a -s "-screen 0 1280x1024x24 -dpi 100" env MPLBACKEND=TkAgg \\
        python benchmarks/bench_animator.py --mode live
    python benchmarks/bench_animator.py --mode headless --points 10000 --frames 60 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from gsp.core.camera import Camera
from gsp.core.canvas import Canvas
from gsp.core.viewport import Viewport
from gsp.types.animator_base import configure_headless, reset_headless
from gsp.types.buffer import Buffer
from gsp.types.buffer_type import BufferType
from gsp.visuals.points import Points


def run_once(n: int, frames: int, width: int, height: int, live: bool) -> float:
    """frames/s of one animator run of ``frames`` frames."""
    from player.backends.matplotlib.animator import MatplotlibAnimator
    from player.backends.matplotlib.renderer import MatplotlibRenderer

    white = bytearray([255, 255, 255, 255])
    canvas = Canvas(width, height, 100.0, white)
    viewport = Viewport(0, 0, width, height, white)
    rng = np.random.default_rng(0)
    xyz = rng.uniform(-0.9, 0.9, (n, 3)).astype(np.float32)
    xyz[:, 2] = 0.0
    positions = Buffer.from_numpy(xyz, BufferType.vec3)
    color = Buffer.from_numpy(np.array([[50, 100, 200, 255]], np.uint8), BufferType.rgba8)
    points = Points(positions, Buffer.from_numpy(np.array([16.0], np.float32), BufferType.float32), color, color,
                    Buffer.from_numpy(np.array([0.0], np.float32), BufferType.float32))
    identity = Buffer.from_numpy(np.eye(4, dtype=np.float32)[None], BufferType.mat4)
    renderer = MatplotlibRenderer(canvas)
    animator = MatplotlibAnimator(renderer, fps=1000.0)
    stamps: list[float] = []

    @animator.event_listener
    def move(delta_time: float) -> list[Points]:
        stamps.append(time.perf_counter())
        xyz[:, 0] += np.float32(0.001)
        positions.set_data(xyz, 0, n)
        if len(stamps) == frames:
            animator.stop()
        return [points]

    if not live:
        configure_headless(frames)
    try:
        animator.start([viewport], [points], [identity], [Camera(identity, identity)])
    finally:
        reset_headless()
        renderer.close()
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("live", "headless"), default="headless")
    parser.add_argument("--points", type=int, default=10_000, help="points (default 10000)")
    parser.add_argument("--frames", type=int, default=60, help="frames per run (default 60)")
    parser.add_argument("--size", default="800x600", help="canvas WxH (default 800x600)")
    parser.add_argument("--repeat", type=int, default=3, help="runs (default 3)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    live = args.mode == "live"
    if live and not (os.environ.get("DISPLAY") and os.environ.get("MPLBACKEND", "").lower() == "tkagg"):
        parser.error("--mode live needs a display and MPLBACKEND=TkAgg (see the docstring)")
    if not live:
        os.environ.setdefault("MPLBACKEND", "Agg")
    rates = [run_once(args.points, args.frames, width, height, live) for _ in range(args.repeat)]
    print(f"{args.mode}, {args.points:,d} points, {width}x{height}, {args.frames} frames: "
          + ", ".join(f"{r:.1f}" for r in rates) + f" frames/s; median {statistics.median(rates):.1f}")


if __name__ == "__main__":
    main()
