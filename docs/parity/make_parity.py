"""Side-by-side images: Matplotlib backend (left) | Datoviz backend (right), with the SSIM.

Renders every scene of tests/backends/gsp_scenes.py with both backends and writes one small PNG
per scene into docs/parity/, plus docs/parity/README.md listing the SSIM of each pair.

    python docs/parity/make_parity.py
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests" / "backends"))

import gsp_scenes as scenes  # noqa: E402
from imagecmp import decode_png, save_png, ssim  # noqa: E402

from player.backends.datoviz.renderer import DatovizRenderer  # noqa: E402
from player.backends.matplotlib.renderer import MatplotlibRenderer  # noqa: E402

EXAMPLES_SECTION = "## The examples"


def main() -> int:
    rows = ["# Parity: Matplotlib backend (left) | Datoviz backend (right)", "",
            "Made by `python docs/parity/make_parity.py` (software Vulkan). SSIM as in the parity tests.", "",
            "| scene | SSIM | image |", "|---|---|---|"]
    for name, factory in scenes.all_scenes().items():
        scene = factory()  # type: ignore[operator]
        left = decode_png(MatplotlibRenderer(scene.canvas).render(*scene.args))
        renderer = DatovizRenderer(scene.canvas)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            right = decode_png(renderer.render(*scene.args))
        renderer.close()
        score = ssim(left, right)
        gap = np.full((left.shape[0], 4, 4), 255, np.uint8)
        save_png(np.concatenate([left, gap, right], axis=1), HERE / f"{name}.png")
        rows.append(f"| {name} | {score:.3f} | ![{name}]({name}.png) |")
        print(f"{name:24s} SSIM {score:.3f}")
    # The examples' section is make_examples_parity.py's (written by hand from its output): kept.
    readme = HERE / "README.md"
    kept = readme.read_text().partition(EXAMPLES_SECTION)[2] if readme.exists() else ""
    readme.write_text("\n".join(rows) + "\n" + (f"\n{EXAMPLES_SECTION}{kept}" if kept else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
