"""A 3-D mesh (a lit torus with Phong shading) seen by a camera orbiting around it.

The animator calls ``orbit`` every frame; the camera's view matrix buffer is updated in place.
Headless (or under ``gsp record --frames N``) the animator runs a fixed number of frames.
"""

import os

import numpy as np

from gsp.constants import Constants
from gsp.core import Camera, Canvas, Viewport
from gsp.geometry import MeshGeometry
from gsp.lights import AmbientLight, DirectionalLight, PointLight
from gsp.materials import MeshPhongMaterial
from gsp.types import BufferType
from gsp.utils import MathUtils
from gsp.utils.bufferx import Bufferx
from gsp.utils.renderer_registry import RendererRegistry
from gsp.visuals.mesh import Mesh


def torus(major: float = 0.7, minor: float = 0.3, rings: int = 32, sides: int = 16):
    """Vertices, triangle indices and normals of a torus around the z axis."""
    u, v = np.meshgrid(np.linspace(0, 2 * np.pi, rings, endpoint=False), np.linspace(0, 2 * np.pi, sides, endpoint=False))
    u, v = u.ravel(), v.ravel()
    centers = np.stack([major * np.cos(u), major * np.sin(u), np.zeros_like(u)], axis=1)
    normals = np.stack([np.cos(v) * np.cos(u), np.cos(v) * np.sin(u), np.sin(v)], axis=1)
    positions = centers + minor * normals
    i, j = np.meshgrid(np.arange(rings), np.arange(sides))
    a = j * rings + i
    b = j * rings + (i + 1) % rings
    c = ((j + 1) % sides) * rings + i
    d = ((j + 1) % sides) * rings + (i + 1) % rings
    faces = np.concatenate([np.stack([a, b, d], -1).reshape(-1, 3), np.stack([a, d, c], -1).reshape(-1, 3)])
    return positions.astype(np.float32), faces.astype(np.uint32).ravel(), normals.astype(np.float32)


canvas = Canvas(400, 400, 100.0, Constants.Color.white)
viewport = Viewport(0, 0, 400, 400, bytearray([235, 240, 250, 255]))

positions, indices, normals = torus()
geometry = MeshGeometry(
    Bufferx.from_numpy(positions, BufferType.vec3),
    Bufferx.from_numpy(indices, BufferType.uint32),
    Bufferx.from_numpy(normals, BufferType.vec3),
    None,
)
lights = [
    AmbientLight(Constants.Color.white, 0.25),
    PointLight([2.0, 2.0, 2.0], Constants.Color.white, 0.8),
    DirectionalLight([-1.0, 1.0, 1.0], [0.0, 0.0, 0.0], bytearray([255, 220, 180, 255]), 0.4),
]
material = MeshPhongMaterial(
    bytearray([60, 120, 220, 255]),
    Constants.Color.white,
    32.0,
    lights,
    Bufferx.from_numpy(np.array([[0, 0, 0, 0]], dtype=np.uint8), BufferType.rgba8),
    Bufferx.from_numpy(np.array([0.0], dtype=np.float32), BufferType.float32),
    True,
    Constants.FaceCulling.FrontSide,  # the faces that look at the camera (three.js "side")
)
mesh = Mesh(geometry, material)

view = MathUtils.look_at([0.0, -2.5, 1.5], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0])
projection = MathUtils.perspective(40.0, canvas.get_width() / canvas.get_height(), 0.1, 10.0)
view_buffer = Bufferx.from_numpy(view[None], BufferType.mat4)
camera = Camera(view_buffer, Bufferx.from_numpy(projection[None], BufferType.mat4))
model = Bufferx.mat4_identity()

renderer = RendererRegistry.create_renderer(os.environ.get("GSP_BACKEND", "matplotlib"), canvas)
animator = RendererRegistry.create_animator(renderer)
angle = 0.0


@animator.event_listener
def orbit(delta_time: float):
    """Move the camera 30° per second around the z axis."""
    global angle
    angle += np.radians(30.0) * delta_time
    eye = [2.5 * np.sin(angle), -2.5 * np.cos(angle), 1.5]
    matrix = MathUtils.look_at(eye, [0.0, 0.0, 0.0], [0.0, 0.0, 1.0])
    view_buffer.set_data(bytearray(matrix.astype(np.float32).tobytes()), 0, 1)
    return [mesh]


animator.start([viewport], [mesh], [model], [camera])
