"""Decode limits: every size read from a file or the wire is checked against these first."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Upper bounds that a reader (and a replayed scene) enforces before allocating anything.

    The defaults are generous for real sessions (a 1 GiB chunk holds a 80 M-point vec3 buffer)
    and small enough that a hostile header cannot make a reader allocate terabytes.
    """

    max_chunk_bytes: int = 1 << 30  # compressed or raw size of one chunk
    max_commands_per_chunk: int = 1 << 22
    max_header_metadata: int = 1 << 20  # file header metadata (msgpack)
    max_array_dims: int = 32
    max_lz4_ratio: int = 256  # lz4 cannot expand more than ~255x; anything above is hostile
    # Python objects the msgpack of one chunk (or footer, or header metadata) may decode to, as
    # sessions.decoded_size charges them from the bytes: a 4 MiB chunk of small commands is
    # charged about 71 MB, and the bound keeps a few hostile kB from asking for gigabytes.
    max_decoded_bytes: int = 1 << 30
    # Bytes a replayed scene's objects may hold (buffer contents, canvas frames): a log may ask
    # for any size, a player (sessions.SceneState) refuses a scene past this one.
    max_scene_bytes: int = 8 << 30


DEFAULT_LIMITS = Limits()
#: For the scene a recorder keeps of its own calls (keyframes, snapshots for live nodes): they are
#: not input to guard against, and a bound there would only take keyframes away from a big scene.
RECORDER_LIMITS = Limits(max_scene_bytes=1 << 62)


def size_text(nbytes: int) -> str:
    """``nbytes`` for people, with the exact count when it is rounded: ``"128 GiB
    (137438953472 bytes)"``, ``"900 bytes"``."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if nbytes >= 1 << shift:
            return f"{nbytes / (1 << shift):.3g} {unit} ({nbytes} bytes)"
    return f"{nbytes} bytes"
