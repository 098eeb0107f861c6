"""Fixtures of the gsp tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from seam_backends import BACKENDS, seam_backend


@pytest.fixture(params=BACKENDS)
def seam(request: pytest.FixtureRequest) -> Iterator[str]:
    """The capture seam's wrapper implementation of the test: "c" or "python"."""
    with seam_backend(request.param) as name:
        yield name
