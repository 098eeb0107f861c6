"""Shared helpers for the sessions tests and the golden-file script: a small, real GSP scene."""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Iterator
from types import ModuleType

import numpy as np

from sessions.command import Command, Ref


class Script:
    """Builds a command list with increasing seq and time (1 ms apart by default)."""

    def __init__(self, t_step_ns: int = 1_000_000) -> None:
        self.commands: list[Command] = []
        self.t_step_ns = t_step_ns

    def add(self, op: str, target: str, *args: object, **kwargs: object) -> Command:
        seq = len(self.commands) + 1
        cmd = Command(seq, seq * self.t_step_ns, op, target, tuple(args), dict(kwargs))
        self.commands.append(cmd)
        return cmd

    def buffer(self, uuid: str, array: np.ndarray, buffer_type: object) -> None:
        count = array.shape[0]
        self.add("Buffer.new", uuid, count, buffer_type)
        self.add("Buffer.set_data", uuid, bytearray(np.ascontiguousarray(array).tobytes()), 0, count)


def uid(n: int) -> str:
    return f"00000000-0000-0000-0000-{n:012d}"


def points_scene(frames: int = 10, n: int = 100, seed: int = 0, marker_at: int | None = 3) -> list[Command]:
    """Canvas, viewport, a Points visual over 4 buffers, a renderer; ``frames`` renders, positions
    changing each frame; a ``Recorder.mark("middle")`` before frame ``marker_at``."""
    from gsp.constants import Constants
    from gsp.types import BufferType

    rng = np.random.default_rng(seed)
    s = Script()
    s.add("Canvas.new", uid(1), 200, 150, 100.0, bytearray(Constants.Color.white))
    s.add("Viewport.new", uid(2), 0, 0, 200, 150, bytearray(Constants.Color.white))
    s.buffer(uid(3), rng.random((n, 3), dtype=np.float32) * 2 - 1, BufferType.vec3)
    s.buffer(uid(4), np.full(n, 30.0, np.float32), BufferType.float32)
    s.buffer(uid(5), np.tile(np.uint8([255, 0, 0, 255]), (n, 1)), BufferType.rgba8)
    s.buffer(uid(6), np.full(n, 1.0, np.float32), BufferType.float32)
    s.add("Points.new", uid(7), Ref(uid(3)), Ref(uid(4)), Ref(uid(5)), Ref(uid(5)), Ref(uid(6)))
    s.add("Renderer.new", uid(8), Ref(uid(1)))
    for frame in range(1, frames + 1):
        if frame == marker_at:
            s.add("Recorder.mark", "", "middle")
        positions = rng.random((n, 3), dtype=np.float32) * 2 - 1
        s.add("Buffer.set_data", uid(3), bytearray(positions.tobytes()), 0, n)
        s.add("Renderer.render", uid(8), [Ref(uid(2))], [Ref(uid(7))], [None], [None])
    return s.commands


def final_hash(commands: Iterator[Command] | list[Command]) -> str:
    from sessions.scene import SceneState

    state = SceneState()
    for cmd in commands:
        state.apply(cmd)
    return state.state_hash()


def built_c_module(name: str) -> ModuleType:
    """``sessions.<name>``, a C module: a test fails when a C compiler is here but the module is
    not built (``pip install -e .`` builds it), and is skipped where there is no compiler."""
    import pytest

    try:
        return importlib.import_module(f"sessions.{name}")
    except ImportError:
        if shutil.which("cc") or shutil.which("gcc"):
            pytest.fail(f"a C compiler is here but sessions.{name} is not built (pip install -e . builds it)")
        pytest.skip(f"sessions.{name} not built (no C compiler)")
