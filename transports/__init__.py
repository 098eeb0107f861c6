"""Live transport of GSP sessions over ZeroMQ (the Clone pattern of the ZeroMQ Guide).

- :class:`Publisher`: PUB updates + ROUTER snapshot service + heartbeats; a ``ChunkSink``.
- :class:`Subscriber`: late join by snapshot, gap / new-session / silence resync; events or
  (with ``commands()``) the decoded commands for a player.
- :class:`Relay`: multi-hop fan-out with its own snapshot service.
- :func:`generate_keys`, :class:`ServerSecurity`, :class:`ClientSecurity`: CURVE + allow-list.

docs/live.md describes the wire format and the conventions (snapshot port = PUB port + 1).
"""

from __future__ import annotations

from transports.protocol import DEFAULT_MAX_PAYLOAD, PayloadKind, ProtocolError
from transports.publisher import Publisher, PublisherStats
from transports.relay import Relay
from transports.security import ClientSecurity, SecurityError, ServerSecurity, generate_keys
from transports.state import NullState, OpaqueState, StreamState
from transports.subscriber import Event, EventType, Subscriber, follow

__all__ = [
    "DEFAULT_MAX_PAYLOAD",
    "ClientSecurity",
    "Event",
    "EventType",
    "NullState",
    "OpaqueState",
    "PayloadKind",
    "ProtocolError",
    "Publisher",
    "PublisherStats",
    "Relay",
    "SecurityError",
    "ServerSecurity",
    "StreamState",
    "Subscriber",
    "follow",
    "generate_keys",
]
