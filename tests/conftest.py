"""Suite-wide settings: headless Matplotlib, quiet Datoviz, GSP_REQUIRE_DATOVIZ and GSP_REQUIRE_WINDOW.

With ``GSP_REQUIRE_DATOVIZ=1`` (set by CI) a skipped test marked ``datoviz`` is reported as a
failure: the Datoviz backend must be tested for real, not skipped. ``GSP_REQUIRE_WINDOW=1``
does the same for tests marked ``window`` (a real window on Xvfb).
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
    if not report.skipped:
        return
    for marker, variable in _REQUIRED.items():
        if os.environ.get(variable) == "1" and item.get_closest_marker(marker) is not None:
            report.outcome = "failed"
            report.longrepr = f"{variable}=1 but this test, marked {marker}, was skipped: {report.longrepr}"
            return


#: Markers whose skipped tests fail when their variable is "1".
_REQUIRED = {"datoviz": "GSP_REQUIRE_DATOVIZ", "window": "GSP_REQUIRE_WINDOW"}
