"""``gsp.types.group``: the GSP 0.1 module path of Groups (defined in ``gsp.types.groups``)."""

from gsp.types.groups import Groups

__all__ = ["Groups"]
