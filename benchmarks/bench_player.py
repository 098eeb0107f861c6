"""Replay speed, measured against baselines in the same run.

1. Replaying an animation of N moving points into PNG files (``player.replay(log, "matplotlib",
   folder)``: read, decode, rebuild the scene, draw, write) vs a hand-written Matplotlib loop
   over the same positions (one ``scatter``, then ``set_offsets`` + ``savefig`` per frame).
   Target: ratio ≤ 1.1×.
2. Replaying the same log into the ``null`` backend vs the reader alone (``for cmd in
   LogReader(log).commands()``). Target: reader time / replay time ≥ 0.7×.

The session is recorded first with the real recorder (into the null backend, so recording does
not draw). Whole-loop wall times, best of ``--rounds`` interleaved rounds.

    python benchmarks/bench_player.py                                  # 100k points, 20 frames
    python benchmarks/bench_player.py --points 100000 1000000 --frames 100
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
from bench_matplotlib import COLOR, DPI, HEIGHT, SIZE_PT2, WIDTH, BaselineLoop, frames_of  # noqa: E402

import recorder  # noqa: E402
from gsp.core import Camera, Canvas, Viewport  # noqa: E402
from gsp.types import Buffer, BufferType  # noqa: E402
from gsp.utils.renderer_registry import RendererRegistry  # noqa: E402
from gsp.visuals import Points  # noqa: E402
from player import replay  # noqa: E402
from sessions import LogReader  # noqa: E402

WHITE = bytearray([255, 255, 255, 255])


def record_session(path: Path, frames: list[np.ndarray]) -> None:
    """Record the animation with the real recorder (drawn by the null backend)."""
    n = frames[0].shape[0]
    rgba = np.array([[round(c * 255) for c in COLOR]], np.uint8)
    with recorder.record(path):
        canvas = Canvas(WIDTH, HEIGHT, DPI, WHITE)
        viewport = Viewport(0, 0, WIDTH, HEIGHT, WHITE)
        positions = Buffer(n, BufferType.vec3)
        points = Points(
            positions,
            Buffer.from_numpy(np.array([SIZE_PT2], np.float32), BufferType.float32),
            Buffer.from_numpy(rgba, BufferType.rgba8),
            Buffer.from_numpy(rgba, BufferType.rgba8),
            Buffer.from_numpy(np.array([0.0], np.float32), BufferType.float32),
        )
        identity = Buffer.from_numpy(np.eye(4, dtype=np.float32)[None], BufferType.mat4)
        camera = Camera(identity, identity)
        renderer = RendererRegistry.create_renderer("null", canvas)
        for xyz in frames:
            positions.set_data(xyz, 0, n)
            renderer.render([viewport], [points], [identity], [camera])


def baseline_loop(frames: list[np.ndarray], folder: Path) -> None:
    """The hand-written loop of bench_matplotlib: one scatter, set_offsets + savefig per frame."""
    loop = BaselineLoop(frames[0])
    for i, xyz in enumerate(frames):
        loop.frame(xyz, folder / f"base_{i + 1:06d}.png")


def reader_alone(path: Path) -> int:
    """Read and decode every command, doing nothing with them."""
    count = 0
    with LogReader(path) as reader:
        for _ in reader.commands():
            count += 1
    return count


def _best(rounds: int, jobs: dict[str, Callable[[], object]]) -> dict[str, float]:
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, job in jobs.items():
            t0 = time.perf_counter()
            job()
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - t0)
    return best


def measure(n: int, count: int, rounds: int, tmp: Path, png: bool = True) -> dict[str, float]:
    """Best whole-loop seconds of each job for ``n`` points and ``count`` frames."""
    frames = frames_of(n, count)
    log = tmp / f"points_{n}.gsplog"
    record_session(log, frames)
    base_dir, replay_dir = tmp / "base", tmp / "replay"

    def fresh(folder: Path) -> Path:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        return folder

    def run_replay() -> None:
        result = replay(log, "matplotlib", fresh(replay_dir), progress=False)
        assert result.frames == count, result

    def run_null() -> None:
        result = replay(log, "null", progress=False, window=False)
        assert result.frames == count, result

    jobs: dict[str, Callable[[], object]] = {"reader": lambda: reader_alone(log), "null": run_null}
    if png:
        jobs.update({"baseline": lambda: baseline_loop(frames, fresh(base_dir)), "replay": run_replay})
    times = _best(rounds, jobs)
    times["log_mb"] = log.stat().st_size / 1e6
    log.unlink()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, nargs="+", default=[100_000], help="point counts (default 100000)")
    parser.add_argument("--frames", type=int, default=20, help="frames of the animation (default 20)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds, best kept (default 2)")
    parser.add_argument("--null-only", action="store_true", help="only the null-backend vs reader comparison")
    args = parser.parse_args()
    print(f"{WIDTH}x{HEIGHT} px, {args.frames} frames, best of {args.rounds} rounds (whole loops)")
    with tempfile.TemporaryDirectory() as folder:
        for n in args.points:
            t = measure(n, args.frames, args.rounds, Path(folder), png=not args.null_only)
            per = 1e3 / args.frames
            print(f"{n:>9,d} points, {t['log_mb']:.0f} MB log")
            if not args.null_only:
                print(
                    f"  hand-written Matplotlib {t['baseline'] * per:7.1f} ms/frame | replay -> PNG files "
                    f"{t['replay'] * per:7.1f} ms/frame | ratio {t['replay'] / t['baseline']:4.2f}x (target <= 1.10x)"
                )
            print(
                f"  reader alone {t['reader'] * per:7.2f} ms/frame | replay -> null {t['null'] * per:7.2f} ms/frame | "
                f"speed ratio {t['reader'] / t['null']:4.2f}x (target >= 0.70x)"
            )

if __name__ == "__main__":
    main()
