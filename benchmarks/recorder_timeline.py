"""Where the time of a big-frame recording goes, thread by thread: a timeline of one recording.

    python benchmarks/recorder_timeline.py [--points 1000000] [--frames 12] [--runs 3]

A diagnostic, not a benchmark with a target: it records the animation of
``recorder_throughput.py`` ``--runs`` times and wraps the steps a frame goes through with
``time.perf_counter`` (the recording is ``recorder_throughput.run_ours``):

- ``set_data``: the user's ``Buffer.set_data`` (caller's thread), recorder included;
- ``new storage``: inside it, a copy on write into a storage the buffer had to allocate (all its
  others were lent); ``loan wait``: the recorder waiting for a loan to come back;
- ``checksum``: xxh3 of a chunk's payload (writer thread), which ends the chunk's encoding;
- ``writev``: the chunk written into the file (file-writes thread).

It prints, for each run, its span and each step's count, total and longest single call (runs
swing on a VM whose memory the host takes back: see benchmarks/README.md, sixteenth pass); then,
for the last run, each step over 0.2 ms as a line (start, end and length in ms from the first
frame). The wrapping costs a few microseconds a step. The seventh pass found the fresh storages
and the writer's 5 ms poll this way (benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recorder_common import animation_frames  # noqa: E402
from recorder_throughput import run_ours  # noqa: E402

import recorder.pool  # noqa: E402
import sessions.background  # noqa: E402
import sessions.chunk  # noqa: E402
from gsp.types import Buffer, buffer  # noqa: E402

Event = tuple[str, str, float, float]  # step, thread, start, end


def instrument(events: list[Event]) -> Callable[[], None]:
    """Wrap the steps named in the module docstring; returns the function that unwraps them."""
    undo: list[Callable[[], None]] = []

    def wrap(owner: Any, name: str, step: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                events.append((step, threading.current_thread().name, start, time.perf_counter()))

        setattr(owner, name, timed)
        undo.append(lambda: setattr(owner, name, original))

    wrap(Buffer, "set_data", "set_data")
    wrap(buffer, "copy_into_new_storage", "new storage")
    wrap(recorder.pool.LoanBook, "lend", "loan wait")
    wrap(sessions.chunk, "checksum", "checksum")
    wrap(sessions.background, "writev_all", "writev")

    def restore() -> None:
        for step in reversed(undo):
            step()

    return restore


STEPS = ("set_data", "new storage", "loan wait", "checksum", "writev")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--runs", type=int, default=3, help="recordings; the last one is shown step by step")
    args = parser.parse_args(argv)
    frames = list(animation_frames(args.points, args.frames))
    megabytes = sum(f.nbytes for f in frames) / 1e6
    events: list[Event] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "timeline.gsplog")
        for run in range(args.runs):
            os.sync()
            events = []
            restore = instrument(events)
            try:
                elapsed = run_ours(frames, path)
            finally:
                restore()
            first = run_ours.start  # type: ignore[attr-defined]  # this run's first frame
            totals: dict[str, float] = defaultdict(float)
            longest: dict[str, float] = defaultdict(float)
            counts: dict[str, int] = defaultdict(int)
            for step, _, start, end in events:
                if end >= first:
                    totals[step] += end - start
                    longest[step] = max(longest[step], end - start)
                    counts[step] += 1
            steps = ", ".join(f"{step} {counts[step]} x {totals[step] * 1e3:.1f} (longest {longest[step] * 1e3:.1f})"
                              for step in STEPS if counts[step])
            print(f"run {run + 1}: {megabytes / elapsed:.0f} MB/s, {elapsed * 1e3:.1f} ms; ms in all: {steps}")
    shown = [e for e in events if e[3] - e[2] > 2e-4 and e[3] >= first]
    print(f"{'step':12} {'thread':22} {'start':>8} {'end':>8} {'ms':>6}")
    for step, thread, start, end in sorted(shown, key=lambda e: e[2]):
        print(f"{step:12} {thread[:22]:22} {(start - first) * 1e3:8.2f} {(end - first) * 1e3:8.2f} "
              f"{(end - start) * 1e3:6.2f}")
    print(f"first frame to the log closed: {elapsed * 1e3:.1f} ms for {args.frames} frames (its totals: the last run line)")


if __name__ == "__main__":
    main()
