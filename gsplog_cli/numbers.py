"""Number options of the ``gsp`` commands: finite, and positive where a zero means nothing."""

from __future__ import annotations

import math

import click

__all__ = ["POSITIVE", "NON_NEGATIVE", "finite"]

#: Seconds, factors and rates: above zero (Click's FloatRange lets inf and nan through: see finite).
POSITIVE = click.FloatRange(min=0, min_open=True)
#: Waits that may be zero.
NON_NEGATIVE = click.FloatRange(min=0)


def finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """Click callback: refuse inf and nan (a timeout of nan waited forever, --fps nan drew nothing)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number")
    return value
