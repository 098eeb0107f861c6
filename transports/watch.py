"""Small mechanisms the node, the relay and the snapshot service share.

- :class:`WatchedSocket`: a connecting socket that is told when libzmq drops its connection, and
  is replaced by a fresh one then (libzmq does not reconnect a connection it closed for a protocol
  error, such as a message over ``ZMQ_MAXMSGSIZE``).
- :class:`LogLimit`: says when a recurring line is worth logging (the first ones, then every
  n-th, with the count), so that a flood of bad input cannot flood the log.
- :func:`retry_delay`: the exponential wait before asking again for a snapshot that could not
  be used.
- :class:`SessionClaims`: what a message of another session than the one followed means (a
  claim that only the snapshot service's answer settles, an END included), and the sessions
  that ended.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

import zmq
from zmq.utils.monitor import recv_monitor_message

__all__ = ["WatchedSocket", "LogLimit", "retry_delay", "MAX_DOUBLINGS", "SessionClaims"]

log = logging.getLogger("transports")

#: A snapshot request waits at most 2**MAX_DOUBLINGS times ``snapshot_timeout`` (an unanswered
#: one), and a state that could not be used is asked for again at most that long after.
MAX_DOUBLINGS = 3


class WatchedSocket:
    """A socket of ``kind`` connected to ``endpoint`` and registered on ``poller``, with a monitor
    (also registered) that reports its dropped connections.

    ``setup(socket)`` is called on each new socket before it connects (options, CURVE,
    subscriptions). When :attr:`monitor` is readable (and every message that arrived on
    :attr:`socket` was read), :meth:`dropped` reads the event; the owner then calls
    :meth:`replace` for a fresh socket.
    """

    def __init__(
        self,
        context: zmq.Context,
        kind: int,
        endpoint: str,
        poller: zmq.Poller,
        setup: Callable[[zmq.Socket], None],
    ) -> None:
        self._context = context
        self._kind = kind
        self.endpoint = endpoint
        self._poller = poller
        self._setup = setup
        self.socket, self.monitor = self._make()

    def _make(self) -> tuple[zmq.Socket, zmq.Socket]:
        sock = self._context.socket(self._kind)
        sock.linger = 0
        self._setup(sock)
        monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        sock.connect(self.endpoint)
        self._poller.register(sock, zmq.POLLIN)
        self._poller.register(monitor, zmq.POLLIN)
        return sock, monitor

    def dropped(self) -> str | None:
        """The endpoint whose connection dropped, or None if the monitor had nothing to say."""
        try:
            event = recv_monitor_message(self.monitor, zmq.NOBLOCK)
        except zmq.Again:
            return None
        return event.get("endpoint", b"").decode(errors="replace") or self.endpoint

    def replace_if_dropped(self, expected: bool, max_payload: int, who: str = "") -> bool:
        """If the monitor reports a dropped connection: log it (``expected`` after the session's
        END, at INFO; else a warning with the likely causes, ``who`` prefixing the line) and
        connect a fresh socket. Whether it did."""
        where = self.dropped()
        if where is None:
            return False
        if expected:
            log.info("%sconnection to %s closed; reconnecting", who, where)
        else:
            log.warning("%sconnection to %s dropped mid-session (its publisher stopped or restarted, a network "
                        "failure, or a message over the %d-byte limit or a protocol error); reconnecting",
                        who, where, max_payload)
        self.replace()
        return True

    def replace(self) -> None:
        """Close the socket (and its monitor) and connect a fresh one."""
        self.close()
        self.socket, self.monitor = self._make()

    def close(self) -> None:
        self._poller.unregister(self.socket)
        self._poller.unregister(self.monitor)
        self.socket.disable_monitor()
        self.monitor.close(0)
        self.socket.close(0)


class LogLimit:
    """Counts occurrences of a recurring line; calling it says whether to log this one: the
    first ``first``, then every ``every``-th (log :attr:`count` with it). A ``key`` other than
    the last one starts the count again (a new error is always logged)."""

    def __init__(self, first: int = 20, every: int = 100) -> None:
        self.first = first
        self.every = every
        self.count = 0
        self._key: Hashable = None

    def __call__(self, key: Hashable = None) -> bool:
        if key != self._key:
            self._key = key
            self.count = 0
        self.count += 1
        return self.count <= self.first or self.count % self.every == 0

    def reset(self) -> None:
        self.count = 0
        self._key = None


def retry_delay(failures: int, snapshot_timeout: float, max_doublings: int = MAX_DOUBLINGS) -> float:
    """Seconds to wait before asking again after ``failures`` snapshots in a row that could not
    be used: 0.1 s, doubled after each, at most ``2**max_doublings`` × ``snapshot_timeout``."""
    if failures <= 0:
        return 0.0
    return float(min(0.1 * 2 ** (failures - 1), snapshot_timeout * 2**max_doublings))


class SessionClaims:
    """What a node or a relay makes of a message of another session than the one it follows.

    The stream cannot tell a publisher that restarted (a new session id) from a forged or stray
    id: only the snapshot service's answer names the session to follow, as the state comes from
    there (the Clone pattern). So such a message is a *claim*, which the follower checks by
    asking the snapshot service, and the answer settles it (a node resynchronises; a relay asks
    while it goes on following, forwarding and serving its session). A claim is not checked
    while a check is under way (its answer settles that claim too), nor for ``quiet`` seconds
    after an answer that named the followed session again (the follower's heartbeat timeout: a
    publisher that did restart falls silent within it, which the follower notices anyway), and
    never for a session that ended or was left (:meth:`retire`, the last ``kept`` of them).

    The END of a session never followed is a claim too: that a session began and ended
    meanwhile (a relay checks it as any other). A node busy drawing an earlier session defers
    its check until it is free, and that session's final state is served only for its
    publisher's end grace: :meth:`check_end` lets it ask for that state at once, even while a
    check waits, but not while claims are quiet; an answer that names no session to follow
    (:meth:`unconfirmed`) quiets them, so that a flood of made-up ENDs costs one request per
    ``quiet`` seconds. The owner's thread alone uses it.
    """

    def __init__(self, quiet: float, kept: int = 64) -> None:
        self.quiet = quiet
        self.kept = kept
        self.checking = False  # a claim waits for the snapshot service's answer
        self._quiet_until = 0.0
        self._retired: OrderedDict[bytes, None] = OrderedDict()

    def ignored(self, session_id: bytes) -> bool:
        """Whether a message of another session says nothing: it is of a session that ended or
        was left (queued, late or replayed)."""
        return session_id in self._retired

    def check(self) -> bool:
        """A message claims another session (one not :meth:`ignored`): whether to ask the
        snapshot service now (then :attr:`checking` until :meth:`answered`)."""
        if self.checking or time.monotonic() < self._quiet_until:
            return False
        self.checking = True
        return True

    def check_end(self) -> bool:
        """The END of a session never followed (one not :meth:`ignored`): whether to ask the
        snapshot service for that session's final state now: not while claims are quiet; while
        a check waits, yes (that request answers it). Then :attr:`checking` until
        :meth:`answered` or :meth:`unconfirmed`."""
        if time.monotonic() < self._quiet_until:
            return False
        self.checking = True
        return True

    def answered(self, named: bytes, followed: bytes | None) -> None:
        """The snapshot service named session ``named`` while ``followed`` was followed: a
        session left is retired; the followed one named again quiets the claims."""
        if named == followed:
            if self.checking:
                self._quiet_until = time.monotonic() + self.quiet
        elif followed is not None:
            self.retire(followed)
        self._retired.pop(named, None)
        self.checking = False

    def retire(self, session_id: bytes) -> None:
        """The session ended (or was left): its messages are ignored from now on, and a claim
        of another session is checked at once (the next session is expected)."""
        self._retired[session_id] = None
        self._retired.move_to_end(session_id)
        if len(self._retired) > self.kept:
            self._retired.popitem(last=False)
        self._quiet_until = 0.0

    def unconfirmed(self) -> None:
        """A check ended without a session to follow (no answer came, or the answer named the
        followed session or one that ended): no check for ``quiet`` seconds."""
        self.checking = False
        self._quiet_until = time.monotonic() + self.quiet
