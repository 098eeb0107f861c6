"""``gsp.materials.mesh_basic_material``: the GSP 0.1 module path of MeshBasicMaterial (defined in ``gsp.materials.material``)."""

from gsp.materials.material import MeshBasicMaterial

__all__ = ["MeshBasicMaterial"]
