"""Both implementations of the capture seam's wrappers for the seam tests: the C one
(``gsp._seam``, gsp/_seam.c) and the Python one (the reference)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

import pytest

from gsp import capture

#: The wrapper implementations, as ``capture.use_seam`` names them.
BACKENDS = ("c", "python")


def c_seam_module() -> ModuleType:
    """``gsp._seam``; fails on Linux when it is not built (pip install builds it wherever a compiler
    is: losing it is a regression), skips elsewhere."""
    try:
        from gsp import _seam
    except ImportError:
        if sys.platform == "linux":
            pytest.fail("gsp._seam is not built (pip install -e . builds it)")
        pytest.skip("gsp._seam is not built on this platform")
    return _seam


@contextmanager
def seam_backend(name: str) -> Iterator[str]:
    """Wrappers installed inside the block are ``name``'s, whatever ``GSP_NO_C_SEAM`` says."""
    if name == "c":
        c_seam_module()
    capture.use_seam(name)
    try:
        yield name
    finally:
        capture.use_seam(None)
