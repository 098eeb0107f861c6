"""Sessions for the player tests, recorded with the real recorder into real ``.gsplog`` files.

The scene is simple and known: one big red disc moving left to right on a white canvas, one
position per frame, so a test can check where the disc is in each replayed frame.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import recorder
from gsp.core import Camera, Canvas, Viewport
from gsp.types import Buffer, BufferType
from gsp.utils.renderer_registry import RendererRegistry
from gsp.visuals import Points

WHITE = bytearray([255, 255, 255, 255])
RED = np.array([[255, 0, 0, 255]], dtype=np.uint8)


def disc_x(frame: int, frames: int) -> float:
    """NDC x of the disc in frame ``frame`` (1-based) of ``frames``."""
    return -0.8 + 1.6 * (frame - 1) / max(1, frames - 1)


def expected_pixel(frame: int, frames: int, width: int, height: int) -> tuple[int, int]:
    """(row, column) of the disc centre in a ``width``×``height`` image (row 0 at the top)."""
    x = disc_x(frame, frames)
    return height // 2, int((x + 1.0) / 2.0 * width)


def _f32(values: list[float] | np.ndarray, kind: BufferType) -> Buffer:
    return Buffer.from_numpy(np.asarray(values, dtype=np.float32), kind)


def record_moving_disc(
    path: Path | None,
    frames: int = 5,
    *,
    width: int = 80,
    height: int = 60,
    interval_s: float = 0.0,
    markers: dict[int, str] | None = None,
    flush_interval_s: float = 0.1,
    writer_options: dict[str, object] | None = None,
    publish: str | None = None,
) -> Path | None:
    """Record ``frames`` renders of the moving disc; ``markers`` = {frame: label} marks before it."""
    markers = markers or {}
    with recorder.record(path, publish=publish, flush_interval_s=flush_interval_s, writer_options=writer_options):
        canvas = Canvas(width, height, 72.0, WHITE)
        viewport = Viewport(0, 0, width, height, WHITE)
        positions = _f32([[disc_x(1, frames), 0.0, 0.0]], BufferType.vec3)
        points = Points(
            positions,
            _f32([400.0], BufferType.float32),  # 20 pt diameter at 72 dpi: 20 px
            Buffer.from_numpy(RED, BufferType.rgba8),
            Buffer.from_numpy(RED, BufferType.rgba8),
            _f32([0.0], BufferType.float32),
        )
        identity = _f32(np.eye(4, dtype=np.float32).reshape(1, 4, 4), BufferType.mat4)
        camera = Camera(identity, identity)
        renderer = RendererRegistry.create_renderer("null", canvas)
        for frame in range(1, frames + 1):
            if frame in markers:
                recorder.mark(markers[frame])
            data = np.array([[disc_x(frame, frames), 0.0, 0.0]], dtype=np.float32)
            positions.set_data(bytearray(data.tobytes()), 0, 1)
            renderer.render([viewport], [points], [identity], [camera])
            if interval_s:
                time.sleep(interval_s)
    return path


def record_slow_disc(path: Path, gaps_s: list[float], **options: object) -> Path:
    """The moving disc with ``len(gaps_s) + 1`` frames, frame k + 1 ``gaps_s[k]`` seconds after
    frame k on the log's clock, recorded at full speed: the commands' times are written anew,
    so that no test sleeps through the pauses it replays."""
    from sessions import Command, LogReader, LogWriter

    fast = path.with_name(f"{path.stem}.fast.gsplog")
    record_moving_disc(fast, len(gaps_s) + 1, **options)  # type: ignore[arg-type]
    times = np.cumsum([0.0, *gaps_s]) * 1e9  # of each frame's commands, from the previous render on
    renders = 0
    with LogReader(fast) as reader:
        writer = LogWriter(path)
        for cmd in reader.commands():
            writer.append(Command(cmd.seq, int(times[renders]), cmd.op, cmd.target, cmd.args, cmd.kwargs))
            renders += cmd.op == "Renderer.render"
        writer.close()
    return path


def red_columns(rgba: np.ndarray) -> np.ndarray:
    """Columns of the middle row that are red (the disc)."""
    row = rgba[rgba.shape[0] // 2]
    return np.flatnonzero((row[:, 0] > 200) & (row[:, 1] < 80) & (row[:, 2] < 80))


def record_two_viewports(path: Path, width: int = 80, height: int = 60) -> Path:
    """One render of two side-by-side viewports with red (left) and blue (right) backgrounds."""
    red, blue = bytearray([255, 0, 0, 255]), bytearray([0, 0, 255, 255])
    with recorder.record(path):
        canvas = Canvas(width, height, 72.0, WHITE)
        left = Viewport(0, 0, width // 2, height, red)
        right = Viewport(width // 2, 0, width - width // 2, height, blue)
        white = Buffer.from_numpy(np.array([[255, 255, 255, 255]], np.uint8), BufferType.rgba8)
        dot = Points(
            _f32([[0.0, 0.0, 0.0]], BufferType.vec3),
            _f32([1.0], BufferType.float32),
            white,
            white,
            _f32([0.0], BufferType.float32),
        )
        identity = _f32(np.eye(4, dtype=np.float32).reshape(1, 4, 4), BufferType.mat4)
        camera = Camera(identity, identity)
        renderer = RendererRegistry.create_renderer("null", canvas)
        renderer.render([left, right], [dot, dot], [identity, identity], [camera, camera])
    return path


def record_two_discs(path: Path, width: int = 80, height: int = 60, frames: int = 2) -> Path:
    """``frames`` renders of one viewport holding two visuals: a red disc left, a blue disc right."""
    blue = np.array([[0, 0, 255, 255]], dtype=np.uint8)
    with recorder.record(path):
        canvas = Canvas(width, height, 72.0, WHITE)
        viewport = Viewport(0, 0, width, height, WHITE)
        discs = [
            Points(_f32([[x, 0.0, 0.0]], BufferType.vec3), _f32([400.0], BufferType.float32),
                   Buffer.from_numpy(color, BufferType.rgba8), Buffer.from_numpy(color, BufferType.rgba8),
                   _f32([0.0], BufferType.float32))
            for x, color in ((-0.5, RED), (0.5, blue))
        ]
        identity = _f32(np.eye(4, dtype=np.float32).reshape(1, 4, 4), BufferType.mat4)
        camera = Camera(identity, identity)
        renderer = RendererRegistry.create_renderer("null", canvas)
        for _ in range(frames):
            renderer.render([viewport, viewport], discs, [identity, identity], [camera, camera])
    return path


def with_undrawable_render(source: Path, path: Path, frame: int) -> Path:
    """``source`` written again to ``path`` with the camera of render number ``frame`` replaced by
    None: a session a damaged or hostile writer could make (GSP's own checks refuse it at
    record time), which every backend refuses to draw."""
    from sessions import LogReader, LogWriter
    from sessions.command import Command

    with LogReader(source) as reader:
        commands = list(reader.commands())
    renders = [i for i, c in enumerate(commands) if c.op == "Renderer.render"]
    bad = commands[renders[frame - 1]]
    commands[renders[frame - 1]] = Command(bad.seq, bad.t_ns, bad.op, bad.target, (*bad.args[:3], [None]), bad.kwargs)
    writer = LogWriter(path)
    for command in commands:
        writer.append(command)
    writer.close()
    return path


#: A scientist's own transform link, in a module of theirs: points given in raw units (far
#: outside the view) scaled into [-0.9, 0.9]. Its name is unique in the suite: a test process
#: that registered it would no longer meet it unknown.
LINK_MODULE = '''
import numpy as np
from gsp.transforms import TransformLinkBase, register_link
from gsp.types import BufferType
from gsp.utils.bufferx import Bufferx


@register_link
class LabScaleLink(TransformLinkBase):
    def __init__(self, scale):
        self.scale = scale

    def apply(self, buffer):
        data = Bufferx.to_numpy(buffer).copy()
        return Bufferx.from_numpy((data / np.abs(data).max() * self.scale).astype(np.float32), BufferType.vec3)

    def _serialize_fields(self):
        return {"scale": self.scale}

    @classmethod
    def _from_fields(cls, fields):
        return cls(fields["scale"])
'''

#: The recorded script: it draws 50 red points through a chain ending with that link, twice,
#: 0.4 s apart (a node can join between the two frames of a slowed-down `gsp serve`).
LINK_SCRIPT = '''
import time

import numpy as np
from gsp.core import Camera, Canvas, Viewport
from gsp.transforms import TransformChain, TransformLinkImmediate
from gsp.types import BufferType
from gsp.utils.bufferx import Bufferx
from gsp.utils.renderer_registry import RendererRegistry
from gsp.visuals import Points
from lablinks import LabScaleLink

if __name__ == "__main__":
    raw = np.random.default_rng(0).normal(0, 1000, (50, 3)).astype(np.float32)
    chain = TransformChain(50, BufferType.vec3)
    chain.add(TransformLinkImmediate(Bufferx.from_numpy(raw, BufferType.vec3)))
    chain.add(LabScaleLink(0.9))
    f32 = lambda v: Bufferx.from_numpy(np.array(v, np.float32), BufferType.float32)
    red = Bufferx.from_numpy(np.array([[255, 0, 0, 255]], np.uint8), BufferType.rgba8)
    points = Points(chain, f32([60.0]), red, red, f32([0.0]))
    white = bytearray([255, 255, 255, 255])
    canvas = Canvas(80, 60, 72.0, white)
    renderer = RendererRegistry.create_renderer("null", canvas)  # replays pick their own backend
    viewport, camera = Viewport(0, 0, 80, 60, white), Camera(Bufferx.mat4_identity(), Bufferx.mat4_identity())
    renderer.render([viewport], [points], [Bufferx.mat4_identity()], [camera])
    time.sleep(0.4)
    renderer.render([viewport], [points], [Bufferx.mat4_identity()], [camera])
'''


def record_custom_link_session(folder: Path) -> Path:
    """``folder/lablinks.py`` (a module registering the link ``LabScaleLink``), ``folder/script.py``
    (a script drawing through it) and ``folder/script.gsplog``, recorded from it by
    ``gsp record --no-render`` in a process of its own: this test process never registers the link."""
    import os
    import subprocess
    import sys

    (folder / "lablinks.py").write_text(LINK_MODULE)
    (folder / "script.py").write_text(LINK_SCRIPT)
    log = folder / "script.gsplog"
    done = subprocess.run([sys.executable, "-m", "gsplog_cli.main", "record", "script.py", "-o", log.name, "--no-render"],
                          cwd=folder, capture_output=True, text=True, timeout=120, env=dict(os.environ, MPLBACKEND="Agg"))
    assert done.returncode == 0, done.stderr
    return log
