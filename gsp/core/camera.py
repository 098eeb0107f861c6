"""Camera: the view and projection matrices (mat4, count 1)."""

from __future__ import annotations

from typing import Any

from gsp.capture import Captured, new_uuid
from gsp.types._checks import check_count, check_transbuf
from gsp.types.buffer_type import BufferType
from gsp.types.transbuf import TransBuf

__all__ = ["Camera"]

_MAT4 = (BufferType.mat4,)


def _check_matrix(owner: str, name: str, value: Any) -> TransBuf:
    count = check_transbuf(owner, name, value, _MAT4)
    check_count(owner, name, count, 1, "camera", one_ok=False)
    return value


class Camera(Captured):
    """``Camera(view_matrix, projection_matrix)``: NDC = P·V·M·p (column vectors), divided by w."""

    def __init__(self, view_matrix: TransBuf, projection_matrix: TransBuf) -> None:
        self._uuid = new_uuid()
        self.userData: dict[str, Any] = {}
        self._view_matrix = _check_matrix("Camera", "view_matrix", view_matrix)
        self._projection_matrix = _check_matrix("Camera", "projection_matrix", projection_matrix)

    def __repr__(self) -> str:
        return f"Camera(uuid={self._uuid})"

    def get_view_matrix(self) -> TransBuf:
        """The view matrix V (mat4, 1 item)."""
        return self._view_matrix

    def set_view_matrix(self, view_matrix: TransBuf) -> None:
        """Set V."""
        self._view_matrix = _check_matrix("Camera.set_view_matrix", "view_matrix", view_matrix)

    def get_projection_matrix(self) -> TransBuf:
        """The projection matrix P (mat4, 1 item)."""
        return self._projection_matrix

    def set_projection_matrix(self, projection_matrix: TransBuf) -> None:
        """Set P."""
        self._projection_matrix = _check_matrix(
            "Camera.set_projection_matrix", "projection_matrix", projection_matrix
        )
