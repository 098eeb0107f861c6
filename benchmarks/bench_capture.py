"""Cost of the capture seam on a plain setter.

Target: ``viewport.set_x(3)`` with no observer costs < 5 % more than before any observer was
ever registered (the seam installs wrappers on the first observer and removes them with the
last, so it should be ~0 %).

- ``python benchmarks/bench_capture.py``: alternates fresh processes that time set_x never
  observed and after an observer came and left (best of each); prints the overhead.
- ``pytest benchmarks/bench_capture.py --benchmark-only``: the same three cases as
  pytest-benchmark figures (group "capture-seam").
"""

from __future__ import annotations

import subprocess
import sys
import timeit
from typing import Any

from gsp import capture
from gsp.constants import Constants
from gsp.core import Viewport


class _NullObserver:
    def on_call(self, target: Any, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        pass


def _viewport() -> Viewport:
    return Viewport(0, 0, 100, 100, Constants.Color.white)


def _time_set_x(number: int = 200_000, repeat: int = 9) -> float:
    """Best-of-``repeat`` seconds per call of ``viewport.set_x(3)``."""
    vp = _viewport()
    set_x = vp.set_x
    times = timeit.repeat(lambda: set_x(3), number=number, repeat=repeat)
    return min(times) / number


def _child(mode: str) -> None:
    """Print ns/call of set_x in this fresh process: ``never`` observed, or ``after`` an observer left."""
    if mode == "after":
        observer = _NullObserver()
        capture.add_observer(observer)
        capture.remove_observer(observer)
    elif mode == "observed":
        capture.add_observer(_NullObserver())
    _time_set_x(number=100_000, repeat=3)  # warm-up: specialise the bytecode, wake the CPU
    print(_time_set_x() * 1e9)


def main(pairs: int = 4) -> None:
    """Alternate fresh processes (never observed / after install+uninstall) so load drift hits both alike."""
    results: dict[str, list[float]] = {"never": [], "after": [], "observed": []}
    for i in range(pairs):
        for mode in ("never", "after") if i % 2 == 0 else ("after", "never"):
            out = subprocess.run([sys.executable, __file__, "--child", mode], capture_output=True, text=True, check=True)
            results[mode].append(float(out.stdout))
    out = subprocess.run([sys.executable, __file__, "--child", "observed"], capture_output=True, text=True, check=True)
    results["observed"].append(float(out.stdout))
    print(f"set_x never observed      : {min(results['never']):8.1f} ns/call (best of {pairs} processes)")
    print(f"set_x after observer left : {min(results['after']):8.1f} ns/call (best of {pairs} processes)")
    print(f"set_x with one observer   : {min(results['observed']):8.1f} ns/call")
    ratio = min(results["after"]) / min(results["never"])
    print(f"overhead after install/uninstall: {100 * (ratio - 1):+.1f} % (target < 5 %)")


# ---- pytest-benchmark -------------------------------------------------------------------------
def test_bench_set_x_no_observer_after_uninstall(benchmark: Any) -> None:
    benchmark.group = "capture-seam"
    observer = _NullObserver()
    capture.add_observer(observer)
    capture.remove_observer(observer)
    vp = _viewport()
    benchmark(vp.set_x, 3)
    assert not hasattr(Viewport.__dict__["set_x"], "__gsp_original__")


def test_bench_set_x_unwrapped_original(benchmark: Any) -> None:
    benchmark.group = "capture-seam"
    vp = _viewport()
    original = getattr(Viewport.__dict__["set_x"], "__gsp_original__", Viewport.__dict__["set_x"])
    benchmark(original, vp, 3)


def test_bench_set_x_with_observer(benchmark: Any) -> None:
    benchmark.group = "capture-seam"
    observer = _NullObserver()
    capture.add_observer(observer)
    try:
        vp = _viewport()
        benchmark(vp.set_x, 3)
    finally:
        capture.remove_observer(observer)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(sys.argv[2])
    else:
        main()
