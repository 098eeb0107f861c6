"""``gsp.geometry.mesh_geometry``: the GSP 0.1 module path of MeshGeometry (defined in ``gsp.geometry.geometry``)."""

from gsp.geometry.geometry import MeshGeometry

__all__ = ["MeshGeometry"]
