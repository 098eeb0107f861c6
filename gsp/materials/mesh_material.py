"""``gsp.materials.mesh_material``: the GSP 0.1 module path of MeshMaterial (defined in ``gsp.materials.material``)."""

from gsp.materials.material import MeshMaterial

__all__ = ["MeshMaterial"]
