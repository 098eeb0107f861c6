"""A face seen from its back is lit on that side (three.js's DoubleSide/BackSide, OpenGL's
two-sided lighting): the underside of a surface lit from above shows the ambient light only.
Before, lighting used the face's front normal whichever side was seen, so a surface seen from
below looked lit by a light above it, and the inside of a closed shape by lights outside it."""

from __future__ import annotations

import numpy as np
import pytest
from gsp_scenes import WHITE, Scene, buf, checker_texture, floats, look_at, mat4, perspective, rgba, vec3
from imagecmp import decode_png

from gsp.constants import Constants
from gsp.core.camera import Camera
from gsp.core.canvas import Canvas
from gsp.core.viewport import Viewport
from gsp.geometry import MeshGeometry
from gsp.lights import AmbientLight, DirectionalLight
from gsp.materials import MeshNormalMaterial, MeshPhongMaterial, MeshTexturedMaterial
from gsp.types import BufferType
from gsp.utils.renderer_registry import RendererRegistry
from gsp.visuals.mesh import Mesh

BACKENDS = ["matplotlib", pytest.param("datoviz", marks=pytest.mark.datoviz)]
GRAY = bytearray([200, 200, 200, 255])
NO_SPECULAR = bytearray([0, 0, 0, 255])


def _lights() -> list:
    # 0.2 ambient, 0.8 from straight above: the top is lit 200, the underside 40.
    return [AmbientLight(WHITE, 0.2), DirectionalLight((0.0, 0.0, 5.0), (0.0, 0.0, 0.0), WHITE, 0.8)]


def _square(culling: Constants.FaceCulling, textured: bool) -> Mesh:
    """A 2 × 2 square in the plane z = 0, counter-clockwise seen from above."""
    geometry = MeshGeometry(
        vec3([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]]),
        buf(np.array([0, 1, 2, 0, 2, 3], np.uint32), BufferType.uint32),
        None,
        buf(np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32), BufferType.vec2),
    )
    if textured:  # a plain white texture tinted gray: the same colors as the phong square
        texture = checker_texture(2)
        texture.set_data(rgba(np.full((4, 4), 255)))
        return Mesh(
            geometry, MeshTexturedMaterial(texture, GRAY, NO_SPECULAR, 10.0, _lights(), True, culling)
        )
    return Mesh(
        geometry,
        MeshPhongMaterial(
            GRAY, NO_SPECULAR, 10.0, _lights(), rgba([[0, 0, 0, 0]]), floats([0.0]), True, culling
        ),
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("textured", [False, True], ids=["phong", "textured"])
def test_a_square_lit_from_above_is_dark_seen_from_below(backend: str, textured: bool) -> None:
    canvas = Canvas(160, 80, 100.0, WHITE)
    scene = Scene(canvas)
    projection = mat4(perspective(50.0, 1.0, 0.1, 10.0))
    above = Camera(mat4(look_at((0, -2, 3), (0, 0, 0), (0, 0, 1))), projection)
    below = Camera(mat4(look_at((0, -2, -3), (0, 0, 0), (0, 0, 1))), projection)
    scene.add(Viewport(0, 0, 80, 80, WHITE), _square(Constants.FaceCulling.BothSides, textured), camera=above)
    scene.add(Viewport(80, 0, 80, 80, WHITE), _square(Constants.FaceCulling.BackSide, textured), camera=below)
    renderer = RendererRegistry.create_renderer(backend, canvas)
    try:
        image = decode_png(renderer.render(*scene.args))[..., :3].astype(int)
    finally:
        renderer.close()
    assert np.abs(image[40, 40] - 200).max() <= 2  # the top: ambient and the light
    assert np.abs(image[40, 120] - 40).max() <= 2, f"the underside is lit from above: {image[40, 120]}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_normal_material_shows_the_side_seen(backend: str) -> None:
    # Seen from below, the square's underside turns its normal to the camera: in camera space
    # its z is positive (blue > 0.5), as from above; before, it showed the normal pointing away.
    canvas = Canvas(160, 80, 100.0, WHITE)
    scene = Scene(canvas)
    projection = mat4(perspective(50.0, 1.0, 0.1, 10.0))
    for x, eye, culling in [
        (0, (0, 0, 3), Constants.FaceCulling.FrontSide),
        (80, (0, 0, -3), Constants.FaceCulling.BothSides),
    ]:
        square = _square(culling, False)
        square.set_material(MeshNormalMaterial(rgba([[0, 0, 0, 0]]), floats([0.0]), True, culling))
        scene.add(
            Viewport(x, 0, 80, 80, WHITE),
            square,
            camera=Camera(mat4(look_at(eye, (0, 0, 0), (0, 1, 0))), projection),
        )
    renderer = RendererRegistry.create_renderer(backend, canvas)
    try:
        image = decode_png(renderer.render(*scene.args))[..., :3].astype(int)
    finally:
        renderer.close()
    assert np.abs(image[40, 40] - [128, 128, 255]).max() <= 8  # facing the camera: (0, 0, 1)
    assert np.abs(image[40, 120] - [128, 128, 255]).max() <= 8, (
        f"the underside shows the normal pointing away: {image[40, 120]}"
    )
