"""TransformLinkLoad: a link that loads its data from a file (``.npy`` or an image)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from gsp.transforms.transform_link_base import TransformLinkBase, register_link
from gsp.types.buffer import Buffer
from gsp.types.buffer_type import BufferType

__all__ = ["TransformLinkLoad"]

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")


@register_link
class TransformLinkLoad(TransformLinkBase):
    """Loads a Buffer from ``path`` each time the chain runs.

    - ``.npy``: ``numpy.load(allow_pickle=False)``, converted to ``buffer_type`` (required).
    - images (png, jpg, ...): read with Matplotlib, yielding rgba8 texels, one per pixel,
      rows from the top of the image down (``buffer_type`` must be None or rgba8).
    The path is stored as given; replaying elsewhere needs the file at that path.
    """

    def __init__(self, path: str, buffer_type: BufferType | None = None) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"TransformLinkLoad: path must be a str, got {type(path).__name__}")
        if buffer_type is not None and not isinstance(buffer_type, BufferType):
            raise TypeError(f"TransformLinkLoad: buffer_type must be a BufferType or None, got {buffer_type!r}")
        self._path = os.fspath(path)
        self._is_image = self._path.lower().endswith(_IMAGE_SUFFIXES)
        if self._is_image and buffer_type not in (None, BufferType.rgba8):
            raise ValueError(f"TransformLinkLoad: images load as rgba8, not {buffer_type.name}: {self._path}")
        if not self._is_image and not self._path.lower().endswith(".npy"):
            raise ValueError(f"TransformLinkLoad: unsupported file kind {self._path!r} (expected .npy or an image)")
        if not self._is_image and buffer_type is None:
            raise ValueError(f"TransformLinkLoad: buffer_type is required for .npy files: {self._path}")
        self._buffer_type = BufferType.rgba8 if self._is_image else buffer_type

    def get_path(self) -> str:
        """The file path."""
        return self._path

    def get_buffer_type(self) -> BufferType | None:
        """The type of the produced buffer."""
        return self._buffer_type

    def apply(self, buffer: Buffer | None) -> Buffer:
        """Read the file and return its contents as a new Buffer."""
        if not os.path.isfile(self._path):
            raise ValueError(f"TransformLinkLoad: file not found: {self._path}")
        assert self._buffer_type is not None
        if self._is_image:
            return Buffer.from_numpy(_read_image_rgba8(self._path), BufferType.rgba8)
        try:
            arr = np.load(self._path, allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"TransformLinkLoad: cannot load {self._path}: {exc}") from None
        return Buffer.from_numpy(arr, self._buffer_type)

    def _serialize_fields(self) -> dict[str, Any]:
        return {"path": self._path, "buffer_type": None if self._buffer_type is None else self._buffer_type.value}

    @classmethod
    def _from_fields(cls, fields: dict[str, Any]) -> TransformLinkLoad:
        path, raw_type = fields.get("path"), fields.get("buffer_type")
        if not isinstance(path, str):
            raise ValueError("TransformLinkLoad.deserialize: 'path' must be a string")
        try:
            buffer_type = None if raw_type is None else BufferType(raw_type)
        except ValueError:
            raise ValueError(f"TransformLinkLoad.deserialize: bad buffer_type {raw_type!r}") from None
        return cls(path, buffer_type)


def _read_image_rgba8(path: str) -> np.ndarray:
    """Image texels as (H*W, 4) uint8, top row first."""
    import matplotlib.image  # lazy: gsp does not depend on matplotlib at import time

    img = np.asarray(matplotlib.image.imread(path))
    if img.dtype.kind == "f":  # PNGs come as floats 0..1
        img = np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
    img = img.astype(np.uint8, copy=False)
    if img.ndim == 2:
        img = np.stack([img, img, img], axis=-1)
    if img.shape[-1] == 3:
        img = np.concatenate([img, np.full(img.shape[:2] + (1,), 255, np.uint8)], axis=-1)
    return img.reshape(-1, 4)
