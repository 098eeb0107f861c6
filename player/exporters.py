"""Where replayed frames go: one PNG, a folder of numbered PNGs, or an MP4/GIF video.

``make_exporter(output)`` picks the exporter from the output path: a name ending in ``.png``
keeps one frame (the last one, or the one chosen with ``--frame``); ``.mp4``/``.mov``/``.mkv``/
``.webm``/``.avi``/``.gif`` make a video with the ffmpeg of imageio-ffmpeg, streamed frame by
frame (:mod:`player.ffmpeg`); anything else (an existing folder, or a path ending in ``/``, or a name without
suffix) is a folder receiving ``frame_000001.png``, ``frame_000002.png``, ...
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
import warnings
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from player.frames import RenderedFrame
from sessions.folders import make_folders, missing_folders, remove_folders

__all__ = [
    "check_writable",
    "Exporter",
    "PngExporter",
    "FramesDirExporter",
    "VideoExporter",
    "make_exporter",
    "estimate_fps",
    "choose_frame_rate",
    "FrameRate",
    "GifDelayWarning",
    "VIDEO_SUFFIXES",
    "GIF_MAX_FPS",
]

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".gif")
DEFAULT_FPS = 30.0
MIN_FPS, MAX_FPS = 1.0, 120.0
#: The fastest GIF browsers play as made: a GIF holds each frame's delay in hundredths of a
#: second, and Chrome, Firefox and Safari show a delay under 2 (0 or 10 ms) as 100 ms. At 50 fps
#: every delay is 20 ms; faster rates round some or all delays down to 10 ms (120 fps: all).
GIF_MAX_FPS = 50.0
# Frames kept before a video is opened, to measure the recorded frame rate.
_FPS_PROBE_FRAMES = 8


class Exporter:
    """Receives frames in order; ``close()`` finishes the files and returns their paths."""

    #: the image form the exporter consumes ("png" bytes or "rgba" arrays): the player asks
    #: the backend for that form so that nothing is encoded or decoded for nothing.
    wants: Literal["png", "rgba"] = "png"

    def add(self, frame: RenderedFrame) -> None:
        """Take one frame."""
        raise NotImplementedError

    def close(self) -> list[Path]:
        """Finish writing; the paths written."""
        raise NotImplementedError

    def abort(self) -> None:
        """Stop after a replay failed: release threads and files, and remove what would mislead
        (a video cut short). Files that are whole, such as the PNGs already in a folder, stay."""


class PngExporter(Exporter):
    """Writes one PNG: the last frame it was given (pixels are kept, encoded at close).

    ``refresh_s``: also write the newest frame as frames come, at most once every ``refresh_s``
    seconds (the first one at once): a live render node's picture stays current, and a node
    killed mid-session leaves its latest picture. Each write replaces the file whole (a
    temporary file renamed over it), so a viewer never reads half a PNG.
    """

    wants: Literal["png", "rgba"] = "rgba"

    def __init__(self, path: str | Path, refresh_s: float | None = None) -> None:
        self.path = Path(path)
        self.refresh_s = refresh_s
        self._last: RenderedFrame | None = None
        self._written: RenderedFrame | None = None
        self._written_at = 0.0

    def add(self, frame: RenderedFrame) -> None:
        self._last = frame  # keep only the newest
        if self.refresh_s is not None and (self._written is None or
                                           time.monotonic() - self._written_at >= self.refresh_s):
            self._write(frame)

    def _write(self, frame: RenderedFrame) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name}.partial")
        _write_png(partial, frame, self.path)
        os.replace(partial, self.path)
        self._written, self._written_at = frame, time.monotonic()

    def close(self) -> list[Path]:
        if self._last is None:
            return []
        if self._last is not self._written:
            self._write(self._last)
        return [self.path]


class FramesDirExporter(Exporter):
    """Writes every frame as ``frame_000001.png``, ``frame_000002.png``, ... in a folder.

    PNG encoding (zlib, which releases the GIL) and writing run on ``workers`` background
    threads (default: 2, or 1 on one core; 0 = on the caller's thread), overlapping with the
    drawing of the next frames; at most ``2 × workers`` frames wait, so memory stays bounded.
    """

    wants: Literal["png", "rgba"] = "rgba"

    def __init__(self, folder: str | Path, pattern: str = "frame_{:06d}.png", workers: int | None = None) -> None:
        self.folder = Path(folder)
        self.pattern = pattern
        self._paths: list[Path] = []
        # Made now, so that a folder that cannot be made fails before the replay starts; the
        # folders made here are removed again if the replay fails before writing a frame.
        self._made = make_folders(self.folder)
        self.folder.mkdir(exist_ok=True)  # one that could not be made says why here
        self._workers = max(0, workers if workers is not None else min(2, os.cpu_count() or 1))
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="gsp-png") if self._workers else None
        self._pending: deque[Future[None]] = deque()

    def add(self, frame: RenderedFrame) -> None:
        path = self.folder / self.pattern.format(len(self._paths) + 1)
        self._paths.append(path)
        if self._pool is None:  # workers=0: encode and write here
            _write_png(path, frame)
            return
        while len(self._pending) >= 2 * self._workers:
            self._pending.popleft().result()  # re-raises a write error here
        self._pending.append(self._pool.submit(_write_png, path, frame))

    def close(self) -> list[Path]:
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
        if not self._paths:
            # Nothing written (no render, or none in the range): the folders made for it go, as
            # after a failure; an existing folder keeps what it held (no replay replaced it).
            remove_folders(self._made)
            return []
        self._remove_earlier_frames()
        return list(self._paths)

    def _remove_earlier_frames(self) -> None:
        """Frames numbered past this replay's last, left by an earlier, longer replay into the
        same folder: with them the folder would hold two replays as if one."""
        number = len(self._paths) + 1
        while (stale := self.folder / self.pattern.format(number)).is_file():
            stale.unlink()
            number += 1

    def abort(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)  # the frames being written finish whole
        self._pending.clear()
        remove_folders(self._made)  # a folder someone else filled stays


def _write_png(path: Path, frame: RenderedFrame, output: Path | None = None) -> None:
    """Write ``frame`` as the PNG ``path`` (the temporary file of ``output``, if given); a
    failure (a full disk) names the frame and the output, and leaves no torn PNG behind."""
    data = frame.png_bytes()
    try:
        path.write_bytes(data)
    except OSError as error:
        with contextlib.suppress(OSError):
            path.unlink()
        raise OSError(f"cannot write frame {frame.number} to {output or path}: {error.strerror or error}") from None


class GifDelayWarning(UserWarning):
    """A GIF asked for at a rate browsers do not play it at (over :data:`GIF_MAX_FPS`)."""


@dataclass(frozen=True)
class FrameRate:
    """A video's frame rate and where it came from: ``source`` is ``"option"`` (asked for:
    ``--fps``), ``"animator"`` (declared by the frames' animator: 1 / its ``delta_time``),
    ``"recorded"`` (1 / the median interval of the first frames' recorded times) or
    ``"default"`` (no two frames with distinct times). ``derived`` is the rate that source gave
    when ``fps`` differs from it: clamped to 1–120, or to :data:`GIF_MAX_FPS` for a GIF.
    ``speed``: the factor the source's rate was multiplied by (``--speed``: a faster video)."""

    fps: float
    source: str
    derived: float | None = None
    speed: float = 1.0

    def describe(self) -> str:
        """``"120 fps, from the recorded timing (...)"``: for the replay's summary line."""
        if self.source == "option":
            return f"{self.fps:g} fps, as asked (--fps)"
        sped = f" times {self.speed:g} (--speed)" if self.speed != 1.0 else ""
        if self.source == "default":
            return f"{self.fps:g} fps, the default{sped}: the frames' recorded times do not tell (--fps sets it)"
        how = ("declared by the frames' animator (1 / its delta_time" if self.source == "animator" else
               f"from the recorded timing (1 / the median interval of the first {_FPS_PROBE_FRAMES} frames")
        how += sped
        if self.derived is not None:
            limit = (f"{GIF_MAX_FPS:g} is the most a GIF plays at in browsers" if self.fps == GIF_MAX_FPS
                     else f"clamped to {MIN_FPS:g}-{MAX_FPS:g}")
            how += f": {self.derived:.4g} fps, {limit}"
        return f"{self.fps:g} fps, {how}; --fps sets it)"


def estimate_fps(times_ns: list[int], default: float = DEFAULT_FPS, declared: Sequence[float | None] = ()) -> float:
    """Frames per second, clamped to 1..120: the median rate the frames' animator declared when
    every frame has one (``declared``: ``RenderedFrame.frame_rate``), else 1 / the median
    interval of their recorded times."""
    return choose_frame_rate(times_ns, default, declared).fps


def choose_frame_rate(times_ns: list[int], default: float = DEFAULT_FPS, declared: Sequence[float | None] = (),
                      *, gif: bool = False, speed: float = 1.0) -> FrameRate:
    """:func:`estimate_fps` and where the rate came from (:class:`FrameRate`), times ``speed``
    (a video that plays faster than recorded); for a ``gif``, at most :data:`GIF_MAX_FPS` (a
    faster GIF plays at 10 fps in browsers)."""
    rates = [rate for rate in declared if rate is not None]
    steps = [b - a for a, b in zip(times_ns, times_ns[1:]) if b > a]
    if rates and len(rates) == len(declared):
        source, derived = "animator", float(statistics.median(rates)) * speed
    elif steps:
        source, derived = "recorded", 1e9 / statistics.median(steps) * speed
    else:
        source, derived = "default", default * speed
    fps = min(GIF_MAX_FPS if gif else MAX_FPS, max(MIN_FPS, derived))
    return FrameRate(fps, source, None if fps == derived else derived, speed)


class VideoExporter(Exporter):
    """MP4 (and the other ffmpeg containers) or GIF, through the ffmpeg of imageio-ffmpeg
    (:class:`player.ffmpeg.FfmpegWriter`): each frame is handed to ffmpeg as it comes, so memory
    stays flat however long the video (imageio's Pillow plugin kept every GIF frame until the
    end: 0.8 MB a 400x400 frame).

    The frame rate is ``fps`` when given, else :func:`choose_frame_rate` of the first frames: the
    rate their animator declared, or the rate of their recorded times, times ``speed`` (at most
    50 fps for a GIF, :data:`GIF_MAX_FPS`; an ``fps`` over that for a GIF is a
    :class:`GifDelayWarning`).
    ``frame_rate`` says which, once the video is opened.
    All frames must have the size of the first one. Odd sizes are padded by one pixel (the
    H.264 yuv420p encoding needs even sizes); GIF frames keep their size.
    """

    wants: Literal["png", "rgba"] = "rgba"

    def __init__(self, path: str | Path, fps: float | None = None, speed: float | None = None) -> None:
        self.path = Path(path)
        if fps is not None and not fps > 0:
            raise ValueError(f"fps {fps!r}: must be positive")
        if speed is not None and not speed > 0:
            raise ValueError(f"speed {speed!r}: must be a positive factor")
        if fps is not None and speed is not None:
            raise ValueError(f"{self.path}: the frame rate is fps, or the recorded one times speed: give one of them")
        self.fps = fps
        self.speed = 1.0 if speed is None else speed
        self.frame_rate: FrameRate | None = FrameRate(fps, "option") if fps is not None else None
        if fps is not None and self.is_gif and fps > GIF_MAX_FPS:
            warnings.warn(GifDelayWarning(
                f"{self.path}: a GIF at {fps:g} fps has frame delays under 20 ms, which browsers show for 100 ms "
                f"(it plays slower there, and unevenly); {GIF_MAX_FPS:g} fps is the most they play as made"),
                stacklevel=2)
        self._pending: list[RenderedFrame] = []
        self._writer: Any = None
        self._shape: tuple[int, int] | None = None
        self.frames_written = 0

    @property
    def is_gif(self) -> bool:
        return self.path.suffix.lower() == ".gif"

    def add(self, frame: RenderedFrame) -> None:
        if self.fps is None and len(self._pending) < _FPS_PROBE_FRAMES:
            self._pending.append(frame)
            return
        self._flush_pending()
        self._append(frame)

    def _flush_pending(self) -> None:
        if self.fps is None:
            self.frame_rate = choose_frame_rate([f.t_ns for f in self._pending], declared=[f.frame_rate for f in
                                                self._pending], gif=self.is_gif, speed=self.speed)
            self.fps = self.frame_rate.fps
        pending, self._pending = self._pending, []
        for frame in pending:
            self._append(frame)

    def _open(self, width: int, height: int) -> None:
        from player.ffmpeg import GIF_ARGS, H264_ARGS, VP9_ARGS, FfmpegWriter

        assert self.fps is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.is_gif:
            self._writer = FfmpegWriter(self.path, (width, height), self.fps, GIF_ARGS)
        else:
            codec = VP9_ARGS if self.path.suffix.lower() == ".webm" else H264_ARGS
            self._writer = FfmpegWriter(self.path, (width + width % 2, height + height % 2), self.fps, codec)

    def _append(self, frame: RenderedFrame) -> None:
        rgba = frame.rgba_array()
        height, width = rgba.shape[:2]
        if self._shape is None:
            self._shape = (height, width)
            self._open(width, height)
        elif self._shape != (height, width):
            raise ValueError(
                f"{self.path}: frame {frame.number} is {width}x{height}, but the video is "
                f"{self._shape[1]}x{self._shape[0]} (one video needs frames of one size: replay with "
                "--size WxH to draw every canvas at one size)"
            )
        rgb = rgba[..., :3]
        if not self.is_gif:
            pad_h, pad_w = height % 2, width % 2
            if pad_h or pad_w:
                rgb = np.pad(rgb, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        self._writer.write(rgb)
        self.frames_written += 1

    def close(self) -> list[Path]:
        if self._pending:
            self._flush_pending()
        if self._writer is None:
            return []
        writer, self._writer = self._writer, None
        try:
            writer.close()
        except OSError:
            self.path.unlink(missing_ok=True)  # not a video cut short
            raise
        return [self.path]

    def abort(self) -> None:
        self._pending.clear()
        if self._writer is None:
            return
        self._writer.kill()
        self._writer = None
        self.path.unlink(missing_ok=True)


def check_writable(folder: Path, output: str) -> None:
    """Refuse, before anything is drawn, an ``output`` whose ``folder`` cannot be made or
    written in: a file where a folder should be, or a folder without write permission."""
    missing = missing_folders(folder)
    existing = Path(missing[-1]).parent if missing else folder
    if not existing.is_dir():
        raise ValueError(f"output {output!r}: {str(existing)!r} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"output {output!r}: no permission to write in {str(existing)!r}")


def make_exporter(output: str | os.PathLike[str], *, fps: float | None = None, speed: float | None = None,
                  refresh_s: float | None = None) -> Exporter:
    """The exporter for an output path (see the module docstring for the rules); ``fps`` and
    ``speed`` for a video (:class:`VideoExporter`), ``refresh_s`` for a ``.png`` (see
    :class:`PngExporter`: live sources keep their picture current). ValueError for ``speed``
    or ``fps`` with images: they have no pace to change, nor frame rate."""
    text = str(output)
    path = Path(output)
    suffix = path.suffix.lower()
    if speed is not None and suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"output {text!r}: speed changes a video's frame rate (or a window's pace); images have none")
    if fps is not None and suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"output {text!r}: fps (--fps) is a video's frame rate; images have none")
    if suffix == ".png" and not text.endswith(("/", "\\")):
        check_writable(path.parent, text)
        return PngExporter(path, refresh_s)
    if suffix in VIDEO_SUFFIXES:
        check_writable(path.parent, text)
        return VideoExporter(path, fps=fps, speed=speed)
    if path.exists() and not path.is_dir():
        raise ValueError(f"output {text!r}: exists and is not a folder, a .png or a video ({', '.join(VIDEO_SUFFIXES)})")
    if suffix and not path.exists() and not text.endswith(("/", "\\")):
        raise ValueError(
            f"output {text!r}: unknown suffix {suffix!r}; use .png, a video ({', '.join(VIDEO_SUFFIXES)}) "
            "or a folder (ending in '/')"
        )
    check_writable(path, text)
    return FramesDirExporter(path)
