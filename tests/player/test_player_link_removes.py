"""Logs of recorders from before a link's ``remove`` was logged with the value its ``add`` logged:
such a remove names the link as it was at the remove (its buffer written since), a value the
chain does not hold, and every replay stopped there ("... is not in the chain", exit 2). When
exactly one link of the chain has that type, the replay removes it and warns once; when several
have it, which one was meant is unknown and the error stands."""

from __future__ import annotations

import sys
from pathlib import Path

import imageio.v3 as iio3
import numpy as np
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from player_sessions import red_columns  # noqa: E402

import recorder  # noqa: E402
from gsp.core import Camera, Canvas, Viewport  # noqa: E402
from gsp.transforms import TransformChain, TransformLinkImmediate  # noqa: E402
from gsp.types import Buffer, BufferType  # noqa: E402
from gsp.utils.renderer_registry import RendererRegistry  # noqa: E402
from gsp.visuals import Points  # noqa: E402
from gsplog_cli.main import cli  # noqa: E402
from sessions import LogReader, LogWriter  # noqa: E402
from sessions.command import Command  # noqa: E402

WHITE = bytearray([255, 255, 255, 255])
REMOVE = "TransformChain.remove"


def _vec3(x: float) -> Buffer:
    return Buffer.from_numpy(np.array([[x, 0.0, 0.0]], np.float32), BufferType.vec3)


def _record(path: Path, *, links: int) -> Path:
    """A red disc drawn through a chain whose first link yields x = -0.6 (``links`` = 2: a second
    link, the same type, follows it). The script then moves that link's buffer to x = +0.6,
    removes the link, adds one at x = 0 and draws again: the second frame has the disc in the
    middle."""
    red = Buffer.from_numpy(np.array([[255, 0, 0, 255]], np.uint8), BufferType.rgba8)
    with recorder.record(path):
        canvas, viewport = Canvas(80, 60, 72.0, WHITE), Viewport(0, 0, 80, 60, WHITE)
        moved = _vec3(-0.6)
        link = TransformLinkImmediate(moved)
        chain = TransformChain(1, BufferType.vec3)
        chain.add(link)
        if links == 2:
            chain.add(TransformLinkImmediate(_vec3(-0.6)))
        size, angle = (Buffer.from_numpy(np.array([v], np.float32), BufferType.float32) for v in (400.0, 0.0))
        points = Points(chain, size, red, red, angle)
        identity = Buffer.from_numpy(np.eye(4, dtype=np.float32).reshape(1, 4, 4), BufferType.mat4)
        camera = Camera(identity, identity)
        renderer = RendererRegistry.create_renderer("null", canvas)
        renderer.render([viewport], [points], [identity], [camera])
        moved.set_data(bytearray(np.array([[0.6, 0.0, 0.0]], np.float32).tobytes()), 0, 1)
        chain.remove(link)
        chain.add(TransformLinkImmediate(_vec3(0.0)))
        renderer.render([viewport], [points], [identity], [camera])
    return path


def _as_an_old_recorder_logged_it(source: Path, path: Path) -> Path:
    """``source`` written again with its remove naming the link as it was at the remove (its
    buffer at x = +0.6), as recorders did before the fix."""
    with LogReader(source) as reader:
        commands = list(reader.commands())
    (at,) = [i for i, cmd in enumerate(commands) if cmd.op == REMOVE]
    old = commands[at]
    commands[at] = Command(old.seq, old.t_ns, old.op, old.target, (TransformLinkImmediate(_vec3(0.6)),), old.kwargs)
    writer = LogWriter(path)
    for command in commands:
        writer.append(command)
    writer.close()
    return path


def _replay(log: Path, out: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["replay", str(log), "-b", "matplotlib", "-o", f"{out}/", "--no-progress"])
    return result.exit_code, result.stderr


def test_an_old_remove_replays_when_one_link_of_the_chain_has_its_type(tmp_path: Path) -> None:
    new = _record(tmp_path / "new.gsplog", links=1)
    old = _as_an_old_recorder_logged_it(new, tmp_path / "old.gsplog")
    code, err = _replay(new, tmp_path / "new")
    assert code == 0, err
    code, err = _replay(old, tmp_path / "old")
    assert code == 0, err  # was 2: "TransformChain.remove: TransformLinkImmediate is not in the chain"
    with LogReader(old) as reader:
        seq = next(cmd.seq for cmd in reader.commands() if cmd.op == REMOVE)
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1, err
    assert f"seq {seq} {REMOVE}" in warnings[0] and "'TransformLinkImmediate'" in warnings[0]
    assert "only link of that type was removed instead" in warnings[0]
    for name in ("frame_000001.png", "frame_000002.png"):
        assert np.array_equal(iio3.imread(tmp_path / "old" / name), iio3.imread(tmp_path / "new" / name))
    middle = red_columns(iio3.imread(tmp_path / "old" / "frame_000002.png"))
    assert middle.size and abs(middle.mean() - 40) < 3  # the disc at x = 0, not left of it

    # gsp trim applies it too, for the keyframe its cut opens with
    result = CliRunner().invoke(cli, ["trim", str(old), str(tmp_path / "cut.gsplog"), "--from", "#2"])
    assert result.exit_code == 0, result.output
    assert f"seq {seq} {REMOVE}" in result.stderr
    code, err = _replay(tmp_path / "cut.gsplog", tmp_path / "cut")
    assert code == 0, err
    assert np.array_equal(iio3.imread(tmp_path / "cut" / "frame_000001.png"),
                          iio3.imread(tmp_path / "new" / "frame_000002.png"))

    # Two links of the type: the removed one cannot be told, so the replay stops as before.
    two = _as_an_old_recorder_logged_it(_record(tmp_path / "new2.gsplog", links=2), tmp_path / "old2.gsplog")
    code, err = _replay(two, tmp_path / "two")
    assert code == 2, err
    assert "TransformChain.remove: TransformLinkImmediate is not in the chain" in err
