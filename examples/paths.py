"""Paths: three zigzag lines, one per join style (miter, bevel, round), with per-vertex colours."""

import os

import numpy as np

from gsp.constants import Constants
from gsp.core import Camera, Canvas, Viewport
from gsp.types import BufferType, CapStyle, JoinStyle
from gsp.utils import CmapUtils
from gsp.utils.bufferx import Bufferx
from gsp.utils.renderer_registry import RendererRegistry
from gsp.visuals import Paths

canvas = Canvas(400, 400, 100.0, Constants.Color.white)
viewport = Viewport(0, 0, 400, 400, Constants.Color.white)

visuals = []
for row, join in enumerate([JoinStyle.MITER, JoinStyle.BEVEL, JoinStyle.ROUND]):
    count = 9
    x = np.linspace(-0.8, 0.8, count, dtype=np.float32)
    y = 0.55 - 0.55 * row + 0.18 * np.where(np.arange(count) % 2 == 0, 1.0, -1.0).astype(np.float32)
    positions = np.stack([x, y, np.zeros(count, dtype=np.float32)], axis=1)
    visuals.append(
        Paths(
            Bufferx.from_numpy(positions, BufferType.vec3),
            Bufferx.from_numpy(np.array([count], dtype=np.uint32), BufferType.uint32),
            CmapUtils.get_color_map("viridis", np.arange(count)),
            Bufferx.from_numpy(np.full(count, 6.0, dtype=np.float32), BufferType.float32),
            CapStyle.ROUND,
            join,
        )
    )

camera = Camera(Bufferx.mat4_identity(), Bufferx.mat4_identity())
identity = Bufferx.mat4_identity()
renderer = RendererRegistry.create_renderer(os.environ.get("GSP_BACKEND", "matplotlib"), canvas)
renderer.render([viewport] * 3, visuals, [identity] * 3, [camera] * 3)
renderer.show()
