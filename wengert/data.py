"""`DataLoader`: mini-batches from in-memory arrays, with reproducible shuffling."""

import math

import numpy as np


class DataLoader:
    """Iterate over `arrays` (a tuple of arrays whose first axes have the same length, e.g.
    `(x, y)`) in batches of `batch_size` along the first axis; each batch is a tuple with one
    slice per array. A single array is accepted too, and then each batch is one array.

    With `shuffle=True` every epoch (every `iter()`) visits the examples in a new random
    order, drawn from one `numpy.random.Generator` made from `seed` when the loader is
    created: two loaders with the same seed give the same sequence of epochs. `drop_last`
    drops a final batch smaller than `batch_size`.

    >>> loader = DataLoader((x, y), batch_size=32, shuffle=True, seed=0)
    >>> for xb, yb in loader:
    ...     ...
    """

    def __init__(self, arrays, batch_size, shuffle=False, seed=None, drop_last=False):
        self._single = not isinstance(arrays, (tuple, list))
        arrays = (arrays,) if self._single else tuple(arrays)
        if not arrays:
            raise ValueError("DataLoader: arrays is empty; pass a tuple of arrays such as "
                             "(x, y).")
        arrays = tuple(a if hasattr(a, "shape") else np.asarray(a) for a in arrays)
        for i, a in enumerate(arrays):
            if len(a.shape) == 0:
                raise ValueError(
                    f"DataLoader: arrays[{i}] is a scalar (shape ()); every array needs a "
                    "first axis that indexes the examples."
                )
        n = arrays[0].shape[0]
        for i, a in enumerate(arrays[1:], start=1):
            if a.shape[0] != n:
                raise ValueError(
                    f"DataLoader: arrays[{i}] has {a.shape[0]} examples (shape {a.shape}) but "
                    f"arrays[0] has {n} (shape {arrays[0].shape}); all arrays must have the "
                    "same length along the first axis."
                )
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size={batch_size!r} is invalid; it must be a "
                             "positive integer.")
        self.arrays = arrays
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.num_examples = n
        self._rng = np.random.default_rng(seed) if shuffle else None

    def __len__(self):
        """The number of batches in an epoch."""
        if self.drop_last:
            return self.num_examples // self.batch_size
        return math.ceil(self.num_examples / self.batch_size)

    def __iter__(self):
        order = self._rng.permutation(self.num_examples) if self.shuffle else None
        for b in range(len(self)):
            start = b * self.batch_size
            if order is None:
                index = slice(start, start + self.batch_size)
            else:
                index = order[start:start + self.batch_size]
            batch = tuple(a[index] for a in self.arrays)
            yield batch[0] if self._single else batch
