"""wengert.data.DataLoader: batching, reproducible shuffling, drop_last, errors."""

import numpy as np
import pytest

import wengert as wg
from wengert.data import DataLoader


def _data(n=10):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n)
    return x, y


def test_batches_in_order():
    x, y = _data()
    loader = DataLoader((x, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    for xb, yb in batches:
        np.testing.assert_array_equal(xb, x[yb])
        assert xb.dtype == np.float32


def test_drop_last():
    x, y = _data()
    loader = DataLoader((x, y), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [yb.tolist() for _, yb in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(DataLoader((x, y), batch_size=5, drop_last=True)) == 2
    assert len(DataLoader((x, y), batch_size=20, drop_last=True)) == 0
    assert len(DataLoader((x, y), batch_size=20)) == 1


def test_shuffle_is_reproducible_and_new_each_epoch():
    x, y = _data(20)
    a = DataLoader((x, y), batch_size=6, shuffle=True, seed=3)
    b = DataLoader((x, y), batch_size=6, shuffle=True, seed=3)
    epochs_a = [np.concatenate([yb for _, yb in a]) for _ in range(3)]
    epochs_b = [np.concatenate([yb for _, yb in b]) for _ in range(3)]
    for ea, eb in zip(epochs_a, epochs_b):
        np.testing.assert_array_equal(ea, eb)
        assert sorted(ea.tolist()) == list(range(20))  # each example once per epoch
    assert not np.array_equal(epochs_a[0], epochs_a[1])  # a new permutation each epoch
    assert not np.array_equal(epochs_a[0], np.arange(20))
    # The permutation is the seeded Generator's, and inputs stay paired with targets.
    expected = np.random.default_rng(3).permutation(20)
    np.testing.assert_array_equal(epochs_a[0], expected)
    for xb, yb in DataLoader((x, y), batch_size=6, shuffle=True, seed=0):
        np.testing.assert_array_equal(xb, x[yb])
    other = DataLoader((x, y), batch_size=6, shuffle=True, seed=4)
    assert not np.array_equal(np.concatenate([yb for _, yb in other]), epochs_a[0])


def test_single_array_and_tensors():
    x, _ = _data()
    batches = list(DataLoader(x, batch_size=3))
    assert isinstance(batches[0], np.ndarray) and batches[0].shape == (3, 2)
    t = wg.tensor(x)
    (tb,) = next(iter(DataLoader((t,), batch_size=3)))
    assert isinstance(tb, wg.Tensor)
    np.testing.assert_array_equal(tb.numpy(), x[:3])
    # lists are converted to arrays
    (lb,) = next(iter(DataLoader(([1.0, 2.0, 3.0],), batch_size=2)))
    np.testing.assert_array_equal(lb, [1.0, 2.0])


def test_errors():
    x, y = _data()
    with pytest.raises(ValueError, match=r"arrays\[1\] has 9 examples"):
        DataLoader((x, y[:9]), batch_size=2)
    with pytest.raises(ValueError, match="empty"):
        DataLoader((), batch_size=2)
    with pytest.raises(ValueError, match=r"arrays\[0\] is a scalar"):
        DataLoader((np.float32(1.0),), batch_size=2)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            DataLoader((x, y), batch_size=bad)
