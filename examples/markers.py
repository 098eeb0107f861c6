"""Markers: every marker shape, one Markers visual per shape, in a 5 × 3 grid."""

import os

import numpy as np

from gsp.constants import Constants
from gsp.core import Camera, Canvas, Viewport
from gsp.types import BufferType, MarkerShape
from gsp.utils.bufferx import Bufferx
from gsp.utils.renderer_registry import RendererRegistry
from gsp.visuals import Markers

canvas = Canvas(500, 300, 100.0, Constants.Color.white)
viewport = Viewport(0, 0, 500, 300, Constants.Color.white)

visuals = []
for index, shape in enumerate(MarkerShape):
    column, row = index % 5, index // 5
    x, y = -0.8 + 0.4 * column, 0.6 - 0.6 * row
    positions = np.array([[x, y, 0.0]], dtype=np.float32)
    hue = index / len(MarkerShape)
    face = np.array([[int(255 * hue), 80, int(255 * (1 - hue)), 255]], dtype=np.uint8)
    visuals.append(
        Markers(
            shape,
            Bufferx.from_numpy(positions, BufferType.vec3),
            Bufferx.from_numpy(np.array([900.0], dtype=np.float32), BufferType.float32),
            Bufferx.from_numpy(face, BufferType.rgba8),
            Bufferx.from_numpy(np.array([[0, 0, 0, 255]], dtype=np.uint8), BufferType.rgba8),
            Bufferx.from_numpy(np.array([1.5], dtype=np.float32), BufferType.float32),
        )
    )

camera = Camera(Bufferx.mat4_identity(), Bufferx.mat4_identity())
identity = Bufferx.mat4_identity()
renderer = RendererRegistry.create_renderer(os.environ.get("GSP_BACKEND", "matplotlib"), canvas)
renderer.render([viewport] * len(visuals), visuals, [identity] * len(visuals), [camera] * len(visuals))
renderer.show()
