"""Loss kernels on the GPU: the mean loss and its gradient, the loss summed in a fixed order.

The same names and signatures as ``fastnn.kernels.cpu.losses``.  Rows are
grouped in blocks of ``config.REDUCE_ROWS``; one thread block per row block
gives each of its threads rows ``t, t + THREADS, ...`` of the block, and each
row runs the CPU backend's row function (``_softmax_cross_entropy_rows`` and
its siblings, called for the one row ``i:i + 1``) compiled for the device: it
writes the row's gradient and returns its float64 loss sum.  A shared-memory
tree adds the thread sums in a fixed pattern into the block's workspace slot,
and a one-thread launch adds the block sums in block order and divides.  No
atomics, so two launches give the same bits.
"""

import numpy as np
from numba import cuda

from fastnn.kernels.cpu import losses as _cpu
from fastnn.kernels.cuda import config
from fastnn.kernels.cuda._device import device_callable
from fastnn.kernels.cuda.reduce import _check_workspace, _tree_sum

__all__ = ["softmax_cross_entropy", "binary_cross_entropy", "mean_squared_error"]

_TREE_SIZE = config.TREE_SIZE

_softmax_cross_entropy_rows = device_callable(_cpu._softmax_cross_entropy_rows)
_binary_cross_entropy_rows = device_callable(_cpu._binary_cross_entropy_rows)
_mean_squared_error_rows = device_callable(_cpu._mean_squared_error_rows)


@cuda.jit(device=True)
def _store_block_sum(shared, t, total, partials):
    """Tree-add the block's thread sums and store them in ``partials[blockIdx.x, 0]``."""
    shared[t] = total
    _tree_sum(shared, t)
    if t == 0:
        partials[cuda.blockIdx.x, 0] = shared[0]


@cuda.jit
def _softmax_cross_entropy_kernel(logits, labels, dlogits, rows_per_block, partials):
    """Block ``b``: gradient rows and loss sum of rows ``b*R .. (b+1)*R - 1``."""
    shared = cuda.shared.array(_TREE_SIZE, np.float64)
    t = cuda.threadIdx.x
    lo = cuda.blockIdx.x * rows_per_block
    hi = min(logits.shape[0], lo + rows_per_block)
    total = 0.0
    for i in range(lo + t, hi, cuda.blockDim.x):
        total += _softmax_cross_entropy_rows(logits, labels, dlogits, i, i + 1)
    _store_block_sum(shared, t, total, partials)


@cuda.jit
def _binary_cross_entropy_kernel(logits, targets, dlogits, rows_per_block, partials):
    """Block ``b``: gradient rows and loss sum of its rows (binary cross-entropy)."""
    shared = cuda.shared.array(_TREE_SIZE, np.float64)
    t = cuda.threadIdx.x
    lo = cuda.blockIdx.x * rows_per_block
    hi = min(logits.shape[0], lo + rows_per_block)
    total = 0.0
    for i in range(lo + t, hi, cuda.blockDim.x):
        total += _binary_cross_entropy_rows(logits, targets, dlogits, i, i + 1)
    _store_block_sum(shared, t, total, partials)


@cuda.jit
def _mean_squared_error_kernel(pred, targets, dpred, rows_per_block, partials):
    """Block ``b``: gradient rows and squared-error sum of its rows."""
    shared = cuda.shared.array(_TREE_SIZE, np.float64)
    t = cuda.threadIdx.x
    lo = cuda.blockIdx.x * rows_per_block
    hi = min(pred.shape[0], lo + rows_per_block)
    total = 0.0
    for i in range(lo + t, hi, cuda.blockDim.x):
        total += _mean_squared_error_rows(pred, targets, dpred, i, i + 1)
    _store_block_sum(shared, t, total, partials)


@cuda.jit
def _mean_of_blocks_kernel(partials, nb, count, loss_out):
    """``loss_out[0] = sum_{b < nb} partials[b, 0] / count``, added in block order (one thread)."""
    if cuda.grid(1) == 0:
        total = 0.0
        for b in range(nb):
            total += partials[b, 0]
        loss_out[0] = total / count


def _run(kernel, values, targets, grad, loss_out, work, count):
    n = values.shape[0]
    _check_workspace(work, n, 1)
    nb = config.n_row_blocks(n)
    partials = work[0]
    kernel[nb, config.THREADS](values, targets, grad, np.int64(config.REDUCE_ROWS), partials)
    _mean_of_blocks_kernel[1, 1](partials, np.int64(nb), np.float64(count), loss_out)


def softmax_cross_entropy(logits, labels, dlogits, loss_out, work) -> None:
    """Softmax cross-entropy over int64 labels, mean over the batch, and its gradient.

    Arguments as in ``fastnn.kernels.cpu.losses.softmax_cross_entropy``, on
    the device; ``work`` is ``reduce.reduction_workspace(n, 1)``.
    """
    _run(_softmax_cross_entropy_kernel, logits, labels, dlogits, loss_out, work, logits.shape[0])


def binary_cross_entropy(logits, targets, dlogits, loss_out, work) -> None:
    """Binary cross-entropy of ``sigmoid(logits)``, mean over all elements, and its gradient.

    Arguments as in ``fastnn.kernels.cpu.losses.binary_cross_entropy``.
    """
    size = logits.shape[0] * logits.shape[1]
    _run(_binary_cross_entropy_kernel, logits, targets, dlogits, loss_out, work, size)


def mean_squared_error(pred, targets, dpred, loss_out, work) -> None:
    """Mean squared error over all elements, and its gradient.

    Arguments as in ``fastnn.kernels.cpu.losses.mean_squared_error``.
    """
    size = pred.shape[0] * pred.shape[1]
    _run(_mean_squared_error_kernel, pred, targets, dpred, loss_out, work, size)
