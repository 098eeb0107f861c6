"""Content hashes for catching in-place buffer mutation (see recorder/tracking.py).

    python benchmarks/recorder_hash.py [--mb 12]

Prints GB/s of each candidate on ``--mb`` MB of float32, in one run: zlib.crc32, zlib.adler32,
hashlib.blake2b, xxhash XXH64 and XXH3-64 (if installed), comparing with a retained copy
(``==``, a memcmp over two buffers), and a plain copy for scale.
"""

from __future__ import annotations

import argparse
import hashlib
import time
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np


def _rate(fn: Callable[[Any], Any], data: Any, repeat: int = 15) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn(data)
        best = min(best, time.perf_counter() - start)
    return len(data) / best / 1e9


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=12)
    args = parser.parse_args(argv)
    data = bytearray(np.random.default_rng(0).random(int(args.mb * 1e6 / 4), dtype=np.float32).tobytes())
    retained = bytes(data)
    candidates: dict[str, Callable[[Any], Any]] = {
        "zlib.crc32": zlib.crc32,
        "zlib.adler32": zlib.adler32,
        "hashlib.blake2b (64-bit digest)": lambda b: hashlib.blake2b(b, digest_size=8).digest(),
        "compare with retained copy": lambda b: b == retained,
        "plain copy (scale)": bytearray,
    }
    try:
        import xxhash

        candidates["xxhash.xxh64"] = xxhash.xxh64_intdigest
        candidates["xxhash.xxh3_64 (chosen)"] = xxhash.xxh3_64_intdigest
    except ImportError:
        print("xxhash not installed: its candidates are skipped")
    results = {name: _rate(fn, data) for name, fn in candidates.items()}
    for name, rate in sorted(results.items(), key=lambda kv: -kv[1]):
        print(f"{name:34s} {rate:6.2f} GB/s")
    return results


if __name__ == "__main__":
    main()
