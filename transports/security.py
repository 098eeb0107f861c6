"""CURVE encryption and the allow-list of client keys (ZAP), on top of ``zmq.auth``.

Key files are the ones ``zmq.auth.create_certificates`` writes: ``NAME.key`` (public) and
``NAME.key_secret`` (public + secret). A server (publisher, relay downstream side) holds its
secret file and a folder of the public key files of the clients it admits; a client (node,
relay upstream side) holds its own secret file and the server's public file.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

__all__ = ["generate_keys", "ServerSecurity", "ClientSecurity", "SecurityError"]

log = logging.getLogger(__name__)


class SecurityError(ValueError):
    """A key file that is missing or unusable."""


def generate_keys(directory: str | Path, name: str, *, replace: bool = False) -> tuple[Path, Path]:
    """Write ``NAME.key`` and ``NAME.key_secret`` under ``directory``; return both paths.

    An existing pair is kept (SecurityError) unless ``replace``: every peer that holds its
    public key would be locked out by a new one."""
    if not name or "/" in name or name.startswith("."):
        raise SecurityError(f"key name {name!r} must be a plain file name")
    folder = Path(directory)
    existing = [path for path in (folder / f"{name}.key", folder / f"{name}.key_secret") if path.exists()]
    if existing and not replace:
        raise SecurityError(f"{existing[0]} exists: its peers would be locked out by a new key (--force replaces it)")
    folder.mkdir(parents=True, exist_ok=True)
    public, secret = zmq.auth.create_certificates(str(folder), name)
    Path(secret).chmod(0o600)
    return Path(public), Path(secret)


def _load(path: str | Path, need_secret: bool) -> tuple[bytes, bytes | None]:
    file = Path(path)
    if not file.is_file():
        raise SecurityError(f"key file {file} does not exist")
    try:
        public, secret = zmq.auth.load_certificate(str(file))
    except (ValueError, OSError) as error:
        raise SecurityError(f"key file {file}: {error}") from None
    if need_secret and not secret:
        raise SecurityError(f"key file {file} holds no secret key (give the .key_secret file)")
    return public, secret


class _RefusalsAsWarnings(logging.LoggerAdapter):  # type: ignore[type-arg]
    """pyzmq's authenticator logs a refused client at debug level, so a server never said why a
    node got nothing: refusals become warnings, each kind at most once every REPEAT_S seconds
    (a refused client retries its handshake several times a second)."""

    REPEAT_S = 30.0

    def __init__(self, logger: logging.Logger, extra: Any) -> None:
        super().__init__(logger, extra)
        self._last: dict[str, float] = {}

    def debug(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        text = msg % args if isinstance(msg, str) and args else str(msg)
        if text.startswith("DENIED"):
            now = time.monotonic()
            if now - self._last.get(text, -self.REPEAT_S) >= self.REPEAT_S:
                self._last[text] = now
                self.logger.warning("refused a client's handshake (%s): its public key is not in --allow, or "
                                    "it holds another server key", text)
            return
        self.logger.debug(msg, *args, **kwargs)


@dataclass
class ServerSecurity:
    """Server side: our key pair and the folder of admitted client public keys."""

    secret_file: str | Path
    allowed_clients: str | Path

    def __post_init__(self) -> None:
        self.public_key, self.secret_key = _load(self.secret_file, need_secret=True)
        folder = Path(self.allowed_clients)
        if not folder.is_dir():
            raise SecurityError(f"allow-list {folder} is not a folder of client .key files")
        self._auth: ThreadAuthenticator | None = None

    def start(self, context: zmq.Context) -> None:
        """Start the ZAP authenticator on ``context`` (call once, before binding)."""
        log = _RefusalsAsWarnings(logging.getLogger("transports.zap"), {})
        self._auth = ThreadAuthenticator(context, log=log)  # type: ignore[arg-type]
        self._auth.start()
        self._auth.configure_curve(domain="*", location=str(self.allowed_clients))

    def apply(self, socket: zmq.Socket) -> None:
        """Make ``socket`` a CURVE server (before bind)."""
        socket.curve_secretkey = self.secret_key
        socket.curve_publickey = self.public_key
        socket.curve_server = True

    def stop(self) -> None:
        if self._auth is not None:
            self._auth.stop()
            self._auth = None


@dataclass
class ClientSecurity:
    """Client side: our key pair and the server's public key."""

    secret_file: str | Path
    server_public_file: str | Path

    def __post_init__(self) -> None:
        self.public_key, self.secret_key = _load(self.secret_file, need_secret=True)
        self.server_key, _ = _load(self.server_public_file, need_secret=False)

    def apply(self, socket: zmq.Socket) -> None:
        """Make ``socket`` a CURVE client (before connect)."""
        socket.curve_secretkey = self.secret_key
        socket.curve_publickey = self.public_key
        socket.curve_serverkey = self.server_key
