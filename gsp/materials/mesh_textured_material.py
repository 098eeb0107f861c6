"""``gsp.materials.mesh_textured_material``: the GSP 0.1 module path of MeshTexturedMaterial (defined in ``gsp.materials.material``)."""

from gsp.materials.material import MeshTexturedMaterial

__all__ = ["MeshTexturedMaterial"]
