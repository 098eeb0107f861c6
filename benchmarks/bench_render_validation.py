"""Cost of ``render``'s validation: a 1M-point Points visual on the null renderer (draws nothing).

``python benchmarks/bench_render_validation.py [--points 1000000] [--repeat 200]`` prints the
median and best microseconds per ``render`` in three cases:

- ``unchanged``: the same buffers every frame (per-point sizes and edge widths);
- ``sizes rewritten``: ``sizes.set_data`` of all N sizes before each render (timed: render only);
- ``positions rewritten``: ``positions.set_data`` before each render (no value rule on positions).

Run it with ``PYTHONPATH`` on two trees to compare them (it uses nothing newer than
``benchmarks/recorder_common.points_scene``).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from benchmarks.recorder_common import points_scene


def _time(repeat: int, before: object, render: object) -> list[float]:
    out = []
    for i in range(repeat):
        before(i)  # type: ignore[operator]
        start = time.perf_counter()
        render()  # type: ignore[operator]
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    n = args.points
    scene = points_scene(n)
    sizes, positions = scene.points.get_sizes(), scene.positions
    rng = np.random.default_rng(0)
    size_frames = [rng.random(n, dtype=np.float32) * 100 for _ in range(2)]
    pos_frames = [rng.random((n, 3), dtype=np.float32) for _ in range(2)]
    cases = {
        "unchanged": lambda i: None,
        "sizes rewritten": lambda i: sizes.set_data(size_frames[i % 2], 0, n),
        "positions rewritten": lambda i: positions.set_data(pos_frames[i % 2], 0, n),
    }
    for name, before in cases.items():
        _time(5, before, scene.render)  # warm up
        times = _time(args.repeat, before, scene.render)
        print(f"{name:20s} median {statistics.median(times) * 1e6:9.1f} us   best {min(times) * 1e6:9.1f} us")


if __name__ == "__main__":
    main()
