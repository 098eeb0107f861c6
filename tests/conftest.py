"""Suite-wide settings: headless Matplotlib, quiet Datoviz, GSP_REQUIRE_DATOVIZ and GSP_REQUIRE_WINDOW.

With ``GSP_REQUIRE_DATOVIZ=1`` (set by CI) a skipped test marked ``datoviz`` is reported as a
failure: the Datoviz backend must be tested for real, not skipped. ``GSP_REQUIRE_WINDOW=1``
does the same for tests marked ``window`` (a real window on Xvfb).
"""

from __future__ import annotations

import atexit
import errno
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("DVZ_LOG_LEVEL", "4")
if not os.environ.get("XDG_RUNTIME_DIR") or not os.access(os.environ["XDG_RUNTIME_DIR"], os.W_OK):
    os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="gsp-xdg-")
    atexit.register(shutil.rmtree, os.environ["XDG_RUNTIME_DIR"], ignore_errors=True)  # not one per run in /tmp


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


class SmallDisk:
    """A folder on a tmpfs of a few megabytes: a disk that really fills up (ENOSPC)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def free(self) -> int:
        """Bytes still free."""
        stats = os.statvfs(self.path)
        return stats.f_bavail * stats.f_frsize

    def fill(self, leave: int = 0) -> None:
        """Take the disk's free space (with a file named ``filler``) but ``leave`` bytes, rounded
        down to whole pages; ``leave=0``: every byte, the next write fails."""
        with open(self.path / "filler", "ab", buffering=0) as filler:
            block = b"\0" * 4096
            while self.free() > leave:
                try:
                    filler.write(block)
                except OSError as error:
                    assert error.errno == errno.ENOSPC, error
                    break
            if leave == 0:  # the last page may take a part of a block
                try:
                    while filler.write(b"\0"):
                        pass
                except OSError as error:
                    assert error.errno == errno.ENOSPC, error


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Callable[[str], SmallDisk]]:
    """``small_disk("2m")``: a tmpfs of that size mounted in ``tmp_path`` (root only: the test
    is skipped where mounting is refused), unmounted after the test."""
    mounted: list[Path] = []

    def mount(size: str) -> SmallDisk:
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        if os.geteuid() != 0:
            pytest.skip("a small disk is a tmpfs mounted by root")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
        mounted.append(folder)
        return SmallDisk(folder)

    yield mount
    for folder in reversed(mounted):
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)  # a file still open
