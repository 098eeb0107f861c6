"""MatplotlibRenderer vs a hand-written Matplotlib loop, measured in the same run.

Each frame moves every point and writes a PNG file. The baseline is what one would write by
hand: one ``scatter``, then per frame ``set_offsets`` + ``savefig``. Ours: a GSP ``Points``
visual whose positions buffer is rewritten, then ``renderer.render(...)`` and the PNG bytes
written to a file (PNG zlib level 6 as savefig, and level 1). The loops take turns frame by
frame. Prints per-frame medians and the ratio (target ≤ 1.1×).

    python benchmarks/bench_matplotlib.py                      # 100k points, 10 frames
    python benchmarks/bench_matplotlib.py --points 100000 1000000 --frames 100   # long on 2 cores
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from gsp.core.camera import Camera  # noqa: E402
from gsp.core.canvas import Canvas  # noqa: E402
from gsp.core.viewport import Viewport  # noqa: E402
from gsp.types.buffer import Buffer  # noqa: E402
from gsp.types.buffer_type import BufferType  # noqa: E402
from gsp.visuals.points import Points  # noqa: E402
from player.backends.matplotlib import MatplotlibRenderer  # noqa: E402

WIDTH, HEIGHT, DPI = 1024, 768, 100.0
SIZE_PT2, COLOR = 4.0, (0.2, 0.4, 0.8, 1.0)


def frames_of(n: int, count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` frames of ``n`` random (x, y, 0) positions in [-1, 1]."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        xyz = rng.uniform(-1.0, 1.0, (n, 3)).astype(np.float32)
        xyz[:, 2] = 0.0
        out.append(xyz)
    return out


class BaselineLoop:
    """The hand-written loop: one scatter, then set_offsets + savefig per frame."""

    def __init__(self, first: np.ndarray) -> None:
        self.fig = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
        FigureCanvasAgg(self.fig)
        ax = self.fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(-1, 1)
        ax.set_ylim(-1, 1)
        ax.set_axis_off()
        self.scatter = ax.scatter(first[:, 0], first[:, 1], s=SIZE_PT2, c=[COLOR], linewidths=0)

    def frame(self, xyz: np.ndarray, path: Path) -> None:
        """Move the points and write one PNG file."""
        self.scatter.set_offsets(xyz[:, :2])
        self.fig.savefig(path, dpi=DPI)


class GspLoop:
    """The same frames through a GSP Points visual and MatplotlibRenderer.render."""

    def __init__(self, n: int, compress_level: int = 6) -> None:
        white = bytearray([255, 255, 255, 255])
        self.canvas = Canvas(WIDTH, HEIGHT, DPI, white)
        self.viewport = Viewport(0, 0, WIDTH, HEIGHT, white)
        self.positions = Buffer(n, BufferType.vec3)
        color = Buffer.from_numpy(np.array([[int(c * 255) for c in COLOR]], np.uint8), BufferType.rgba8)
        self.points = Points(
            self.positions,
            Buffer.from_numpy(np.array([SIZE_PT2], np.float32), BufferType.float32),
            color,
            color,
            Buffer.from_numpy(np.array([0.0], np.float32), BufferType.float32),
        )
        self.identity = Buffer.from_numpy(np.eye(4, dtype=np.float32)[None], BufferType.mat4)
        self.camera = Camera(self.identity, self.identity)
        self.renderer = MatplotlibRenderer(self.canvas, png_compress_level=compress_level)

    def frame(self, xyz: np.ndarray, path: Path) -> None:
        """Rewrite the positions buffer, render, write the PNG bytes to a file."""
        self.positions.set_data(xyz, 0, xyz.shape[0])
        png = self.renderer.render([self.viewport], [self.points], [self.identity], [self.camera])
        path.write_bytes(png)


def measure(n: int, count: int) -> dict[str, float]:
    """Median seconds per frame of each loop; the loops take turns frame by frame so that
    whatever else the machine does slows them alike."""
    frames = frames_of(n, count)
    loops: dict[str, Any] = {
        "base": BaselineLoop(frames[0]),
        "gsp": GspLoop(n),
        "gsp_fast_png": GspLoop(n, compress_level=1),
    }
    times: dict[str, list[float]] = {name: [] for name in loops}
    with tempfile.TemporaryDirectory() as tmp:
        for i, xyz in enumerate(frames):
            for name, loop in loops.items():
                t0 = time.perf_counter()
                loop.frame(xyz, Path(tmp) / f"{name}_{i:04d}.png")
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, nargs="+", default=[100_000], help="point counts (default 100000)")
    parser.add_argument("--frames", type=int, default=10, help="frames per loop (default 10)")
    args = parser.parse_args()
    print(f"{WIDTH}×{HEIGHT} px, {args.frames} frames per loop, loops interleaved; time per frame (median)")
    for n in args.points:
        t = measure(n, args.frames)
        base, ours, fast = t["base"], t["gsp"], t["gsp_fast_png"]
        print(
            f"{n:>9,d} points: hand-written {base * 1e3:7.1f} ms | MatplotlibRenderer {ours * 1e3:7.1f} ms, "
            f"ratio {ours / base:4.2f}× (target ≤ 1.10×) | with png_compress_level=1 {fast * 1e3:7.1f} ms, "
            f"ratio {fast / base:4.2f}×"
        )


if __name__ == "__main__":
    main()
