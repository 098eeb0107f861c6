"""The memory a msgpack value will take once decoded, estimated from its bytes alone.

A few bytes of msgpack can decode to many times their size in Python objects: an empty list is
one byte and 64 bytes of memory, and an array header may declare as many slots as the data has
bytes, which both readers (``sessions._rows`` and msgpack) allocate at once. So the C row reader
charges each value it reads and declines past ``Limits.max_decoded_bytes``, and before msgpack
decodes anything, the estimate here must be under that limit (see
:func:`sessions.codec.check_decoded_size`).

The estimate charges each value what either reader may allocate for it: a container by its
declared length (so headers nested inside headers add up before anything is built), a str four
bytes per UTF-8 byte (one 4-byte character makes every character of the str 4 bytes wide), an
extension value a flat cost, four bytes per byte, and its payload's own estimate when that payload
is msgpack. ``sessions._rows.decoded_size`` is the same walk in C, and the C row reader charges
the same costs as it reads (less for the payloads it builds values of itself); the tests check
that they agree and that the estimate bounds what decoding really allocates.
"""

from __future__ import annotations

__all__ = ["COSTS", "MAX_EXT_NESTING", "estimate"]

#: Bytes charged per value (sessions/_rows.c has the same table). Every value has an allowance,
#: paid by its container with its slot, that covers an int or a float object: those cost nothing
#: more, and are not charged one by one.
COSTS = {
    "scalar": 48,  # the allowance of a value
    "list": 64,  # a list, tuple or Command object, plus per declared item:
    "item": 16 + 48,  # a list slot and a tuple slot (when the list is made a tuple), its allowance
    "map": 192,  # an empty dict and its first keys table, plus per declared entry:
    "map_item": 48 + 2 * 48,  # its share of the table, the allowances of its key and value
    "str": 96,  # plus str_byte per UTF-8 byte
    "str_byte": 4,
    "bin": 48,  # plus its bytes
    "ext": 512,  # an array view and its base, a Ref, an enum...; plus ext_byte per byte
    "ext_byte": 4,  # a copy of the bytes, or a reference's str
}
#: Extension values nested deeper than this (an array inside a link inside ...) are refused.
MAX_EXT_NESTING = 8
#: Extension codes whose payload is itself msgpack (docs/protocol.md: all but references).
_EXT_IS_MSGPACK = frozenset({1, 2, 3, 5, 6, 7})
#: Where the estimate stops growing: far above any limit.
_CAP = 1 << 62

# What each type byte starts: (form, argument, whether the argument is the size of a length
# field). Forms: values within their allowance (nil, bools, fixints), the other ints and floats
# (argument: bytes after the type byte), str, bin, array, map and ext (argument: the length of
# a fix- form, or the size of the length field), and 0xc1 (stop).
_FREE, _NUMBER, _STR, _BIN, _LIST, _MAP, _EXT, _STOP = range(8)


def _forms() -> tuple[tuple[int, int, int], ...]:
    """Per type byte: (form, length or length-field size, whether it is a length field)."""
    table: list[tuple[int, int, int]] = []
    numbers = {0xCC: 1, 0xD0: 1, 0xCD: 2, 0xD1: 2, 0xCE: 4, 0xD2: 4, 0xCF: 8, 0xD3: 8, 0xCA: 4, 0xCB: 8}
    fields = {0xD9: (_STR, 1), 0xDA: (_STR, 2), 0xDB: (_STR, 4), 0xC4: (_BIN, 1), 0xC5: (_BIN, 2),
              0xC6: (_BIN, 4), 0xDC: (_LIST, 2), 0xDD: (_LIST, 4), 0xDE: (_MAP, 2), 0xDF: (_MAP, 4),
              0xC7: (_EXT, 1), 0xC8: (_EXT, 2), 0xC9: (_EXT, 4)}
    for b in range(256):
        if b <= 0x7F or b >= 0xE0 or b in (0xC0, 0xC2, 0xC3):
            table.append((_FREE, 0, 0))
        elif b in numbers:
            table.append((_NUMBER, numbers[b], 0))
        elif b <= 0x8F:
            table.append((_MAP, b & 0x0F, 0))
        elif b <= 0x9F:
            table.append((_LIST, b & 0x0F, 0))
        elif b <= 0xBF:
            table.append((_STR, b & 0x1F, 0))
        elif 0xD4 <= b <= 0xD8:
            table.append((_EXT, 1 << (b - 0xD4), 0))
        elif b in fields:
            form, size = fields[b]
            table.append((form, size, 1))
        else:
            table.append((_STOP, 0, 0))
    return tuple(table)


_FORM = _forms()
_LIST_COST, _ITEM_COST = COSTS["list"], COSTS["item"]
_MAP_COST, _MAP_ITEM_COST = COSTS["map"], COSTS["map_item"]
_STR_COST, _STR_BYTE_COST, _BIN_COST = COSTS["str"], COSTS["str_byte"], COSTS["bin"]
_EXT_COST, _EXT_BYTE_COST = COSTS["ext"], COSTS["ext_byte"]


class _TooDeep(Exception):
    pass


def estimate(data: bytes | bytearray | memoryview, limit: int) -> int:
    """The estimated bytes of memory the msgpack value in ``data`` decodes to; a number over
    ``limit`` as soon as the estimate passes it (the walk stops there), or -1 when extension
    values nest deeper than :data:`MAX_EXT_NESTING`. Truncated or malformed data costs what the
    readers allocate before they notice."""
    view = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    try:
        return _estimate(view, 0, len(view), min(limit, _CAP), 0, 0)
    except _TooDeep:
        return -1


def _estimate(data: bytes | memoryview, p: int, end: int, limit: int, cost: int, depth: int) -> int:
    """``cost`` plus the estimate of the value at ``p`` (before ``end``), its containers' items
    included."""
    pending = 1
    cost += COSTS["scalar"]  # the allowance of the value itself
    forms = _FORM
    while pending > 0 and p < end and cost <= limit:
        pending -= 1
        form, n, length_field = forms[data[p]]
        p += 1
        if form == _FREE:
            continue
        if form == _NUMBER:  # within its allowance
            p = min(p + n, end)
            continue
        if form == _STOP:
            break  # 0xc1: never used, both readers stop
        if length_field:  # of n bytes
            if end - p < n:
                break
            p, n = p + n, int.from_bytes(data[p : p + n], "big")
        if form == _LIST:
            cost = min(cost + _LIST_COST + _ITEM_COST * n, _CAP)
            pending = min(pending + n, _CAP)
        elif form == _MAP:
            cost = min(cost + _MAP_COST + _MAP_ITEM_COST * n, _CAP)
            pending = min(pending + 2 * n, _CAP)
        elif form != _EXT:  # str or bin; a truncated one is not made
            n = min(n, end - p)
            cost += _STR_COST + _STR_BYTE_COST * n if form == _STR else _BIN_COST + n
            p += n
        else:  # an extension value: its code, then n bytes, themselves msgpack for most codes
            if p >= end or n > end - p - 1:
                break  # truncated: read by neither reader
            cost = min(cost + _EXT_COST + _EXT_BYTE_COST * n, _CAP)
            code = int.from_bytes(data[p : p + 1], "big", signed=True)
            p += 1
            if code in _EXT_IS_MSGPACK:
                if depth >= MAX_EXT_NESTING:
                    raise _TooDeep
                cost = _estimate(data, p, p + n, limit, cost, depth + 1)
            p += n
    return cost
