"""Backpressure: a caller producing data faster than the writer stays within the queue limit.

    python benchmarks/recorder_backpressure.py [--mb 16] [--calls 48] [--limits 32,256]

Each call re-sets a buffer of ``--mb`` MB of float32 (new values every call) as fast as it can;
the writer thread must encode, compress and write each one. For each queue limit it prints the
most payload ever queued, the growth of the process's peak RSS, the time the caller spent
blocked, and the throughput. Without a limit the queue (and memory) would grow by the
difference between the caller's and the writer's speeds, without bound.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import recorder  # noqa: E402
from gsp.types import Buffer, BufferType  # noqa: E402


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def measure(mb: float, calls: int, limit_mb: float, tmp: str) -> dict[str, float]:
    """Figures for one queue limit."""
    n = int(mb * 1e6 / 4)
    frames = [np.random.default_rng(k).random(n, dtype=np.float32) for k in range(2)]
    rss_before = _max_rss_mb()
    rec = recorder.Recorder(os.path.join(tmp, f"bp{limit_mb}.gsplog"), max_queue_bytes=int(limit_mb * 1e6))
    rec.start()
    buf = Buffer(n, BufferType.float32)
    start = time.perf_counter()
    for k in range(calls):
        buf.set_data(frames[k % 2], 0, n)
    caller = time.perf_counter() - start
    rec.stop()
    total = time.perf_counter() - start
    return {
        "peak_queued_mb": rec.queue.peak_bytes / 1e6,
        "rss_growth_mb": _max_rss_mb() - rss_before,
        "blocked_s": rec.queue.blocked_s,
        "blocked_count": rec.queue.blocked_count,
        "caller_s": caller,
        "total_s": total,
        "mb_per_s": mb * calls / total,
    }


def _in_fresh_process(mb: float, calls: int, limit: float) -> dict[str, float]:
    # One process per limit: peak RSS is a per-process high-water mark.
    out = subprocess.run(
        [sys.executable, __file__, "--mb", str(mb), "--calls", str(calls), "--one", str(limit)],
        check=True, capture_output=True, text=True,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> dict[float, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=16)
    parser.add_argument("--calls", type=int, default=48)
    parser.add_argument("--limits", default="32,256", help="queue limits to try, MB")
    parser.add_argument("--one", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one is not None:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(measure(args.mb, args.calls, args.one, tmp)))
        return {}
    results = {}
    print(f"{args.calls} calls x {args.mb:.0f} MB = {args.calls * args.mb:.0f} MB produced as fast as possible")
    print("(peak RSS growth: from before the recorder started; the writer's own working set is included)")
    for limit in (float(x) for x in args.limits.split(",")):
        r = results[limit] = _in_fresh_process(args.mb, args.calls, limit)
        print(
            f"limit {limit:6.0f} MB: peak queued {r['peak_queued_mb']:7.1f} MB, peak RSS +{r['rss_growth_mb']:7.1f} MB, "
            f"caller blocked {r['blocked_s']:5.2f} s of {r['caller_s']:5.2f} s ({int(r['blocked_count'])} waits), "
            f"{r['mb_per_s']:6.1f} MB/s"
        )
        assert r["peak_queued_mb"] <= max(limit, args.mb) + 1e-6, "queue exceeded its limit"
    return results


if __name__ == "__main__":
    main()
