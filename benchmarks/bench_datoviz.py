"""Datoviz backend speed: a 100-frame point animation through DatovizRenderer vs baselines.

For each point count N, every frame moves all N points (positions cycle through 4 precomputed
arrays, so no time goes into making data) and reads the frame back. Measured in the same run:

- ``lowlevel``: a hand-written loop on Datoviz's own API doing the same work: upload the N
  positions (``dvz.marker_position``), ``scene_render``, ``server_grab`` and copy the frame;
- ``renderer``: the GSP way: ``Buffer.set_data`` on the Points positions (the scene update, not
  timed: a replay does it while decoding), then ``DatovizRenderer.render_rgba`` (timed: prepare
  P·V·M, sizes, colors; fingerprint and upload only what changed; render; read back);
- ``renderer+png``: the same through ``render`` (PNG bytes, as the API returns);
- ``matplotlib`` (with ``--matplotlib``): ``MatplotlibRenderer.render_rgba`` on the same frames.

Prints ms per frame and the ratios against ``lowlevel`` (target: renderer ≤ 1.2×).

    python benchmarks/bench_datoviz.py --sizes 100000 1000000 10000000 --frames 100
    python benchmarks/bench_datoviz.py --sizes 10000 100000 --frames 20 --matplotlib
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
import time
from collections.abc import Callable

import numpy as np

os.environ.setdefault("DVZ_LOG_LEVEL", "4")
os.environ.setdefault("MPLBACKEND", "Agg")


def make_positions(n: int, variants: int = 4, seed: int = 0) -> list[np.ndarray]:
    """``variants`` arrays of N vec3 positions in NDC (z = 0)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(-0.95, 0.95, size=(n, 3)).astype(np.float32)
    base[:, 2] = 0.0
    out = []
    for k in range(variants):
        moved = base.copy()
        moved[:, 0] += np.float32(0.01 * k)
        out.append(moved)
    return out


def time_frames(frames: int, step: Callable[[int], None], prepare: Callable[[int], None] | None = None) -> float:
    """Mean seconds per frame of ``step(k)`` over ``frames`` frames, after one warm-up frame.

    ``prepare(k)`` runs before each step outside the timed region (the scene update).
    """
    total = 0.0
    for k in range(frames + 1):
        if prepare is not None:
            prepare(k)
        start = time.perf_counter()
        step(k)
        if k:  # frame 0 warms up
            total += time.perf_counter() - start
    return total / frames


def bench_lowlevel(positions: list[np.ndarray], width: int, height: int, frames: int, size_px: float) -> float:
    """Datoviz's low-level API alone: one marker visual, positions uploaded every frame."""
    from player.backends.datoviz._lib import dvz_lib
    from player.backends.datoviz.server import ServerObjects, shared_server

    c = dvz_lib()
    n = positions[0].shape[0]
    # The process's shared server (as the renderer uses): a server per run would count against
    # NVIDIA's 30 Vulkan instances per process, and creating it first keeps Datoviz quiet.
    shared = shared_server(c)
    server = shared.handle
    batch = c.batch()
    scene = c.scene(batch)
    figure = c.figure(scene, width, height, 0)
    panel = c.panel(figure, 0, 0, width, height)
    c.panel_background(panel, np.full((4, 4), 255, np.uint8))
    visual = c.marker(batch, 0)
    c.marker_alloc(visual, n)
    c.marker_mode(visual, c.MARKER_MODE_CODE)
    c.marker_shape(visual, c.MARKER_SHAPE_DISC)
    c.marker_aspect(visual, c.MARKER_ASPECT_FILLED)
    c.visual_depth(visual, c.DEPTH_TEST_DISABLE)
    c.marker_size(visual, 0, n, np.full(n, size_px, np.float32), 0)
    c.marker_angle(visual, 0, n, np.zeros(n, np.float32), 0)
    c.marker_color(visual, 0, n, np.tile(np.array([[20, 60, 200, 255]], np.uint8), (n, 1)), 0)
    c.panel_visual(panel, visual, 0)
    fid = c.figure_id(figure)
    objects = ServerObjects(shared, batch)
    objects.render(scene)  # the first submission goes through ServerObjects: deleted at the end

    def step(k: int) -> None:
        c.marker_position(visual, 0, n, positions[k % len(positions)], 0)
        c.scene_render(scene, server)
        ptr = c.server_grab(server, fid, 0)
        np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_uint8)), shape=(height, width, 3)).copy()

    try:
        return time_frames(frames, step)
    finally:
        objects.release()
        c.scene_destroy(scene)
        c.batch_destroy(batch)


def gsp_scene(positions: np.ndarray, width: int, height: int, dpi: float, size_pt2: float):  # type: ignore[no-untyped-def]
    """A GSP canvas, viewport, Points (count-1 size/colors/edges), identity model and camera."""
    from gsp.core import Camera, Canvas, Viewport
    from gsp.types.buffer import Buffer
    from gsp.types.buffer_type import BufferType
    from gsp.visuals.points import Points

    def buffer(array: np.ndarray, kind: BufferType) -> Buffer:
        return Buffer.from_numpy(array, kind)

    white = bytearray([255, 255, 255, 255])
    canvas = Canvas(width, height, dpi, white)
    viewport = Viewport(0, 0, width, height, white)
    identity = buffer(np.eye(4, dtype=np.float32)[None], BufferType.mat4)
    points = Points(
        buffer(positions, BufferType.vec3),
        buffer(np.array([size_pt2], np.float32), BufferType.float32),
        buffer(np.array([[20, 60, 200, 255]], np.uint8), BufferType.rgba8),
        buffer(np.array([[0, 0, 0, 255]], np.uint8), BufferType.rgba8),
        buffer(np.array([0.0], np.float32), BufferType.float32),
    )
    camera = Camera(identity, buffer(np.eye(4, dtype=np.float32)[None], BufferType.mat4))
    return canvas, ([viewport], [points], [identity], [camera])


def bench_renderer(kind: str, positions: list[np.ndarray], width: int, height: int, frames: int,
                   dpi: float, size_pt2: float, png: bool = False) -> float:
    """A renderer of ``kind`` ("datoviz" or "matplotlib") on the same animation."""
    canvas, args = gsp_scene(positions[0], width, height, dpi, size_pt2)
    if kind == "datoviz":
        from player.backends.datoviz.renderer import DatovizRenderer

        renderer = DatovizRenderer(canvas)
    else:
        from player.backends.matplotlib.renderer import MatplotlibRenderer

        renderer = MatplotlibRenderer(canvas)
    buffer = args[1][0].get_positions()
    blobs = [bytearray(p.tobytes()) for p in positions]
    count = positions[0].shape[0]
    draw = renderer.render if png else renderer.render_rgba

    def update(k: int) -> None:
        buffer.set_data(blobs[k % len(blobs)], 0, count)

    def step(k: int) -> None:
        draw(*args)

    try:
        return time_frames(frames, step, update)
    finally:
        renderer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=768)
    parser.add_argument("--matplotlib", action="store_true", help="also time the Matplotlib backend")
    parser.add_argument("--no-png", action="store_true", help="skip the render() (PNG) timing")
    parser.add_argument("--json", help="write the figures to this JSON file")
    opts = parser.parse_args(argv)
    dpi, size_pt2 = 72.0, 4.0  # 2 px discs
    size_px = float(np.sqrt(size_pt2) * dpi / 72.0)
    results = []
    print(f"{'N':>10} {'lowlevel ms':>12} {'renderer ms':>12} {'ratio':>6} {'+png ms':>9} {'ratio':>6} {'mpl ms':>9} {'mpl/rend':>8}")
    for n in opts.sizes:
        positions = make_positions(n)
        low = bench_lowlevel(positions, opts.width, opts.height, opts.frames, size_px)
        rend = bench_renderer("datoviz", positions, opts.width, opts.height, opts.frames, dpi, size_pt2)
        row = {"n": n, "frames": opts.frames, "lowlevel_ms": low * 1e3, "renderer_ms": rend * 1e3, "ratio": rend / low}
        if not opts.no_png:
            png = bench_renderer("datoviz", positions, opts.width, opts.height, opts.frames, dpi, size_pt2, png=True)
            row.update(png_ms=png * 1e3, png_ratio=png / low)
        if opts.matplotlib:
            mpl = bench_renderer("matplotlib", positions, opts.width, opts.height, opts.frames, dpi, size_pt2)
            row.update(matplotlib_ms=mpl * 1e3, matplotlib_over_renderer=mpl / rend)
        results.append(row)
        print(
            f"{n:>10} {row['lowlevel_ms']:>12.2f} {row['renderer_ms']:>12.2f} {row['ratio']:>6.2f} "
            f"{row.get('png_ms', float('nan')):>9.2f} {row.get('png_ratio', float('nan')):>6.2f} "
            f"{row.get('matplotlib_ms', float('nan')):>9.1f} {row.get('matplotlib_over_renderer', float('nan')):>8.1f}",
            flush=True,
        )
    if opts.json:
        with open(opts.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
