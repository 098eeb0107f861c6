"""``gsp.materials.mesh_depth_material``: the GSP 0.1 module path of MeshDepthMaterial (defined in ``gsp.materials.material``)."""

from gsp.materials.material import MeshDepthMaterial

__all__ = ["MeshDepthMaterial"]
