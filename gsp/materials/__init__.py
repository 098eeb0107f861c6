"""Mesh materials."""

from gsp.materials.material import (
    Material,
    MeshBasicMaterial,
    MeshDepthMaterial,
    MeshMaterial,
    MeshNormalMaterial,
    MeshPhongMaterial,
    MeshTexturedMaterial,
)

__all__ = [
    "Material",
    "MeshMaterial",
    "MeshBasicMaterial",
    "MeshNormalMaterial",
    "MeshDepthMaterial",
    "MeshPhongMaterial",
    "MeshTexturedMaterial",
]
