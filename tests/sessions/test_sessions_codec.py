"""The command codec: round trips, zero-copy arrays, extension types, limits, unknown types."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sessions.codec import (
    EXT_NDARRAY,
    INLINE_MAX,
    PROTOCOL_VERSION,
    decode_commands,
    decode_value,
    encode_commands,
    encode_value,
)
from sessions.command import Command, Ref
from sessions.errors import LogFormatError

DTYPES = ["|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f2", "<f4", "<f8"]

arrays = st.sampled_from(DTYPES).flatmap(
    lambda dt: hnp.arrays(np.dtype(dt), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=12))
)
scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)
    | st.text(max_size=20) | st.binary(max_size=600) | st.binary(max_size=600).map(bytearray)
    | st.text(min_size=1, max_size=36).map(Ref) | arrays
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)
commands = st.lists(
    st.builds(
        Command,
        seq=st.integers(0, 2**62),
        t_ns=st.integers(-(2**62), 2**62),
        op=st.text(min_size=1, max_size=30),
        target=st.text(max_size=36),
        args=st.lists(values, max_size=4).map(tuple),
        kwargs=st.dictionaries(st.text(max_size=10), values, max_size=3),
    ),
    max_size=6,
)


def same(a: object, b: object) -> bool:
    """Equality that keeps bytes/bytearray distinct and compares arrays by dtype, shape, bytes."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, Command):
        return (a.seq, a.t_ns, a.op, a.target) == (b.seq, b.t_ns, b.op, b.target) and same(
            a.args, b.args
        ) and same(a.kwargs, b.kwargs)
    return a == b


def roundtrip(cmds: list[Command]) -> list[Command]:
    batch = encode_commands(cmds)
    blobs = b"".join(bytes(b) for b in batch.blobs)
    return decode_commands(batch.meta, bytearray(blobs))


def normalize(value: object) -> object:
    """What the codec promises: tuples come back as lists (except Command.args)."""
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    return value


@settings(max_examples=80, deadline=None)
@given(commands)
def test_arbitrary_commands_round_trip(cmds: list[Command]) -> None:
    back = roundtrip(cmds)
    expected = [Command(c.seq, c.t_ns, c.op, c.target, tuple(normalize(list(c.args))), normalize(c.kwargs))
                for c in cmds]
    assert len(back) == len(expected)
    for got, want in zip(back, expected):
        assert same(got, want), (got, want)


@settings(max_examples=100, deadline=None)
@given(values)
def test_values_round_trip_self_contained(value: object) -> None:
    assert same(decode_value(encode_value(value)), normalize(value))


def test_protocol_version() -> None:
    assert PROTOCOL_VERSION == "1.2"


def test_large_arrays_are_zero_copy_views_of_the_blob_area() -> None:
    big = np.arange(100_000, dtype=np.float32).reshape(-1, 4)
    batch = encode_commands([Command(1, 0, "Buffer.set_data", "b", (big,))])
    assert len(batch.meta) < 200  # the data is out of band
    area = bytearray(b"".join(bytes(b) for b in batch.blobs))
    (cmd,) = decode_commands(batch.meta, area)
    arr = cmd.args[0]
    assert np.shares_memory(arr, np.frombuffer(area, np.uint8))
    assert arr.flags.writeable and arr.dtype == np.float32 and arr.shape == (25_000, 4)
    np.testing.assert_array_equal(arr, big)


def test_bytearray_bytes_and_small_values_stay_distinct() -> None:
    (cmd,) = roundtrip([Command(1, 2, "X.y", "t", (bytearray(b"\x01\x02\x03\x04"), b"\x01\x02", (1, (2, 3))))])
    assert type(cmd.args[0]) is bytearray and type(cmd.args[1]) is bytes
    assert cmd.args[2] == [1, [2, 3]]
    big = bytearray(range(256)) * 4
    (cmd,) = roundtrip([Command(1, 2, "X.y", "t", (big, bytes(big)))])
    assert type(cmd.args[0]) is bytearray and cmd.args[0] == big and type(cmd.args[1]) is bytes


def test_non_contiguous_and_big_endian_arrays_are_encoded_by_value() -> None:
    a = np.arange(40, dtype=">i4").reshape(4, 10)[:, ::3]
    (cmd,) = roundtrip([Command(1, 0, "X.y", "t", (a,))])
    np.testing.assert_array_equal(cmd.args[0], a)
    assert cmd.args[0].dtype == np.dtype("<i4")


def test_gsp_enums_round_trip_through_the_allow_list() -> None:
    from gsp.constants import Constants
    from gsp.types import BufferType, CapStyle, ImageInterpolation, JoinStyle, MarkerShape, TextAlign

    members = [BufferType.mat4, CapStyle.ROUND, JoinStyle.MITER, ImageInterpolation.NEAREST,
               MarkerShape.club, TextAlign.BOTTOM_RIGHT, Constants.FaceCulling.BothSides]
    (cmd,) = roundtrip([Command(1, 0, "X.y", "t", tuple(members))])
    assert list(cmd.args) == members and all(type(a) is type(m) for a, m in zip(cmd.args, members))


def test_foreign_enums_and_objects_are_refused_with_the_command_named() -> None:
    import enum

    class Mine(enum.Enum):
        A = 1

    with pytest.raises(TypeError, match=r"seq=7 op=X.y.*Mine"):
        encode_commands([Command(7, 0, "X.y", "t", (Mine.A,))])
    with pytest.raises(TypeError, match="object"):
        encode_commands([Command(8, 0, "X.y", "t", (object(),))])
    with pytest.raises(TypeError, match="dict keys"):
        encode_commands([Command(9, 0, "X.y", "t", ({1: 2},))])
    with pytest.raises(TypeError, match="dtype"):
        encode_commands([Command(9, 0, "X.y", "t", (np.array([object()]),))])


def test_transform_links_round_trip_through_the_registry() -> None:
    from gsp.transforms import TransformLinkImmediate
    from gsp.types import Buffer, BufferType

    buf = Buffer(3, BufferType.float32)
    buf.set_data(bytearray(np.float32([1, 2, 3]).tobytes()), 0, 3)
    link = TransformLinkImmediate(buf)
    (cmd,) = roundtrip([Command(1, 0, "TransformChain.add", "c", (link,))])
    back = cmd.args[0]
    assert type(back) is TransformLinkImmediate
    assert back.serialize() == link.serialize() or same(back.serialize(), link.serialize())


def test_links_kept_as_recorded_encode_back_to_the_bytes_they_came_from(rows_backend: str) -> None:
    """Under ``links_as_recorded`` every link decodes as its recorded form, whether its type is
    registered here or not (a class of the user's, never registered in this process), and encodes
    back to the very bytes, out-of-band data included; a remove of it compares equal to its add.
    Outside it, links are rebuilt and an unknown type's command skipped, as before."""
    from gsp.transforms import TransformLinkBase, TransformLinkImmediate
    from gsp.types import Buffer, BufferType
    from sessions.codec import links_as_recorded
    from sessions.errors import SkippedCommandWarning

    class Unregistered(TransformLinkBase):
        _link_name_ = "CodecTestUnregisteredLink"  # set by hand: @register_link would register it

        def apply(self, buffer: Buffer | None) -> Buffer:
            raise AssertionError("never run")

        def _serialize_fields(self) -> dict[str, object]:
            return {"scale": 0.5, "axes": [0, 2], "table": bytes(range(256)) * 2, "name": "x",
                    "nested": {"k": None, "f": -1.5, "small": b"\x01"}, "big": 2**63 + 5}

        @classmethod
        def _from_fields(cls, fields: dict[str, object]) -> TransformLinkBase:
            raise AssertionError("never rebuilt")

    buf = Buffer(300, BufferType.float32)
    buf.set_data(bytearray(np.arange(300, dtype=np.float32).tobytes()), 0, 300)
    cmds = [Command(1, 5, "TransformChain.add", "c", (TransformLinkImmediate(buf),)),
            Command(2, 6, "TransformChain.add", "c", (Unregistered(),)),
            Command(3, 7, "TransformChain.remove", "c", (Unregistered(),))]
    batch = encode_commands(cmds)
    blobs = b"".join(bytes(b) for b in batch.blobs)
    with links_as_recorded():
        back = decode_commands(batch.meta, bytearray(blobs))
    assert [c.seq for c in back] == [1, 2, 3]
    assert [c.args[0].link_type for c in back] == ["TransformLinkImmediate", "CodecTestUnregisteredLink",
                                                   "CodecTestUnregisteredLink"]
    assert back[1].args[0] == back[2].args[0] and back[0].args[0] != back[1].args[0]
    again = encode_commands(back)
    assert again.meta == batch.meta and b"".join(bytes(b) for b in again.blobs) == blobs

    with pytest.warns(SkippedCommandWarning, match="'CodecTestUnregisteredLink' is not registered"):
        rebuilt = decode_commands(batch.meta, bytearray(blobs))
    assert [c.seq for c in rebuilt] == [1] and type(rebuilt[0].args[0]) is TransformLinkImmediate


def test_gsp_objects_become_refs() -> None:
    from gsp.types import Buffer, BufferType

    buf = Buffer(2, BufferType.uint8)
    (cmd,) = roundtrip([Command(1, 0, "X.y", "t", (buf,))])
    assert cmd.args[0] == Ref(buf.get_uuid())


def test_unknown_extension_type_skips_the_command_with_a_warning() -> None:
    rows = [[1, 0, "A.b", "t", [msgpack.ExtType(99, b"future")], {}], [2, 0, "A.c", "t", [1], {}]]
    meta = msgpack.packb(rows, use_bin_type=True)
    with pytest.warns(UserWarning, match="seq=1 op=A.b.*unknown extension type 99"):
        out = decode_commands(meta)
    assert [c.seq for c in out] == [2]


@pytest.mark.parametrize("seconds, nanoseconds", [(5, 0), (2**33, 1), (2**40, 5)], ids=["4", "8", "12 bytes"])
def test_a_msgpack_timestamp_is_an_unknown_extension_type_too(seconds: int, nanoseconds: int) -> None:
    """msgpack decodes extension -1 (a timestamp) itself, without the ext hook: a Timestamp
    reached the scene and the tools' writer (trim and cat failed with a raw traceback)."""
    rows = [[1, 0, "A.b", "t", [{"at": msgpack.Timestamp(seconds, nanoseconds)}], {}], [2, 0, "A.c", "t", [1], {}]]
    meta = msgpack.packb(rows, use_bin_type=True)
    with pytest.warns(UserWarning, match="seq=1 op=A.b.*unknown extension type -1"):
        out = decode_commands(meta)
    assert [c.seq for c in out] == [2]


def test_unknown_enum_name_skips_the_command() -> None:
    ext = msgpack.ExtType(5, msgpack.packb(["FutureEnum", "X", 1]))
    meta = msgpack.packb([[1, 0, "A.b", "t", [ext], {}]], use_bin_type=True)
    with pytest.warns(UserWarning, match="FutureEnum"):
        assert decode_commands(meta) == []


@pytest.mark.parametrize(
    "payload, reason",
    [
        (["<f4", [10], [0, 40]], "outside the blob area"),  # blob area is empty
        (["<f4", [10], b"\0" * 8], "needs 40 bytes"),
        (["|O", [1], b"\0" * 8], "not allowed"),
        (["<f4", [-1], b""], "bad array shape"),
        (["<f4", [1] * 40, b"\0" * 4], "bad array shape"),
        (["<f4", [2**40, 2**40], [0, 0]], "needs"),
    ],
)
def test_hostile_array_headers_raise_log_format_error(payload: list, reason: str) -> None:
    ext = msgpack.ExtType(EXT_NDARRAY, msgpack.packb(payload))
    meta = msgpack.packb([[1, 0, "A.b", "t", [ext], {}]], use_bin_type=True)
    with pytest.raises(LogFormatError, match=reason):
        decode_commands(meta, b"", where=lambda: {"offset": 123, "chunk_index": 4})
    try:
        decode_commands(meta, b"", where=lambda: {"offset": 123, "chunk_index": 4})
    except LogFormatError as error:
        assert error.offset == 123 and error.chunk_index == 4 and "offset 123, chunk 4" in str(error)


@pytest.mark.parametrize(
    "meta",
    [
        b"\xc1",  # never-used msgpack byte
        msgpack.packb({"not": "a list"}),
        msgpack.packb([[1, 2, 3]]),
        msgpack.packb([["1", 0, "A.b", "t", [], {}]]),
        b"\x91" * 5000 + b"\x90",  # nesting deeper than msgpack's stack
        b"\xdd\xff\xff\xff\xff",  # array header declaring 4 G items in 5 bytes
    ],
)
def test_malformed_command_data_raises_log_format_error(meta: bytes) -> None:
    with pytest.raises(LogFormatError):
        decode_commands(meta)


def test_inline_threshold_keeps_small_payloads_in_msgpack() -> None:
    small = np.zeros(INLINE_MAX // 4 - 1, np.float32)
    batch = encode_commands([Command(1, 0, "X.y", "t", (small,))])
    assert batch.blob_size == 0


def test_decoding_pauses_the_garbage_collector_and_leaves_it_as_it_was() -> None:
    import gc

    meta = encode_commands([Command(i, i, "Viewport.set_x", "v", (i,)) for i in range(5000)]).meta
    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    decode_commands(meta)  # first use builds the decoder's tables
    threshold = gc.get_threshold()
    gc.callbacks.append(count)
    gc.set_threshold(50)  # a collection every 50 new containers, if the decode let it run
    try:
        assert len(decode_commands(meta)) == 5000
        during = list(collections)
        assert gc.isenabled()
        gc.disable()
        assert len(decode_commands(meta)) == 5000
        assert not gc.isenabled()  # a caller's own pause is kept
        gc.enable()
        with pytest.raises(LogFormatError):
            decode_commands(msgpack.packb([[1, 2, "A.b", "t", [], {}], "bad"]))
        assert gc.isenabled()  # restored after an error too
    finally:
        gc.set_threshold(*threshold)
        gc.callbacks.remove(count)
    # 10 000 containers built: 200 collections unpaused; one may run as the pause ends
    assert len(during) <= 1, during
