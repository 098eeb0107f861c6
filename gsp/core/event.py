"""Event: a list of callbacks that a dispatch calls in subscription order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["Event"]

Callback = TypeVar("Callback", bound=Callable[..., Any])


class Event(Generic[Callback]):
    """``Event[Callback]()``: subscribe callbacks, then ``dispatch(*args, **kwargs)`` calls each."""

    def __init__(self) -> None:
        self._callbacks: list[Callback] = []

    def subscribe(self, callback: Callback) -> None:
        """Add ``callback`` (a callable); subscribing the same callback twice calls it twice."""
        if not callable(callback):
            raise TypeError(f"Event.subscribe: callback must be callable, got {type(callback).__name__}")
        self._callbacks.append(callback)

    def unsubscribe(self, callback: Callback) -> None:
        """Remove one subscription of ``callback``."""
        try:
            self._callbacks.remove(callback)
        except ValueError:
            raise ValueError(f"Event.unsubscribe: {callback!r} is not subscribed") from None

    def dispatch(self, *args: Any, **kwargs: Any) -> None:
        """Call every subscribed callback with these arguments (a callback may unsubscribe itself)."""
        for callback in tuple(self._callbacks):
            callback(*args, **kwargs)

    def event_listener(self, callback: Callback) -> Callback:
        """Decorator: subscribe the function and return it unchanged."""
        self.subscribe(callback)
        return callback

    def subscriber_count(self) -> int:
        """How many subscriptions there are."""
        return len(self._callbacks)
