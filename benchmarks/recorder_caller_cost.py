"""What the caller's thread pays to record a big ``Buffer.set_data``, against a plain copy.

    python benchmarks/recorder_caller_cost.py [--sizes 1,4,16] [--repeat 15]

For each size (MB of float32) it times, in the same run, the median of:

- copy: ``array.copy()`` of the bytes passed (the floor: the recorder must copy them);
- set_data, not recording: gsp's own cost (validation + copy into the buffer), on a buffer the
  recorder never sees (the seam is paused around it);
- set_data, recording: the same call with the recorder observing (writer thread running).

The recorder's overhead is (recording - not recording), measured with the writer thread idle;
target: overhead <= 2x the plain copy. The three are timed alternately, and each call follows
a ``Recorder.flush()``: the caller has just waited for the writer, so it runs with the same
caches for all three (on the 2-core VM a thread that has just slept copies 1 MB in about 2.5x
the time of a hot loop; comparing a recorded call after a wait with baselines timed in a hot
loop measured the VM, not the recorder). The hot-loop baselines are printed too, for reference.
Back-to-back recorded calls are also timed: there the writer's GIL-holding work on the previous
calls (encoding, copies) competes. The queue is large enough that backpressure never blocks
during the measurement.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import recorder  # noqa: E402
from gsp.capture import paused  # noqa: E402
from gsp.types import Buffer, BufferType  # noqa: E402


def _median_time(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(mb: float, repeat: int, tmp: str) -> dict[str, float]:
    """Seconds per call of each variant for ``mb`` MB of float32."""
    n = int(mb * 1e6 / 4)
    data = np.random.default_rng(0).random(n, dtype=np.float32)
    unseen = Buffer(n, BufferType.float32)  # written only with the seam paused: never recorded
    buf = Buffer(n, BufferType.float32)

    def plain_set_data() -> None:
        unseen.set_data(data, 0, n)

    def recorded_set_data() -> None:
        buf.set_data(data, 0, n)

    out = {"copy_hot": _median_time(data.copy, repeat), "plain_hot": _median_time(plain_set_data, repeat)}
    rec = recorder.Recorder(os.path.join(tmp, f"cost{mb}.gsplog"), max_queue_bytes=int(mb * 1e6 * (repeat + 2)))
    rec.start()
    try:
        buf.set_data(data, 0, n)  # first reference: snapshot and new, outside the timing
        rec.flush()
        # Isolated: the writer has finished the previous call (its GIL-holding work is not ours),
        # and every variant starts right after the same wait for it.
        variants = (("copy", data.copy, paused), ("plain", plain_set_data, paused),
                    ("recorded", recorded_set_data, nullcontext))
        times: dict[str, list[float]] = {name: [] for name, _, _ in variants}
        for _ in range(repeat):
            for name, fn, context in variants:
                rec.flush()
                with context():
                    start = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - start)
        out.update({name: statistics.median(values) for name, values in times.items()})
        # Back to back: the writer thread encodes the previous calls meanwhile (GIL contention).
        out["back_to_back"] = _median_time(recorded_set_data, repeat)
    finally:
        rec.stop()
    return out


def main(argv: list[str] | None = None) -> dict[float, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,4,16", help="comma-separated sizes in MB")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'MB':>5} {'copy ms':>9} {'set_data ms':>12} {'recorded ms':>12} {'overhead/copy':>14}"
              f" {'back-to-back ms':>16} {'hot loop: copy, set_data ms':>28}")
        for mb in (float(s) for s in args.sizes.split(",")):
            r = results[mb] = measure(mb, args.repeat, tmp)
            r["overhead_over_copy"] = (r["recorded"] - r["plain"]) / r["copy"]
            print(
                f"{mb:5.0f} {r['copy'] * 1e3:9.2f} {r['plain'] * 1e3:12.2f} {r['recorded'] * 1e3:12.2f} "
                f"{r['overhead_over_copy']:14.2f} {r['back_to_back'] * 1e3:16.2f}"
                f" {r['copy_hot'] * 1e3:19.2f}, {r['plain_hot'] * 1e3:.2f}   (target: overhead/copy <= 2)"
            )
    return results


if __name__ == "__main__":
    main()
