"""Metric kernels of the CPU backend: counts of correct predictions, read from the logits.

A metric kernel reads the logits and targets a training step already holds
and writes one float64 count into ``out[0]``, so the training loop reads a
single scalar back and never copies the logits (which matters on a GPU).
"""

import numpy as np
from numba import njit

__all__ = ["count_correct_classes", "count_correct_binary"]


@njit(cache=True)
def count_correct_classes(logits, labels, out):
    """``out[0]`` = rows whose first maximal logit has the index ``labels[i]``.

    ``logits`` is ``(n, k)``, ``labels`` an int64 ``(n,)`` array, ``out`` a
    float64 array of at least one element.  Ties go to the first index, as
    ``np.argmax`` breaks them.
    """
    n, k = logits.shape
    correct = 0
    for i in range(n):
        row = logits[i]
        best = 0
        for j in range(1, k):
            if row[j] > row[best]:
                best = j
        if best == labels[i]:
            correct += 1
    out[0] = np.float64(correct)


@njit(cache=True)
def count_correct_binary(logits, targets, out):
    """``out[0]`` = entries where ``(logit > 0) == (target > 0.5)``, divided by the column count.

    A logit above 0 is a sigmoid output above 0.5, Keras's binary-accuracy
    threshold; dividing by ``k`` makes the count comparable with a row count.
    """
    n, k = logits.shape
    correct = 0
    for i in range(n):
        for j in range(k):
            if (logits[i, j] > 0) == (targets[i, j] > 0.5):
                correct += 1
    out[0] = np.float64(correct) / k
