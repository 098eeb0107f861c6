"""Small recorded calls per second, with the cost of each layer measured in the same run.

    python benchmarks/recorder_small_calls.py [--calls 200000]

Two kinds of small call: ``viewport.set_x(i)`` and ``buffer.set_data(<16 bytes>, 0, 1)`` (a
4-float vec4). For each it prints calls/s of:

- plain: the call with nobody observing (the seam's wrappers are not even installed);
- seam: a do-nothing observer registered (the capture seam's own cost);
- recorder, caller side: what the caller's thread spends per call while recording;
- LogWriter alone: the same commands appended to ``sessions.LogWriter`` and closed, no recorder;
- recorder, overall: calls made and the log closed on disk (target: >= 300 000/s), with the C
  modules (``gsp._seam``, ``recorder._hotpath``, ``sessions._rows``, ``sessions._ledger``) and, as
  the baseline of the same run, with their Python twins only; each the median of ``--repeat``
  alternated runs.

``--ledger-pairs N`` prints, instead, N recordings with the keyframe ledger's rows noted in
Python and N in C (``sessions._ledger``), in turn, every other C module on: the A/B of that
module alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import recorder  # noqa: E402
from gsp import capture  # noqa: E402
from gsp.core import Viewport  # noqa: E402
from gsp.types import Buffer, BufferType  # noqa: E402
from recorder import hotpath  # noqa: E402
from sessions import codec, ledger  # noqa: E402
from sessions.command import Command  # noqa: E402
from sessions.writer import LogWriter  # noqa: E402

WHITE = bytearray([255, 255, 255, 255])
# The C modules as this process found them (built, and not switched off by their variables).
_C_ROWS = codec.ROWS_BACKEND == "c"
_C_HOTPATH = hotpath.load() is not None
_C_LEDGER = ledger.LEDGER_BACKEND == "c"


class _Noop:
    def on_call(self, target: Any, op: str, args: Any, kwargs: Any) -> None:
        pass


def _loop(kind: str, n: int) -> Callable[[], None]:
    if kind == "set_x":
        vp = Viewport(0, 0, 10, 10, WHITE)

        def run() -> None:
            for i in range(n):
                vp.set_x(i)
    else:
        buf = Buffer(1, BufferType.vec4)
        data = bytearray(np.arange(4, dtype=np.float32).tobytes())

        def run() -> None:
            for _ in range(n):
                buf.set_data(data, 0, 1)
    return run


def _timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _record_once(kind: str, n: int, path: str) -> tuple[float, float]:
    """(caller-thread calls/s, overall calls/s) of one recording, on the paths switched on now."""
    rec = recorder.Recorder(path, max_queue_commands=n + 10)
    rec.start()
    run = _loop(kind, n)
    rec.flush()
    start = time.perf_counter()
    run()
    caller = time.perf_counter() - start
    rec.stop()
    overall = time.perf_counter() - start
    return n / caller, n / overall


def _recorded(kind: str, n: int, path: str, paths: str) -> tuple[float, float]:
    """:func:`_record_once` on the C or the Python paths."""
    saved = os.environ.get(hotpath.ENV_NO_C_HOTPATH)
    os.environ[hotpath.ENV_NO_C_HOTPATH] = "" if paths == "c" and _C_HOTPATH else "1"
    codec.use_rows("c" if paths == "c" and _C_ROWS else "python")
    ledger.use_ledger("c" if paths == "c" and _C_LEDGER else "python")
    capture.use_seam("python" if paths == "python" else None)
    try:
        return _record_once(kind, n, path)
    finally:
        if saved is None:
            os.environ.pop(hotpath.ENV_NO_C_HOTPATH, None)
        else:
            os.environ[hotpath.ENV_NO_C_HOTPATH] = saved
        if _C_ROWS:
            codec.use_rows("c")
        if _C_LEDGER:
            ledger.use_ledger("c")
        capture.use_seam(None)


def measure(kind: str, n: int, tmp: str, repeat: int = 3) -> dict[str, float]:
    """calls/s of each layer for one kind of call."""
    out: dict[str, float] = {}
    run = _loop(kind, n)
    out["plain"] = n / _timed(run)
    noop = _Noop()
    capture.add_observer(noop)
    try:
        out["seam"] = n / _timed(run)
    finally:
        capture.remove_observer(noop)

    runs: dict[str, list[tuple[float, float]]] = {"c": [], "python": []}
    for _ in range(repeat):
        for paths in ("c", "python"):
            runs[paths].append(_recorded(kind, n, os.path.join(tmp, f"{kind}-{paths}.gsplog"), paths))
    out["caller"] = statistics.median(r[0] for r in runs["c"])
    out["overall"] = statistics.median(r[1] for r in runs["c"])
    out["overall_python"] = statistics.median(r[1] for r in runs["python"])

    # The same commands through the LogWriter alone (the sessions layer's own cost).
    if kind == "set_x":
        cmds = [Command(i + 1, i, "Viewport.set_x", "v" * 36, (i,), {}) for i in range(n)]
    else:
        # the recorder logs small buffer writes as bytes (immutable: no copy to protect)
        cmds = [Command(i + 1, i, "Buffer.set_data", "b" * 36, (bytes(16), 0, 1), {}) for i in range(n)]
    writer = LogWriter(os.path.join(tmp, f"{kind}-alone.gsplog"), keyframes=False)

    def write_all() -> None:
        for cmd in cmds:
            writer.append(cmd)
        writer.close()

    out["logwriter"] = n / _timed(write_all)
    return out


def ledger_pairs(kind: str, n: int, tmp: str, pairs: int) -> tuple[list[float], list[float]]:
    """Overall calls/s of ``pairs`` recordings with the ledger's rows in Python and in C, in turn."""
    runs: dict[str, list[float]] = {"python": [], "c": []}
    try:
        for _ in range(pairs):
            for backend in ("python", "c"):
                ledger.use_ledger(backend)
                runs[backend].append(_record_once(kind, n, os.path.join(tmp, f"{kind}-ledger.gsplog"))[1])
    finally:
        ledger.use_ledger("c" if _C_LEDGER else "python")
    return runs["python"], runs["c"]


def _print_ledger_pairs(calls: int, pairs: int) -> None:
    if not _C_LEDGER:
        raise SystemExit("sessions._ledger is not built or GSP_NO_C_LEDGER is set: nothing to compare")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("set_x", "set_data16"):
            python, c = ledger_pairs(kind, calls, tmp, pairs)
            ratio = statistics.median(a / b for a, b in zip(c, python, strict=True))
            print(f"{kind:10s} calls/s, ledger rows in Python: median {statistics.median(python):,.0f} "
                  f"({min(python):,.0f}-{max(python):,.0f}); in C: median {statistics.median(c):,.0f} "
                  f"({min(c):,.0f}-{max(c):,.0f}); C / Python, median of pairs {ratio:.2f}")


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="alternated recordings per path (median)")
    parser.add_argument("--ledger-pairs", type=int, default=0, metavar="N",
                        help="only the A/B of sessions._ledger: N recordings on each path, in turn")
    args = parser.parse_args(argv)
    if args.ledger_pairs:
        _print_ledger_pairs(args.calls, args.ledger_pairs)
        return {}
    c_modules = (f"gsp._seam {capture.seam_backend()}, recorder._hotpath {'on' if _C_HOTPATH else 'off'}, "
                 f"sessions._rows {'on' if _C_ROWS else 'off'}, sessions._ledger {'on' if _C_LEDGER else 'off'}")
    print(f"C modules: {c_modules}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("set_x", "set_data16"):
            r = results[kind] = measure(kind, args.calls, tmp, args.repeat)
            print(f"{kind:10s} ({args.calls} calls)")
            print(f"  plain call (no observer)      : {r['plain']:>10,.0f} /s")
            print(f"  capture seam + no-op observer : {r['seam']:>10,.0f} /s")
            print(f"  recorder, caller thread only  : {r['caller']:>10,.0f} /s")
            print(f"  LogWriter alone (no recorder) : {r['logwriter']:>10,.0f} /s")
            print(f"  recorder overall (log closed) : {r['overall']:>10,.0f} /s   (target >= 300,000)")
            print(f"  same, Python paths only       : {r['overall_python']:>10,.0f} /s   "
                  f"(C / Python {r['overall'] / r['overall_python']:.2f})")
            print(f"  overall / seam-only ratio     : {r['overall'] / r['seam']:.2f}")
    return results


if __name__ == "__main__":
    main()
