"""What the caller's thread pays for transform links while recording, against the same calls unrecorded.

    python benchmarks/recorder_links.py [--points 1,100000] [--repeat 5]

A ``Points`` visual whose positions are a ``TransformChain`` of one
``TransformLinkImmediate(buffer)`` of N vec3 points, a null renderer. For each N it times (µs
per call, median of ``--repeat`` runs, not recording then recording, in turn):

- re-add: ``chain.remove(link); chain.add(link)``: recorded, the add takes the link's value
  (serialize, then rebuild: two copies of its buffer) and the remove finds the value its add logged;
- render, chain unchanged: the check of the link's buffer before the render (a version compare);
- set_data + render: the link's buffer written, so the render logs the chain again (a remove,
  then an add with the value of now).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np

import recorder
from gsp.core import Camera, Canvas, Viewport
from gsp.transforms import TransformChain, TransformLinkImmediate
from gsp.types import Buffer, BufferType
from gsp.visuals import Points
from player.backends.null import NullRenderer

WHITE = bytearray([255, 255, 255, 255])


def _f32(values: Any, kind: BufferType) -> Buffer:
    return Buffer.from_numpy(np.asarray(values, np.float32), kind)


def _per_call(fn: Callable[[int], None], calls: int) -> float:
    start = time.perf_counter()
    for i in range(calls):
        fn(i)
    return (time.perf_counter() - start) / calls * 1e6


def measure(n: int, recording: bool) -> dict[str, float]:
    """µs per call of each case for a chain of ``n`` points, recorded or not."""
    calls = 200 if n < 10_000 else 20
    with tempfile.TemporaryDirectory() as folder:
        context: AbstractContextManager[Any] = (recorder.record(os.path.join(folder, "links.gsplog"))
                                                if recording else nullcontext())
        with context:
            positions = _f32(np.zeros((n, 3)), BufferType.vec3)
            chain = TransformChain(n, BufferType.vec3)
            link = TransformLinkImmediate(positions)
            chain.add(link)
            red = Buffer.from_numpy(np.array([[255, 0, 0, 255]], np.uint8), BufferType.rgba8)
            points = Points(chain, _f32([4.0], BufferType.float32), red, red, _f32([0.0], BufferType.float32))
            identity = _f32(np.eye(4).reshape(1, 4, 4), BufferType.mat4)
            camera = Camera(identity, identity)
            viewport = Viewport(0, 0, 8, 8, WHITE)
            renderer = NullRenderer(Canvas(8, 8, 72.0, WHITE))
            frames = [np.full((n, 3), i, np.float32) for i in range(2)]

            def readd(i: int) -> None:
                chain.remove(link)
                chain.add(link)

            def render(i: int) -> None:
                renderer.render([viewport], [points], [identity], [camera])

            def write_render(i: int) -> None:
                positions.set_data(frames[i % 2], 0, n)
                render(i)

            return {"re-add": _per_call(readd, calls), "render, chain unchanged": _per_call(render, calls),
                    "set_data + render": _per_call(write_render, calls)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", default="1,100000", help="chain sizes (comma-separated)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for n in (int(p) for p in args.points.split(",")):
        runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
        for _ in range(args.repeat):
            for recording in (False, True):
                runs[recording].append(measure(n, recording))
        print(f"chain of {n} points ({n * 12:,} bytes), µs per call, median of {args.repeat}:")
        for case in runs[False][0]:
            plain = statistics.median(r[case] for r in runs[False])
            recorded = statistics.median(r[case] for r in runs[True])
            print(f"  {case:24s}: {plain:9.1f} not recording, {recorded:9.1f} recording (+{recorded - plain:.1f})")


if __name__ == "__main__":
    main()
