"""The training data of ``fit`` on the network's device, and each step's batch gathered there.

``fit`` puts ``x`` and ``y`` on the device once (a copy on a GPU; the CPU
reads them where they are, ``memory.from_host_for_reading``), uploads each epoch's
shuffled row order (one int64 per row), and fills every step's batch buffers
by the backend's row-gather kernel, so no batch crosses from the host.  Data
already on the device (GPU inputs, see ``fastnn.device_arrays``) are used
where they are.

When host data do not fit in the device memory the backend allows
(``Backend.data_budget``), they are streamed instead: each epoch's rows are
taken in the shuffled order in chunks of a whole number of batches, each
chunk gathered on the host and copied to one device buffer, and the steps of
that chunk copy their batch from it.  The batches, and so the results, are
the same either way; the cost is one host gather and one upload of the data
per epoch.
"""

from __future__ import annotations

import numpy as np

from fastnn.device_arrays import is_device_array

__all__ = ["TrainingData", "chunk_rows"]


def chunk_rows(n: int, row_bytes: int, batch_size: int, budget: int | None) -> int:
    """Rows of one device chunk: all ``n`` when they fit in ``budget`` bytes, else whole batches.

    At least one batch, however small the budget (the step needs that much
    anyway).
    """
    if budget is None or n * row_bytes <= budget:
        return n
    return max(1, budget // (row_bytes * batch_size)) * batch_size


class TrainingData:
    """``x`` and ``y`` of one ``fit`` call on ``backend``'s device, gathered into plans by row.

    Parameters
    ----------
    backend : fastnn.backend.Backend
    x : array, shape (n, input_dim)
        Checked inputs: a host array, or a device array of ``backend``.
    y : array, shape (n,) or (n, k)
        Checked targets, host or device as ``x``.
    batch_size : int
        Rows per full step; chunks hold a whole number of them.
    """

    def __init__(self, backend, x, y, batch_size: int):
        self.memory = memory = backend.memory
        n = x.shape[0]
        on_device = is_device_array(x) or is_device_array(y)
        row_bytes = _row_bytes(x) + _row_bytes(y) + np.dtype(np.int64).itemsize
        budget = None if on_device else backend.data_budget()
        self.chunk = chunk_rows(n, row_bytes, batch_size, budget)
        self.streamed = self.chunk < n
        self.x, self.y = x, y
        self._order = None
        self._loaded = -1
        if self.streamed:
            self._x_chunk = memory.empty((self.chunk,) + tuple(x.shape[1:]), x.dtype)
            self._y_chunk = memory.empty((self.chunk,) + tuple(y.shape[1:]), y.dtype)
        else:
            # Only read: the CPU backend reads host data where they are, CUDA copies them.
            self._x_all = x if is_device_array(x) else memory.from_host_for_reading(x)
            self._y_all = y if is_device_array(y) else memory.from_host_for_reading(y)

    def begin_epoch(self, order: np.ndarray) -> None:
        """Take the epoch's row order (a host int64 permutation of ``range(n)``)."""
        if self.streamed:
            self._order = order
            self._loaded = -1
        else:
            self._order = self.memory.from_host(order)

    def load(self, lo: int, plan) -> None:
        """Fill ``plan.x`` and ``plan.labels`` with rows ``order[lo : lo + plan.n]``."""
        memory, n = self.memory, plan.n
        if not self.streamed:
            rows = self._order[lo : lo + n]
            memory.gather_rows(self._x_all, rows, plan.x)
            memory.gather_rows(self._y_all, rows, plan.labels)
            return
        index = lo // self.chunk
        start = index * self.chunk
        if index != self._loaded:
            rows = self._order[start : start + self.chunk]
            count = rows.shape[0]
            memory.copy(np.ascontiguousarray(self.x[rows]), self._x_chunk[:count])
            memory.copy(np.ascontiguousarray(self.y[rows]), self._y_chunk[:count])
            self._loaded = index
        local = lo - start
        memory.copy(self._x_chunk[local : local + n], plan.x)
        memory.copy(self._y_chunk[local : local + n], plan.labels)


def _row_bytes(a) -> int:
    """Bytes of one row of ``a`` (a host or device array)."""
    return int(np.prod(a.shape[1:], dtype=np.int64)) * np.dtype(a.dtype).itemsize
