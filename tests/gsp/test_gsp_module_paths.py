"""GSP 0.1 scripts import each class from its own module (``gsp.types.text_align``,
``gsp.lights.ambient_light``...): every such path gives the very class the package exports."""

from __future__ import annotations

import importlib

import pytest

import gsp.geometry
import gsp.lights
import gsp.materials
import gsp.types

# (module path, name, the object the package exports under that name)
PATHS = [
    ("gsp.types.buffer", "Buffer", gsp.types.Buffer),
    ("gsp.types.buffer_type", "BufferType", gsp.types.BufferType),
    ("gsp.types.cap_style", "CapStyle", gsp.types.CapStyle),
    ("gsp.types.join_style", "JoinStyle", gsp.types.JoinStyle),
    ("gsp.types.marker_shape", "MarkerShape", gsp.types.MarkerShape),
    ("gsp.types.text_align", "TextAlign", gsp.types.TextAlign),
    ("gsp.types.image_interpolation", "ImageInterpolation", gsp.types.ImageInterpolation),
    ("gsp.types.color", "Color", gsp.types.Color),
    ("gsp.types.group", "Groups", gsp.types.Groups),
    ("gsp.lights.light", "Light", gsp.lights.Light),
    ("gsp.lights.ambient_light", "AmbientLight", gsp.lights.AmbientLight),
    ("gsp.lights.point_light", "PointLight", gsp.lights.PointLight),
    ("gsp.lights.directional_light", "DirectionalLight", gsp.lights.DirectionalLight),
    ("gsp.materials.material", "Material", gsp.materials.Material),
    ("gsp.materials.mesh_material", "MeshMaterial", gsp.materials.MeshMaterial),
    ("gsp.materials.mesh_basic_material", "MeshBasicMaterial", gsp.materials.MeshBasicMaterial),
    ("gsp.materials.mesh_normal_material", "MeshNormalMaterial", gsp.materials.MeshNormalMaterial),
    ("gsp.materials.mesh_depth_material", "MeshDepthMaterial", gsp.materials.MeshDepthMaterial),
    ("gsp.materials.mesh_phong_material", "MeshPhongMaterial", gsp.materials.MeshPhongMaterial),
    ("gsp.materials.mesh_textured_material", "MeshTexturedMaterial", gsp.materials.MeshTexturedMaterial),
    ("gsp.geometry.geometry", "Geometry", gsp.geometry.Geometry),
    ("gsp.geometry.mesh_geometry", "MeshGeometry", gsp.geometry.MeshGeometry),
]


@pytest.mark.parametrize(("path", "name", "exported"), PATHS, ids=[p for p, _, _ in PATHS])
def test_per_class_module_gives_the_exported_object(path: str, name: str, exported: object) -> None:
    module = importlib.import_module(path)
    assert getattr(module, name) is exported
