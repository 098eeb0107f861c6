"""A GSP 0.1-style script imports and runs unchanged (as a real subprocess)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_gsp01_style_script_builds_and_validates() -> None:
    script = Path(__file__).with_name("gsp01_style_script.py")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "built 9 visuals (1, 4, 4) uint8"
