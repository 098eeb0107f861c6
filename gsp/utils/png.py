"""A small, fast PNG encoder for (H, W, 3|4) uint8 frames (zlib level 1: frames are big, often),
used by the Datoviz backend for its frames and by ``RendererBase.render`` for the blank image it
returns while rendering is disabled. numpy and zlib only."""

from __future__ import annotations

import functools
import struct
import zlib

import numpy as np

__all__ = ["encode_png", "blank_png"]


def _chunk(tag: bytes, data: bytes) -> bytes:
    body = tag + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def encode_png(image: np.ndarray, level: int = 1) -> bytes:
    """PNG bytes of an (H, W, 3) RGB or (H, W, 4) RGBA uint8 image, row 0 at the top."""
    image = np.ascontiguousarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"encode_png: expected an (H, W, 3|4) uint8 image, got {image.dtype} {image.shape}")
    height, width, channels = image.shape
    # Each row starts with filter byte 0 (none): cheap, and zlib does the rest.
    rows = np.zeros((height, 1 + width * channels), np.uint8)
    rows[:, 1:] = image.reshape(height, -1)
    color_type = 2 if channels == 3 else 6
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"".join([
        b"\x89PNG\r\n\x1a\n",
        _chunk(b"IHDR", header),
        _chunk(b"IDAT", zlib.compress(rows.tobytes(), level)),
        _chunk(b"IEND", b""),
    ])


@functools.lru_cache(maxsize=8)
def blank_png(width: int, height: int) -> bytes:
    """PNG bytes of a transparent ``width`` x ``height`` image (kept: a headless run asks for
    the same canvas size every frame)."""
    return encode_png(np.zeros((height, width, 4), np.uint8), level=6)
