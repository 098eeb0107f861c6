"""Buffer and BufferType: sizes, numpy conversion both ways, get_data/set_data, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gsp.types import Buffer, BufferType
from gsp.utils.bufferx import Bufferx

EXPECTED = {
    # type: (item size, dtype, item shape)
    BufferType.float32: (4, np.float32, ()),
    BufferType.uint32: (4, np.uint32, ()),
    BufferType.uint8: (1, np.uint8, ()),
    BufferType.int32: (4, np.int32, ()),
    BufferType.int8: (1, np.int8, ()),
    BufferType.vec1: (4, np.float32, ()),
    BufferType.vec2: (8, np.float32, (2,)),
    BufferType.vec3: (12, np.float32, (3,)),
    BufferType.vec4: (16, np.float32, (4,)),
    BufferType.uvec4: (16, np.uint32, (4,)),
    BufferType.mat4: (64, np.float32, (4, 4)),
    BufferType.rgba8: (4, np.uint8, (4,)),
}


def test_enum_values_are_the_gsp_wire_numbers() -> None:
    assert [t.value for t in BufferType] == list(range(12))
    assert [t.name for t in BufferType][:5] == ["float32", "uint32", "uint8", "int32", "int8"]


@pytest.mark.parametrize("buffer_type", list(BufferType))
def test_item_size_dtype_and_shape(buffer_type: BufferType) -> None:
    size, dtype, shape = EXPECTED[buffer_type]
    assert BufferType.get_item_size(buffer_type) == size
    assert BufferType.numpy_dtype(buffer_type) == np.dtype(dtype)
    assert BufferType.numpy_shape(buffer_type, 7) == (7, *shape)
    buf = Buffer(7, buffer_type)
    arr = buf.to_numpy()
    assert arr.dtype == np.dtype(dtype) and arr.shape == (7, *shape)
    assert len(buf.to_bytearray()) == 7 * size
    assert not arr.any()  # starts zero-filled


def _arrays(buffer_type: BufferType, min_count: int = 0) -> st.SearchStrategy[np.ndarray]:
    _, dtype, shape = EXPECTED[buffer_type]
    if np.dtype(dtype).kind == "f":
        elements = st.floats(width=32, allow_nan=False)
    else:
        info = np.iinfo(dtype)
        elements = st.integers(int(info.min), int(info.max))
    return st.integers(min_count, 12).flatmap(
        lambda n: hnp.arrays(dtype, (n, *shape), elements=elements)
    )


@st.composite
def _typed_array(draw: st.DrawFn, min_count: int = 0) -> tuple[BufferType, np.ndarray]:
    buffer_type = draw(st.sampled_from(list(BufferType)))
    return buffer_type, draw(_arrays(buffer_type, min_count))


@settings(max_examples=150, deadline=None)
@given(_typed_array())
def test_numpy_round_trip_every_type(case: tuple[BufferType, np.ndarray]) -> None:
    buffer_type, arr = case
    buf = Bufferx.from_numpy(arr, buffer_type)
    assert buf.get_type() is buffer_type and buf.get_count() == arr.shape[0]
    out = Bufferx.to_numpy(buf)
    assert out.dtype == arr.dtype and out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)
    # bytes are the little-endian C-order bytes of the array
    assert bytes(buf.to_bytearray()) == arr.astype(arr.dtype.newbyteorder("<")).tobytes()
    again = Buffer.from_bytearray(buf.to_bytearray(), buffer_type)
    np.testing.assert_array_equal(again.to_numpy(), arr)


def test_from_bytearray_takes_what_bytearray_takes_in_c_order() -> None:
    grid = np.arange(24, dtype=np.float32).reshape(4, 6)
    cases = [grid.tobytes(), bytearray(grid.tobytes()), memoryview(grid), memoryview(grid[:, ::2]),
             list(grid.tobytes())]
    for data in cases:
        buf = Buffer.from_bytearray(data, BufferType.float32)
        assert bytes(buf.to_bytearray()) == bytes(bytearray(data))
        assert buf.get_count() == len(bytearray(data)) // 4


@settings(max_examples=200, deadline=None)
@given(_typed_array(min_count=1), st.data())
def test_get_data_set_data_every_offset_and_count(case: tuple[BufferType, np.ndarray], data: st.DataObject) -> None:
    buffer_type, arr = case
    n = arr.shape[0]
    offset = data.draw(st.integers(0, n), label="offset")
    count = data.draw(st.integers(0, n - offset), label="count")
    buf = Buffer.from_numpy(arr, buffer_type)
    part = buf.get_data(offset, count)
    assert part.get_count() == count and part.get_type() is buffer_type
    np.testing.assert_array_equal(part.to_numpy(), arr[offset : offset + count])

    patch = data.draw(_arrays(buffer_type).filter(lambda a: True).map(lambda a: a[:count]), label="patch")
    patch = np.resize(patch, (count, *arr.shape[1:])) if patch.shape[0] != count else patch
    expected = arr.copy()
    expected[offset : offset + count] = patch
    kind = data.draw(st.sampled_from(["numpy", "bytes", "bytearray", "memoryview"]), label="kind")
    raw = patch.tobytes()
    payload = {"numpy": patch, "bytes": raw, "bytearray": bytearray(raw), "memoryview": memoryview(raw)}[kind]
    buf.set_data(payload, offset, count)
    np.testing.assert_array_equal(buf.to_numpy(), expected)


def test_to_numpy_is_a_view_unless_copy() -> None:
    buf = Buffer.from_numpy(np.arange(6, dtype=np.float32).reshape(2, 3), BufferType.vec3)
    view = buf.to_numpy()
    view[1, 2] = 42.0
    assert buf.get_data(1, 1).to_numpy()[0, 2] == 42.0
    copy = buf.to_numpy(copy=True)
    copy[0, 0] = -1.0
    assert buf.to_numpy()[0, 0] == 0.0


def test_to_bytearray_is_the_storage_and_get_data_copies() -> None:
    buf = Buffer.from_numpy(np.array([1, 2, 3], np.uint8), BufferType.uint8)
    buf.to_bytearray()[0] = 9
    assert buf.to_numpy()[0] == 9
    part = buf.get_data(0, 3)
    part.set_data(b"\x07", 0, 1)
    assert buf.to_numpy()[0] == 9


def test_from_numpy_accepts_n_by_1_scalars_single_items_and_converts_dtype() -> None:
    assert Buffer.from_numpy(np.ones((5, 1)), BufferType.float32).to_numpy().shape == (5,)
    assert Buffer.from_numpy(np.eye(4), BufferType.mat4).get_count() == 1
    assert Buffer.from_numpy([1.0, 2.0, 3.0], BufferType.vec3).get_count() == 1
    vec = Buffer.from_numpy(np.arange(6, dtype=np.float64).reshape(2, 3), BufferType.vec3).to_numpy()
    assert vec.dtype == np.float32 and vec[1, 2] == 5.0
    assert Buffer.from_numpy(np.array([[1, 2, 3, 4]], np.int64), BufferType.rgba8).to_numpy().dtype == np.uint8


def test_mat4_identity() -> None:
    ident = Bufferx.mat4_identity()
    assert ident.get_type() is BufferType.mat4 and ident.get_count() == 1
    np.testing.assert_array_equal(ident.to_numpy()[0], np.eye(4))


@pytest.mark.parametrize(
    ("call", "exc", "words"),
    [
        (lambda: Buffer(-1, BufferType.vec3), ValueError, "count must be >= 0"),
        (lambda: Buffer(3, 7), TypeError, "buffer_type must be a BufferType"),
        (lambda: Buffer(2.0, BufferType.vec3), TypeError, "count must be an int"),
        (lambda: Buffer.from_numpy(np.ones((3, 2)), BufferType.vec3), ValueError, "expected shape (N, 3)"),
        (lambda: Buffer.from_numpy(np.ones((3, 4)), BufferType.rgba8), TypeError, "float data"),
        # integers numpy would wrap round (300 -> 44, -1 -> 4294967295)
        (lambda: Buffer.from_numpy(np.array([[300, 0, 0, 255]]), BufferType.rgba8), ValueError,
         "value 300 does not fit rgba8 (0..255)"),
        (lambda: Buffer.from_numpy(np.array([-1]), BufferType.uint32), ValueError, "value -1 does not fit uint32"),
        (lambda: Buffer(2, BufferType.uint8).set_data(np.array([2, -5]), 0, 2), ValueError, "value -5 does not fit"),
        (lambda: Buffer.from_numpy(np.array(["a"]), BufferType.float32), TypeError, "numeric"),
        (lambda: Buffer.from_bytearray(b"12345", BufferType.float32), ValueError, "whole number"),
        (lambda: Buffer(4, BufferType.float32).set_data(b"\0" * 8, 3, 2), ValueError, "past the end"),
        (lambda: Buffer(4, BufferType.float32).set_data(b"\0" * 7, 0, 2), ValueError, "expected at least 8"),
        (lambda: Buffer(4, BufferType.float32).set_data(np.ones(1), 0, 2), ValueError, "expected at least count=2"),
        (lambda: Buffer(4, BufferType.float32).set_data([1.0], 0, 1), TypeError, "bytes, bytearray"),
        (lambda: Buffer(4, BufferType.float32).get_data(2, 3), ValueError, "past the end"),
        (lambda: Buffer(4, BufferType.float32).get_data(-1, 1), ValueError, "offset must be >= 0"),
        # a bare KeyError: 3 before
        (lambda: BufferType.get_item_size(3), TypeError, "BufferType.get_item_size: buffer_type must be a BufferType"),
        (lambda: BufferType.numpy_shape("vec3", 2), TypeError, "BufferType.numpy_shape: buffer_type must be"),
    ],
)
def test_bad_input_gets_a_clear_error(call, exc: type[Exception], words: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(exc, match=None) as info:
        call()
    assert words in str(info.value)
    assert "Buffer" in str(info.value)


def test_set_data_past_the_end_names_the_method() -> None:
    with pytest.raises(ValueError, match=r"Buffer.set_data: offset 3 \+ count 2 is past the end of the buffer \(4 items\)"):
        Buffer(4, BufferType.vec2).set_data(bytes(16), 3, 2)


def test_snapshot_rebuilds_the_buffer() -> None:
    buf = Buffer.from_numpy(np.arange(12, dtype=np.float32).reshape(4, 3), BufferType.vec3)
    calls = buf._snapshot_()
    assert [c[0] for c in calls] == ["__init__", "set_data"]
    rebuilt = Buffer(*calls[0][1])
    rebuilt.set_data(*calls[1][1])
    np.testing.assert_array_equal(rebuilt.to_numpy(), buf.to_numpy())
    buf.to_numpy()[0, 0] = 99  # the snapshot holds a copy
    assert calls[1][1][0][0:4] != buf.to_bytearray()[0:4]


def test_set_data_flat_uint8_array_is_raw_bytes() -> None:
    src = np.arange(6, dtype=np.float32).reshape(2, 3)
    buf = Buffer(2, BufferType.vec3)
    buf.set_data(np.frombuffer(src.tobytes(), np.uint8), 0, 2)
    np.testing.assert_array_equal(buf.to_numpy(), src)


@pytest.mark.parametrize("kind", ["bytearray", "bytes", "memoryview", "raw uint8 array", "item array"])
def test_set_data_writes_the_first_count_items_of_longer_data(kind: str) -> None:
    # GSP 0.1 copies `count` items from the start of the data; scripts pass longer data
    # (two colors, count 1) and expect the rest to be ignored.
    two = np.array([[255, 0, 0, 255], [0, 255, 0, 255]], np.uint8)
    data = {
        "bytearray": bytearray(two.tobytes()),
        "bytes": two.tobytes(),
        "memoryview": memoryview(two.tobytes()),
        "raw uint8 array": two.reshape(-1),
        "item array": two,
    }[kind]
    buf = Buffer(3, BufferType.rgba8)
    buf.set_data(data, 1, 1)
    np.testing.assert_array_equal(buf.to_numpy(), [[0, 0, 0, 0], [255, 0, 0, 255], [0, 0, 0, 0]])
    assert buf.version == 1


def test_set_data_still_refuses_data_shorter_than_count() -> None:
    with pytest.raises(ValueError, match=r"Buffer.set_data: data has 4 bytes, expected at least 8 \(2 items of rgba8"):
        Buffer(3, BufferType.rgba8).set_data(bytearray(4), 0, 2)
    with pytest.raises(ValueError, match=r"Buffer.set_data: data has 1 items, expected at least count=2"):
        Buffer(3, BufferType.rgba8).set_data(np.zeros((1, 4), np.uint8), 0, 2)
