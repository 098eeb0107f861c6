"""Record every example headless, replay it on Matplotlib and Datoviz, and save the pairs.

Writes docs/parity/examples.png (one row per example: Matplotlib | Datoviz, last frame) and
prints the SSIM of each pair. Usage: python docs/parity/make_examples_parity.py
"""

from __future__ import annotations

import os
import runpy
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import player  # noqa: E402
import recorder  # noqa: E402
from gsp.types.animator_base import configure_headless, reset_headless  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "backends"))
from imagecmp import ssim  # noqa: E402


def last_frame(folder: Path) -> np.ndarray:
    path = sorted(folder.glob("*.png"))[-1]
    return (matplotlib.image.imread(path) * 255).round().astype(np.uint8)


def main() -> None:
    names = sorted(p.stem for p in (ROOT / "examples").glob("*.py"))
    os.environ["GSP_BACKEND"] = "null"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            log = Path(tmp) / f"{name}.gsplog"
            configure_headless(3, fps=20.0)
            try:
                with recorder.record(log):
                    runpy.run_path(str(ROOT / "examples" / f"{name}.py"), run_name="__main__")
            finally:
                reset_headless()
            pair = []
            for backend in ("matplotlib", "datoviz"):
                out = Path(tmp) / f"{name}-{backend}"
                player.replay(log, backend=backend, output=out, progress=False)
                pair.append(last_frame(out))
            score = ssim(pair[0], pair[1])
            print(f"{name:12s} SSIM {score:.3f}")
            rows.append((name, score, pair))
    fig, axes = plt.subplots(len(rows), 2, figsize=(6, 3 * len(rows)))
    for (name, score, pair), row in zip(rows, axes):
        for image, ax, title in zip(pair, row, ("Matplotlib", "Datoviz")):
            ax.imshow(image)
            ax.set_title(f"{name}: {title}" + (f" (SSIM {score:.3f})" if title == "Datoviz" else ""), fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(Path(__file__).with_name("examples.png"), dpi=60)


if __name__ == "__main__":
    main()
