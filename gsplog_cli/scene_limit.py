"""``--max-scene-gib``: the scene bound of every command that rebuilds a scene from a log or a
stream (``gsp-replay``, ``gsp trim``, ``gsp node``, ``gsp relay``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from sessions.limits import Limits

__all__ = ["DEFAULT_MAX_SCENE_GIB", "limits_for", "max_scene_option"]

#: ``Limits.max_scene_bytes`` in GiB, written out so that ``gsp --help`` need not import
#: ``sessions`` (numpy and all); a test checks that the two agree.
DEFAULT_MAX_SCENE_GIB = 8

F = TypeVar("F", bound=Callable[..., Any])


def max_scene_option(command: F) -> F:
    """Add ``--max-scene-gib`` (``max_scene_gib``: float or None) to a click command."""
    return click.option(
        "--max-scene-gib",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        help="Refuse a scene whose buffers and canvas frames take more than this many GiB "
        f"[default: {DEFAULT_MAX_SCENE_GIB}].",
    )(command)


def limits_for(max_scene_gib: float | None) -> Limits:
    """The default limits, with the scene bound given in GiB (None: the default bound)."""
    import dataclasses

    from sessions.limits import DEFAULT_LIMITS

    if max_scene_gib is None:
        return DEFAULT_LIMITS
    return dataclasses.replace(DEFAULT_LIMITS, max_scene_bytes=int(max_scene_gib * 2**30))
