"""Mesh: triangles of a MeshGeometry drawn with a MeshMaterial."""

from __future__ import annotations

from typing import Any

from gsp.geometry.geometry import MeshGeometry
from gsp.materials.material import (
    MeshBasicMaterial,
    MeshDepthMaterial,
    MeshMaterial,
    MeshNormalMaterial,
    MeshPhongMaterial,
    MeshTexturedMaterial,
)
from gsp.types._checks import check_transbuf
from gsp.types.buffer_type import BufferType
from gsp.types.visual_base import VisualBase

__all__ = ["Mesh"]

#: The materials a renderer draws (a bare MeshMaterial or another subclass of it says nothing of how).
_DRAWN_MATERIALS = (MeshBasicMaterial, MeshNormalMaterial, MeshDepthMaterial, MeshPhongMaterial, MeshTexturedMaterial)


class Mesh(VisualBase):
    """``Mesh(geometry, material)``."""

    def __init__(self, geometry: MeshGeometry, material: MeshMaterial) -> None:
        super().__init__()
        self._init_attributes_({"geometry": geometry, "material": material})

    def _check_(self, owner: str, attrs: dict[str, Any], only: str | None, resolve: bool) -> None:
        if not isinstance(attrs["geometry"], MeshGeometry):
            raise TypeError(f"{owner}: geometry must be a MeshGeometry, got {type(attrs['geometry']).__name__}")
        if not isinstance(attrs["material"], _DRAWN_MATERIALS):
            names = ", ".join(kind.__name__ for kind in _DRAWN_MATERIALS)
            raise TypeError(f"{owner}: material must be one of {names}, got {type(attrs['material']).__name__}")
        if resolve:  # each checked whole (indices against the positions...), named as part of this mesh
            geometry, material = attrs["geometry"], attrs["material"]
            geometry._check_(f"{owner}: geometry", dict(geometry._attrs), None, True)
            material._check_(f"{owner}: material", dict(material._attrs), None, True)
        if only is None:  # together (creation, set_attributes, render): one may be swapped before the other
            _check_material_fits(owner, attrs["geometry"], attrs["material"], resolve)

    def get_geometry(self) -> MeshGeometry:
        """The geometry."""
        return self._attrs["geometry"]

    def set_geometry(self, geometry: MeshGeometry) -> None:
        """Set the geometry."""
        self._set_attribute_("geometry", geometry)

    def get_material(self) -> MeshMaterial:
        """The material."""
        return self._attrs["material"]

    def set_material(self, material: MeshMaterial) -> None:
        """Set the material."""
        self._set_attribute_("material", material)


def _check_material_fits(owner: str, geometry: MeshGeometry, material: MeshMaterial, resolve: bool) -> None:
    """The material's per-face attributes hold 1 item, one per face or one per vertex, and a
    textured material has uvs to sample with: what every backend needs to draw the mesh (a
    session recorded without it could not be replayed). ``resolve``: the real counts of chains."""
    vertices = check_transbuf(owner, "geometry.positions", geometry.get_positions(), (BufferType.vec3,),
                              resolve_chain=resolve)
    indices = check_transbuf(owner, "geometry.indices", geometry.get_indices(), (BufferType.uint32,),
                             resolve_chain=resolve)
    faces = None if indices is None else indices // 3
    for name, kind in (("face_colors", BufferType.rgba8), ("edge_colors", BufferType.rgba8),
                       ("edge_widths", BufferType.float32), ("diffuse_color", BufferType.rgba8),
                       ("specular_color", BufferType.rgba8), ("color", BufferType.rgba8)):
        value = material._attrs.get(name)
        if value is None or isinstance(value, (bytes, bytearray)):  # absent, or a single Color
            continue
        count = check_transbuf(owner, name, value, (kind,), resolve_chain=resolve)
        if count is None or vertices is None or faces is None:
            continue
        if name == "color":  # a textured material's tint multiplies the whole texture
            if count != 1:
                raise ValueError(f"{owner}: the material's color has {count} items, expected 1")
        elif count not in (1, faces, vertices):
            raise ValueError(f"{owner}: the material's {name} has {count} items, expected 1, {faces} "
                             f"(one per face) or {vertices} (one per vertex)")
    if isinstance(material, MeshTexturedMaterial) and geometry.get_uvs() is None:
        raise ValueError(f"{owner}: a MeshTexturedMaterial samples its texture at the geometry's uvs, "
                         "and this geometry has none")
