"""Mesh: triangles of a MeshGeometry drawn with a MeshMaterial."""

from __future__ import annotations

from typing import Any

from gsp.geometry.geometry import MeshGeometry
from gsp.materials.material import MeshMaterial
from gsp.types.visual_base import VisualBase

__all__ = ["Mesh"]


class Mesh(VisualBase):
    """``Mesh(geometry, material)``."""

    def __init__(self, geometry: MeshGeometry, material: MeshMaterial) -> None:
        super().__init__()
        self._init_attributes_({"geometry": geometry, "material": material})

    def _check_(self, owner: str, attrs: dict[str, Any], only: str | None, resolve: bool) -> None:
        if not isinstance(attrs["geometry"], MeshGeometry):
            raise TypeError(f"{owner}: geometry must be a MeshGeometry, got {type(attrs['geometry']).__name__}")
        if not isinstance(attrs["material"], MeshMaterial):
            raise TypeError(f"{owner}: material must be a MeshMaterial, got {type(attrs['material']).__name__}")
        if resolve:
            attrs["geometry"].check_attributes()
            attrs["material"].check_attributes()

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
