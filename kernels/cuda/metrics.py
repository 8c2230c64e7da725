"""Metric kernels of the CUDA backend: counts of correct predictions, read from the device logits.

The same names and signatures as ``fastnn.kernels.cpu.metrics``.  One
thread block strides over the rows, each thread counts its rows in an
integer, and a shared-memory tree adds the counts in a fixed order; thread 0
writes the float64 count to ``out[0]``.  Counts are integers, so the result
is exact; the training loop reads that one scalar back, never the logits.
"""

import numpy as np
from numba import cuda

from fastnn.kernels.cuda import config
from fastnn.kernels.cuda.reduce import _tree_sum

__all__ = ["count_correct_classes", "count_correct_binary"]

_TREE_SIZE = config.TREE_SIZE


@cuda.jit
def _count_correct_classes_kernel(logits, labels, out):
    """One block: ``out[0]`` = rows whose first maximal logit is at ``labels[i]``."""
    shared = cuda.shared.array(_TREE_SIZE, np.int64)
    n, k = logits.shape
    t = cuda.threadIdx.x
    correct = 0
    for i in range(t, n, cuda.blockDim.x):
        best = 0
        for j in range(1, k):
            if logits[i, j] > logits[i, best]:
                best = j
        if best == labels[i]:
            correct += 1
    shared[t] = correct
    _tree_sum(shared, t)
    if t == 0:
        out[0] = np.float64(shared[0])


@cuda.jit
def _count_correct_binary_kernel(logits, targets, out):
    """One block: ``out[0]`` = entries with ``(logit > 0) == (target > 0.5)``, over ``k``."""
    shared = cuda.shared.array(_TREE_SIZE, np.int64)
    n, k = logits.shape
    t = cuda.threadIdx.x
    correct = 0
    for e in range(t, n * k, cuda.blockDim.x):
        i = e // k
        j = e - i * k
        if (logits[i, j] > 0) == (targets[i, j] > 0.5):
            correct += 1
    shared[t] = correct
    _tree_sum(shared, t)
    if t == 0:
        out[0] = np.float64(shared[0]) / k


def count_correct_classes(logits, labels, out) -> None:
    """``out[0]`` = rows whose first maximal logit has the index ``labels[i]``.

    ``logits`` is ``(n, k)``, ``labels`` an int64 ``(n,)`` device array, ``out``
    a float64 device array of at least one element.  Ties go to the first
    index, as ``np.argmax`` breaks them.
    """
    _count_correct_classes_kernel[1, config.THREADS](logits, labels, out)


def count_correct_binary(logits, targets, out) -> None:
    """``out[0]`` = entries where ``(logit > 0) == (target > 0.5)``, divided by the column count."""
    _count_correct_binary_kernel[1, config.THREADS](logits, targets, out)
