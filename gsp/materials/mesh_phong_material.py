"""``gsp.materials.mesh_phong_material``: the GSP 0.1 module path of MeshPhongMaterial (defined in ``gsp.materials.material``)."""

from gsp.materials.material import MeshPhongMaterial

__all__ = ["MeshPhongMaterial"]
