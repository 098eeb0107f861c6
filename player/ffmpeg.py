"""Frames piped to ffmpeg (the binary imageio-ffmpeg ships): H.264 videos and GIF, one frame at a time.

Nothing is held but the frame being written, so memory stays flat however long the video. ffmpeg's
messages are kept rather than shown: a failure is one ``OSError`` naming the output and ffmpeg's
first message (``cannot write m.mp4: ffmpeg: ...: No space left on device``), raised by the
write that meets ffmpeg gone, or by :meth:`FfmpegWriter.close`, which also checks ffmpeg's exit
status (frames that all fit in the pipe used to pass for a video written).
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections import deque
from fractions import Fraction
from pathlib import Path
from typing import IO

import numpy as np

__all__ = ["FfmpegWriter", "H264_ARGS", "VP9_ARGS", "GIF_ARGS"]

#: H.264 in yuv420p, crf 10: what imageio's writer made with ``quality=8``.
H264_ARGS = ["-vcodec", "libx264", "-pix_fmt", "yuv420p", "-crf", "10"]
#: VP9 in yuv420p for ``.webm`` (WebM holds VP8, VP9 or AV1 only: H.264 there was refused by
#: ffmpeg), constant quality near H264_ARGS', at libvpx's fast "realtime" speed.
VP9_ARGS = ["-vcodec", "libvpx-vp9", "-pix_fmt", "yuv420p", "-crf", "10", "-b:v", "0",
            "-deadline", "realtime", "-cpu-used", "8"]
#: GIF with one palette per frame made from that frame's colours, no dithering (as Pillow
#: quantises each frame), looping forever. ``stats_mode=single`` makes each palette from its
#: frame alone, so ffmpeg holds no frame back either.
GIF_ARGS = ["-vf", "split[a][b];[a]palettegen=stats_mode=single[p];[b][p]paletteuse=new=1:dither=none",
            "-loop", "0"]

_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")  # "[out#0/mp4 @ 0x55d...] "


class FfmpegWriter:
    """An ffmpeg process writing ``path`` from RGB frames of ``size`` (width, height) at ``fps``,
    with ``output_args`` (the codec and its options)."""

    def __init__(self, path: str | os.PathLike[str], size: tuple[int, int], fps: float,
                 output_args: list[str]) -> None:
        import imageio_ffmpeg

        self.path = Path(path)
        self.size = size
        rate = Fraction(fps).limit_denominator(1001)
        command = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-hide_banner", "-nostats", "-loglevel", "error",
                   "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size[0]}x{size[1]}", "-r", str(rate),
                   "-i", "-", "-an", *output_args, os.fspath(self.path)]
        self._messages: deque[str] = deque(maxlen=50)
        # A session of its own: Ctrl-C in the terminal stops the replay, which then closes or
        # aborts the video, rather than killing ffmpeg under it.
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, start_new_session=True)
        self._stdin: IO[bytes] = self._process.stdin  # type: ignore[assignment]
        self._reader = threading.Thread(target=self._read_messages, name="gsp-ffmpeg-messages", daemon=True)
        self._reader.start()

    def _read_messages(self) -> None:
        assert self._process.stderr is not None
        for line in self._process.stderr:
            text = line.decode(errors="replace").strip()
            if text:
                self._messages.append(text)

    def write(self, rgb: np.ndarray) -> None:
        """Hand one frame (height x width x 3, uint8) to ffmpeg."""
        try:
            self._stdin.write(np.ascontiguousarray(rgb).data.cast("B"))
        except OSError:  # ffmpeg is gone (BrokenPipeError): it says why
            raise self._failure() from None

    def close(self) -> None:
        """Let ffmpeg finish the file; OSError if it could not."""
        try:
            self._stdin.close()
        except OSError:  # the last frames met ffmpeg gone: its exit status tells
            pass
        if self._process.wait() != 0:
            raise self._failure()
        self._finish_reader()

    def kill(self) -> None:
        """Stop ffmpeg at once (the file it leaves is the caller's to remove)."""
        self._process.kill()
        try:
            self._stdin.close()
        except OSError:
            pass
        self._process.wait()
        self._finish_reader()

    def _finish_reader(self) -> None:
        # ffmpeg has exited and closed its end: the reader has every message. Our end of the pipe
        # is closed here, not left to the garbage collector (a ResourceWarning per video).
        self._reader.join()
        assert self._process.stderr is not None
        self._process.stderr.close()

    def _failure(self) -> OSError:
        code = self._process.wait()
        self._finish_reader()  # its messages are all in once it has exited and closed stderr
        reason = (_PREFIX.sub("", self._messages[0]) if self._messages
                  else f"it ended with exit status {code}")
        return OSError(f"cannot write {self.path}: ffmpeg: {reason}")
