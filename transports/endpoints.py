"""Endpoint conventions: the snapshot service on port+1, warnings for non-local binds."""

from __future__ import annotations

import logging
import re

__all__ = ["snapshot_endpoint_for", "check_bind_endpoint", "check_connect_endpoint", "warn_if_exposed", "EndpointError"]

log = logging.getLogger(__name__)

_TCP = re.compile(r"^tcp://(?P<host>\[[^\]]+\]|[^:/]+):(?P<port>\d+|\*)$")
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


class EndpointError(ValueError):
    """An endpoint string that cannot be used; says which and why."""


def _split_tcp(endpoint: str) -> tuple[str, int]:
    match = _TCP.match(endpoint)
    if not match:
        raise EndpointError(f"endpoint {endpoint!r} is not of the form tcp://HOST:PORT")
    if match.group("port") == "*":
        return match.group("host"), 0  # a wildcard: the system picks a free port at bind time
    port = int(match.group("port"))
    if not 0 < port < 65536:
        raise EndpointError(f"endpoint {endpoint!r}: port {port} out of range")
    return match.group("host"), port


def snapshot_endpoint_for(endpoint: str) -> str:
    """The snapshot service's endpoint by convention: same host, port + 1 (tcp only)."""
    if not endpoint.startswith("tcp://"):
        raise EndpointError(
            f"endpoint {endpoint!r}: give the snapshot endpoint explicitly for non-tcp transports"
        )
    host, port = _split_tcp(endpoint)
    if port == 0:
        raise EndpointError(f"endpoint {endpoint!r}: a wildcard port needs an explicit snapshot endpoint")
    if port == 65535:
        raise EndpointError(f"endpoint {endpoint!r}: port + 1 is out of range")
    return f"tcp://{host}:{port + 1}"


def check_bind_endpoint(endpoint: str) -> None:
    """Validate an endpoint to bind (EndpointError); :func:`warn_if_exposed` warns, once bound."""
    if endpoint.startswith(("ipc://", "inproc://")):
        return
    _split_tcp(endpoint)


def check_connect_endpoint(endpoint: str) -> None:
    """Validate an endpoint to connect to (EndpointError): ``tcp://HOST:PORT``, ``ipc://`` or
    ``inproc://``. Checked before any socket is made: libzmq's own refusal of ``http://x`` or a
    port that is no number is a ZMQError, which escaped the command line tools as a traceback,
    or, for a snapshot endpoint connected on the reader thread, left a node waiting for nothing."""
    if endpoint.startswith(("ipc://", "inproc://")):
        return
    _, port = _split_tcp(endpoint)
    if port == 0:
        raise EndpointError(f"endpoint {endpoint!r}: a wildcard port can be bound, not connected to")


def warn_if_exposed(endpoint: str, *, secure: bool = False) -> None:
    """Warn that ``endpoint``, now bound, is reachable from other machines, unless it is local
    or ``secure`` (CURVE: only the admitted keys get in). Called after a successful bind: a
    bind that fails, or a CURVE session, is no open door to warn of."""
    if secure or endpoint.startswith(("ipc://", "inproc://")):
        return
    host, _ = _split_tcp(endpoint)
    if host not in _LOCAL_HOSTS:
        log.warning(
            "binding %s: reachable from other machines; use CURVE keys (--curve-secret/--allow) "
            "unless the network is trusted",
            endpoint,
        )
