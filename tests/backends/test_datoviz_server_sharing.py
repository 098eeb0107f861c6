"""Many Datoviz engines in one process: one shared server, isolated figures, no leaks, no noise.

On NVIDIA's driver a process can create only 30 Vulkan instances (the 31st fails and Datoviz
exits the process), so engines must share one server: these tests create more engines than
that, alive one after the other and side by side, and check every frame they draw.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from player.backends.datoviz import datoviz_available

pytestmark = pytest.mark.datoviz

if not datoviz_available() and os.environ.get("GSP_REQUIRE_DATOVIZ") != "1":
    pytest.skip("datoviz cannot be imported here", allow_module_level=True)

from player.backends.datoviz.engine import DatovizEngine  # noqa: E402

WHITE = (255, 255, 255, 255)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _disc_engine(x_ndc: float, color: tuple[int, int, int, int], size: float = 12.0) -> DatovizEngine:
    eng = DatovizEngine(64, 48)
    panel = eng.panel(0, 0, 64, 48)
    panel.set_background(WHITE)
    layer = eng.layer("point", panel, 1)
    layer.update(np.array([[x_ndc, 0.0, 0.0]], np.float32), np.array([size], np.float32),
                 np.array([color], np.uint8))
    return eng


def _ink_center_x(frame: np.ndarray) -> float:
    ink = frame.astype(int).sum(axis=2) < 600
    return float(np.nonzero(ink)[1].mean() + 0.5)


def test_more_engines_than_vulkan_instances_allowed_each_draw_right() -> None:
    first = _disc_engine(0.0, (0, 0, 255, 255))
    server = first.server
    first.close()
    for k in range(40):  # more than the 30 instances NVIDIA allows a process
        x = -0.6 + 0.03 * k
        eng = _disc_engine(x, (0, 0, 255, 255))
        assert eng.server is server
        frame = eng.render()
        assert _ink_center_x(frame) == pytest.approx((x + 1.0) * 32.0, abs=0.5)
        eng.close()


def test_engines_alive_together_keep_their_own_figures() -> None:
    left = _disc_engine(-0.5, (255, 0, 0, 255))
    right = _disc_engine(0.5, (0, 0, 255, 255))
    left_frame, right_frame = left.render(), right.render()
    assert _ink_center_x(left_frame) == pytest.approx(16.0, abs=0.5)
    assert _ink_center_x(right_frame) == pytest.approx(48.0, abs=0.5)
    # Closing one engine deletes only its own objects: the other keeps drawing, images too.
    left.close()
    image = right.layer("image", right.panel(0, 0, 64, 48), 1)
    image.update(np.full((4, 4, 4), (0, 160, 0, 255), np.uint8), (-1.0, -0.5, 0.5, 1.0))
    frame = right.render()
    assert _ink_center_x(frame) != pytest.approx(48.0, abs=0.5)  # the image shows, at the left
    assert tuple(frame[2, 2]) == (0, 160, 0)
    assert tuple(frame[24, 48]) != (255, 255, 255)  # the disc is still there
    right.close()


def test_reset_and_close_are_idempotent_and_closed_engine_refuses_to_render() -> None:
    eng = _disc_engine(0.0, (0, 0, 0, 255))
    eng.render()
    eng.reset(32, 16)
    assert eng.render().shape == (16, 32, 3)
    eng.close()
    eng.close()
    with pytest.raises(RuntimeError, match="closed"):
        eng.render()


def _run(code: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=240, cwd=ROOT, env=env)


def test_new_engines_print_no_duplicate_default_object_errors() -> None:
    # Every Datoviz scene asks for a default texture and sampler under fixed ids; a shared
    # server that has them would log "object ... already exists" for each new engine.
    done = _run("""
        import numpy as np
        from player.backends.datoviz.engine import DatovizEngine
        for k in range(4):
            e = DatovizEngine(32, 32)
            p = e.panel(0, 0, 32, 32); p.set_background((255, 255, 255, 255))
            e.layer("image", p, 1).update(np.zeros((2, 2, 4), np.uint8) + 255, (-1, 1, -1, 1))
            e.render(); e.reset(); e.panel(0, 0, 32, 32); e.render(); e.close()
        print("OK")
    """, {"DVZ_LOG_LEVEL": "4"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "OK" in done.stdout
    assert "already exists" not in done.stdout + done.stderr


@pytest.mark.slow
def test_closed_engines_give_their_gpu_memory_back() -> None:
    # Software Vulkan keeps "GPU" memory in the process: without deleting what each engine
    # created on the shared server, 20 engines of 200k points at 800×600 grow it by ~800 MB.
    done = _run("""
        import numpy as np
        from player.backends.datoviz.engine import DatovizEngine
        def rss():
            return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) // 1024
        pos = np.random.default_rng(0).uniform(-1, 1, (200_000, 3)).astype(np.float32)
        start = None
        for k in range(21):
            e = DatovizEngine(800, 600)
            p = e.panel(0, 0, 800, 600)
            e.layer("point", p, len(pos)).update(pos, np.full(len(pos), 3, np.float32),
                                                 np.full((len(pos), 4), 255, np.uint8))
            e.render(); e.close()
            if k == 0:
                start = rss()
        print("GROWTH", rss() - start)
    """)
    assert done.returncode == 0, done.stderr[-2000:]
    growth = int(done.stdout.split("GROWTH")[1])
    assert growth < 300, f"20 closed engines kept {growth} MB"
