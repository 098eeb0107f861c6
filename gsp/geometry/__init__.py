"""Geometry: vertex data (positions, triangles, normals, uvs)."""

from gsp.geometry.geometry import Geometry, MeshGeometry

__all__ = ["Geometry", "MeshGeometry"]
