"""Fixtures shared by the session-log tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sessions_testkit import built_c_module

from sessions import codec


@pytest.fixture(params=["python", "c"])
def rows_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each test runs with the rows packed and read in Python, then with ``sessions._rows``."""
    if request.param == "c":
        built_c_module("_rows")
    default = codec.ROWS_BACKEND
    codec.use_rows(request.param)
    yield request.param
    codec.use_rows(default)
