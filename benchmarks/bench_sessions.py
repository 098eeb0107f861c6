"""Session-log speed: decoding vs lz4, the byte-shuffle filter, and seeking in a large log.

- ``python benchmarks/bench_sessions.py`` prints three reports with ratios against baselines
  measured in the same run:
  1. decoding a chunk of float32 commands into numpy arrays vs ``lz4.block.decompress`` of the
     same payload (target: >= 0.8x lz4's speed; decoding includes the checksum), on one thread
     and on the default decode threads (sessions/decode_threads.py), the two run alternately
     (median of the paired ratios);
     a byte-shuffled chunk is decoded with the C kernel and with the numpy fallback in turn;
     then the per-command cost of decoding small commands (k commands/s), chunks of many
     mid-sized arrays against lz4, reading a log of scalar setters with the garbage
     collector on, paused while decoding or not, and a session recorded from
     ``examples/animation.py`` (bytearray payloads, as GSP programs pass them) read whole, in
     memory and from the file (mapped, then read); ``--only loops``: on one thread, the C loop
     over a chunk's blocks against the Python loop;
  2. the shuffle filter on smooth and random float32 data (size and speed, with and without),
     and the shuffle/unshuffle kernels alone in GB/s (C, numpy, and a plain copy of the same
     bytes as the memory-bandwidth baseline);
  3. seek to random times in a log of ``--size-mb`` (default 200; ``--size-mb 1024`` for the
     1 GB figure): open + keyframe + replay to the target into a SceneState, vs replay from the
     start to the same target (targets: <= 100 ms median at 1 GB, >= 10x faster).
- ``pytest benchmarks/bench_sessions.py --benchmark-only``: decode and lz4 as pytest-benchmark
  figures (group "sessions-decode"; "sessions-shuffle" for the shuffled chunk, both backends).
"""

from __future__ import annotations

import argparse
import os
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lz4.block
import numpy as np

from sessions import Command, LogReader, LogWriter, Ref, decode_chunk, decode_threads, encode_chunk
from sessions import shuffle as shuffle_filter
from sessions.blocks import use_c_loop
from sessions.chunk import HEADER_SIZE, ChunkFlags, ChunkKind, peek_chunk_header
from sessions.reader import use_map


def backends() -> list[str]:
    """The shuffle implementations this build has: "c" (when compiled) and "numpy"."""
    try:
        from sessions import _shuffle  # noqa: F401
    except ImportError:
        return ["numpy"]
    return ["c", "numpy"]


def best_of(fn: Callable[[], Any], repeat: int = 7) -> float:
    """Best wall time of ``repeat`` runs (seconds)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def paired(baseline: Callable[[], Any], candidate: Callable[[], Any], pairs: int = 21) -> tuple[float, float, float]:
    """Median times of ``baseline`` and ``candidate`` run alternately ``pairs`` times, and the
    median of the per-pair speed ratios (baseline time / candidate time). Pairs share the
    machine's state of the moment; the best of separate runs favoured the steadier of the two
    (a threaded decode on the lent host: 0.72x best-of-7, 0.97x as median of paired runs)."""
    base, cand = [], []
    for _ in range(pairs):
        start = time.perf_counter()
        baseline()
        middle = time.perf_counter()
        candidate()
        end = time.perf_counter()
        base.append(middle - start)
        cand.append(end - middle)
    ratio = statistics.median(b / c for b, c in zip(base, cand, strict=True))
    return statistics.median(base), statistics.median(cand), ratio


def paired_on_each_thread_count(baseline: Callable[[], Any], candidate: Callable[[], Any],
                                pairs: int) -> list[tuple[int, float, float]]:
    """(threads, candidate's median seconds, median ratio) of :func:`paired` with decoding on one
    thread, then on the default number (when that is more)."""
    default_threads = decode_threads.threads()
    results = []
    for threads in sorted({1, default_threads}):
        decode_threads.set_threads(threads)
        try:
            _, seconds, ratio = paired(baseline, candidate, pairs)
        finally:
            decode_threads.set_threads(default_threads)
        results.append((threads, seconds, ratio))
    return results


# --------------------------------------------------------------------------------------------
# 1. decode vs lz4
# --------------------------------------------------------------------------------------------
def decode_chunk_bytes(kind: str, total_mb: int = 32, arrays: int = 32) -> bytes:
    """A chunk of ``arrays`` float32 Buffer.set_data commands: random, quantized, smooth or sorted
    data (sorted uniform values: lz4 only shrinks them byte-shuffled, so "auto" shuffles)."""
    rng = np.random.default_rng(0)
    n = total_mb * (1 << 20) // 4 // arrays
    cmds = []
    for i in range(arrays):
        if kind == "smooth":
            data = np.cumsum(rng.normal(0, 1e-3, n)).astype(np.float32)
        elif kind == "sorted":
            data = np.sort(rng.random(n, dtype=np.float32))
        elif kind == "quantized":  # few distinct values: plain lz4 compresses it
            data = (rng.integers(0, 16, n) / 16).astype(np.float32)
        else:
            data = rng.random(n, dtype=np.float32)
        cmds.append(Command(i + 1, i, "Buffer.set_data", "b", (data, 0, n)))
    return encode_chunk(cmds)


def stored_blocks(chunk: bytes) -> list[tuple[bytes, int]]:
    """(lz4 block, raw size) of each block of a BLOCKS chunk (docs/format.md)."""
    info = peek_chunk_header(chunk)
    payload = memoryview(chunk)[HEADER_SIZE:]
    block_size, count, arrays = struct.unpack_from("<III", payload)
    sizes = struct.unpack_from(f"<{count}I", payload, 12)
    at = 12 + 4 * count + 24 * arrays
    out = []
    for number, size in enumerate(sizes):
        out.append((bytes(payload[at : at + size]), min(block_size, info.raw_size - number * block_size)))
        at += size
    return out


def lz4_into_fresh_body(blocks: list[tuple[bytes, int]], raw_size: int) -> np.ndarray:
    """Decompress every block and place it into one new raw-size buffer."""
    body = np.empty(raw_size, dtype=np.uint8)
    at = 0
    for packed, size in blocks:
        body[at : at + size] = np.frombuffer(lz4.block.decompress(packed, uncompressed_size=size), np.uint8)
        at += size
    return body


def raw_bytes(chunk: bytes) -> bytes:
    """The chunk's decompressed raw bytes (what lz4 is measured on)."""
    return bytes(decode_chunk(chunk).raw)


def bench_decode() -> None:
    print("== 1. decoding a chunk into numpy arrays vs lz4 decompression of the same bytes ==")
    default_backend = shuffle_filter.BACKEND
    default_threads = decode_threads.threads()
    # 12 MB: a 1M-point frame, the biggest chunk the recorder writes by default; at 32 MB every
    # fresh buffer (the decoded body included) is mmap'ed and page faults weigh on decoding
    for kind, total_mb in (("random", 32), ("quantized", 12), ("quantized", 32), ("smooth", 32), ("sorted", 12),
                           ("sorted", 32)):
        chunk = decode_chunk_bytes(kind, total_mb)
        info = peek_chunk_header(chunk)
        raw = raw_bytes(chunk)
        # The same bytes: the chunk's own lz4 blocks (BLOCKS), else one lz4 block of the raw body.
        blocks = stored_blocks(chunk) if info.flags & ChunkFlags.BLOCKS else [
            (lz4.block.compress(raw, store_size=False), len(raw))]

        def lz4_only(blocks: list[tuple[bytes, int]] = blocks) -> None:
            for packed, size in blocks:
                lz4.block.decompress(packed, uncompressed_size=size)

        def decode(chunk: bytes = chunk) -> None:
            commands = decode_chunk(chunk).commands()
            assert commands[-1].args[0].dtype == np.float32

        mb = info.raw_size / 1e6
        how = "+".join(name for flag, name in ((ChunkFlags.LZ4, "lz4"), (ChunkFlags.SHUFFLE, "shuffle"),
                                               (ChunkFlags.BLOCKS, "blocks")) if info.flags & flag) or "stored"
        # a shuffled chunk is decoded with each implementation of the filter, lz4 timed alongside
        for backend in backends() if info.flags & ChunkFlags.SHUFFLE else [shuffle_filter.BACKEND]:
            shuffle_filter.use(backend)
            label = f"chunk {how}" + (f" [{backend}]" if info.flags & ChunkFlags.SHUFFLE else "")
            print(f"  {kind:9} float32, {mb:.0f} MB raw, {label} ({len(chunk) / 1e6:.1f} MB):")
            # one decoding thread, then the default pool (blocks of big chunks in parallel)
            for threads in sorted({1, default_threads}):
                decode_threads.set_threads(threads)
                t_lz4, t_dec, ratio = paired(lz4_only, decode)
                if threads == 1:
                    t_one = best_of(decode)  # the reference of the single-thread rows below
                print(f"  {'':9} lz4 alone {mb / t_lz4 / 1e3:.2f} GB/s, decode_chunk+commands on {threads} "
                      f"thread{'s' if threads > 1 else ''} {mb / t_dec / 1e3:.2f} GB/s (medians), "
                      f"ratio {ratio:.2f}x lz4 speed (median of paired runs; target >= 0.8)")
            decode_threads.set_threads(1)
            if info.flags & ChunkFlags.BLOCKS:
                # lz4 of the same blocks, each placed into one new body-sized buffer (np.empty): a
                # reader handing out the arrays without reusing memory does at least this much
                # (lz4 alone above keeps nothing; ours decodes into spare memory, sessions/spare.py)
                t_body = best_of(lambda blocks=blocks, size=info.raw_size: lz4_into_fresh_body(blocks, size))
                print(f"  {'':9} same chunk: lz4 of its blocks into one fresh body {mb / t_body / 1e3:.2f} GB/s, "
                      f"ratio {t_body / t_one:.2f}x (1 thread)")
                # the same raw bytes as one lz4 block (the 1.0 layout without shuffle, and what a
                # format of one compressed block per chunk gets)
                single, raw_size = lz4.block.compress(raw, store_size=False), len(raw)
                t_single = best_of(lambda single=single, size=raw_size: lz4.block.decompress(single, uncompressed_size=size))
                print(f"  {'':9} same raw bytes as one lz4 block ({len(single) / 1e6:.1f} MB): lz4 alone "
                      f"{mb / t_single / 1e3:.2f} GB/s, ratio {t_single / t_one:.2f}x (1 thread)")
        shuffle_filter.use(default_backend)
        decode_threads.set_threads(default_threads)


def bench_decode_small(count: int = 20_000) -> None:
    """Commands of small arrays: decoding them is per-command work (msgpack, checks, objects)."""
    print(f"== 1b. decoding {count} small commands (a chunk each kind) ==")
    rng = np.random.default_rng(0)
    kinds: dict[str, Callable[[int], tuple[Any, ...]]] = {
        "Viewport.set_x(int)": lambda i: (i,),
        "Buffer.set_data of 16 bytes (the recorder's small writes)": lambda i: (rng.bytes(16), 0, 4),
        "Buffer.set_data of 4 float32 (array, inline)": lambda i: (rng.random(4, dtype=np.float32), 0, 4),
        "Buffer.set_data of 1000 float32 (array, 4 kB, blob area)": lambda i: (rng.random(1000, dtype=np.float32), 0, 1000),
    }
    for label, make_args in kinds.items():
        op = label.partition("(")[0].partition(" of ")[0]
        chunk = encode_chunk([Command(i + 1, i, op, "b", make_args(i)) for i in range(count)])
        seconds = best_of(lambda chunk=chunk: decode_chunk(chunk).commands(), repeat=9)
        print(f"  {label}: {count / seconds / 1e3:.0f} k commands/s "
              f"({seconds / count * 1e6:.2f} us a command, decode_chunk + commands, best of 9)")


def bench_decode_medium(total_mb: int = 32, pairs: int = 15) -> None:
    """Chunks of many mid-sized float32 arrays (a smooth ramp, byte-shuffled): decoding pays per
    command (msgpack, the array, the Command) as well as per byte."""
    print(f"== 1d. decoding {total_mb} MB chunks of many float32 arrays vs lz4 (median of {pairs} pairs) ==")
    for items in (1000, 4000, 64000):
        count = total_mb * 1_000_000 // (4 * items)
        ramp = np.linspace(0, 1, items, dtype=np.float32)
        chunk = encode_chunk([Command(i + 1, i, "Buffer.set_data", "b", ((ramp * (1 + i * 1e-3)).astype(np.float32), 0, items))
                              for i in range(count)])
        blocks = stored_blocks(chunk)

        def lz4_only(blocks: list[tuple[bytes, int]] = blocks) -> None:
            for stored, size in blocks:
                lz4.block.decompress(stored, uncompressed_size=size)

        ratios = [f"{threads} thread{'s' if threads > 1 else ''} x{ratio:.2f} ({seconds * 1e3:.1f} ms)"
                  for threads, seconds, ratio in paired_on_each_thread_count(
                      lz4_only, lambda chunk=chunk: decode_chunk(chunk).commands(), pairs)]
        print(f"  {count} commands of {items} float32 ({items * 4 // 1000} kB): decode / lz4 speed " + ", ".join(ratios))


def bench_read_small_log(count: int = 200_000, rounds: int = 5) -> None:
    """Reading a log of scalar setters with the garbage collector on, as a program has it: decoding
    pauses the collector (``sessions.codec._gc_paused``); the baseline runs without the pause."""
    print(f"== 1c. reading a log of {count} Viewport.set_x calls (LogReader.commands(), gc on) ==")
    import contextlib
    import gc

    from sessions import codec

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "small.gsplog"
        with LogWriter(path) as writer:
            for i in range(count):
                writer.append(Command(i + 1, i * 1000, "Viewport.set_x", "v", (i % 100,)))

        def read() -> float:
            gc.collect()
            began = time.perf_counter()
            with LogReader(path) as reader:
                for _ in reader.commands():
                    pass
            return time.perf_counter() - began

        paused = codec._gc_paused
        times: dict[str, list[float]] = {"paused": [], "not paused": []}
        for _ in range(rounds):
            times["paused"].append(read())
            codec._gc_paused = contextlib.nullcontext  # type: ignore[assignment]
            try:
                times["not paused"].append(read())
            finally:
                codec._gc_paused = paused
    medians = {k: statistics.median(v) for k, v in times.items()}
    for label, seconds in medians.items():
        print(f"  gc {label:10}: {count / seconds / 1e3:.0f} k commands/s ({seconds / count * 1e6:.2f} us a command, median of {rounds})")
    print(f"  pausing the collector while decoding: x{medians['not paused'] / medians['paused']:.2f}")


def recorded_session(folder: Path, points: int, frames: int) -> tuple[Path, list[bytes], list[tuple[bytes, int]]]:
    """``examples/animation.py`` recorded under ``gsp record --no-render`` into ``folder``: the
    log's path, its COMMANDS chunks, and the stored lz4 blocks of those with the BLOCKS layout."""
    import subprocess

    script = Path(__file__).resolve().parent.parent / "examples" / "animation.py"
    path = folder / f"animation_{points}x{frames}.gsplog"
    env = dict(os.environ, GSP_EXAMPLE_POINTS=str(points))
    subprocess.run([sys.executable, "-m", "gsplog_cli.main", "record", str(script), "-o", str(path), "--frames",
                    str(frames), "--no-render"], check=True, env=env, capture_output=True)
    chunks, blocks = [], []
    with LogReader(path) as reader:
        for entry in reader.index.entries:
            data = bytes(reader._pread(entry.offset, entry.size))
            info = peek_chunk_header(data)
            if info.kind == ChunkKind.COMMANDS:
                chunks.append(data)
                blocks += stored_blocks(data) if info.flags & ChunkFlags.BLOCKS else []
    return path, chunks, blocks


def bench_block_loops(pairs: int = 21) -> None:
    """One thread: the C loop over a chunk's blocks against the Python loop, each against lz4
    alone just before it (seventeenth pass: one thread runs the C loop too)."""
    print(f"== 1f. one thread, decode / lz4 speed: the Python loop over blocks vs the C loop (median of {pairs} pairs) ==")
    default_threads = decode_threads.threads()
    decode_threads.set_threads(1)
    try:
        with tempfile.TemporaryDirectory() as folder:
            cases = {f"recorded {points} points x {frames} frames": recorded_session(Path(folder), points, frames)[1:]
                     for points, frames in ((10_000, 300), (100_000, 60))}
        for items in (1000, 4000, 64000):
            ramp = np.linspace(0, 1, items, dtype=np.float32)
            count = 32_000_000 // (4 * items)
            chunk = encode_chunk([Command(i + 1, i, "Buffer.set_data", "b", ((ramp * (1 + i * 1e-3)).astype(np.float32),
                                                                              0, items)) for i in range(count)])
            cases[f"{count} arrays of {items * 4 // 1000} kB"] = ([chunk], stored_blocks(chunk))
        for name, (chunks, blocks) in cases.items():
            def lz4_only(blocks: list[tuple[bytes, int]] = blocks) -> None:
                for stored, size in blocks:
                    lz4.block.decompress(stored, uncompressed_size=size)

            def decode_all(chunks: list[bytes] = chunks) -> None:
                for chunk in chunks:
                    decode_chunk(chunk).commands()

            ratios: dict[str, list[float]] = {"Python loop": [], "C loop": []}
            for _ in range(pairs):
                for loop, samples in ratios.items():
                    use_c_loop(loop == "C loop")
                    samples.append(paired(lz4_only, decode_all, 1)[2])
            print(f"  {name}: " + ", ".join(f"{loop} x{statistics.median(v):.2f}" for loop, v in ratios.items()))
    finally:
        use_c_loop(True)
        decode_threads.set_threads(default_threads)


def bench_read_recorded_session(points: int = 100_000, frames: int = 60, rounds: int = 9) -> None:
    """A session recorded the way GSP programs record: ``examples/animation.py`` under
    ``gsp record --no-render``, its positions handed to ``Buffer.set_data`` as bytearrays (the
    GSP API's type) every frame. Its COMMANDS chunks decoded in memory, and the whole file read
    through ``LogReader.commands()``, against lz4 decompressing the same stored blocks."""

    print(f"== 1e. a recorded session ({points} points x {frames} frames, bytearray payloads) read whole ==")
    with tempfile.TemporaryDirectory() as folder:
        path, chunks, blocks = recorded_session(Path(folder), points, frames)

        def lz4_only() -> None:
            for stored, size in blocks:
                lz4.block.decompress(stored, uncompressed_size=size)

        def decode_all() -> None:
            for chunk in chunks:
                decode_chunk(chunk).commands()

        def read_file(mapped: bool = True) -> None:
            default = use_map(mapped)
            try:
                with LogReader(path) as reader:
                    for _ in reader.commands():
                        pass
            finally:
                use_map(default)

        raw = sum(size for _, size in blocks)
        print(f"  {len(chunks)} COMMANDS chunks, {len(blocks)} lz4 blocks, {raw / 1e6:.1f} MB raw, "
              f"{sum(len(c) for c in chunks) / 1e6:.1f} MB stored")
        for name, candidate in (("chunks in memory: decode_chunk + commands", decode_all),
                                ("the file: LogReader.commands()", read_file),
                                ("same, read, not mapped (GSP_NO_MMAP=1)", lambda: read_file(False))):
            figures = [f"{threads} thread{'s' if threads > 1 else ''} x{ratio:.2f} ({raw / seconds / 1e9:.2f} GB/s)"
                       for threads, seconds, ratio in paired_on_each_thread_count(lz4_only, candidate, rounds)]
            print(f"  {name}, decode / lz4 speed (median of {rounds} pairs): " + ", ".join(figures))


# --------------------------------------------------------------------------------------------
# 2. shuffle filter
# --------------------------------------------------------------------------------------------
def bench_shuffle() -> None:
    print("== 2. byte-shuffle filter before lz4 (float32, 16 MB) ==")
    rng = np.random.default_rng(1)
    n = 4 << 20
    datasets = {
        "smooth (random walk)": np.cumsum(rng.normal(0, 1e-3, n)).astype(np.float32),
        "smooth (sine)": np.sin(np.linspace(0, 200, n)).astype(np.float32),
        "random [0,1)": rng.random(n, dtype=np.float32),
        "random bits": rng.integers(0, 2**32, n, dtype=np.uint32).view(np.float32),
    }
    for name, data in datasets.items():
        cmds = [Command(1, 0, "Buffer.set_data", "b", (data,))]
        sizes, speeds = {}, {}
        for shuffle in (False, True):
            chunk = encode_chunk(cmds, shuffle=shuffle)
            t_enc = best_of(lambda s=shuffle, c=cmds: encode_chunk(c, shuffle=s), 3)
            t_dec = best_of(lambda c=chunk: decode_chunk(c).commands(), 3)
            sizes[shuffle] = len(chunk)
            speeds[shuffle] = (data.nbytes / t_enc / 1e9, data.nbytes / t_dec / 1e9)
        auto = peek_chunk_header(encode_chunk(cmds)).flags & ChunkFlags.SHUFFLE
        print(f"  {name:22} ratio plain {data.nbytes / sizes[False]:.2f}, shuffled {data.nbytes / sizes[True]:.2f} "
              f"(size x{sizes[True] / sizes[False]:.2f}); encode {speeds[False][0]:.2f} -> {speeds[True][0]:.2f} GB/s, "
              f"decode {speeds[False][1]:.2f} -> {speeds[True][1]:.2f} GB/s; auto picks {'shuffle' if auto else 'plain'}")


def bench_shuffle_kernels(mb: int = 12) -> None:
    print(f"== 2b. shuffle kernels alone, {mb} MB (best of 15; copy = np.copyto of the same bytes) ==")
    rng = np.random.default_rng(4)
    size = mb * 1_000_000
    src = rng.integers(0, 256, size, dtype=np.uint8)
    planes, out = np.empty_like(src), np.empty_like(src)
    copy_speed = size / best_of(lambda: np.copyto(out, src), 15) / 1e9
    default_backend = shuffle_filter.BACKEND
    for itemsize in (4, 8, 2, 16):
        cells = []
        for backend in backends():
            shuffle_filter.use(backend)
            fwd, inv = shuffle_filter.shuffle_into, shuffle_filter.unshuffle_into
            fwd(planes, src, itemsize)
            t_fwd = best_of(lambda f=fwd, k=itemsize: f(planes, src, k), 15)
            t_inv = best_of(lambda f=inv, k=itemsize: f(out, planes, k), 15)
            assert out.tobytes() == src.tobytes()
            cells.append(f"{backend} shuffle {size / t_fwd / 1e9:5.2f} unshuffle {size / t_inv / 1e9:5.2f}")
        print(f"  itemsize {itemsize:2}: " + " | ".join(cells) + f" GB/s (copy {copy_speed:.2f} GB/s)")
    shuffle_filter.use(default_backend)


# --------------------------------------------------------------------------------------------
# 3. seek
# --------------------------------------------------------------------------------------------
def build_large_log(path: Path, size_mb: int, points: int = 100_000) -> int:
    """A Points session whose positions change every frame (60 fps of session time)."""
    from gsp.constants import Constants
    from gsp.types import BufferType

    rng = np.random.default_rng(2)
    frame_bytes = points * 12
    frames = max(10, size_mb * (1 << 20) // frame_bytes)
    writer = LogWriter(path)  # default keyframe policy
    seq = 0

    def add(t_ns: int, op: str, target: str, *args: Any) -> None:
        nonlocal seq
        seq += 1
        writer.append(Command(seq, t_ns, op, target, args))

    white = bytearray(Constants.Color.white)
    add(0, "Canvas.new", "c", 640, 480, 100.0, white)
    add(0, "Viewport.new", "v", 0, 0, 640, 480, white)
    for uuid, btype, item in (("pos", BufferType.vec3, 12), ("size", BufferType.float32, 4),
                              ("color", BufferType.rgba8, 4), ("edge", BufferType.float32, 4)):
        add(0, "Buffer.new", uuid, points, btype)
        add(0, "Buffer.set_data", uuid, bytearray(rng.integers(0, 255, points * item, dtype=np.uint8).tobytes()), 0, points)
    add(0, "Points.new", "p", Ref("pos"), Ref("size"), Ref("color"), Ref("color"), Ref("edge"))
    add(0, "Renderer.new", "r", Ref("c"))
    block = rng.random((64, points, 3), dtype=np.float32)
    for frame in range(frames):
        t_ns = frame * 16_666_667
        positions = block[frame % 64] + np.float32(frame)  # new bytes every frame
        add(t_ns, "Buffer.set_data", "pos", bytearray(positions.tobytes()), 0, points)
        add(t_ns, "Renderer.render", "r", [Ref("v")], [Ref("p")], [None], [None])
        writer.flush_if_due()
    writer.close()
    return frames


def replay_to(reader: LogReader, t_ns: int, start: int | None) -> int:
    from sessions.scene import SceneState

    state = SceneState()
    target = reader.resolve(t_ns)
    applied = 0
    for cmd in reader.commands(start=start):
        if cmd.seq >= target:
            break
        state.apply(cmd)
        applied += 1
    return applied


class _CountingReader(LogReader):
    """A LogReader that counts the chunk bytes it reads (header and index excluded)."""

    bytes_read = 0

    def _chunk_bytes(self, offset: int, size: int) -> memoryview:
        self.bytes_read += size
        return super()._chunk_bytes(offset, size)


def bench_seek(size_mb: int, samples: int, folder: str | None) -> None:
    print(f"== 3. seek to a random time in a {size_mb} MB log ==")
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        path = Path(tmp) / "large.gsplog"
        start = time.perf_counter()
        frames = build_large_log(path, size_mb)
        print(f"  wrote {path.stat().st_size / 1e6:.0f} MB, {frames} frames in {time.perf_counter() - start:.1f} s")
        with LogReader(path) as reader:
            t_end = reader.index.time_range()[1]  # type: ignore[index]
            print(f"  {len(reader.index)} chunks, {len(reader.index.keyframes)} keyframes")
        rng = np.random.default_rng(3)
        targets = [int(t) for t in rng.integers(t_end // 10, t_end, samples)]
        seek_times, replay_times = [], []
        for t in targets:
            begin = time.perf_counter()
            with LogReader(path) as reader:  # open (footer index) + keyframe + forward to t
                replay_to(reader, t, t)
            seek_times.append(time.perf_counter() - begin)
        for t in targets[: max(3, samples // 4)]:
            begin = time.perf_counter()
            with LogReader(path) as reader:
                replay_to(reader, t, None)
            replay_times.append(time.perf_counter() - begin)
        seek_med, replay_med = statistics.median(seek_times), statistics.median(replay_times)
        read_mb = []  # what each seek reads of the file: a figure this VM's noise does not move
        for t in targets:
            with _CountingReader(path) as reader:
                replay_to(reader, t, t)
                read_mb.append(reader.bytes_read / 1e6)
        print(f"  seek (open + keyframe + forward, into SceneState): median {seek_med * 1e3:.1f} ms, "
              f"max {max(seek_times) * 1e3:.1f} ms over {samples} random times (target <= 100 ms at 1 GB); "
              f"chunks read: median {statistics.median(read_mb):.1f} MB a seek")
        print(f"  replay from the start to the same times: median {replay_med * 1e3:.0f} ms")
        print(f"  ratio: seek is {replay_med / seek_med:.0f}x faster than replay from start (target >= 10x)")


# --------------------------------------------------------------------------------------------
# pytest-benchmark entry points
# --------------------------------------------------------------------------------------------
def test_bench_lz4_decompress(benchmark: Any) -> None:
    raw = raw_bytes(decode_chunk_bytes("quantized", total_mb=8))
    packed = lz4.block.compress(raw, store_size=False)
    benchmark.group = "sessions-decode"
    benchmark(lz4.block.decompress, packed, uncompressed_size=len(raw))


def _bench_shuffled_decode(benchmark: Any, backend: str) -> None:
    if backend not in backends():
        import pytest

        pytest.skip("sessions._shuffle is not built")
    chunk = decode_chunk_bytes("sorted", total_mb=8)
    assert peek_chunk_header(chunk).flags & ChunkFlags.SHUFFLE
    benchmark.group = "sessions-shuffle"
    before = shuffle_filter.BACKEND
    shuffle_filter.use(backend)
    try:
        benchmark(lambda: decode_chunk(chunk).commands())
    finally:
        shuffle_filter.use(before)


def test_bench_decode_shuffled_chunk_c(benchmark: Any) -> None:
    _bench_shuffled_decode(benchmark, "c")


def test_bench_decode_shuffled_chunk_numpy(benchmark: Any) -> None:
    _bench_shuffled_decode(benchmark, "numpy")


def test_bench_lz4_decompress_shuffled(benchmark: Any) -> None:
    raw = raw_bytes(decode_chunk_bytes("sorted", total_mb=8))
    packed = lz4.block.compress(raw, store_size=False)
    benchmark.group = "sessions-shuffle"
    benchmark(lz4.block.decompress, packed, uncompressed_size=len(raw))


def test_bench_decode_chunk(benchmark: Any) -> None:
    chunk = decode_chunk_bytes("quantized", total_mb=8)
    benchmark.group = "sessions-decode"
    benchmark(lambda: decode_chunk(chunk).commands())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200, help="size of the seek log (default 200)")
    parser.add_argument("--samples", type=int, default=21, help="random seek targets (default 21)")
    parser.add_argument("--dir", default=os.environ.get("TMPDIR"), help="where to write the seek log")
    parser.add_argument("--only", choices=["decode", "loops", "shuffle", "seek"], help="run one part")
    args = parser.parse_args(argv)
    if args.only in (None, "decode"):
        bench_decode()
        bench_decode_small()
        bench_decode_medium()
        bench_read_small_log()
        bench_read_recorded_session(10_000, 300)  # the example as it is: 120 kB a frame
        bench_read_recorded_session(100_000, 60)  # 1.2 MB a frame
    if args.only in (None, "loops"):
        bench_block_loops()
    if args.only in (None, "shuffle"):
        bench_shuffle()
        bench_shuffle_kernels()
    if args.only in (None, "seek"):
        bench_seek(args.size_mb, args.samples, args.dir)


if __name__ == "__main__":
    sys.exit(main())
