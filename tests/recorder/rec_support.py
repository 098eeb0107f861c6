"""Shared helpers of the recorder tests: a small real scene, reading logs back, comparing commands."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gsp.core import Camera, Canvas, Viewport
from gsp.types import Buffer, BufferType
from gsp.utils.bufferx import Bufferx
from gsp.visuals import Points
from player.backends.null import NullRenderer
from sessions import Command, LogReader, Ref

REPO = Path(__file__).resolve().parents[2]
WHITE = bytearray([255, 255, 255, 255])
BLACK = bytearray([0, 0, 0, 255])


@dataclass
class Scene:
    """One Points visual in one viewport, with a null renderer (validates, draws nothing)."""

    canvas: Canvas
    viewport: Viewport
    camera: Camera
    model: Buffer
    positions: Buffer
    points: Points
    renderer: NullRenderer

    def render(self) -> bytes:
        return self.renderer.render([self.viewport], [self.points], [self.model], [self.camera])


def make_scene(n: int = 100, seed: int = 0) -> Scene:
    """Build a scene with ``n`` random points."""
    rng = np.random.default_rng(seed)
    canvas = Canvas(64, 48, 72.0, BLACK)
    viewport = Viewport(0, 0, 64, 48, WHITE)
    camera = Camera(Bufferx.mat4_identity(), Bufferx.mat4_identity())
    positions = Buffer(n, BufferType.vec3)
    positions.set_data(rng.random((n, 3), dtype=np.float32) * 2 - 1, 0, n)
    sizes = Bufferx.from_numpy(np.full(n, 9.0, np.float32), BufferType.float32)
    face = Bufferx.from_numpy(np.full((n, 4), 200, np.uint8), BufferType.rgba8)
    edge = Bufferx.from_numpy(np.zeros((n, 4), np.uint8), BufferType.rgba8)
    widths = Bufferx.from_numpy(np.ones(n, np.float32), BufferType.float32)
    points = Points(positions, sizes, face, edge, widths)
    renderer = NullRenderer(canvas)
    return Scene(canvas, viewport, camera, Bufferx.mat4_identity(), positions, points, renderer)


def read_commands(path: str | os.PathLike[str], **reader_options: Any) -> list[Command]:
    """Every command of a log, in order (keyframes skipped)."""
    with LogReader(path, **reader_options) as reader:
        return list(reader.commands())


def values_equal(a: Any, b: Any) -> bool:
    """Deep equality that handles numpy arrays and keeps bytes and bytearray distinct."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and np.array_equal(a, b)
        )
    if type(a) is not type(b) and not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def commands_equal(a: Command, b: Command) -> bool:
    """Two commands are the same call (tuples and lists compare alike, as the codec decodes)."""
    return (
        (a.seq, a.t_ns, a.op, a.target) == (b.seq, b.t_ns, b.op, b.target)
        and values_equal(list(a.args), list(b.args))
        and values_equal(a.kwargs, b.kwargs)
    )


def set_data_call(cmd: Command) -> tuple[Any, int, int]:
    """``(data, offset, count)`` of a Buffer.set_data command, positional or by keyword."""
    call = dict(zip(("data", "offset", "count"), cmd.args), **cmd.kwargs)
    return call["data"], call["offset"], call["count"]


def buffer_bytes(commands: list[Command], uuid: str) -> bytes | None:
    """The content of buffer ``uuid`` after replaying its full set_data commands (None if never set)."""
    content: bytearray | None = None
    for cmd in commands:
        if cmd.target != uuid:
            continue
        if cmd.op == "Buffer.new":
            count, btype = cmd.args[0], cmd.args[1]
            content = bytearray(count * BufferType.get_item_size(btype))
        elif cmd.op == "Buffer.set_data":
            data, offset, count = set_data_call(cmd)
            raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
            size = len(raw) // count if count else 0
            assert content is not None, f"set_data before new for {uuid}"
            content[offset * size : offset * size + len(raw)] = raw
    return None if content is None else bytes(content)


def ref_uuids(value: Any) -> list[str]:
    """UUIDs of every Ref inside a value."""
    if isinstance(value, Ref):
        return [value.uuid]
    if isinstance(value, (list, tuple)):
        return [u for v in value for u in ref_uuids(v)]
    if isinstance(value, dict):
        return [u for v in value.values() for u in ref_uuids(v)]
    return []


def run_python(args: list[str], *, timeout: float = 60, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``python args...`` from the repository root with a headless environment."""
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    env.update(kwargs.pop("env", {}))
    return subprocess.run(
        [sys.executable, *args], cwd=kwargs.pop("cwd", REPO), env=env, capture_output=True, text=True,
        timeout=timeout, **kwargs,
    )
