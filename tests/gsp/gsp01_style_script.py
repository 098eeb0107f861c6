"""A GSP 0.1-style script (positional constructors, Bufferx, Constants); run by test_gsp_script01.py."""

import numpy as np

import gsp
from gsp.core import Camera, Canvas, Texture, Viewport
from gsp.geometry import MeshGeometry
from gsp.lights import AmbientLight, DirectionalLight
from gsp.materials import MeshPhongMaterial
from gsp.transforms import TransformChain, TransformLinkImmediate
from gsp.types import BufferType, CapStyle, ImageInterpolation, JoinStyle, MarkerShape, TextAlign
from gsp.utils import CmapUtils, MathUtils
from gsp.utils.bufferx import Bufferx
from gsp.visuals import Image, Markers, Paths, Pixels, Points, Segments, Texts
from gsp.visuals.mesh import Mesh

canvas = Canvas(512, 512, 100.0, gsp.Constants.Color.white)
viewport = Viewport(0, 0, 512, 512, gsp.Constants.Color.light_gray)

n = 100
rng = np.random.default_rng(0)
positions = Bufferx.from_numpy(rng.uniform(-1, 1, (n, 3)).astype(np.float32), BufferType.vec3)
sizes = Bufferx.from_numpy(np.full((n,), 40.0, np.float32), BufferType.float32)
face_colors = CmapUtils.get_color_map("viridis", np.linspace(0, 1, n))
edge_colors = Bufferx.from_numpy(np.array([[0, 0, 0, 255]], np.uint8), BufferType.rgba8)
edge_widths = Bufferx.from_numpy(np.array([0.5], np.float32), BufferType.float32)

points = Points(positions, sizes, face_colors, edge_colors, edge_widths)
markers = Markers(MarkerShape.spade, positions, sizes, face_colors, edge_colors, edge_widths)
segments = Segments(positions, edge_widths, CapStyle.ROUND, Bufferx.from_numpy(np.tile([255, 0, 0, 255], (n // 2, 1)).astype(np.uint8), BufferType.rgba8))
path_sizes = Bufferx.from_numpy(np.array([50, 50], np.uint32), BufferType.uint32)
paths = Paths(positions, path_sizes, face_colors, edge_widths, CapStyle.BUTT, JoinStyle.MITER)
text_positions = Bufferx.from_numpy(np.array([[0, 0, 0], [0.5, 0.5, 0]], np.float32), BufferType.vec3)
texts = Texts(text_positions, ["Hello", "GSP"], edge_colors, Bufferx.from_numpy(np.array([14.0], np.float32), BufferType.float32),
              [TextAlign.CENTER_CENTER], Bufferx.from_numpy(np.array([0.0, 30.0], np.float32), BufferType.float32), "DejaVu Sans")
pixels = Pixels(positions, Bufferx.from_numpy(np.array([[255, 0, 0, 255], [0, 0, 255, 255]], np.uint8), BufferType.rgba8), [50, 50])
texture = Texture(Bufferx.from_numpy(rng.integers(0, 256, (16 * 8, 4)).astype(np.uint8), BufferType.rgba8), 16, 8)
image = Image(texture, Bufferx.from_numpy(np.zeros((1, 3), np.float32), BufferType.vec3), (-0.5, 0.5, -0.25, 0.25), ImageInterpolation.LINEAR)
cube = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], np.float32) * 0.5
indices = Bufferx.from_numpy(np.array([0, 1, 3, 0, 3, 2, 4, 6, 7, 4, 7, 5], np.uint32), BufferType.uint32)
geometry = MeshGeometry(Bufferx.from_numpy(cube, BufferType.vec3), indices, Bufferx.from_numpy(cube * 2, BufferType.vec3), None)
material = MeshPhongMaterial(gsp.Constants.Color.cyan, gsp.Constants.Color.white, 16.0,
                             [AmbientLight(gsp.Constants.Color.white, 0.2), DirectionalLight((1.0, 1.0, 1.0), (0.0, 0.0, 0.0))],
                             edge_colors, edge_widths, True, gsp.Constants.FaceCulling.BackSide)
mesh = Mesh(geometry, material)

chain = TransformChain(n, BufferType.vec3)
chain.add(TransformLinkImmediate(positions))
chained_points = Points(chain, sizes, face_colors, edge_colors, edge_widths)

camera = Camera(Bufferx.from_numpy(MathUtils.look_at((0, 0, 4), (0, 0, 0)), BufferType.mat4),
                Bufferx.from_numpy(MathUtils.perspective(45.0, 1.0, 0.1, 100.0), BufferType.mat4))
model_matrix = Bufferx.mat4_identity()

visuals = [points, markers, segments, paths, texts, pixels, image, mesh, chained_points]
for visual in visuals:
    visual.check_attributes()
viewports, model_matrices, cameras = [viewport] * len(visuals), [model_matrix] * len(visuals), [camera] * len(visuals)
print("built", len(visuals), "visuals", Bufferx.to_numpy(model_matrix).shape, Bufferx.to_numpy(face_colors).dtype)
