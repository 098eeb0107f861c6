"""Segments: three rows of slanted line segments, one per cap style, with growing widths."""

import os

import numpy as np

from gsp.constants import Constants
from gsp.core import Camera, Canvas, Viewport
from gsp.types import BufferType, CapStyle
from gsp.utils import CmapUtils
from gsp.utils.bufferx import Bufferx
from gsp.utils.renderer_registry import RendererRegistry
from gsp.visuals import Segments

canvas = Canvas(400, 400, 100.0, Constants.Color.white)
viewport = Viewport(0, 0, 400, 400, Constants.Color.light_gray)

visuals = []
for row, cap in enumerate([CapStyle.BUTT, CapStyle.ROUND, CapStyle.PROJECTING]):
    count = 8
    x = np.linspace(-0.8, 0.8, count, dtype=np.float32)
    y0 = 0.45 - 0.6 * row
    starts = np.stack([x, np.full(count, y0), np.zeros(count)], axis=1)
    ends = np.stack([x + 0.1, np.full(count, y0 + 0.3), np.zeros(count)], axis=1)
    positions = np.empty((2 * count, 3), dtype=np.float32)
    positions[0::2], positions[1::2] = starts, ends
    visuals.append(
        Segments(
            Bufferx.from_numpy(positions, BufferType.vec3),
            Bufferx.from_numpy(np.linspace(1.0, 8.0, count, dtype=np.float32), BufferType.float32),
            cap,
            CmapUtils.get_color_map("plasma", np.arange(count)),
        )
    )

camera = Camera(Bufferx.mat4_identity(), Bufferx.mat4_identity())
identity = Bufferx.mat4_identity()
renderer = RendererRegistry.create_renderer(os.environ.get("GSP_BACKEND", "matplotlib"), canvas)
renderer.render([viewport] * 3, visuals, [identity] * 3, [camera] * 3)
renderer.show()
