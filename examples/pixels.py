"""Pixels: a Lissajous curve of single device pixels in four coloured groups."""

import os

import numpy as np

from gsp.constants import Constants
from gsp.core import Camera, Canvas, Viewport
from gsp.types import BufferType
from gsp.utils.bufferx import Bufferx
from gsp.utils.renderer_registry import RendererRegistry
from gsp.visuals import Pixels

canvas = Canvas(300, 300, 100.0, Constants.Color.black)
viewport = Viewport(0, 0, 300, 300, Constants.Color.black)

n = 20000
t = np.linspace(0.0, 2.0 * np.pi, n, dtype=np.float32)
positions = np.stack([0.9 * np.sin(3 * t), 0.9 * np.sin(4 * t + 0.5), np.zeros(n)], axis=1).astype(np.float32)
colors = np.array([[255, 80, 80, 255], [80, 255, 80, 255], [80, 160, 255, 255], [255, 255, 80, 255]], dtype=np.uint8)

pixels = Pixels(
    Bufferx.from_numpy(positions, BufferType.vec3),
    Bufferx.from_numpy(colors, BufferType.rgba8),
    n // 4,  # four groups of equal size, one colour each
)

camera = Camera(Bufferx.mat4_identity(), Bufferx.mat4_identity())
renderer = RendererRegistry.create_renderer(os.environ.get("GSP_BACKEND", "matplotlib"), canvas)
renderer.render([viewport], [pixels], [Bufferx.mat4_identity()], [camera])
renderer.show()
