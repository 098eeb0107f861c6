"""Small builders shared by the gsp tests (real objects, no mocks)."""

from __future__ import annotations

import numpy as np

from gsp.constants import Constants
from gsp.core import Camera, Canvas, Texture, Viewport
from gsp.geometry import MeshGeometry
from gsp.lights import AmbientLight, DirectionalLight, PointLight
from gsp.materials import (
    MeshBasicMaterial,
    MeshDepthMaterial,
    MeshNormalMaterial,
    MeshPhongMaterial,
    MeshTexturedMaterial,
)
from gsp.types import Buffer, BufferType, CapStyle, ImageInterpolation, JoinStyle, MarkerShape, TextAlign
from gsp.types.visual_base import VisualBase
from gsp.utils import MathUtils
from gsp.visuals import Image, Markers, Paths, Pixels, Points, Segments, Texts
from gsp.visuals.mesh import Mesh


def vec3(n: int, seed: int = 0) -> Buffer:
    return Buffer.from_numpy(np.random.default_rng(seed).uniform(-1, 1, (n, 3)), BufferType.vec3)


def f32(*values: float) -> Buffer:
    return Buffer.from_numpy(np.asarray(values, np.float32), BufferType.float32)


def rgba(n: int, color: tuple[int, int, int, int] = (255, 0, 0, 255)) -> Buffer:
    return Buffer.from_numpy(np.tile(np.asarray(color, np.uint8), (n, 1)), BufferType.rgba8)


def u32(*values: int) -> Buffer:
    return Buffer.from_numpy(np.asarray(values, np.uint32), BufferType.uint32)


def camera() -> Camera:
    view = MathUtils.to_buffer(MathUtils.look_at((0, 0, 3), (0, 0, 0)))
    proj = MathUtils.to_buffer(MathUtils.perspective(45.0, 4 / 3, 0.1, 10.0))
    return Camera(view, proj)


def texture(w: int = 4, h: int = 3) -> Texture:
    data = np.arange(w * h * 4, dtype=np.uint8).reshape(-1, 4)
    return Texture(Buffer.from_numpy(data, BufferType.rgba8), w, h)


def every_visual() -> list[VisualBase]:
    """One of each visual kind, valid, with broadcast and per-item slots mixed."""
    n = 10
    geo = MeshGeometry(vec3(4), u32(0, 1, 2, 0, 2, 3), vec3(4, 1), Buffer.from_numpy(np.zeros((4, 2)), BufferType.vec2))
    lights = [AmbientLight(Constants.Color.white, 0.3), PointLight((1.0, 2.0, 3.0)), DirectionalLight(vec3(1), (0.0, 0.0, 0.0))]
    return [
        Points(vec3(n), f32(30.0), rgba(n), rgba(1, (0, 0, 0, 255)), f32(1.0)),
        Markers(MarkerShape.diamond, vec3(n), f32(*range(n)), rgba(1), rgba(n), f32(0.5)),
        Segments(vec3(2 * n), f32(2.0), CapStyle.ROUND, rgba(n)),
        Paths(vec3(n), u32(3, 7), rgba(n), f32(1.0), CapStyle.BUTT, JoinStyle.MITER),
        Texts(vec3(2), ["hello", "world"], rgba(1), f32(12.0), [TextAlign.BOTTOM_LEFT, TextAlign.TOP_RIGHT], f32(0.0, 45.0), "DejaVu Sans"),
        Pixels(vec3(n), rgba(2), [4, 6]),
        Image(texture(), vec3(1), (-0.5, 0.5, -0.25, 0.25), ImageInterpolation.NEAREST),
        Mesh(geo, MeshBasicMaterial(rgba(2), rgba(1), f32(1.0), True, Constants.FaceCulling.BackSide)),
        Mesh(geo, MeshNormalMaterial(rgba(1), f32(0.0), False, Constants.FaceCulling.FrontSide)),
        Mesh(geo, MeshDepthMaterial(rgba(1), f32(0.0), False, Constants.FaceCulling.BothSides)),
        Mesh(geo, MeshPhongMaterial(Constants.Color.red, Constants.Color.white, 32.0, lights, rgba(1), f32(0.0), True, Constants.FaceCulling.BackSide)),
        Mesh(geo, MeshTexturedMaterial(texture(), Constants.Color.white, Constants.Color.white, 8.0, lights, False, Constants.FaceCulling.BackSide)),
    ]


def canvas_and_viewport() -> tuple[Canvas, Viewport]:
    return Canvas(320, 240, 100.0, Constants.Color.white), Viewport(0, 0, 320, 240, Constants.Color.light_gray)
