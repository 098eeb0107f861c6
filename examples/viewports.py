"""Several viewports on one canvas: the same data seen through four cameras and backgrounds."""

import os

import numpy as np

from gsp.constants import Constants
from gsp.core import Camera, Canvas, Viewport
from gsp.types import BufferType, CapStyle
from gsp.utils import CmapUtils, MathUtils
from gsp.utils.bufferx import Bufferx
from gsp.utils.renderer_registry import RendererRegistry
from gsp.visuals import Points, Segments

canvas = Canvas(400, 400, 100.0, Constants.Color.gray)
backgrounds = [Constants.Color.white, Constants.Color.light_gray, bytearray([255, 245, 230, 255]), bytearray([230, 245, 255, 255])]
viewports = [Viewport(5 + 200 * (i % 2), 5 + 200 * (i // 2), 190, 190, backgrounds[i]) for i in range(4)]

rng = np.random.default_rng(3)
cloud = rng.normal(0.0, 0.35, size=(500, 3)).astype(np.float32)
points = Points(
    Bufferx.from_numpy(cloud, BufferType.vec3),
    Bufferx.from_numpy(np.array([12.0], dtype=np.float32), BufferType.float32),
    CmapUtils.get_color_map("viridis", cloud[:, 2]),
    Bufferx.from_numpy(np.array([[0, 0, 0, 255]], dtype=np.uint8), BufferType.rgba8),
    Bufferx.from_numpy(np.array([0.2], dtype=np.float32), BufferType.float32),
)
axes_lines = np.array([[0, 0, 0], [1, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1]], dtype=np.float32)
axes = Segments(
    Bufferx.from_numpy(axes_lines, BufferType.vec3),
    Bufferx.from_numpy(np.array([2.0], dtype=np.float32), BufferType.float32),
    CapStyle.ROUND,
    Bufferx.from_numpy(np.array([[220, 0, 0, 255], [0, 160, 0, 255], [0, 0, 220, 255]], dtype=np.uint8), BufferType.rgba8),
)

eyes = [[0, 0, 3], [3, 0, 0], [0, -3, 0], [2, -2, 2]]
ups = [[0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 0, 1]]
projection = Bufferx.from_numpy(MathUtils.perspective(35.0, 1.0, 0.1, 10.0)[None], BufferType.mat4)
cameras = [Camera(Bufferx.from_numpy(MathUtils.look_at(eye, [0, 0, 0], up)[None], BufferType.mat4), projection) for eye, up in zip(eyes, ups)]
model = Bufferx.mat4_identity()

renderer = RendererRegistry.create_renderer(os.environ.get("GSP_BACKEND", "matplotlib"), canvas)
renderer.render(
    [vp for vp in viewports for _ in range(2)],
    [visual for _ in viewports for visual in (points, axes)],
    [model] * 8,
    [camera for camera in cameras for _ in range(2)],
)
renderer.show()
