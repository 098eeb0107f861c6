"""MatplotlibRenderer vs a hand-written Matplotlib loop, measured in the same run.

Each frame moves every point and writes a PNG file. The baseline is what one would write by
hand: one ``scatter``, then per frame ``set_offsets`` + ``savefig``. Ours: a GSP ``Points``
visual whose positions buffer is rewritten, then ``renderer.render(...)`` and the PNG bytes
written to a file. Prints per-frame medians and the ratio (target ≤ 1.1×).

    python benchmarks/bench_matplotlib.py                      # 100k points, 10 frames
    python benchmarks/bench_matplotlib.py --points 100000 1000000 --frames 100
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

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


def baseline_loop(frames: list[np.ndarray], folder: Path) -> list[float]:
    """The hand-written loop: one scatter, set_offsets + savefig per frame."""
    fig = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    ax.set_axis_off()
    scatter = ax.scatter(frames[0][:, 0], frames[0][:, 1], s=SIZE_PT2, c=[COLOR], linewidths=0)
    times = []
    for i, xyz in enumerate(frames):
        t0 = time.perf_counter()
        scatter.set_offsets(xyz[:, :2])
        fig.savefig(folder / f"base_{i:04d}.png", dpi=DPI)
        times.append(time.perf_counter() - t0)
    return times


def gsp_loop(frames: list[np.ndarray], folder: Path, compress_level: int = 6) -> list[float]:
    """The same frames through a GSP Points visual and MatplotlibRenderer.render."""
    n = frames[0].shape[0]
    canvas = Canvas(WIDTH, HEIGHT, DPI, bytearray([255, 255, 255, 255]))
    viewport = Viewport(0, 0, WIDTH, HEIGHT, bytearray([255, 255, 255, 255]))
    positions = Buffer(n, BufferType.vec3)
    color = Buffer.from_numpy(np.array([[int(c * 255) for c in COLOR]], np.uint8), BufferType.rgba8)
    points = Points(
        positions,
        Buffer.from_numpy(np.array([SIZE_PT2], np.float32), BufferType.float32),
        color,
        color,
        Buffer.from_numpy(np.array([0.0], np.float32), BufferType.float32),
    )
    identity = Buffer.from_numpy(np.eye(4, dtype=np.float32)[None], BufferType.mat4)
    camera = Camera(identity, identity)
    renderer = MatplotlibRenderer(canvas, png_compress_level=compress_level)
    times = []
    for i, xyz in enumerate(frames):
        t0 = time.perf_counter()
        positions.set_data(xyz, 0, n)
        png = renderer.render([viewport], [points], [identity], [camera])
        (folder / f"gsp_{i:04d}.png").write_bytes(png)
        times.append(time.perf_counter() - t0)
    renderer.close()
    return times


def measure(n: int, count: int, rounds: int) -> dict[str, float]:
    """Median seconds per frame (best round) of each loop, interleaved."""
    frames = frames_of(n, count)
    best: dict[str, float] = {}
    loops: dict[str, Callable[[list[np.ndarray], Path], list[float]]] = {
        "base": baseline_loop,
        "gsp": gsp_loop,
        "gsp_fast_png": lambda f, d: gsp_loop(f, d, compress_level=1),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            for name, loop in loops.items():
                median = statistics.median(loop(frames, Path(tmp)))
                best[name] = min(best.get(name, float("inf")), median)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, nargs="+", default=[100_000], help="point counts (default 100000)")
    parser.add_argument("--frames", type=int, default=10, help="frames per loop (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds, best kept (default 2)")
    args = parser.parse_args()
    print(f"{WIDTH}×{HEIGHT} px, {args.frames} frames, {args.rounds} rounds; seconds per frame (median)")
    for n in args.points:
        t = measure(n, args.frames, args.rounds)
        base, ours, fast = t["base"], t["gsp"], t["gsp_fast_png"]
        print(
            f"{n:>9,d} points: hand-written {base * 1e3:7.1f} ms | MatplotlibRenderer {ours * 1e3:7.1f} ms, "
            f"ratio {ours / base:4.2f}× (target ≤ 1.10×) | with png_compress_level=1 {fast * 1e3:7.1f} ms, "
            f"ratio {fast / base:4.2f}×"
        )


if __name__ == "__main__":
    main()
