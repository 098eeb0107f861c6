"""The command codec: Command lists <-> msgpack, with big binary payloads kept out of band.

An encoded batch of commands is two byte strings:

- ``meta``: one msgpack array of commands, each ``[seq, t_ns, op, target, args, kwargs]``;
- ``blobs``: the raw bytes of every large array / bytes / bytearray value, each aligned to
  16 bytes; ``meta`` holds only ``[offset, length]`` for them.

Decoding ``meta`` against the decompressed blob area gives numpy arrays that are zero-copy
``np.frombuffer`` views of that area (writable when the area is a ``bytearray``). Values that
msgpack cannot carry natively use extension types (see docs/protocol.md for the tables).
Nothing is ever imported or evaluated by name: enums and transform links are decoded only
through allow-lists built from the ``gsp`` package.

:func:`encode_rows` packs "plain" rows (scalar or short ``bytes`` arguments, no kwargs) with the C
extension ``sessions._rows`` when it is built and the environment variable ``GSP_NO_C_ROWS=1`` is
not set when this module is first imported; other rows, and every row without it, are converted
here and packed by msgpack. Both give the same bytes (:func:`use_rows` switches at run time).
When decoding, the same module reads the rows straight from ``meta`` into Commands
(``decode_rows``), building well-formed arrays, references and bytearrays from the bytes; it
declines whatever it does not read exactly as msgpack would, and msgpack then unpacks the rows
and the module builds their Commands. Every other value, and every error, is left to the Python
code here, so all paths give the same commands and the same errors.
"""

from __future__ import annotations

import enum
import gc
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import msgpack
import numpy as np

from sessions import decoded_size
from sessions import shuffle as shuffle_filter
from sessions.command import Command, LogRef, Ref, make_command
from sessions.errors import LogFormatError, SkippedCommandWarning
from sessions.limits import DEFAULT_LIMITS, Limits, size_text

__all__ = [
    "PROTOCOL_VERSION",
    "EXT_NDARRAY",
    "EXT_BYTEARRAY",
    "EXT_BYTES",
    "EXT_REF",
    "EXT_ENUM",
    "EXT_LINK",
    "EXT_LOGREF",
    "ALLOWED_DTYPES",
    "EncodedBatch",
    "UnknownValue",
    "encode_commands",
    "encode_rows",
    "Row",
    "ENV_NO_C_ROWS",
    "ROWS_BACKEND",
    "use_rows",
    "BlobsNotReady",
    "decode_commands",
    "decode_commands_quietly",
    "check_decoded_size",
    "encode_value",
    "decode_value",
    "enum_allow_list",
    "links_as_recorded",
    "keeping_links_as_recorded",
    "skipped_commands",
    "report_skipped",
]

#: Version of the command vocabulary and value encoding (docs/protocol.md).
PROTOCOL_VERSION = "1.2"

EXT_NDARRAY = 1
EXT_BYTEARRAY = 2
EXT_BYTES = 3  # only for out-of-band bytes; small bytes are msgpack bin
EXT_REF = 4
EXT_ENUM = 5
EXT_LINK = 6
EXT_LOGREF = 7  # protocol 1.1: a LogRef (keyframes in files only)

#: Values at least this long go to the blob area; smaller ones stay inline in msgpack.
INLINE_MAX = 256
ALIGN = 16

#: numpy dtypes a log may carry (little-endian, fixed size, no objects).
ALLOWED_DTYPES: frozenset[str] = frozenset(
    ["|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f2", "<f4", "<f8", "<c8", "<c16"]
)

#: The numpy dtype of each allowed dtype string (``np.dtype(str)`` costs about 0.5 us a call).
_DTYPE_OF = {name: np.dtype(name) for name in ALLOWED_DTYPES}
# For sessions._rows.ExtHook: each dtype with its itemsize and whether a shuffled chunk shuffles it.
_DTYPE_ENTRIES = {name: (d, d.itemsize, d.kind in "fc" and d.itemsize > 1) for name, d in _DTYPE_OF.items()}

_PLAIN = (str, int, float, bool, type(None))
# ExtType's own __new__ re-checks its fields in Python (about 1 us); for fields built here, known
# good, the tuple is made directly (msgpack reads .code and .data, the same object).
_new_ext = tuple.__new__
#: msgpack bin 8 headers by length (an inline bytearray's ext payload is a packed bin value).
_BIN8_HEADERS = [bytes((0xC4, n)) for n in range(256)]
#: Values msgpack packs exactly as the encoder would (the fast path of encode_commands); with short
#: bytes, the argument types sessions/_rows.c packs itself (keep both in step).
_SCALAR_TYPES = frozenset(_PLAIN)


@dataclass(frozen=True, slots=True)
class UnknownValue:
    """Stands for a value of an extension type this version cannot decode."""

    code: int
    reason: str
    #: the transform link type the registry does not know, when that is why (None otherwise)
    link_type: str | None = None


@dataclass(slots=True)
class EncodedBatch:
    """Result of :func:`encode_commands`: msgpack ``meta`` plus out-of-band ``blobs``."""

    meta: bytes
    blobs: list[memoryview]  # concatenated in order, each padded to ALIGN
    blob_size: int
    #: (offset, length, itemsize) of every float array in the blob area (shuffle candidates)
    float_blobs: list[tuple[int, int, int]]
    count: int


# --------------------------------------------------------------------------------------------
# Allow-lists built from gsp (imported lazily: gsp may be absent or half-written)
# --------------------------------------------------------------------------------------------
_enum_cache: dict[str, type[enum.Enum]] | None = None


def enum_allow_list() -> dict[str, type[enum.Enum]]:
    """Protocol name -> enum class, for the GSP enums a log may carry."""
    global _enum_cache
    if _enum_cache is not None:
        return _enum_cache
    found: dict[str, type[enum.Enum]] = {}
    try:
        import gsp.types as gtypes

        for name in ("BufferType", "CapStyle", "JoinStyle", "ImageInterpolation", "MarkerShape", "TextAlign"):
            cls = getattr(gtypes, name, None)
            if isinstance(cls, type) and issubclass(cls, enum.Enum):
                found[name] = cls
    except Exception:  # gsp being written concurrently: tolerate its absence
        pass
    try:
        from gsp.constants import Constants

        cls = getattr(Constants, "FaceCulling", None)
        if isinstance(cls, type) and issubclass(cls, enum.Enum):
            found["FaceCulling"] = cls
    except Exception:
        pass
    if found:
        _enum_cache = found
    return found


def _enum_names_by_class() -> dict[type, str]:
    return {cls: name for name, cls in enum_allow_list().items()}


def _link_base() -> type | None:
    try:
        from gsp.transforms import TransformLinkBase

        return TransformLinkBase  # type: ignore[no-any-return]
    except Exception:
        return None


def _captured_base() -> type | None:
    try:
        from gsp.capture import Captured

        return Captured
    except Exception:
        return None


def _deserialize_link(data: dict[str, Any]) -> Any:
    """Rebuild a transform link only through gsp's link registry (never by importing a name)."""
    base = _link_base()
    if base is None:
        raise ValueError("gsp.transforms is not available to rebuild a transform link")
    return base.deserialize(data)  # type: ignore[attr-defined]


#: While True (:func:`links_as_recorded`), links decode as ``RecordedLink``s, never rebuilt.
_links_as_recorded: ContextVar[bool] = ContextVar("gsp_links_as_recorded", default=False)


@contextmanager
def links_as_recorded() -> Iterator[None]:
    """While it lasts, commands decoded on this thread (and task) hold every transform link as a
    ``gsp.transforms.transform_link_recorded.RecordedLink``: the link's recorded form (type name
    and fields), not rebuilt through gsp's registry, and encoded back to that same form. For
    the tools that copy, show or count commands without running chains (``gsp trim``, ``cat``,
    ``dump``, ``info``, ``verify``, ``repair``): a link of a type not registered here (the
    user's own) is then no reason to skip a command, and one whose class is registered is copied
    as it was recorded, not as that class would write it now. A payload that names no link type
    stays an unknown value. Open the reader inside it: a chunk keeps the commands it decoded."""
    token = _links_as_recorded.set(True)
    try:
        yield
    finally:
        _links_as_recorded.reset(token)


def keeping_links_as_recorded() -> bool:
    """Whether :func:`links_as_recorded` is in effect here."""
    return _links_as_recorded.get()


#: What :meth:`sessions.chunk.Chunk.commands` does with a command it leaves out (a value this
#: build cannot rebuild): "warn" (a SkippedCommandWarning), "raise" it, or keep "quiet".
SkippedPolicy = Literal["warn", "raise", "quiet"]
_skipped_policy: ContextVar[SkippedPolicy] = ContextVar("gsp_skipped_commands", default="warn")


@contextmanager
def skipped_commands(policy: SkippedPolicy) -> Iterator[None]:
    """While it lasts, a command left out as its chunk is decoded on this thread (and task) is
    warned of ("warn", the default), raised as its :class:`SkippedCommandWarning` ("raise": a
    tool that copies commands must not lose one) or only listed in ``Chunk.skipped``
    ("quiet"). Unlike ``warnings.catch_warnings``, it touches no process-wide state, so other
    threads reading logs keep their own policy."""
    if policy not in ("warn", "raise", "quiet"):
        raise ValueError(f"skipped_commands: policy must be 'warn', 'raise' or 'quiet', not {policy!r}")
    token = _skipped_policy.set(policy)
    try:
        yield
    finally:
        _skipped_policy.reset(token)


def report_skipped(skipped: Sequence[SkippedCommandWarning], stacklevel: int = 2) -> None:
    """Tell of commands left out as the :func:`skipped_commands` policy in effect says: warn of
    each, raise the first, or nothing. ``stacklevel`` as the caller's own ``warnings.warn``."""
    policy = _skipped_policy.get()
    if policy == "raise" and skipped:
        raise skipped[0]
    if policy == "warn":
        for reason in skipped:
            warnings.warn(reason, stacklevel=stacklevel + 1)


def _recorded_link(fields: dict[str, Any]) -> Any:
    """A ``RecordedLink`` of ``fields`` (None when they name no link type, or gsp is not there)."""
    if not isinstance(fields.get("link_type"), str):
        return None
    try:
        from gsp.transforms.transform_link_recorded import RecordedLink
    except Exception:  # gsp being written concurrently: tolerate its absence
        return None
    return RecordedLink(fields)


def _unregistered_link_type(data: dict[str, Any]) -> str | None:
    """The ``link_type`` of a serialized link when gsp's registry does not know it (None when it
    does, or when the payload names none: then the link is bad, not unknown)."""
    name = data.get("link_type")
    if not isinstance(name, str):
        return None
    try:
        from gsp.transforms import registered_links
    except Exception:
        return name
    return None if name in registered_links() else name


# --------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------
class _Encoder:
    def __init__(self, out_of_band: bool) -> None:
        self.out_of_band = out_of_band
        self.blobs: list[memoryview] = []
        self.size = 0
        self.float_blobs: list[tuple[int, int, int]] = []

    # Looked up on first use: most batches hold no enum nor gsp object, and the look-ups cost about
    # 4 us a batch, as much as packing some 60 plain rows in C.
    @cached_property
    def _enum_names(self) -> dict[type, str]:
        return _enum_names_by_class()

    @cached_property
    def _link_cls(self) -> type | None:
        return _link_base()

    @cached_property
    def _captured_cls(self) -> type | None:
        return _captured_base()

    def rows(self, rows: Sequence[Row]) -> list[Any]:
        """``rows`` as msgpack must get them: a row whose args are plain scalars or short ``bytes``
        and which has no kwargs stays as it is (a tuple packs as the array the format wants, so
        small commands cost no Python per value), the others become tuples with args and kwargs
        converted. Rows must be converted in order (blob offsets follow). A value that cannot be
        encoded raises ``TypeError`` naming the command.

        The one conversion of both paths of :func:`encode_rows`: the Python path hands it the
        whole batch (one loop, no call per row), the C path one row that is not plain at a time."""
        out: list[Any] = list(rows)
        value = self.value
        scalar = _SCALAR_TYPES
        ext = msgpack.ExtType
        bin8 = _BIN8_HEADERS
        for i, row in enumerate(rows):
            try:
                args = row[4]
                kwargs = row[5]
                for a in args:
                    if type(a) not in scalar and (type(a) is not bytes or len(a) >= INLINE_MAX):
                        # scalars and short bytes as they are, short bytearrays inline, the rest through value()
                        args = [a if type(a) in scalar or (type(a) is bytes and len(a) < INLINE_MAX)
                                else _new_ext(ext, (EXT_BYTEARRAY, bin8[len(a)] + a))
                                if type(a) is bytearray and len(a) < INLINE_MAX else value(a) for a in args]
                        break
                else:
                    if not kwargs:
                        continue  # packs as it is
                out[i] = (row[0], row[1], row[2], row[3], args, value(kwargs) if kwargs else kwargs)
            except (TypeError, ValueError, RecursionError) as error:
                raise TypeError(f"cannot encode command seq={row[0]} op={row[2]}: {error}") from error
        return out

    def _blob(self, view: memoryview, float_itemsize: int = 0) -> list[int] | bytes:
        length = view.nbytes
        if not self.out_of_band or length < INLINE_MAX:
            return view.tobytes()
        offset = self.size
        self.blobs.append(view)
        pad = (-length) % ALIGN
        if pad:
            self.blobs.append(memoryview(b"\0" * pad))
        self.size += length + pad
        if float_itemsize > 1:
            self.float_blobs.append((offset, length, float_itemsize))
        return [offset, length]

    def value(self, v: Any) -> Any:
        t = type(v)
        if t in _PLAIN or t is bytes:
            if t is bytes and len(v) >= INLINE_MAX and self.out_of_band:
                return msgpack.ExtType(EXT_BYTES, msgpack.packb(self._blob(memoryview(v))))
            return v
        if t is list or t is tuple:
            return [self.value(x) for x in v]
        if t is dict:
            out = {}
            for key, x in v.items():
                if type(key) is not str:
                    raise TypeError(f"dict keys must be str, got {type(key).__name__} ({key!r})")
                out[key] = self.value(x)
            return out
        if t is np.ndarray:
            return self._array(v)
        if t is bytearray:
            if len(v) < INLINE_MAX:  # inline: its bytes as a msgpack bin 8 (0xc4, length, data)
                return _new_ext(msgpack.ExtType, (EXT_BYTEARRAY, b"\xc4" + bytes((len(v),)) + v))
            return msgpack.ExtType(EXT_BYTEARRAY, msgpack.packb(self._blob(memoryview(v))))
        if t is Ref:
            return msgpack.ExtType(EXT_REF, v.uuid.encode("utf-8"))
        if t is LogRef:
            return msgpack.ExtType(EXT_LOGREF, msgpack.packb(v.seq))
        if isinstance(v, enum.Enum):
            name = self._enum_names.get(t)
            if name is None:
                raise TypeError(f"enum {t.__qualname__} is not in the protocol allow-list")
            value = v.value
            if not isinstance(value, (int, str)):
                raise TypeError(f"enum {name}.{v.name} has a value of type {type(value).__name__}")
            return msgpack.ExtType(EXT_ENUM, msgpack.packb([name, v.name, value]))
        if isinstance(v, np.generic):
            return self.value(v.item())
        if self._captured_cls is not None and isinstance(v, self._captured_cls):
            return msgpack.ExtType(EXT_REF, v.get_uuid().encode("utf-8"))  # type: ignore[attr-defined]
        if self._link_cls is not None and isinstance(v, self._link_cls):
            data = self.value(v.serialize())  # type: ignore[attr-defined]
            return msgpack.ExtType(EXT_LINK, msgpack.packb(data, use_bin_type=True))
        # subclasses of plain types (not enums, handled above) travel as the plain type
        plain_type: type
        for plain_type in (bool, int, float, str, bytes):
            if isinstance(v, plain_type):
                return self.value(plain_type(v))  # type: ignore[call-arg,arg-type]
        if isinstance(v, (list, tuple)):
            return [self.value(x) for x in v]
        raise TypeError(f"cannot encode a value of type {t.__module__}.{t.__qualname__}")

    def _array(self, a: np.ndarray) -> msgpack.ExtType:
        dtype = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        if dtype.str not in ALLOWED_DTYPES:
            raise TypeError(f"numpy dtype {a.dtype} is not allowed in a log (allowed: {sorted(ALLOWED_DTYPES)})")
        a = np.asarray(a, dtype=dtype, order="C")  # keeps 0-d arrays 0-d (ascontiguousarray does not)
        float_itemsize = a.itemsize if a.dtype.kind in "fc" else 0
        raw = memoryview(a).cast("B") if a.size else memoryview(b"")  # type: ignore[arg-type]
        payload = self._blob(raw, float_itemsize)
        return msgpack.ExtType(EXT_NDARRAY, msgpack.packb([a.dtype.str, list(a.shape), payload]))


#: A command as the writers keep it before encoding: ``(seq, t_ns, op, target, args, kwargs)``.
Row = tuple[int, int, str, str, Any, Any]


def encode_commands(commands: Iterable[Command], *, out_of_band: bool = True) -> EncodedBatch:
    """Encode commands as msgpack ``meta`` + out-of-band ``blobs`` (see module doc)."""
    return encode_rows([(c.seq, c.t_ns, c.op, c.target, c.args, c.kwargs) for c in commands], out_of_band=out_of_band)


def encode_rows(rows: Sequence[Row], *, out_of_band: bool = True) -> EncodedBatch:
    """:func:`encode_commands` for commands kept as :data:`Row` tuples (the writers' hot path).

    Plain rows (see sessions/_rows.c) are packed by the C extension when it is used, the others
    converted by :meth:`_Encoder.rows` and packed by msgpack, one at a time in row order;
    without the extension every row is converted and the list packed by msgpack. Same bytes, same
    errors: ``TypeError("cannot encode command seq=.. op=..: ..")`` for a value the codec cannot
    encode, ``TypeError("cannot encode commands A..B: ..")`` for a row msgpack refuses (an int
    over 64 bits)."""
    enc = _Encoder(out_of_band)
    if _rows_c is not None:
        meta = _pack_rows_c(_rows_c.pack_rows, rows, enc)
    else:
        out = enc.rows(rows)
        try:
            meta = msgpack.packb(out, use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as error:  # a row msgpack refuses (an int over 64 bits)
            raise _batch_error(rows, error) from error
    return EncodedBatch(meta, enc.blobs, enc.size, enc.float_blobs, len(rows))


def _batch_error(rows: Sequence[Row], error: Exception) -> TypeError:
    return TypeError(f"cannot encode commands {rows[0][0]}..{rows[-1][0]}: {error}")


_PackRows = Callable[[list[Any], Callable[[Any], bytes]], bytes]


def _pack_rows_c(pack_rows: _PackRows, rows: Sequence[Row], enc: _Encoder) -> bytes:
    """``meta`` of :func:`encode_rows` through the C packer, with the Python path's errors."""
    # The Python path converts every row before msgpack packs any: a row msgpack refuses is
    # reported once all rows are converted, so that a later row's conversion error wins as it does
    # there. Rows after the refused one are still converted, no longer packed.
    refused: list[Exception] = []
    convert = enc.rows
    packb = msgpack.packb

    def pack_other(row: Row) -> bytes:
        (item,) = convert((row,))
        if refused:
            return b""
        try:
            # Packed inside a one-item list and the 0x91 header dropped: the row sits at the same
            # depth as in the batch's array, so msgpack's nesting limit gives the same verdict.
            return packb([item], use_bin_type=True)[1:]
        except Exception as error:
            refused.append(error)
            return b""

    meta = pack_rows(rows if type(rows) is list else list(rows), pack_other)
    if refused:
        error = refused[0]
        if isinstance(error, (TypeError, ValueError, OverflowError)):
            raise _batch_error(rows, error) from error
        raise error
    return meta


def encode_value(value: Any) -> bytes:
    """Encode one value self-contained (every blob inline)."""
    return msgpack.packb(_Encoder(False).value(value), use_bin_type=True)


# --------------------------------------------------------------------------------------------
# Choice of the row packer and builder
# --------------------------------------------------------------------------------------------
#: Set to "1" to pack and build every row in Python even when ``sessions._rows`` is built.
ENV_NO_C_ROWS = "GSP_NO_C_ROWS"


def _import_rows() -> Any:
    """The ``sessions._rows`` module; ``ImportError`` when it is not built or was built for another
    :data:`INLINE_MAX` (a stale build would pack bytes that belong out of band)."""
    from sessions import _rows

    if _rows.INLINE_MAX != INLINE_MAX:
        raise ImportError(f"sessions._rows was built with INLINE_MAX {_rows.INLINE_MAX}, "
                          f"sessions.codec has {INLINE_MAX}: rebuild it (pip install -e .)")
    if not hasattr(_rows, "decoded_size"):
        raise ImportError("sessions._rows is an older build without decoded_size: rebuild it (pip install -e .)")
    return _rows


def _load_rows() -> Any:
    if os.environ.get(ENV_NO_C_ROWS, "") not in ("", "0"):
        return None
    try:
        return _import_rows()
    except ImportError:  # not built (no compiler at install time): msgpack packs every row
        return None


_rows_c = _load_rows()
#: "c" when :func:`encode_rows` packs plain rows and :func:`decode_commands` builds commands with
#: ``sessions._rows``, "python" otherwise.
ROWS_BACKEND = "c" if _rows_c is not None else "python"


def use_rows(backend: str) -> None:
    """Switch the row packer and builder of this process to ``"c"`` or ``"python"`` (tests and
    benchmarks run both in one process). ``ValueError`` for an unknown name, or ``"c"`` when the
    extension is not built."""
    global ROWS_BACKEND, _rows_c
    if backend == "python":
        _rows_c = None
    elif backend == "c":
        try:
            _rows_c = _import_rows()
        except ImportError as error:
            raise ValueError(f"the C rows module sessions._rows is not usable: {error}") from None
    else:
        raise ValueError(f"unknown row packer {backend!r} (expected 'c' or 'python')")
    ROWS_BACKEND = backend


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------
class BlobsNotReady(Exception):
    """A value had to be copied out of blob bytes that are not decompressed yet."""


class _Decoder:
    def __init__(self, blobs: memoryview | bytes | bytearray, shuffled: bool, limits: Limits,
                 blobs_ready: int | None = None, unfilled: list[tuple[int, bytearray]] | None = None,
                 log_refs: bool = True) -> None:
        self.blobs = memoryview(blobs).cast("B") if not isinstance(blobs, memoryview) else blobs
        self.writable = not self.blobs.readonly
        self.shuffled = shuffled
        self.limits = limits
        self.unknown = False
        # Blob bytes already in place (the rest is still being decompressed): arrays are views,
        # which can be made before their bytes arrive; values copied out of the blobs cannot.
        self.blobs_ready = self.blobs.nbytes if blobs_ready is None else blobs_ready
        # Where the C hook lists the bytearrays it makes before their bytes are ready (see
        # decode_commands_quietly); None: such a bytearray raises BlobsNotReady.
        self.unfilled = unfilled
        # Blob bytes copied into values so far, by both hooks: at most the blob area's size, or a
        # few rows referencing one big blob over and over would make gigabytes of copies.
        self.copied = np.zeros(1, dtype=np.int64)
        # Unshuffled arrays are carved from one buffer the size of the blob area, at their blobs'
        # offsets: one allocation per chunk (big ones get huge pages), not one per array.
        self._arena: np.ndarray | None = None
        self._enums = enum_allow_list()
        self.links_as_recorded = _links_as_recorded.get()
        # LogRefs belong in a file's LINKED_KEYFRAME chunks only: elsewhere no reader resolves
        # them, and a hostile one would reach the scene (or a tool's writer) as buffer data.
        self.log_refs = log_refs

    def start_over(self) -> None:
        """Forget what a pass over the rows left (before msgpack decodes them all again): the
        unknown values it met, the bytearrays it listed unfilled, the blob bytes it copied."""
        self.unknown = False
        if self.unfilled:
            self.unfilled.clear()
        self.copied[0] = 0

    def unpack(self, data: bytes | memoryview) -> Any:
        """The value packed in ``data``, its arrays and references built in C where the module is."""
        return self._unpack(data, self._c_ext_hook() if _rows_c is not None else self.python_ext_hook)

    def _c_ext_hook(self) -> Any:
        # Made for each call only, never kept: the hook holds this decoder (its fallback), and a
        # decoder holding the hook would keep itself and the chunk's body alive until the next
        # cyclic collection (a fresh body of fresh pages for every chunk).
        return _rows_c.ExtHook(self.blobs, self.shuffled, self.limits.max_array_dims, _DTYPE_ENTRIES,
                               np.frombuffer, Ref, self.python_ext_hook, ready=self.blobs_ready,
                               unfilled=self.unfilled, copied=self.copied)

    def commands(self, meta: bytes | memoryview) -> list[Command] | None:
        """The commands of the rows in ``meta`` read by the C reader (``_rows.decode_rows``), or
        None when it declines (anything it does not read as msgpack would, or values charged more
        than ``max_decoded_bytes``), when a value is of a type this version does not know, or when
        the module is not built: msgpack then decodes them and says what is wrong."""
        if _rows_c is None:
            return None
        try:
            commands = _rows_c.decode_rows(meta, self._c_ext_hook(), Command, self.limits.max_decoded_bytes)
        except (LogFormatError, BlobsNotReady):
            raise
        except Exception:  # raised by the Python hook: msgpack's path words the error
            return None
        return None if commands is None or self.unknown else commands

    def _unpack(self, data: bytes | memoryview, ext_hook: Callable[[int, bytes], Any]) -> Any:
        return msgpack.unpackb(data, raw=False, ext_hook=ext_hook, strict_map_key=True, use_list=True, timestamp=0)

    def _slice(self, loc: Any) -> memoryview | bytes:
        if isinstance(loc, bytes):
            return loc
        if not (isinstance(loc, list) and len(loc) == 2 and all(type(x) is int for x in loc)):
            raise ValueError(f"bad blob location {loc!r}")
        offset, length = loc
        if offset < 0 or length < 0 or offset + length > self.blobs.nbytes:
            raise ValueError(f"blob [{offset}, {offset + length}) outside the blob area of {self.blobs.nbytes} bytes")
        return self.blobs[offset : offset + length]

    def _copied(self, loc: Any) -> memoryview | bytes:
        """The bytes at ``loc``, to be copied now (so they must be in place already)."""
        raw = self._slice(loc)
        if isinstance(loc, list):
            if loc[0] + loc[1] > self.blobs_ready:
                raise BlobsNotReady(f"blob [{loc[0]}, {loc[0] + loc[1]}) is not decompressed yet")
            total = int(self.copied[0]) + loc[1]
            if total > self.blobs.nbytes:
                raise ValueError(f"values copy more than the blob area's {self.blobs.nbytes} bytes out of it "
                                 "(a blob referenced more than once)")
            self.copied[0] = total
        return raw

    def python_ext_hook(self, code: int, data: bytes) -> Any:
        """Every extension value; the C hook hands over all but well-formed arrays, references,
        bytes and bytearrays (and those past ``blobs_ready``, unless it lists unfilled bytearrays)."""
        if code == EXT_REF:
            return Ref(data.decode("utf-8"))
        if code == EXT_NDARRAY:
            return self._array(self._unpack(data, self.python_ext_hook))
        if code == EXT_LOGREF:
            if not self.log_refs:
                raise ValueError("a log reference (extension 7) outside a LINKED_KEYFRAME chunk")
            seq = msgpack.unpackb(data)
            if type(seq) is not int or seq < 0:
                raise ValueError(f"bad log reference {seq!r}")
            return LogRef(seq)
        if code == EXT_BYTEARRAY:
            return bytearray(self._copied(msgpack.unpackb(data)))
        if code == EXT_BYTES:
            return bytes(self._copied(msgpack.unpackb(data)))
        if code == EXT_ENUM:
            return self._enum(msgpack.unpackb(data, raw=False))
        if code == EXT_LINK:
            fields = self._unpack(data, self.python_ext_hook)
            if not isinstance(fields, dict):
                raise ValueError("transform link payload is not a map")
            if self.links_as_recorded:
                recorded = _recorded_link(fields)
                if recorded is not None:
                    return recorded
            try:
                return _deserialize_link(fields)
            except Exception as error:  # a link type this build does not register, or bad fields
                link_type = _unregistered_link_type(fields)
                if link_type is None:
                    return self._unknown(code, f"transform link not rebuilt: {error}")
                self.unknown = True
                return UnknownValue(code, f"transform link type {link_type!r} is not registered here (a link "
                                    "class of the recorded script or of a module not imported: import the module "
                                    f"that registers it with @register_link first); {error}", link_type)
        return self._unknown(code, f"unknown extension type {code}")

    def _unknown(self, code: int, reason: str) -> UnknownValue:
        self.unknown = True
        return UnknownValue(code, reason)

    def _enum(self, fields: Any) -> Any:
        if not (isinstance(fields, list) and len(fields) == 3 and isinstance(fields[0], str)):
            raise ValueError(f"bad enum payload {fields!r}")
        name, member, value = fields
        cls = self._enums.get(name)
        if cls is None:
            return self._unknown(EXT_ENUM, f"enum {name!r} is not known to this version")
        try:
            result = cls[member]
        except (KeyError, TypeError):
            return self._unknown(EXT_ENUM, f"{name} has no member {member!r}")
        if result.value != value:
            raise ValueError(f"{name}.{member} has value {result.value!r}, the log says {value!r}")
        return result

    def _array(self, fields: Any) -> np.ndarray:
        if not (isinstance(fields, list) and len(fields) == 3):
            raise ValueError("bad array header")
        dtype_str, shape, loc = fields
        dtype = _DTYPE_OF.get(dtype_str) if type(dtype_str) is str else None
        if dtype is None:
            raise ValueError(f"array dtype {dtype_str!r} is not allowed")
        if not (isinstance(shape, list) and len(shape) <= self.limits.max_array_dims):
            raise ValueError(f"bad array shape {shape!r}")
        count = 1
        for n in shape:
            if type(n) is not int or n < 0:
                raise ValueError(f"bad array shape {shape!r}")
            count *= n
        raw = self._slice(loc)
        if count * dtype.itemsize != len(raw):
            raise ValueError(f"array of shape {shape} and dtype {dtype_str} needs {count * dtype.itemsize} bytes, has {len(raw)}")
        if isinstance(raw, bytes):  # inline: small, copied into a bytearray of its own to make it writable
            array = np.frombuffer(bytearray(raw), dtype=dtype)
            return array if len(shape) == 1 else array.reshape(shape)
        if self.shuffled and dtype.kind in "fc" and dtype.itemsize > 1 and count:
            raw = self._copied(loc)
            if self._arena is None:
                self._arena = np.empty(self.blobs.nbytes, dtype=np.uint8)
            out = self._arena[loc[0] : loc[0] + len(raw)].view(dtype)
            shuffle_filter.unshuffle_into(out, raw, dtype.itemsize)  # one copy, from the chunk's bytes
            return out.reshape(shape)
        array = np.frombuffer(raw, dtype=dtype)
        return array if len(shape) == 1 else array.reshape(shape)


#: How msgpack starts a timestamp (extension -1, which it decodes itself, without the ext hook):
#: 4, 8 and 12 bytes of payload.
_TIMESTAMP_STARTS = (b"\xd6\xff", b"\xd7\xff", b"\xc7\x0c\xff")


def _may_hold_timestamps(meta: bytes | memoryview) -> bool:
    """Whether ``meta`` may hold a msgpack timestamp (a quick search: the bytes may also be
    inside some other value)."""
    data = meta if isinstance(meta, bytes) else bytes(meta)
    return any(start in data for start in _TIMESTAMP_STARTS)


def _contains_unknown(value: Any) -> UnknownValue | None:
    if isinstance(value, UnknownValue):
        return value
    if isinstance(value, msgpack.Timestamp):  # no value of the protocol: an extension it does not know
        return UnknownValue(-1, "unknown extension type -1 (a msgpack timestamp)")
    if isinstance(value, (list, tuple)):
        items: Sequence[Any] = value
    elif isinstance(value, dict):
        items = list(value.values())
    else:
        return None
    for item in items:
        found = _contains_unknown(item)
        if found is not None:
            return found
    return None


def decode_commands(
    meta: bytes | memoryview,
    blobs: bytes | bytearray | memoryview = b"",
    *,
    shuffled: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    where: Callable[[], dict[str, Any]] | None = None,
) -> list[Command]:
    """Decode what :func:`encode_commands` produced.

    Commands holding a value of an unknown extension type are skipped, with a warning (or as
    :func:`skipped_commands` says).
    Raises :class:`LogFormatError` (with ``where()`` giving offset/chunk) on malformed input.
    """
    commands, skipped = decode_commands_quietly(meta, blobs, shuffled=shuffled, limits=limits, where=where)
    report_skipped(skipped, stacklevel=2)
    return commands


def decode_commands_quietly(
    meta: bytes | memoryview,
    blobs: bytes | bytearray | memoryview = b"",
    *,
    shuffled: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    where: Callable[[], dict[str, Any]] | None = None,
    blobs_ready: int | None = None,
    unfilled: list[tuple[int, bytearray]] | None = None,
    log_refs: bool = True,
) -> tuple[list[Command], list[SkippedCommandWarning]]:
    """:func:`decode_commands` that returns the warnings about skipped commands instead of giving
    them (:class:`sessions.errors.SkippedCommandWarning`, which names the seq, op and, when that is
    why, the transform link type not registered). With ``blobs_ready``, only that many bytes of ``blobs`` may be read now (arrays are
    views, made at once); a value that must be copied from further on raises
    :class:`BlobsNotReady`. Except, when ``unfilled`` is a list and the C rows module builds the
    value, a bytearray: it is made unfilled and listed there as ``(offset in blobs, bytearray)``,
    for the caller to fill once those bytes are in place. ``log_refs=False`` refuses a
    :class:`~sessions.command.LogRef` (``LogFormatError``): only LINKED_KEYFRAME chunks hold them."""
    context = where() if where is not None else {}
    dec = _Decoder(blobs, shuffled, limits, blobs_ready, unfilled, log_refs)
    with _gc_paused():
        return _decode_rows(dec, meta, context)


def check_decoded_size(data: bytes | bytearray | memoryview, limits: Limits, what: str,
                       context: dict[str, Any] | None = None) -> None:
    """Raise :class:`LogFormatError` (with ``context``: offset, chunk...) when the msgpack value in
    ``data`` would take more than ``limits.max_decoded_bytes`` of memory once decoded, as
    :mod:`sessions.decoded_size` estimates it without decoding (in C where the module is built)."""
    limit = limits.max_decoded_bytes
    size = _rows_c.decoded_size(data, limit) if _rows_c is not None else decoded_size.estimate(data, limit)
    if size < 0:
        raise LogFormatError(f"{what} nest extension values deeper than {decoded_size.MAX_EXT_NESTING} levels",
                             **(context or {}))
    if size > limit:
        raise LogFormatError(f"{what} would take more than {size_text(limit)} of memory once decoded, the limit "
                             f"(Limits.max_decoded_bytes): at least {size_text(size)} estimated",
                             **(context or {}))


#: What msgpack's exceptions that carry no message mean.
_MSGPACK_WHY = {
    "StackError": "msgpack: arrays or maps nested too deep",
    "FormatError": "msgpack: a byte that starts no msgpack value",
    "OutOfData": "msgpack: the data ends inside a value",
    "ExtraData": "msgpack: bytes after the last value",
}


def _why(error: Exception) -> str:
    """An exception's message, or what it means when it has none (msgpack's often have none)."""
    return str(error) or _MSGPACK_WHY.get(type(error).__name__, "no detail given")


def _decode_rows(dec: _Decoder, meta: bytes | memoryview,
                 context: dict[str, Any]) -> tuple[list[Command], list[SkippedCommandWarning]]:
    fast = dec.commands(meta)
    if fast is not None:
        return fast, []
    # The C reader bounds what it builds itself (it declines past the limit); msgpack does not.
    check_decoded_size(meta, dec.limits, "the command rows", context)
    dec.start_over()
    try:
        rows = dec.unpack(meta)
    except (LogFormatError, BlobsNotReady):
        raise
    except Exception as error:  # msgpack raises many types on malformed input
        raise LogFormatError(f"malformed command data: {type(error).__name__}: {_why(error)}", **context) from None
    if not isinstance(rows, list):
        raise LogFormatError("command data is not an array", **context)
    if not dec.unknown and _may_hold_timestamps(meta):
        dec.unknown = _contains_unknown(rows) is not None
    if _rows_c is not None and not dec.unknown:
        built, bad = _rows_c.build_commands(rows, Command)
        if built is not None:
            return built, []
        raise LogFormatError(f"command #{bad} is malformed: {str(rows[bad])[:120]}", **context)
    commands: list[Command] = []
    skipped: list[SkippedCommandWarning] = []
    for i, row in enumerate(rows):
        if not (
            isinstance(row, list)
            and len(row) == 6
            and type(row[0]) is int
            and type(row[1]) is int
            and isinstance(row[2], str)
            and isinstance(row[3], str)
            and isinstance(row[4], list)
            and isinstance(row[5], dict)
        ):
            raise LogFormatError(f"command #{i} is malformed: {str(row)[:120]}", **context)
        seq, t_ns, op, target, args, kwargs = row
        if dec.unknown:
            unknown = _contains_unknown(args) or _contains_unknown(kwargs)
            if unknown is not None:
                skipped.append(SkippedCommandWarning(f"skipping command seq={seq} op={op}: {unknown.reason}",
                                                     seq=seq, op=op, link_type=unknown.link_type,
                                                     reason=unknown.reason, target=target))
                continue
        commands.append(make_command(seq, t_ns, op, target, tuple(args), kwargs))
    return commands, skipped


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a chunk's commands are built. They are thousands
    of small containers that all outlive the decode, so every collection in between would walk
    them again, and older generations fill up and trigger full collections: for a log of scalar
    setters, collections took 70 % of the read time. Left paused if it already was; another
    thread's decode may end the pause early, which only costs speed."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def decode_value(data: bytes) -> Any:
    """Decode what :func:`encode_value` produced."""
    try:
        return _Decoder(b"", False, DEFAULT_LIMITS).unpack(data)
    except Exception as error:
        raise LogFormatError(f"malformed value: {type(error).__name__}: {error}") from None
