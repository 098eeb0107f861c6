"""UuidUtils: object identifiers."""

from __future__ import annotations

from gsp.capture import new_uuid, set_uuid_counter

__all__ = ["UuidUtils"]


class UuidUtils:
    """UUID helpers; deterministic with ``set_uuid_counter(n)`` or env ``GSP_UUID_COUNTER``."""

    @staticmethod
    def generate_uuid() -> str:
        """A new UUID string (the same generator the GSP objects use)."""
        return new_uuid()

    @staticmethod
    def set_uuid_counter(start: int | None) -> None:
        """Deterministic UUIDs from ``start`` on, or random again with None."""
        set_uuid_counter(start)
