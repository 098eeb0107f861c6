"""Recording whole-buffer writes of several sizes, against the same loop not recorded.

    python benchmarks/recorder_buffer_sizes.py [--sizes 0.32,1,4,12] [--calls 150]

For each size (MB of float32) a buffer is rewritten ``--calls`` times as fast as the script can
(``Buffer.set_data`` of a whole new array, cycling through 8 prepared arrays). Timed in the same
run: the loop without a recorder (the baseline), and the loop recorded to a file, up to
``Recorder.stop()`` returning (the log closed). Ratios above 1 mean recording slows the loop
down by that factor; the MB/s column is the recorded loop's throughput.

This is where the recorder's choice between copying a payload and lending the buffer's storage
(``recorder.pool.LEND_MIN_BYTES``) shows: copies are cheaper for small buffers, loans for big ones.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import recorder  # noqa: E402
from gsp.types import Buffer, BufferType  # noqa: E402


def run(nbytes: int, calls: int, path: str | None) -> float:
    """Seconds for ``calls`` whole writes of an ``nbytes`` buffer (recorded to ``path`` if given)."""
    n = nbytes // 4
    frames = [np.random.default_rng(i).random(n, dtype=np.float32) for i in range(8)]
    buf = Buffer(n, BufferType.float32)
    rec = recorder.Recorder(path) if path is not None else None
    if rec is not None:
        rec.start()
    buf.set_data(frames[0], 0, n)
    if rec is not None:
        rec.flush()
    start = time.perf_counter()
    for i in range(calls):
        buf.set_data(frames[i % 8], 0, n)
    if rec is not None:
        rec.stop()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict[float, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0.32,1,4,12", help="comma-separated sizes in MB")
    parser.add_argument("--calls", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3, help="alternated runs of each (medians)")
    args = parser.parse_args(argv)
    results = {}
    print(f"{'MB':>6} {'plain ms':>9} {'recorded ms':>12} {'recorded MB/s':>14} {'slowdown':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sizes.gsplog")
        for mb in (float(s) for s in args.sizes.split(",")):
            nbytes = int(mb * 1e6) // 4 * 4
            plain, recorded = [], []
            for _ in range(args.repeat):
                plain.append(run(nbytes, args.calls, None))
                recorded.append(run(nbytes, args.calls, path))
            p, r = statistics.median(plain), statistics.median(recorded)
            results[mb] = r / p
            print(f"{mb:6.2f} {p * 1e3:9.1f} {r * 1e3:12.1f} {args.calls * nbytes / r / 1e6:14.0f} {r / p:9.2f}")
    return results


if __name__ == "__main__":
    main()
