"""Image: a 16 × 16 procedural texture shown twice, with linear and nearest interpolation."""

import os

import numpy as np

from gsp.constants import Constants
from gsp.core import Camera, Canvas, Texture, Viewport
from gsp.types import BufferType, ImageInterpolation
from gsp.utils.bufferx import Bufferx
from gsp.utils.renderer_registry import RendererRegistry
from gsp.visuals import Image

canvas = Canvas(400, 200, 100.0, Constants.Color.white)
viewport = Viewport(0, 0, 400, 200, Constants.Color.white)

size = 16
y, x = np.mgrid[0:size, 0:size]
texels = np.zeros((size, size, 4), dtype=np.uint8)
texels[..., 0] = (255 * x / (size - 1)).astype(np.uint8)
texels[..., 1] = (255 * y / (size - 1)).astype(np.uint8)
texels[..., 2] = np.where((x // 4 + y // 4) % 2 == 0, 255, 40).astype(np.uint8)
texels[..., 3] = 255
texture = Texture(Bufferx.from_numpy(texels.reshape(-1, 4), BufferType.rgba8), size, size)

images = [
    Image(
        texture,
        Bufferx.from_numpy(np.array([[cx, 0.0, 0.0]], dtype=np.float32), BufferType.vec3),
        (-0.4, 0.4, -0.8, 0.8),
        interpolation,
    )
    for cx, interpolation in ((-0.5, ImageInterpolation.LINEAR), (0.5, ImageInterpolation.NEAREST))
]

camera = Camera(Bufferx.mat4_identity(), Bufferx.mat4_identity())
identity = Bufferx.mat4_identity()
renderer = RendererRegistry.create_renderer(os.environ.get("GSP_BACKEND", "matplotlib"), canvas)
renderer.render([viewport] * 2, images, [identity] * 2, [camera] * 2)
renderer.show()
