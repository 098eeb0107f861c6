"""GSP 0.1 passes the colors of a Phong or textured material as rgba8 buffers (a Phong diffuse
color one per vertex, a specular color or a texture tint of one item), as it does a basic
material's face colors; a single Color works too. Before, anything but a Color was refused."""

from __future__ import annotations

import numpy as np
import pytest
from gsp_scenes import WHITE, Scene, buf, checker_texture, floats, mat4, rgba, vec3
from imagecmp import decode_png

from gsp.constants import Constants
from gsp.core.camera import Camera
from gsp.core.canvas import Canvas
from gsp.core.viewport import Viewport
from gsp.geometry import MeshGeometry
from gsp.lights import AmbientLight
from gsp.materials import MeshPhongMaterial, MeshTexturedMaterial
from gsp.types import BufferType
from gsp.utils.renderer_registry import RendererRegistry
from gsp.visuals.mesh import Mesh

BACKENDS = ["matplotlib", pytest.param("datoviz", marks=pytest.mark.datoviz)]
BLACK = [[0, 0, 0, 255]]


def _quad() -> MeshGeometry:
    """Three triangles: the left half (vertices 0, 1, 2), the right half (1, 3, 4 and 1, 4, 2)."""
    return MeshGeometry(
        vec3([[-1, -1, 0], [0, -1, 0], [0, 1, 0], [1, -1, 0], [1, 1, 0]]),
        buf(np.array([0, 1, 2, 1, 3, 4, 1, 4, 2], np.uint32), BufferType.uint32),
        None,
        buf(np.array([[0, 0], [0.5, 0], [0.5, 1], [1, 0], [1, 1]], np.float32), BufferType.vec2),
    )


def _render(backend: str, mesh: Mesh) -> np.ndarray:
    canvas = Canvas(80, 40, 100.0, WHITE)
    scene = Scene(canvas)
    scene.add(Viewport(0, 0, 80, 40, WHITE), mesh, camera=Camera(mat4(np.eye(4)), mat4(np.eye(4))))
    renderer = RendererRegistry.create_renderer(backend, canvas)
    try:
        return decode_png(renderer.render(*scene.args))[..., :3].astype(int)
    finally:
        renderer.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_phong_diffuse_color_one_per_vertex(backend: str) -> None:
    # vertex 0 red, the others blue: the left face averages them, the right ones are blue
    diffuse = rgba([[255, 0, 0, 255], [0, 0, 255, 255], [0, 0, 255, 255], [0, 0, 255, 255], [0, 0, 255, 255]])
    material = MeshPhongMaterial(diffuse, rgba(BLACK), 10.0, [AmbientLight(WHITE, 1.0)], rgba([[0, 0, 0, 0]]),
                                 floats([0.0]), True, Constants.FaceCulling.BothSides)
    image = _render(backend, Mesh(_quad(), material))
    assert np.abs(image[30, 15] - [85, 0, 170]).max() <= 2, image[30, 15]
    assert np.abs(image[32, 75] - [0, 0, 255]).max() <= 2, image[32, 75]


@pytest.mark.parametrize("backend", BACKENDS)
def test_textured_tint_and_specular_as_one_item_buffers(backend: str) -> None:
    texture = checker_texture(2)
    texture.set_data(rgba(np.full((4, 4), 255)))
    material = MeshTexturedMaterial(texture, rgba([[0, 255, 0, 255]]), rgba(BLACK), 10.0,
                                    [AmbientLight(WHITE, 1.0)], True, Constants.FaceCulling.BothSides)
    image = _render(backend, Mesh(_quad(), material))
    assert np.abs(image[32, 75] - [0, 255, 0]).max() <= 2, image[32, 75]


def test_color_buffers_are_checked_against_the_geometry() -> None:
    material = MeshPhongMaterial(rgba([[255, 0, 0, 255]] * 4), WHITE, 10.0, [], rgba(BLACK), floats([0.0]),
                                 True, Constants.FaceCulling.BothSides)
    with pytest.raises(ValueError, match=r"Mesh: the material's diffuse_color has 4 items, expected 1, 3 "
                                         r"\(one per face\) or 5 \(one per vertex\)"):
        Mesh(_quad(), material)
    with pytest.raises(TypeError, match=r"MeshPhongMaterial.set_specular_color: specular_color"):
        material.set_specular_color(floats([1.0]))
    tint = MeshTexturedMaterial(checker_texture(2), rgba([[0, 255, 0, 255]] * 2), WHITE, 10.0, [], True,
                                Constants.FaceCulling.BothSides)
    with pytest.raises(ValueError, match=r"Mesh: the material's color has 2 items, expected 1"):
        Mesh(_quad(), tint)
