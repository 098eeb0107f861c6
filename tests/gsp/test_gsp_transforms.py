"""TransformChain and links: run, add/remove, serialize/deserialize through the registry, file loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gsp_testkit import vec3

from gsp.transforms import (
    TransformChain,
    TransformLinkBase,
    TransformLinkImmediate,
    TransformLinkLoad,
    register_link,
    registered_links,
)
from gsp.types import Buffer, BufferType


def test_immediate_chain_runs_and_is_fully_defined() -> None:
    buf = vec3(4)
    chain = TransformChain(4, BufferType.vec3)
    assert chain.is_fully_defined() and chain.get_buffer_count() == 4 and chain.get_buffer_type() is BufferType.vec3
    chain.add(TransformLinkImmediate(buf))
    assert chain.run() is buf
    assert not TransformChain(-1, BufferType.vec3).is_fully_defined()
    assert not TransformChain(3, None).is_fully_defined()
    with pytest.raises(ValueError, match="TransformChain.run: the chain has no links"):
        TransformChain(-1, None).run()
    with pytest.raises(ValueError, match="buffer_count must be an int >= -1"):
        TransformChain(-2, None)


def test_run_checks_the_declaration() -> None:
    chain = TransformChain(3, BufferType.vec3)
    chain.add(TransformLinkImmediate(Buffer(3, BufferType.vec2)))
    with pytest.raises(ValueError, match="TransformChain.run: result has type vec2, declared vec3"):
        chain.run()


def test_remove_matches_equal_links_from_a_rebuilt_chain() -> None:
    chain = TransformChain(-1, None)
    a, b = TransformLinkImmediate(vec3(2, seed=1)), TransformLinkImmediate(vec3(2, seed=2))
    chain.add(a)
    chain.add(b)
    rebuilt_b = TransformLinkBase.deserialize(b.serialize())
    assert rebuilt_b == b and rebuilt_b is not b and rebuilt_b != a
    chain.remove(rebuilt_b)
    assert chain.get_links() == [a]
    with pytest.raises(ValueError, match="TransformChain.remove: TransformLinkImmediate is not in the chain"):
        chain.remove(rebuilt_b)
    with pytest.raises(TypeError, match="TransformChain.add: link must be a TransformLinkBase"):
        chain.add(vec3(1))  # type: ignore[arg-type]


def test_serialize_is_plain_data_and_round_trips() -> None:
    chain = TransformChain(5, BufferType.vec3)
    chain.add(TransformLinkImmediate(vec3(5)))
    data = chain.serialize()

    def plain(value: object) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, (bool, int, float, str, bytes))

    assert plain(data)
    again = TransformChain.deserialize(data)
    assert again.serialize() == data
    np.testing.assert_array_equal(again.run().to_numpy(), chain.run().to_numpy())
    assert {"TransformLinkImmediate", "TransformLinkLoad"} <= set(registered_links())


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"link_type": "os.system"}, "unknown link_type 'os.system'"),
        ({"nope": 1}, "expected a dict with a 'link_type' string"),
        ({"link_type": "TransformLinkImmediate", "buffer_type": 99, "count": 1, "data": b""}, "bad fields"),
        ({"link_type": "TransformLinkImmediate", "buffer_type": 7, "count": 2, "data": b"\0" * 12}, "'count' says 2"),
        ({"link_type": "TransformLinkLoad", "path": 3}, "'path' must be a string"),
    ],
)
def test_deserialize_refuses_bad_input(data: dict, words: str) -> None:
    with pytest.raises(ValueError) as info:
        TransformLinkBase.deserialize(data)
    assert words in str(info.value)


def test_load_link_reads_npy_without_pickle(tmp_path: Path) -> None:
    arr = np.random.default_rng(0).uniform(size=(6, 3)).astype(np.float32)
    np.save(tmp_path / "p.npy", arr)
    chain = TransformChain(6, BufferType.vec3)
    link = TransformLinkLoad(str(tmp_path / "p.npy"), BufferType.vec3)
    chain.add(link)
    np.testing.assert_array_equal(chain.run().to_numpy(), arr)
    assert TransformLinkBase.deserialize(link.serialize()) == link
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="TransformLinkLoad: cannot load .*o.npy"):
        TransformLinkLoad(str(tmp_path / "o.npy"), BufferType.float32).apply(None)
    with pytest.raises(ValueError, match="file not found"):
        TransformLinkLoad(str(tmp_path / "missing.npy"), BufferType.float32).apply(None)
    with pytest.raises(ValueError, match="buffer_type is required for .npy"):
        TransformLinkLoad(str(tmp_path / "p.npy"))
    with pytest.raises(ValueError, match="unsupported file kind"):
        TransformLinkLoad(str(tmp_path / "p.pkl"), BufferType.float32)


def test_load_link_reads_png_as_rgba8(tmp_path: Path) -> None:
    import matplotlib.image

    img = np.zeros((2, 3, 4), np.uint8)
    img[0, 0] = (255, 0, 0, 255)  # top-left red
    img[1, 2] = (0, 0, 255, 128)  # bottom-right half-transparent blue
    img[..., 3] = np.where(img[..., 3] == 0, 255, img[..., 3])
    matplotlib.image.imsave(tmp_path / "t.png", img)
    link = TransformLinkLoad(str(tmp_path / "t.png"))
    buf = link.apply(None)
    assert buf.get_type() is BufferType.rgba8 and buf.get_count() == 6
    texels = buf.to_numpy().reshape(2, 3, 4)
    np.testing.assert_array_equal(texels, img)
    with pytest.raises(ValueError, match="images load as rgba8, not vec3"):
        TransformLinkLoad(str(tmp_path / "t.png"), BufferType.vec3)


class Gsp01Shift(TransformLinkBase):
    """A link written as GSP 0.1 scripts write theirs: apply, serialize (the whole dict) and a
    static deserialize(data), nothing of our own but the registration."""

    def __init__(self, dx: float) -> None:
        self.dx = dx

    def apply(self, buffer: Buffer | None) -> Buffer:
        assert buffer is not None
        array = buffer.to_numpy(copy=True)
        array[:, 0] += self.dx
        return Buffer.from_numpy(array, BufferType.vec3)

    def serialize(self) -> dict:
        return {"link_type": "Gsp01Shift", "dx": self.dx}

    @staticmethod
    def deserialize(data: dict) -> Gsp01Shift:
        return Gsp01Shift(data["dx"])


register_link(Gsp01Shift)


def test_a_gsp01_style_link_runs_serializes_and_is_rebuilt() -> None:
    """Such a link could not even be made: _serialize_fields and _from_fields were abstract."""
    chain = TransformChain(2, BufferType.vec3)
    chain.add(TransformLinkImmediate(Buffer.from_numpy(np.zeros((2, 3), np.float32), BufferType.vec3)))
    shift = Gsp01Shift(0.5)
    chain.add(shift)
    assert np.allclose(chain.run().to_numpy()[:, 0], 0.5)
    assert shift.serialize() == {"link_type": "Gsp01Shift", "dx": 0.5}
    rebuilt = TransformLinkBase.deserialize(shift.serialize())
    assert type(rebuilt) is Gsp01Shift and rebuilt == shift and rebuilt != Gsp01Shift(0.25)
    again = TransformChain.deserialize(chain.serialize())
    assert np.array_equal(again.run().to_numpy(), chain.run().to_numpy())
    chain.remove(rebuilt)
    assert len(chain.get_links()) == 1


def test_a_link_without_a_serialization_pair_is_refused_clearly() -> None:
    class ApplyOnly(TransformLinkBase):
        def apply(self, buffer: Buffer | None) -> Buffer:
            return Buffer(0, BufferType.vec3)

    class HalfPair(ApplyOnly):
        def serialize(self) -> dict:
            return {"link_type": "HalfPair"}

    for cls in (ApplyOnly, HalfPair):
        with pytest.raises(TypeError, match=rf"{cls.__name__} must implement serialize\(\) and a static deserialize"):
            cls()
        with pytest.raises(TypeError, match=rf"register_link: .*{cls.__name__} must implement serialize\(\)"):
            register_link(cls)
        assert cls.__name__ not in registered_links()
