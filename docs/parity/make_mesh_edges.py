"""Translucent mesh edges, Matplotlib (left) | Datoviz (right): a grid of white triangles with
black edges of alpha 80, 1 pt (top) and 3 pt (bottom) at 100 dpi, shown twice as large.

Writes docs/parity/mesh_edges_translucent.png. Usage: python docs/parity/make_mesh_edges.py
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

from gsp.constants import Constants  # noqa: E402
from gsp.core import Canvas  # noqa: E402
from gsp.geometry import MeshGeometry  # noqa: E402
from gsp.materials import MeshBasicMaterial  # noqa: E402
from gsp.types import BufferType  # noqa: E402
from gsp.visuals.mesh import Mesh  # noqa: E402
from player.backends.datoviz.renderer import DatovizRenderer  # noqa: E402
from player.backends.matplotlib.renderer import MatplotlibRenderer  # noqa: E402


def grid(edge_width_pt: float, n: int = 8) -> scenes.Scene:
    ticks = np.linspace(-0.8, 0.8, n)
    x, y = np.meshgrid(ticks, ticks)
    i, j = np.meshgrid(np.arange(n - 1), np.arange(n - 1))
    a = (j * n + i).ravel()
    indices = np.stack([np.stack([a, a + 1, a + n + 1], 1), np.stack([a, a + n + 1, a + n], 1)], 1).reshape(-1)
    geometry = MeshGeometry(scenes.vec3(np.c_[x.ravel(), y.ravel(), np.zeros(n * n)]),
                            scenes.buf(indices.astype(np.uint32), BufferType.uint32), None, None)
    material = MeshBasicMaterial(scenes.rgba([[255, 255, 255, 255]]), scenes.rgba([[0, 0, 0, 80]]),
                                 scenes.floats([edge_width_pt]), False, Constants.FaceCulling.BothSides)
    canvas = Canvas(300, 300, 100.0, scenes.WHITE)
    scene = scenes.Scene(canvas)
    scene.add(scenes.full_viewport(canvas), Mesh(geometry, material))
    return scene


def main() -> int:
    rows = []
    for width in (1.0, 3.0):
        scene = grid(width)
        left = decode_png(MatplotlibRenderer(scene.canvas).render(*scene.args))
        renderer = DatovizRenderer(scene.canvas)
        right = decode_png(renderer.render(*scene.args))
        renderer.close()
        crops = [np.repeat(np.repeat(image[40:160, 40:160], 2, axis=0), 2, axis=1) for image in (left, right)]
        rows.append(np.concatenate([crops[0], np.full((240, 6, 4), 255, np.uint8), crops[1]], axis=1))
    gap = np.full((6, rows[0].shape[1], 4), 255, np.uint8)
    save_png(np.concatenate([rows[0], gap, rows[1]], axis=0), HERE / "mesh_edges_translucent.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
