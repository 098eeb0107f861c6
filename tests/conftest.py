"""Suite-wide settings: headless Matplotlib, quiet Datoviz, and GSP_REQUIRE_DATOVIZ.

With ``GSP_REQUIRE_DATOVIZ=1`` (set by CI) a skipped test marked ``datoviz`` is reported as a
failure: the Datoviz backend must be tested for real, not skipped.
"""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("DVZ_LOG_LEVEL", "4")
if not os.environ.get("XDG_RUNTIME_DIR") or not os.access(os.environ["XDG_RUNTIME_DIR"], os.W_OK):
    os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="gsp-xdg-")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if (
        report.skipped
        and os.environ.get("GSP_REQUIRE_DATOVIZ") == "1"
        and item.get_closest_marker("datoviz") is not None
    ):
        report.outcome = "failed"
        report.longrepr = f"GSP_REQUIRE_DATOVIZ=1 but this Datoviz test was skipped: {report.longrepr}"
