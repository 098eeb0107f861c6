"""Stub of the capture seam's C wrapper (gsp/_seam.c); see :mod:`gsp.capture`."""

import threading
from collections.abc import Callable
from typing import Any

class CapturedMethod:
    """A captured method's wrapper: calls ``original`` and reports the outermost calls of the
    exact-positional shape to the seam's observers; hands every other shape to ``general``."""

    original: Callable[..., Any]
    arity: int
    __wrapped__: Callable[..., Any]
    __gsp_original__: Callable[..., Any]

    def __init__(
        self,
        original: Callable[..., Any],
        method: str,
        arity: int,
        ops: dict[type, str],
        general: Callable[..., Any],
        state: threading.local,
        capture_globals: dict[str, Any],
    ) -> None: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    def __get__(self, obj: Any, owner: type | None = None) -> Any: ...
