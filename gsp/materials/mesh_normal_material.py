"""``gsp.materials.mesh_normal_material``: the GSP 0.1 module path of MeshNormalMaterial (defined in ``gsp.materials.material``)."""

from gsp.materials.material import MeshNormalMaterial

__all__ = ["MeshNormalMaterial"]
