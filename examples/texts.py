"""Texts: the nine text alignments around their anchor points, and a rotated label."""

import os

import numpy as np

from gsp.constants import Constants
from gsp.core import Camera, Canvas, Viewport
from gsp.types import BufferType, TextAlign
from gsp.utils.bufferx import Bufferx
from gsp.utils.renderer_registry import RendererRegistry
from gsp.visuals import Points, Texts

canvas = Canvas(450, 450, 100.0, Constants.Color.white)
viewport = Viewport(0, 0, 450, 450, Constants.Color.white)

aligns = list(TextAlign)
anchors = np.array(
    [[-0.6 + 0.6 * (a.value % 10), 0.6 - 0.6 * (a.value // 10), 0.0] for a in aligns], dtype=np.float32
)
strings = [a.name.lower() for a in aligns]
texts = Texts(
    Bufferx.from_numpy(anchors, BufferType.vec3),
    strings,
    Bufferx.from_numpy(np.array([[20, 20, 120, 255]], dtype=np.uint8), BufferType.rgba8),
    Bufferx.from_numpy(np.array([9.0], dtype=np.float32), BufferType.float32),
    aligns,
    Bufferx.from_numpy(np.zeros(len(aligns), dtype=np.float32), BufferType.float32),
    "sans-serif",
)
title = Texts(
    Bufferx.from_numpy(np.array([[-0.9, 0.0, 0.0]], dtype=np.float32), BufferType.vec3),
    ["rotated 90°"],
    Bufferx.from_numpy(np.array([[200, 30, 30, 255]], dtype=np.uint8), BufferType.rgba8),
    Bufferx.from_numpy(np.array([12.0], dtype=np.float32), BufferType.float32),
    [TextAlign.CENTER_CENTER],
    Bufferx.from_numpy(np.array([90.0], dtype=np.float32), BufferType.float32),
    "serif",
)
# Small red dots show the anchor of each label.
dots = Points(
    Bufferx.from_numpy(anchors, BufferType.vec3),
    Bufferx.from_numpy(np.array([16.0], dtype=np.float32), BufferType.float32),
    Bufferx.from_numpy(np.array([[255, 0, 0, 255]], dtype=np.uint8), BufferType.rgba8),
    Bufferx.from_numpy(np.array([[255, 0, 0, 255]], dtype=np.uint8), BufferType.rgba8),
    Bufferx.from_numpy(np.array([0.0], dtype=np.float32), BufferType.float32),
)

camera = Camera(Bufferx.mat4_identity(), Bufferx.mat4_identity())
identity = Bufferx.mat4_identity()
renderer = RendererRegistry.create_renderer(os.environ.get("GSP_BACKEND", "matplotlib"), canvas)
renderer.render([viewport] * 3, [dots, texts, title], [identity] * 3, [camera] * 3)
renderer.show()
