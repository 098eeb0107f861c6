"""Shared pieces of the recorder benchmarks: the 1M-point animation and a timing helper."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from gsp.core import Camera, Canvas, Viewport
from gsp.types import Buffer, BufferType
from gsp.utils.bufferx import Bufferx
from gsp.visuals import Points
from player.backends.null import NullRenderer

WHITE = bytearray([255, 255, 255, 255])


def animation_frames(n_points: int, n_frames: int, seed: int = 0) -> Iterator[np.ndarray]:
    """Positions of a smooth animation (points drifting on a wave), float32 (n, 3), one per frame.

    Smooth scientific data rather than noise: what visualizations usually animate. Every frame is
    a fresh array so that no layer can skip work by noticing identical bytes.
    """
    rng = np.random.default_rng(seed)
    base = rng.random((n_points, 3), dtype=np.float32) * 2 - 1
    base = base[np.argsort(base[:, 0])]  # neighbours in memory are neighbours in space
    phase = (base[:, 0] * 3.0).astype(np.float32)
    for frame in range(n_frames):
        out = base.copy()
        out[:, 2] = 0.2 * np.sin(phase + np.float32(0.1 * frame), dtype=np.float32)
        yield out


@dataclass
class PointsScene:
    """A Points visual with a null renderer (validates, draws nothing): records everything but pixels."""

    viewport: Viewport
    camera: Camera
    model: Buffer
    positions: Buffer
    points: Points
    renderer: NullRenderer

    def render(self) -> None:
        self.renderer.render([self.viewport], [self.points], [self.model], [self.camera])


def points_scene(n_points: int) -> PointsScene:
    """Build the scene (call it inside the recorder to record its construction too)."""
    canvas = Canvas(256, 256, 72.0, WHITE)
    viewport = Viewport(0, 0, 256, 256, WHITE)
    camera = Camera(Bufferx.mat4_identity(), Bufferx.mat4_identity())
    positions = Buffer(n_points, BufferType.vec3)
    sizes = Bufferx.from_numpy(np.full(n_points, 1.0, np.float32), BufferType.float32)
    colors = Bufferx.from_numpy(np.full((n_points, 4), 255, np.uint8), BufferType.rgba8)
    widths = Bufferx.from_numpy(np.zeros(n_points, np.float32), BufferType.float32)
    points = Points(positions, sizes, colors, colors, widths)
    return PointsScene(viewport, camera, Bufferx.mat4_identity(), positions, points, NullRenderer(canvas))


def best_of(repeat: int, fn: Callable[[], float]) -> float:
    """The smallest of ``repeat`` timings returned by ``fn`` (seconds)."""
    return min(fn() for _ in range(repeat))


def now() -> float:
    """A monotonic clock in seconds."""
    return time.perf_counter()
