"""Geometry and MeshGeometry: vertex data shared by visuals."""

from __future__ import annotations

from typing import Any

import numpy as np

from gsp.capture import Captured, new_uuid
from gsp.types._attributes import AttributeHolder
from gsp.types._checks import buffer_fact, check_count, check_transbuf, resolve
from gsp.types.buffer import Buffer
from gsp.types.buffer_type import BufferType
from gsp.types.transbuf import TransBuf

__all__ = ["Geometry", "MeshGeometry"]


def _largest(values: np.ndarray) -> int:
    return int(np.max(values))


class Geometry(AttributeHolder, Captured):
    """``Geometry(positions)``: vec3 positions."""

    def __init__(self, positions: TransBuf) -> None:
        self._uuid = new_uuid()
        self.userData: dict[str, Any] = {}
        self._init_attributes_({"positions": positions})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(uuid={self._uuid})"

    def _check_(self, owner: str, attrs: dict[str, Any], only: str | None, resolve: bool) -> None:
        check_transbuf(owner, "positions", attrs["positions"], (BufferType.vec3,), resolve_chain=resolve)

    def get_positions(self) -> TransBuf:
        """Vertex positions (vec3)."""
        return self._attrs["positions"]

    def set_positions(self, positions: TransBuf) -> None:
        """Set the vertex positions (vec3)."""
        self._set_attribute_("positions", positions)

    def check_attributes(self) -> None:
        """Validate everything together, running transform chains."""
        self._check_(f"{type(self).__name__}.check_attributes", dict(self._attrs), None, True)


class MeshGeometry(Geometry):
    """``MeshGeometry(positions, indices, normals, uvs)``.

    indices uint32, 3 per triangle, each < the number of positions; normals vec3 and uvs vec2,
    one per position, or None when the mesh has none.
    """

    def __init__(self, positions: TransBuf, indices: TransBuf, normals: TransBuf | None, uvs: TransBuf | None) -> None:
        self._uuid = new_uuid()
        self.userData = {}
        self._init_attributes_({"positions": positions, "indices": indices, "normals": normals, "uvs": uvs})

    def _check_(self, owner: str, attrs: dict[str, Any], only: str | None, do_resolve: bool) -> None:
        n = check_transbuf(owner, "positions", attrs["positions"], (BufferType.vec3,), resolve_chain=do_resolve)
        if only in (None, "indices"):
            indices = attrs["indices"]
            count = check_transbuf(owner, "indices", indices, (BufferType.uint32,), resolve_chain=do_resolve)
            if count is not None and count % 3:
                raise ValueError(f"{owner}: indices has {count} items, expected a multiple of 3 (3 per triangle)")
            if do_resolve:
                indices = resolve(owner, "indices", indices)
            if isinstance(indices, Buffer) and n is not None and indices.get_count():
                top = buffer_fact(indices, "max", _largest)  # checked at each render: kept while unchanged
                if top >= n:
                    raise ValueError(f"{owner}: indices refer to vertex {top}, but there are {n} positions")
        for name, kind in (("normals", BufferType.vec3), ("uvs", BufferType.vec2)):
            if only in (None, name):
                count = check_transbuf(owner, name, attrs[name], (kind,), resolve_chain=do_resolve, allow_none=True)
                check_count(owner, name, count, n, "position", one_ok=False)

    def get_indices(self) -> TransBuf:
        """Triangle vertex indices (uint32, 3 per triangle)."""
        return self._attrs["indices"]

    def set_indices(self, indices: TransBuf) -> None:
        """Set the triangle indices."""
        self._set_attribute_("indices", indices)

    def get_normals(self) -> TransBuf | None:
        """Vertex normals (vec3) or None."""
        return self._attrs["normals"]

    def set_normals(self, normals: TransBuf | None) -> None:
        """Set the vertex normals (vec3, one per position) or None."""
        self._set_attribute_("normals", normals)

    def get_uvs(self) -> TransBuf | None:
        """Texture coordinates (vec2) or None."""
        return self._attrs["uvs"]

    def set_uvs(self, uvs: TransBuf | None) -> None:
        """Set the texture coordinates (vec2, one per position) or None."""
        self._set_attribute_("uvs", uvs)
