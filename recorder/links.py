"""Transform links as the log holds them: taken on the caller's thread, remembered per chain.

A link travels by value (docs/protocol.md §3, ext 6: what its ``serialize()`` gives). A link
may hold a Buffer that the script goes on writing (``TransformLinkImmediate`` yields its buffer
itself, so later writes show through), so its value is taken when the call is recorded, on the
caller's thread: :func:`freeze` rebuilds the link from its serialized form, a private replica
that nobody writes, which the writer thread encodes later and which is what a replay rebuilds.

Replay removes the first link of the chain equal (by value) to the one a ``remove`` names, and
a link's value changes with its buffer. :class:`LinkBook` keeps, for each chain in the log, the
script's links with the replica each one's ``add`` logged, in the chain's order, so that:

- a ``remove`` is logged with the value the link's ``add`` logged, whatever happened to its
  buffer since;
- when an earlier link of the chain was logged with that same value (replay would remove that
  one instead), the chain is rewritten: every link the log holds removed front to back (each is
  then the first of its value), and the others added again;
- before a render, a chain whose links hold buffers written since they were logged (through
  ``set_data`` or in place), or whose links are not those the log holds, is rewritten with the
  links' values of now (:meth:`LinkBook.refresh`), as buffers written in place are logged again
  before a render (recorder/tracking.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gsp import capture
from gsp.transforms import TransformLinkBase
from recorder.tracking import content_hash, reachable_buffers

__all__ = ["LinkBook", "LoggedLink", "ChainCall", "freeze"]

#: A command a chain's call is logged as: (method, link to log, bytes copied for it).
ChainCall = tuple[str, TransformLinkBase, int]


def freeze(link: TransformLinkBase) -> tuple[TransformLinkBase, int]:
    """A replica of ``link`` as it is now, rebuilt from ``link.serialize()`` through the link
    registry (what a replay rebuilds), and the bytes its serialized form holds.

    ``TypeError`` naming the link when it cannot be rebuilt (a link class never registered with
    ``register_link``): a replay could not rebuild it either.
    """
    try:
        fields = link.serialize()
        with capture.paused():  # the replica's own objects (a Buffer) are not calls of the script
            replica = TransformLinkBase.deserialize(fields)
    except Exception as error:
        raise TypeError(f"cannot record a {type(link).__name__} transform link: "
                        f"{type(error).__name__}: {error}") from error
    return replica, _payload_bytes(fields)


def _payload_bytes(fields: dict[str, Any]) -> int:
    """Bytes of the binary values of a link's serialized form (the queue counts them)."""
    size = 0
    for value in fields.values():
        if type(value) is bytes or type(value) is bytearray:
            size += len(value)
        elif type(value) is np.ndarray:
            size += value.nbytes
    return size


def _buffer_state(buffer: Any) -> tuple[bool, int]:
    """What tells whether a buffer's contents changed: its write version while its storage was
    never exposed, else a hash of its contents (as recorder/tracking.py decides)."""
    if buffer.storage_exposed:
        return True, content_hash(buffer.to_bytearray())
    return False, buffer.version


@dataclass(slots=True)
class LoggedLink:
    """One link of a chain as the log holds it."""

    live: TransformLinkBase  # the script's link
    logged: TransformLinkBase  # the replica its add logged (the value a replay holds)
    nbytes: int  # bytes of that value
    buffers: list[tuple[Any, tuple[bool, int]]]  # the Buffers the link holds, and their state then

    @classmethod
    def of(cls, live: TransformLinkBase) -> LoggedLink:
        """``live`` as it is now. The buffers it holds are found in its attributes (and lists,
        tuples and dicts in them); their states are taken before its value, so that a write in
        between shows as a change."""
        attrs = getattr(live, "__dict__", None)
        buffers = [(b, _buffer_state(b)) for b in reachable_buffers(attrs.values())] if attrs else []
        logged, nbytes = freeze(live)
        return cls(live, logged, nbytes, buffers)

    def changed(self) -> bool:
        """Whether a buffer the link holds was written since its value was logged."""
        for i, (buffer, state) in enumerate(self.buffers):
            now = _buffer_state(buffer)
            if now == state:
                continue
            # Its storage was exposed since (a view handed out: running the chain to check it
            # does that): no write version tells any more, so its value tells, once; its hash then.
            if not state[0] and now[0] and freeze(self.live)[0] == self.logged:
                self.buffers[i] = (buffer, now)
                continue
            return True
        return False


class LinkBook:
    """The links of each chain in the log, by chain UUID (see the module doc). Every method
    returns the commands to log for the chain, in order (method, link, bytes)."""

    def __init__(self) -> None:
        self.chains: dict[str, list[LoggedLink]] = {}

    def add(self, chain: str, link: TransformLinkBase) -> list[ChainCall]:
        """``chain.add(link)`` was called: log the link's value of now."""
        entry = LoggedLink.of(link)
        self.chains.setdefault(chain, []).append(entry)
        return [("add", entry.logged, entry.nbytes)]

    def remove(self, chain: str, link: TransformLinkBase) -> list[ChainCall]:
        """``chain.remove(link)`` was called: log the value the removed link's add logged."""
        entries = self.chains.get(chain, [])
        # The link TransformChain.remove took out: the same test, on the same links, in order.
        index = next((i for i, e in enumerate(entries) if e.live is link or e.live == link), None)
        if index is None:  # not added while recorded (capture paused): its value of now
            logged, nbytes = freeze(link)
            return [("remove", logged, nbytes)]
        removed = entries[index]
        if any(e.logged == removed.logged for e in entries[:index]):  # replay would take that one
            return self._rewrite(chain, entries[:index] + entries[index + 1:])
        del entries[index]
        return [("remove", removed.logged, 0)]

    def refresh(self, chain: str, links: list[TransformLinkBase]) -> list[ChainCall]:
        """Before a render of ``chain`` (holding ``links`` now): nothing when the log holds these
        links with the contents of their buffers, else the chain rewritten with their values of now."""
        entries = self.chains.get(chain, [])
        unchanged = [e for e in entries if not e.changed()]
        if len(unchanged) == len(entries) == len(links) and all(e.live is link for e, link in zip(entries, links)):
            return []
        kept = {id(e.live): e for e in unchanged}  # their logged values are still right
        return self._rewrite(chain, [kept.get(id(link)) or LoggedLink.of(link) for link in links])

    def forget(self, chain: str) -> None:
        """The chain left the log (released)."""
        self.chains.pop(chain, None)

    def _rewrite(self, chain: str, entries: list[LoggedLink]) -> list[ChainCall]:
        """Remove every link the log holds for ``chain``, front to back (each is then the first
        link of its value, so replay removes that one), and add ``entries``."""
        calls: list[ChainCall] = [("remove", e.logged, 0) for e in self.chains.get(chain, [])]
        calls += [("add", e.logged, e.nbytes) for e in entries]
        self.chains[chain] = entries
        return calls
