"""A linear image with a transparent texel between two visible texels of different colors,
Matplotlib (left) | Datoviz (right), four times as large: texels (white, opaque) |
(transparent) | (purple, alpha 128), 40 px each, over light gray.

Writes docs/parity/image_bleed_mixed.png and prints the largest difference.
Usage: python docs/parity/make_image_bleed.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests" / "backends"))

import gsp_scenes as scenes  # noqa: E402
from imagecmp import decode_png, save_png  # noqa: E402

from gsp.core import Canvas, Texture  # noqa: E402
from gsp.types import BufferType, ImageInterpolation  # noqa: E402
from gsp.visuals import Image  # noqa: E402
from player.backends.datoviz.renderer import DatovizRenderer  # noqa: E402
from player.backends.matplotlib.renderer import MatplotlibRenderer  # noqa: E402


def scene() -> scenes.Scene:
    texels = np.array([[255, 255, 255, 255], [0, 0, 0, 0], [120, 40, 160, 128]], np.uint8)
    texture = Texture(scenes.buf(texels, BufferType.rgba8), 3, 1)
    canvas = Canvas(160, 40, 72.0, bytearray([230, 230, 230, 255]))
    out = scenes.Scene(canvas)
    out.add(scenes.full_viewport(canvas, bytearray([230, 230, 230, 255])), Image(texture, scenes.vec3([[0.0, 0.0]]), (-0.75, 0.75, -1.0, 1.0),
                                                ImageInterpolation.LINEAR))
    return out


def main() -> None:
    s = scene()
    reference = decode_png(MatplotlibRenderer(s.canvas).render(*s.args))
    renderer = DatovizRenderer(s.canvas)
    actual = decode_png(renderer.render(*s.args))
    renderer.close()
    diff = np.abs(reference[..., :3].astype(int) - actual[..., :3].astype(int)).max(axis=2)
    print(f"largest difference {diff.max()} levels, {int((diff > 16).sum() / s.canvas.get_height())} columns over 16")
    side = np.concatenate([reference, np.full((reference.shape[0], 4, 4), 128, np.uint8), actual], axis=1)
    save_png(np.repeat(np.repeat(side, 4, axis=0), 4, axis=1), HERE / "image_bleed_mixed.png")


if __name__ == "__main__":
    main()
