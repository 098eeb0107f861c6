"""Fixtures shared by the session-log tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sessions_testkit import built_c_module

from sessions import codec, ledger


def _each_backend(request: pytest.FixtureRequest, c_module: str, current: Callable[[], str],
                  use: Callable[[str], None]) -> Iterator[str]:
    """Switch to the Python path or to the C module ``sessions.<c_module>`` for one test, then back."""
    if request.param == "c":
        built_c_module(c_module)
    default = current()
    use(request.param)
    yield request.param
    use(default)


@pytest.fixture(params=["python", "c"])
def rows_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each test runs with the rows packed and read in Python, then with ``sessions._rows``."""
    yield from _each_backend(request, "_rows", lambda: codec.ROWS_BACKEND, codec.use_rows)


@pytest.fixture(params=["python", "c"])
def ledger_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each test runs with the keyframe ledger's rows noted in Python, then with ``sessions._ledger``."""
    yield from _each_backend(request, "_ledger", lambda: ledger.LEDGER_BACKEND, ledger.use_ledger)
