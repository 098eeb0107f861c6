"""Recording throughput of a 1M-point animation, against lz4 alone and against Rerun.

    python benchmarks/recorder_throughput.py [--points 1000000] [--frames 12]

Every frame re-sets all positions (``Buffer.set_data``, 12 MB of float32) and renders (null
backend: everything is recorded, nothing drawn). Measured in one run, same bytes for all:

- ours: from the first frame to ``Recorder.stop()`` returning (the file complete on disk),
  the user's own ``Buffer.set_data`` calls included;
- lz4: ``lz4.block.compress`` of each frame's bytes, one after the other (target: ours >= 0.7x);
- plain writes: ``os.write`` of each frame's bytes to a new file, closed (no target: the
  kernel's price for putting the bytes in the page cache, which lz4 alone never pays and every
  recorder does; on a VM, memory the guest has not touched lately makes it swing several-fold);
- Rerun (``pip install rerun-sdk``, skipped when absent): ``rr.init``, ``rr.save(path)``,
  ``rr.log("points", rr.Points3D(positions))`` per frame, up to ``rr.disconnect()`` (which
  flushes the file) (targets: ours >= 1.5x its throughput, our file not larger).

They alternate in one process, ``--repeat`` times, each after an ``os.sync()`` (no run pays
for the writeback of the file the previous one left dirty) and, with ``--warm-mib N``, after N
MiB of memory are filled and freed (see :func:`warm_free_memory`); medians are printed. The data is a
smooth animation (``recorder_common.animation_frames``), not random bits.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import lz4.block
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recorder_common import animation_frames, points_scene  # noqa: E402

import recorder  # noqa: E402


def run_lz4(frames: list[np.ndarray]) -> float:
    """Seconds to compress every frame's bytes with lz4 (the same library the log uses)."""
    start = time.perf_counter()
    for frame in frames:
        lz4.block.compress(memoryview(frame).cast("B"))
    return time.perf_counter() - start


def run_plain_writes(frames: list[np.ndarray], path: str) -> float:
    """Seconds to write every frame's bytes to a new file (replacing ``path``) and close it."""
    if os.path.exists(path):
        os.unlink(path)
    start = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for frame in frames:
            view = memoryview(frame).cast("B")
            while view.nbytes:
                view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    return time.perf_counter() - start


def run_ours(frames: list[np.ndarray], path: str) -> float:
    """Seconds from the first frame to a closed log."""
    n = frames[0].shape[0]
    rec = recorder.Recorder(path)
    rec.start()
    scene = points_scene(n)
    scene.render()
    rec.flush()
    run_ours.first_frame_seq = rec.commands_written + 1  # type: ignore[attr-defined]
    cpu_start = time.thread_time()
    start = run_ours.start = time.perf_counter()  # type: ignore[attr-defined]
    for frame in frames:
        scene.positions.set_data(frame, 0, n)
        scene.render()
    caller_cpu = time.thread_time() - cpu_start
    rec.stop()
    elapsed = time.perf_counter() - start
    writer = rec._writer
    run_ours.cpu = (caller_cpu, writer.cpu_s if writer is not None else 0.0)  # type: ignore[attr-defined]
    if rec.error is not None:
        raise RuntimeError(f"recording failed: {rec.error}")
    return elapsed


def _keyframe_bytes(path: str) -> int:
    """Bytes of keyframe chunks in a log (seek points: Rerun's file has no equivalent)."""
    from sessions import LogReader

    with LogReader(path) as reader:
        return sum(reader.index.entries[i].size for i in reader.index.keyframes)


def run_logwriter_alone(log_path: str, out_path: str, first_frame_seq: int) -> float:
    """Seconds for ``sessions.LogWriter`` alone to write the commands our recording holds.

    The commands are read back from our log first (setup untimed); the frames are then appended
    and the writer closed: the session layer's own cost (encoding, keyframes, lz4, checksums,
    writes), without the recorder and the caller.
    """
    from sessions import LogReader, LogWriter

    with LogReader(log_path) as reader:
        commands = [c for c in reader.commands()]
    setup = [c for c in commands if c.seq < first_frame_seq]
    frames = [c for c in commands if c.seq >= first_frame_seq]
    writer = LogWriter(out_path)
    writer.append_many(setup)
    writer.flush()
    start = time.perf_counter()
    writer.append_many(frames)
    writer.close()
    return time.perf_counter() - start


def run_rerun(frames: list[np.ndarray], path: str) -> float | None:
    """Seconds to log every frame as Points3D into an .rrd file and flush it; None without rerun-sdk.

    ``rr.init`` + ``rr.save`` + ``rr.log("points", rr.Points3D(positions))`` per frame; the timed
    span ends once ``rr.disconnect()`` has flushed the file (the same end point as ours).
    """
    try:
        import rerun as rr
    except ImportError:
        return None
    rr.init("gsplog-bench")
    rr.save(path)
    start = time.perf_counter()
    for i, frame in enumerate(frames):
        rr.set_time("frame", sequence=i)
        rr.log("points", rr.Points3D(frame))
    rr.disconnect()  # flushes and closes the .rrd
    return time.perf_counter() - start


def warm_free_memory(mib: int) -> None:
    """Fill ``mib`` MiB of new memory and free it: on a VM whose host takes free memory back
    (benchmarks/README.md, sixteenth pass), the next run then writes into pages the host backs,
    whichever candidate it is, instead of the first run after a pause paying a host fault per
    page. This evens the runs out; it does not make a recorder faster than plain writes."""
    if mib > 0:
        block = np.empty(mib << 20, np.uint8)
        block.fill(1)
        del block


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3, help="alternated runs of each (medians)")
    parser.add_argument("--warm-mib", type=int, default=0,
                        help="fill and free this much memory before every run of every candidate (0: off)")
    args = parser.parse_args(argv)
    frames = list(animation_frames(args.points, args.frames))
    total = sum(f.nbytes for f in frames)
    results: dict[str, float] = {}
    med = statistics.median
    with tempfile.TemporaryDirectory() as tmp:
        ours_path, rrd_path = os.path.join(tmp, "bench.gsplog"), os.path.join(tmp, "bench.rrd")
        alone_path, plain_path = os.path.join(tmp, "alone.gsplog"), os.path.join(tmp, "plain.bin")
        times: dict[str, list[float]] = {"lz4": [], "writes": [], "ours": [], "alone": [], "rerun": []}
        # Baselines and candidate alternate in one process (the machine is shared): medians.
        # Each starts with no dirty pages: the kernel's writeback of the previous run's file
        # (144 MB at the defaults, on the same 2 cores) is charged to no one.
        def settle() -> None:
            os.sync()
            warm_free_memory(args.warm_mib)

        for _ in range(args.repeat):
            settle()
            times["lz4"].append(run_lz4(frames))
            settle()
            times["writes"].append(run_plain_writes(frames, plain_path))
            settle()
            times["ours"].append(run_ours(frames, ours_path))
            settle()
            t = run_rerun(frames, rrd_path)
            if t is not None:
                times["rerun"].append(t)
        ours_size = os.path.getsize(ours_path)
        keyframe_bytes = _keyframe_bytes(ours_path)
        for _ in range(args.repeat):
            times["alone"].append(run_logwriter_alone(ours_path, alone_path, run_ours.first_frame_seq))  # type: ignore[attr-defined]
        t_lz4, t_ours, t_alone = med(times["lz4"]), med(times["ours"]), med(times["alone"])
        t_writes = med(times["writes"])
        t_rerun = med(times["rerun"]) if times["rerun"] else None
        rerun_size = os.path.getsize(rrd_path) if t_rerun is not None else None

    mb = total / 1e6
    print(f"{args.points} points x {args.frames} frames = {mb:.0f} MB of positions "
          f"(smooth motion: a sine wave drifting over sorted points); medians of {args.repeat} alternated runs")
    print(f"lz4.block.compress alone : {mb / t_lz4:8.1f} MB/s")
    print(f"plain file writes alone  : {mb / t_writes:8.1f} MB/s   (os.write of the same bytes to a new file)")
    print(f"gsplog recorder          : {mb / t_ours:8.1f} MB/s   file {ours_size / 1e6:.1f} MB "
          f"(of which keyframes {keyframe_bytes / 1e3:.1f} kB)")
    # Each run against the lz4 run just before it: on a VM whose host takes memory back, a run
    # that meets cold pages is several times slower than the next (benchmarks/README.md).
    pairs = ", ".join(f"{lz / ours:.2f}" for lz, ours in zip(times["lz4"], times["ours"]))
    print(f"  recorder / lz4, run by run: {pairs}")
    caller_cpu, writer_cpu = run_ours.cpu  # type: ignore[attr-defined]
    print(f"  CPU per frame (last run): caller thread {caller_cpu / args.frames * 1e3:.1f} ms, "
          f"writer thread {writer_cpu / args.frames * 1e3:.1f} ms (whole session)")
    print(f"sessions.LogWriter alone : {mb / t_alone:8.1f} MB/s   (same commands, no recorder, no caller)")
    results["ours_vs_lz4"] = t_lz4 / t_ours
    results["ours_vs_logwriter"] = t_alone / t_ours
    print(f"ratio recorder / LogWriter alone: {results['ours_vs_logwriter']:.2f}")
    results["ours_vs_writes"] = t_writes / t_ours
    print(f"ratio recorder / lz4     : {results['ours_vs_lz4']:.2f}  (target >= 0.7)")
    print(f"ratio recorder / plain file writes: {results['ours_vs_writes']:.2f}")
    if t_rerun is None or rerun_size is None:
        print("rerun-sdk                : skipped (not installed: pip install rerun-sdk)")
    else:
        results["ours_vs_rerun"] = t_rerun / t_ours
        results["size_ours_over_rerun"] = ours_size / rerun_size
        print(f"rerun-sdk (.rrd)         : {mb / t_rerun:8.1f} MB/s   file {rerun_size / 1e6:.1f} MB")
        print(f"ratio recorder / rerun   : {results['ours_vs_rerun']:.2f}  (target >= 1.5)")
        print(f"file size ours / rerun   : {results['size_ours_over_rerun']:.3f}  (target <= 1.0)"
              f"; without our keyframes {(ours_size - keyframe_bytes) / rerun_size:.3f}")
    return results


if __name__ == "__main__":
    main()
