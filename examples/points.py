"""Points: a spiral of 2 000 discs coloured by a colormap and sized by distance.

Run it live:      python examples/points.py
Record it:        gsp record examples/points.py -o points.gsplog
Backend:          GSP_BACKEND=datoviz python examples/points.py
"""

import os

import numpy as np

from gsp.constants import Constants
from gsp.core import Camera, Canvas, Viewport
from gsp.types import Buffer, BufferType
from gsp.utils import CmapUtils
from gsp.utils.bufferx import Bufferx
from gsp.utils.renderer_registry import RendererRegistry
from gsp.visuals import Points

canvas = Canvas(400, 400, 100.0, Constants.Color.white)
viewport = Viewport(0, 0, 400, 400, Constants.Color.white)

n = 2000
t = np.linspace(0.0, 6.0 * np.pi, n, dtype=np.float32)
radius = t / (6.5 * np.pi)
positions = np.stack([radius * np.cos(t), radius * np.sin(t), np.zeros(n)], axis=1).astype(np.float32)

points = Points(
    Bufferx.from_numpy(positions, BufferType.vec3),
    Bufferx.from_numpy((4.0 + 60.0 * radius**2).astype(np.float32), BufferType.float32),
    CmapUtils.get_color_map("viridis", t),
    Buffer.from_numpy(np.array([[0, 0, 0, 255]], dtype=np.uint8), BufferType.rgba8),
    Bufferx.from_numpy(np.array([0.25], dtype=np.float32), BufferType.float32),
)

camera = Camera(Bufferx.mat4_identity(), Bufferx.mat4_identity())
renderer = RendererRegistry.create_renderer(os.environ.get("GSP_BACKEND", "matplotlib"), canvas)
renderer.render([viewport], [points], [Bufferx.mat4_identity()], [camera])
renderer.show()
