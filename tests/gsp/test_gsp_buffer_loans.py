"""Buffer's copy-on-write loans, write versions and storage exposure (what the recorder relies on)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from gsp.types import Buffer, BufferType
from gsp.types.buffer import MAX_SPARES


def _filled(n: int, value: float) -> np.ndarray:
    return np.full((n, 3), value, np.float32)


def test_versions_count_set_data_and_reads_do_not_expose() -> None:
    buf = Buffer(4, BufferType.vec3)
    assert buf.version == 0 and not buf.storage_exposed
    buf.set_data(_filled(4, 1.0), 0, 4)
    buf.set_data(bytes(12), 1, 1)  # the small-write fast path counts too
    assert buf.version == 2
    view = buf.read_view()
    assert view.shape == (4, 3) and not view.flags.writeable
    with pytest.raises(ValueError):
        view[0, 0] = 5.0
    buf.to_numpy(copy=True)
    buf.get_data(0, 2)
    assert not buf.storage_exposed
    buf.to_numpy()
    assert buf.storage_exposed
    assert Buffer(2, BufferType.float32).to_bytearray() is not None


def test_to_bytearray_exposes() -> None:
    buf = Buffer(2, BufferType.float32)
    buf.to_bytearray()[:4] = b"\x00\x00\x80\x3f"
    assert buf.storage_exposed and buf.read_view()[0] == 1.0
    assert buf.lend() is None  # writes through the view could not be redirected


# 1000 vec3: copies on write under the lock; 100 000 vec3 (1.2 MB): outside it, through numpy;
# 400 000 vec3 (4.8 MB): also into storage that asks for huge pages
SIZES = [1000, 100_000, 400_000]


@pytest.mark.parametrize("n", SIZES)
def test_a_new_buffer_holds_zeros_whatever_its_size(n: int) -> None:
    buf = Buffer(n, BufferType.vec3)
    assert buf.nbytes == n * 12
    assert not buf.read_view().any()


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("whole", [True, False])
def test_a_loan_never_changes_and_the_buffer_moves_on(whole: bool, n: int) -> None:
    buf = Buffer(n, BufferType.vec3)
    buf.set_data(_filled(n, 1.0), 0, n)
    buf.set_data(_filled(1, 3.0), 0, 1)  # the storage now differs from any freed temporary
    before = np.full((n, 3), 1.0, np.float32)
    before[0] = 3.0
    loan = buf.lend()
    assert loan is not None and buf.loans_out == 1
    assert not loan.array.flags.writeable
    if whole:
        buf.set_data(_filled(n, 2.0), 0, n)
    else:
        buf.set_data(_filled(1, 2.0), 5, 1)
    assert (loan.array == before).all()  # the lent contents stay as they were
    expected = np.full((n, 3), 2.0, np.float32) if whole else before.copy()
    if not whole:
        expected[5] = 2.0  # a partial write carries the old contents over
    assert (buf.read_view() == expected).all()
    loan.release()
    loan.release()  # idempotent
    assert buf.loans_out == 0


def test_returned_storage_is_reused_and_storages_stay_bounded() -> None:
    n = 50_000
    buf = Buffer(n, BufferType.vec3)
    loans = []
    seen: set[int] = set()
    for frame in range(40):
        buf.set_data(_filled(n, float(frame)), 0, n)
        seen.add(id(buf._data))
        loans.append(buf.lend())
        if len(loans) > 3:  # a consumer three frames behind
            loans.pop(0).release()
        assert all((loan.array == f).all() for loan, f in zip(loans, range(frame - len(loans) + 1, frame + 1)))
    assert len(seen) <= 3 + 1 <= MAX_SPARES + 1  # storages cycle instead of being reallocated
    for loan in loans:
        loan.release()
    assert buf.loans_out == 0 and buf._spares
    buf.drop_spares()
    assert buf._spares is None


@pytest.mark.parametrize("n", [100, 400_000])
def test_exposing_a_lent_buffer_keeps_the_loan_intact(n: int) -> None:
    buf = Buffer(n, BufferType.float32)
    buf.set_data(np.arange(n, dtype=np.float32), 0, n)
    loan = buf.lend()
    assert loan is not None
    view = buf.to_numpy()
    view[:] = -1.0  # the script writes in place
    assert (loan.array == np.arange(n)).all()
    assert (buf.read_view() == -1.0).all()
    loan.release()


@pytest.mark.parametrize("n", [10_000, 300_000])
def test_loans_released_from_another_thread(n: int) -> None:
    buf = Buffer(n, BufferType.float32)
    done = threading.Event()
    lent = []
    wrong: list[float] = []

    def consumer() -> None:
        while not done.is_set() or lent:
            if lent:
                loan, value = lent.pop(0)
                if not (loan.array == value).all():
                    wrong.append(value)
                loan.release()

    thread = threading.Thread(target=consumer)
    thread.start()
    for frame in range(300):
        buf.set_data(np.full(n, frame, np.float32), 0, n)
        lent.append((buf.lend(), float(frame)))
    done.set()
    thread.join()
    assert not wrong  # no lent contents changed under the consumer
    assert buf.loans_out == 0 and (buf.read_view() == 299).all()


def test_loans_out_counts_every_loan_of_every_storage_once() -> None:
    """``loans_out`` is a running count (lenders read it on every big write): loans of the same
    storage, of older storages after copies on write, and releases, repeated or not."""
    n = 1000
    buf = Buffer(n, BufferType.float32)
    assert buf.nbytes == 4 * n and buf.get_data(10, 5).nbytes == 20 and Buffer(3, BufferType.mat4).nbytes == 192
    first, again = buf.lend(), buf.lend()  # the same storage, twice
    buf.set_data(np.ones(n, np.float32), 0, n)  # copy on write: a new storage
    third = buf.lend()
    assert first is not None and again is not None and third is not None
    assert buf.loans_out == 3
    first.release()
    first.release()  # idempotent: counted once
    assert buf.loans_out == 2
    again.release()
    third.release()
    assert buf.loans_out == 0 and buf._loans is None


def test_a_loan_does_not_keep_its_buffer_alive() -> None:
    """The recorder keeps the latest whole write of a buffer lent until a keyframe needs it; the
    loan held its Buffer, so a buffer the script dropped was never freed, its release never
    logged, and a script making a new 1 MB buffer every frame grew by a frame's data each frame."""
    import gc
    import weakref

    buf = Buffer(4, BufferType.vec3)
    buf.set_data(_filled(4, 2.0), 0, 4)
    loan = buf.lend()
    assert loan is not None
    ref = weakref.ref(buf)
    del buf
    gc.collect()
    assert ref() is None
    assert loan.array[0, 0] == 2.0  # the lent contents stay valid until released
    loan.release()  # after its buffer is gone: nothing to give back, no error
