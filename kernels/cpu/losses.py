"""Loss kernels: the loss value and its gradient in one pass over the data.

Responsibility: looping the per-element losses of ``fastnn.kernels.scalar``
(``logistic_loss_and_sigmoid``, ``squared_error``) and the row-wise softmax
cross-entropy over a batch, and reducing the loss deterministically.

Each kernel reads its inputs once, writes the gradient of the *mean* loss into a
preallocated array and the mean loss into ``loss_out`` (float64, shape ``(1,)``).

Per-element maths is done in float64 whatever the input dtype (``np.float64(x)``
widens; in Numba ``float(x)`` keeps float32); the gradient is rounded when it is
stored.  The sum of the per-element losses is formed over fixed blocks of
``BLOCK_ROWS`` rows, each summed in row order in float64, and the block sums
are added in block order, so the loss is bitwise identical for any
``NUMBA_NUM_THREADS``.  The block sums live in the caller's ``work``
(``reduce.reduction_workspace(n, 1)``), so the kernels allocate nothing.

Every function is compiled with ``error_model="numpy"``: a division by zero
gives inf/nan as in NumPy instead of raising, which takes a branch out of each
loop and lets LLVM vectorize it.  ``exp`` and ``log`` stay scalar libm calls
(Numba vectorizes them only with Intel's SVML installed), and they dominate the
cost of the cross-entropies.
"""

import math

import numpy as np
from numba import njit, prange

from fastnn.kernels.cpu.reduce import BLOCK_ROWS
from fastnn.kernels.scalar import logistic_loss_and_sigmoid, squared_error

#: Below this many elements the loss runs on the calling thread: a parallel region
#: costs 100-170 us here (see ``batchnorm.PARALLEL_MIN_SIZE``), more than the loss of
#: a 1024x10 batch takes on one core.
PARALLEL_MIN_SIZE = 1 << 20


@njit(cache=True, error_model="numpy")
def _sum_in_order(partials):
    """Sum of ``partials`` added in index order.

    Kept out of the ``parallel=True`` kernels, where ``partials.sum()`` would
    become a parallel reduction whose order depends on the thread count.
    """
    total = 0.0
    for b in range(partials.shape[0]):
        total += partials[b]
    return total


@njit(inline="always", error_model="numpy")
def _blocked_loss_sum(rows, values, targets, grad, work):
    """Sum of a loss over fixed ``BLOCK_ROWS``-row blocks, combined in block order.

    The one reduction driver of the loss kernels: ``rows(values, targets,
    grad, start, stop)`` writes the gradient of rows ``start:stop`` and
    returns their loss sum; block sums go to ``work[0, :, 0]`` and are added
    in block order, so the total does not depend on the thread count.
    ``rows`` is an ``@njit`` function passed by name; ``inline="always"``
    inlines this driver into each kernel (whose ``prange`` it then is), so the
    call to ``rows`` resolves at compile time and the kernels stay cacheable
    (a function passed as a run-time value would not be).
    """
    n = values.shape[0]
    n_blocks = (n + BLOCK_ROWS - 1) // BLOCK_ROWS
    partials = work[0, :n_blocks, 0]
    if n_blocks == 1 or values.size < PARALLEL_MIN_SIZE:  # a parallel region would cost more
        partials[0] = rows(values, targets, grad, 0, n)
    else:
        for b in prange(n_blocks):
            stop = min(n, (b + 1) * BLOCK_ROWS)
            partials[b] = rows(values, targets, grad, b * BLOCK_ROWS, stop)
    return _sum_in_order(partials)


@njit(cache=True, error_model="numpy")
def _softmax_cross_entropy_rows(logits, labels, dlogits, start, stop):
    """Rows ``start:stop`` of the softmax cross-entropy; returns their loss sum."""
    n, k = logits.shape
    total = 0.0
    for i in range(start, stop):
        row = logits[i]
        grad = dlogits[i]
        shift = np.float64(row[0])
        for j in range(1, k):
            shift = max(shift, np.float64(row[j]))
        sum_exp = 0.0
        for j in range(k):
            e = math.exp(row[j] - shift)
            grad[j] = e
            sum_exp += e
        scale = 1.0 / (sum_exp * n)
        for j in range(k):
            grad[j] = grad[j] * scale
        # The label's entry is redone from the float64 exponential: subtracting
        # 1/n from the stored (possibly float32) value would cancel its digits.
        label = labels[i]
        label_shifted = row[label] - shift
        grad[label] = (math.exp(label_shifted) / sum_exp - 1.0) / n
        total += math.log(sum_exp) - label_shifted
    return total


@njit(cache=True, parallel=True, error_model="numpy")
def softmax_cross_entropy(logits, labels, dlogits, loss_out, work):
    """Softmax cross-entropy over integer labels, mean over the batch, and its gradient.

    Parameters
    ----------
    logits : ndarray, shape (n, k), float32 or float64
    labels : ndarray, shape (n,), int64
        Class indices in ``[0, k)``; not checked here (the caller validates).
    dlogits : ndarray, shape (n, k), dtype of ``logits``
        Output: gradient of the mean loss.
    loss_out : ndarray, shape (1,), float64
        Output: the mean loss.
    work : ndarray, float64
        ``reduce.reduction_workspace(n, 1)``; its first plane is overwritten.

    Notes
    -----
    With ``m_i = max_j z_ij`` and ``s_i = sum_j exp(z_ij - m_i)``:

    .. math::

        L = \\frac{1}{n} \\sum_i \\left(\\log s_i + m_i - z_{i, y_i}\\right), \\qquad
        \\frac{\\partial L}{\\partial z_{ij}}
            = \\frac{1}{n}\\left(\\frac{e^{z_{ij} - m_i}}{s_i} - [j = y_i]\\right).

    Every exponent is ``<= 0`` and ``1 <= s_i <= k``, so nothing overflows.
    """
    total = _blocked_loss_sum(_softmax_cross_entropy_rows, logits, labels, dlogits, work)
    loss_out[0] = total / logits.shape[0]


@njit(cache=True, error_model="numpy")
def _binary_cross_entropy_rows(logits, targets, dlogits, start, stop):
    """Rows ``start:stop`` of the binary cross-entropy; returns their loss sum."""
    n, k = logits.shape
    inv_size = 1.0 / (n * k)
    total = 0.0
    for i in range(start, stop):
        for j in range(k):
            t = np.float64(targets[i, j])
            loss, prob = logistic_loss_and_sigmoid(np.float64(logits[i, j]), t)
            total += loss
            dlogits[i, j] = (prob - t) * inv_size
    return total


@njit(cache=True, parallel=True, error_model="numpy")
def binary_cross_entropy(logits, targets, dlogits, loss_out, work):
    """Binary cross-entropy of ``sigmoid(logits)``, mean over all elements, and its gradient.

    Parameters
    ----------
    logits : ndarray, shape (n, k), float32 or float64
    targets : ndarray, shape (n, k), dtype of ``logits``
        Target probabilities in ``[0, 1]``; not checked here.
    dlogits : ndarray, shape (n, k), dtype of ``logits``
        Output: gradient of the mean loss.
    loss_out : ndarray, shape (1,), float64
        Output: the mean loss.
    work : ndarray, float64
        ``reduce.reduction_workspace(n, 1)``; its first plane is overwritten.

    Notes
    -----
    .. math::

        L = \\frac{1}{nk} \\sum_{ij} \\max(z_{ij}, 0) - z_{ij} t_{ij}
            + \\log\\left(1 + e^{-|z_{ij}|}\\right), \\qquad
        \\frac{\\partial L}{\\partial z_{ij}} = \\frac{\\sigma(z_{ij}) - t_{ij}}{nk}.

    This equals ``-t log(sigmoid(z)) - (1 - t) log(1 - sigmoid(z))`` without
    forming ``log(0)`` or ``exp(|z|)``.
    """
    total = _blocked_loss_sum(_binary_cross_entropy_rows, logits, targets, dlogits, work)
    loss_out[0] = total / logits.size


@njit(cache=True, error_model="numpy")
def _mean_squared_error_rows(pred, targets, dpred, start, stop):
    """Rows ``start:stop`` of the mean squared error; returns their squared-error sum."""
    n, k = pred.shape
    grad_scale = 2.0 / (n * k)
    total = 0.0
    for i in range(start, stop):
        for j in range(k):
            loss, diff = squared_error(pred[i, j], targets[i, j])
            total += loss
            dpred[i, j] = diff * grad_scale
    return total


@njit(cache=True, parallel=True, error_model="numpy")
def mean_squared_error(pred, targets, dpred, loss_out, work):
    """Mean squared error over all elements, and its gradient.

    Parameters
    ----------
    pred : ndarray, shape (n, k), float32 or float64
    targets : ndarray, shape (n, k), dtype of ``pred``
    dpred : ndarray, shape (n, k), dtype of ``pred``
        Output: gradient of the mean loss.
    loss_out : ndarray, shape (1,), float64
        Output: the mean loss.
    work : ndarray, float64
        ``reduce.reduction_workspace(n, 1)``; its first plane is overwritten.

    Notes
    -----
    .. math::

        L = \\frac{1}{nk} \\sum_{ij} (p_{ij} - t_{ij})^2, \\qquad
        \\frac{\\partial L}{\\partial p_{ij}} = \\frac{2 (p_{ij} - t_{ij})}{nk}.
    """
    total = _blocked_loss_sum(_mean_squared_error_rows, pred, targets, dpred, work)
    loss_out[0] = total / pred.size
