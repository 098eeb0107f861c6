"""An animation: 10 000 points drifting on a swirling flow field, re-set every frame.

Headless (or under ``gsp record --frames N``) the animator runs a fixed number of frames;
with a display it runs until the window closes.
"""

import os

import numpy as np

from gsp.constants import Constants
from gsp.core import Camera, Canvas, Viewport
from gsp.types import BufferType
from gsp.utils import CmapUtils
from gsp.utils.bufferx import Bufferx
from gsp.utils.renderer_registry import RendererRegistry
from gsp.visuals import Points

canvas = Canvas(400, 400, 100.0, Constants.Color.white)
viewport = Viewport(0, 0, 400, 400, bytearray([250, 250, 245, 255]))

count = int(os.environ.get("GSP_EXAMPLE_POINTS", "10000"))
rng = np.random.default_rng(7)
xy = rng.uniform(-0.9, 0.9, size=(count, 2)).astype(np.float32)
positions = np.zeros((count, 3), dtype=np.float32)
positions[:, :2] = xy
position_buffer = Bufferx.from_numpy(positions, BufferType.vec3)

points = Points(
    position_buffer,
    Bufferx.from_numpy(np.array([6.0], dtype=np.float32), BufferType.float32),
    CmapUtils.get_color_map("twilight", np.arctan2(xy[:, 1], xy[:, 0])),
    Bufferx.from_numpy(np.array([[0, 0, 0, 0]], dtype=np.uint8), BufferType.rgba8),
    Bufferx.from_numpy(np.array([0.0], dtype=np.float32), BufferType.float32),
)

camera = Camera(Bufferx.mat4_identity(), Bufferx.mat4_identity())
renderer = RendererRegistry.create_renderer(os.environ.get("GSP_BACKEND", "matplotlib"), canvas)
animator = RendererRegistry.create_animator(renderer)


@animator.event_listener
def swirl(delta_time: float):
    """Rotate each point around the centre, faster near the middle."""
    x, y = positions[:, 0], positions[:, 1]
    radius = np.sqrt(x * x + y * y) + 0.05
    theta = 0.8 * delta_time / radius
    cos, sin = np.cos(theta), np.sin(theta)
    positions[:, 0], positions[:, 1] = x * cos - y * sin, x * sin + y * cos
    position_buffer.set_data(bytearray(positions.tobytes()), 0, count)
    return [points]


animator.start([viewport], [points], [Bufferx.mat4_identity()], [camera])
