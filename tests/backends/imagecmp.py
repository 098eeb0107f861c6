"""Image comparison for backend tests: SSIM against reference PNGs kept in the repository.

``assert_matches_reference(rgba, "matplotlib/points.png")`` compares an (H, W, 3|4) uint8 image
with ``tests/backends/reference/matplotlib/points.png``. With ``GSP_UPDATE_REFERENCES=1`` in the
environment the reference is (re)written instead, and the test passes. A failing comparison
saves the actual image under ``$GSP_FAILED_IMAGES`` (default: ``<tmp>/gsp_failed_images/``) so
that it can be looked at.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np

REFERENCE_DIR = Path(__file__).parent / "reference"
FAILED_DIR = Path(os.environ.get("GSP_FAILED_IMAGES", Path(tempfile.gettempdir()) / "gsp_failed_images"))


def decode_png(png: bytes) -> np.ndarray:
    """PNG bytes -> (H, W, 4) uint8 RGBA."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGBA")).copy()


def save_png(rgba: np.ndarray, path: Path) -> None:
    """Write an (H, W, 3|4) uint8 array as PNG."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(rgba)).save(path, format="png")


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity of two same-size RGB(A) uint8 images (on their RGB, alpha-composited on gray)."""
    from skimage.metrics import structural_similarity

    if a.shape[:2] != b.shape[:2]:
        raise AssertionError(f"image sizes differ: {a.shape[1]}×{a.shape[0]} vs {b.shape[1]}×{b.shape[0]}")
    return float(structural_similarity(_flatten(a), _flatten(b), channel_axis=2, data_range=255.0))


def _flatten(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.shape[2] == 3:
        return image.astype(np.float64)
    alpha = image[..., 3:4].astype(np.float64) / 255.0
    # Composite on mid-gray so that transparent and opaque pixels still differ.
    return image[..., :3].astype(np.float64) * alpha + 128.0 * (1.0 - alpha)


def assert_matches_reference(image: np.ndarray | bytes, name: str, min_ssim: float = 0.99) -> float:
    """Compare with ``reference/<name>`` (SSIM ≥ ``min_ssim``); regenerate under GSP_UPDATE_REFERENCES=1."""
    rgba = decode_png(image) if isinstance(image, (bytes, bytearray)) else np.asarray(image)
    path = REFERENCE_DIR / name
    if os.environ.get("GSP_UPDATE_REFERENCES") == "1" or not path.exists():
        if os.environ.get("GSP_UPDATE_REFERENCES") != "1":
            raise AssertionError(f"no reference image {path}; run with GSP_UPDATE_REFERENCES=1 to create it")
        save_png(rgba, path)
        return 1.0
    from PIL import Image

    with Image.open(path) as ref_image:
        reference = np.asarray(ref_image.convert("RGBA" if rgba.shape[2] == 4 else "RGB"))
    score = ssim(rgba, reference)
    if score < min_ssim:
        save_png(rgba, FAILED_DIR / name)
        raise AssertionError(f"{name}: SSIM {score:.4f} < {min_ssim} (actual saved in {FAILED_DIR / name})")
    return score
