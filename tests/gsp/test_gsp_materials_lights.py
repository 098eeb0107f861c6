"""Geometry, materials and lights: getters/setters and checks."""

from __future__ import annotations

import inspect

import pytest
from gsp_testkit import every_visual, f32, rgba, texture, u32, vec3

from gsp.capture import Captured
from gsp.constants import Constants
from gsp.geometry import Geometry, MeshGeometry
from gsp.lights import AmbientLight, DirectionalLight, Light, PointLight
from gsp.lights.light import vec3_of
from gsp.materials import MeshPhongMaterial, MeshTexturedMaterial
from gsp.types import Buffer, BufferType


def _objects() -> list[Captured]:
    objs: list[Captured] = [Geometry(vec3(2)), Light(), AmbientLight(Constants.Color.red, 0.5),
                            PointLight(vec3(1)), DirectionalLight((0.0, 1.0, 0.0), vec3(1))]
    for visual in every_visual():
        if hasattr(visual, "get_material"):
            objs += [visual.get_geometry(), visual.get_material()]  # type: ignore[attr-defined]
    return objs


@pytest.mark.parametrize("obj", _objects(), ids=lambda o: type(o).__name__)
def test_getters_and_setters_round_trip(obj: Captured) -> None:
    for name in [p for p in inspect.signature(type(obj).__init__).parameters if p != "self"]:
        value = getattr(obj, f"get_{name}")()
        getattr(obj, f"set_{name}")(value)
        after = getattr(obj, f"get_{name}")()
        assert after is value or after == value


def test_light_defaults_and_checks() -> None:
    light = Light()
    assert light.get_color() == Constants.Color.white and light.get_intensity() == 1.0
    with pytest.raises(ValueError, match="Light.set_intensity: intensity must be >= 0"):
        light.set_intensity(-1)
    with pytest.raises(ValueError, match=r"PointLight: position must have 3 numbers \(x, y, z\), got 2"):
        PointLight((1.0, 2.0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"DirectionalLight.set_target_position: target_position has 2 items, expected 1"):
        DirectionalLight(vec3(1), vec3(1)).set_target_position(vec3(2))
    point = PointLight([1, 2, 3])  # lists (as decoded from a log) are accepted
    assert point.get_position() == (1.0, 2.0, 3.0) and vec3_of(point.get_position()) == (1.0, 2.0, 3.0)
    assert vec3_of(Buffer.from_numpy([4.0, 5.0, 6.0], BufferType.vec3)) == (4.0, 5.0, 6.0)
    import numpy as np  # a numpy array of 3 numbers, as a scientist has them: taken as the numbers

    assert PointLight(np.array([0.0, 0.0, 1.0])).get_position() == (0.0, 0.0, 1.0)
    directional = DirectionalLight(np.array([1, 2, 3]), np.zeros(3))
    assert (directional.get_light_position(), directional.get_target_position()) == ((1.0, 2.0, 3.0), (0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match=r"got an array of shape \(4,\)"):
        PointLight(np.zeros(4))
    with pytest.raises(TypeError, match="must be 3 numbers \\(a tuple, list or array\\) or a Buffer"):
        PointLight("up")  # type: ignore[arg-type]


def test_material_checks() -> None:
    lights = [AmbientLight()]
    phong = MeshPhongMaterial(Constants.Color.red, Constants.Color.white, 10.0, lights, rgba(1), f32(1.0), True, Constants.FaceCulling.BackSide)
    with pytest.raises(ValueError, match="MeshPhongMaterial.set_shininess: shininess must be >= 0"):
        phong.set_shininess(-2.0)
    with pytest.raises(TypeError, match="MeshPhongMaterial.set_lights: lights must be a list of Light"):
        phong.set_lights([Constants.Color.red])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="MeshPhongMaterial.set_diffuse_color: diffuse_color must be a Color"):
        phong.set_diffuse_color(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="MeshPhongMaterial.set_diffuse_color: diffuse_color must be of type rgba8"):
        phong.set_diffuse_color(f32(1.0))
    with pytest.raises(TypeError, match="MeshPhongMaterial.set_edge_colors: edge_colors must be of type rgba8, got float32"):
        phong.set_edge_colors(f32(1.0))
    textured = MeshTexturedMaterial(texture(), Constants.Color.white, Constants.Color.white, 1.0, lights, False, Constants.FaceCulling.FrontSide)
    assert not hasattr(textured, "get_edge_colors")  # textured meshes draw no edges
    with pytest.raises(AttributeError, match="MeshTexturedMaterial has no attribute 'edge_colors'"):
        textured._set_attribute_("edge_colors", rgba(1))
    textured.check_attributes()


def test_geometry_resolution_checks() -> None:
    geo = MeshGeometry(vec3(3), u32(0, 1, 2), None, None)
    geo.set_positions(vec3(2))  # positions alone: the index range is checked together later
    with pytest.raises(ValueError, match="MeshGeometry.check_attributes: indices refer to vertex 2, but there are 2 positions"):
        geo.check_attributes()
    with pytest.raises(TypeError, match="Geometry: positions must be a Buffer or TransformChain of vec3"):
        Geometry([0, 0, 0])  # type: ignore[arg-type]


def test_a_mesh_material_must_fit_its_geometry() -> None:
    """Counts the backends need (1, one per face or one per vertex) and a textured material's
    uvs were only checked when a backend drew the mesh: a session recorded headless could then
    not be replayed."""
    from gsp_test_backend import ListingRenderer
    from gsp_testkit import camera, canvas_and_viewport

    from gsp.materials import MeshBasicMaterial
    from gsp.utils.bufferx import Bufferx
    from gsp.visuals import Mesh

    geo = MeshGeometry(vec3(4), u32(0, 1, 2, 0, 2, 3), None, None)  # 2 triangles, 4 vertices
    for count in (1, 2, 4):
        Mesh(geo, MeshBasicMaterial(rgba(count), rgba(1), f32(1.0), True, Constants.FaceCulling.FrontSide))
    with pytest.raises(ValueError, match=r"Mesh: the material's face_colors has 3 items, expected 1, 2 \(one per face\) "
                                         r"or 4 \(one per vertex\)"):
        Mesh(geo, MeshBasicMaterial(rgba(3), rgba(1), f32(1.0), True, Constants.FaceCulling.FrontSide))
    with pytest.raises(ValueError, match="the material's edge_widths has 5 items"):
        Mesh(geo, MeshBasicMaterial(rgba(1), rgba(1), f32(*[1.0] * 5), True, Constants.FaceCulling.FrontSide))
    lights = [AmbientLight(Constants.Color.white, 0.5)]
    textured = MeshTexturedMaterial(texture(), Constants.Color.white, Constants.Color.white, 1.0, lights, False,
                                    Constants.FaceCulling.FrontSide)
    with pytest.raises(ValueError, match="MeshTexturedMaterial samples its texture at the geometry's uvs"):
        Mesh(geo, textured)
    three = MeshGeometry(vec3(3), u32(0, 1, 2), None, None)  # swapped in two steps: each alone is not checked
    swapped = Mesh(geo, MeshBasicMaterial(rgba(2), rgba(1), f32(1.0), True, Constants.FaceCulling.FrontSide))
    swapped.set_geometry(three)
    swapped.set_material(MeshBasicMaterial(rgba(3), rgba(1), f32(1.0), True, Constants.FaceCulling.FrontSide))
    swapped.check_attributes()
    material = MeshBasicMaterial(rgba(2), rgba(1), f32(1.0), True, Constants.FaceCulling.FrontSide)
    mesh = Mesh(geo, material)
    material.set_face_colors(rgba(3))  # changed on the material afterwards: render says so
    canvas, viewport = canvas_and_viewport()
    with pytest.raises(ValueError, match="visuals\\[0\\]: Mesh: the material's face_colors has 3 items"):
        ListingRenderer(canvas).render([viewport], [mesh], [Bufferx.mat4_identity()], [camera()])
