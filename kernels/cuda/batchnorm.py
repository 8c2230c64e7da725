"""Batch normalization on the GPU, optionally fused with a pointwise activation before or after.

The same names, signatures and conventions as ``fastnn.kernels.cpu.batchnorm``
(Keras running statistics: ``momentum`` weights the old value, the biased
batch variance feeds ``running_var``; the batch mean and ``1 / sqrt(var +
eps)`` are saved for the backward pass).  ``pre_code`` / ``post_code`` select
plain BN, BN then activation, or activation then BN; softmax is never passed.

Statistics are reduced per feature in float64 over fixed blocks of
``config.REDUCE_ROWS`` rows, as on the CPU: one thread block per (column
group, row block); each thread adds its rows of the block, a shared-memory
tree adds the threads in a fixed pattern, and the block's mean is formed;
the block is then read again for the sum of squared deviations from that
mean (two passes, so a large common offset does not cancel), reduced the
same way.  One thread per column merges the blocks' (mean, M2) pairs in
block order with Chan's formula and folds them into the float64 column
constants of ``y = f_post(a * scale + shift)``, kept in the workspace.  The
backward pass reduces ``sum g`` and ``sum g (a - mean)`` the same way and
adds the blocks in order.  No atomics: two launches give the same bits.

The per-element and per-column maths (inverse std, running averages, scale
and shift, the normalization, the backward column constants and ``dx``) is
``fastnn.kernels.scalar``'s ``batch_norm_*`` and ``moving_average``, the
functions the CPU kernels call, compiled for the device as they are.

Arithmetic is float64; values are rounded to the arrays' dtype only when
stored.  Inference keeps the column scale in float64 (the CPU kernel rounds
it to the output dtype, having no workspace), so float32 results may differ
from the CPU's in the last bit.
"""

import numpy as np
from numba import cuda

from fastnn.kernels.cuda import config
from fastnn.kernels.cuda.reduce import _check_workspace, _tree_sum_rows
from fastnn.kernels.scalar import (
    LINEAR,
    activate,
    activate_grad,
    batch_norm_affine,
    batch_norm_grad_columns,
    batch_norm_grad_input,
    batch_norm_infer,
    batch_norm_infer_scale,
    batch_norm_invstd,
    batch_norm_scale_shift,
    moving_average,
)

__all__ = ["batch_norm_forward_train", "batch_norm_forward_infer", "batch_norm_backward"]

_ROW_THREADS = config.REDUCE_ROW_THREADS
_COLS = config.REDUCE_COLS


@cuda.jit
def _bn_statistics_kernel(x, a, pre_code, negative_slope, rows_per_block, work):
    """Row block ``blockIdx.y``: ``a = f_pre(x)``, then its column mean and M2 into ``work``."""
    shared = cuda.shared.array((_ROW_THREADS, _COLS), np.float64)
    n, m = x.shape
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    j = cuda.blockIdx.x * cuda.blockDim.x + tx
    blk = cuda.blockIdx.y
    lo = blk * rows_per_block
    hi = min(n, lo + rows_per_block)
    total = 0.0
    if j < m:
        for i in range(lo + ty, hi, cuda.blockDim.y):
            if pre_code != LINEAR:
                a[i, j] = activate(np.float64(x[i, j]), pre_code, negative_slope)
            total += np.float64(
                a[i, j]
            )  # the stored value: the statistics describe what is normalized
    shared[ty, tx] = total
    _tree_sum_rows(shared, tx, ty)
    block_mean = shared[0, tx] / (hi - lo)
    cuda.syncthreads()  # every thread has read the sum before the tree is reused
    total = 0.0
    if j < m:
        for i in range(lo + ty, hi, cuda.blockDim.y):
            d = a[i, j] - block_mean
            total += d * d
    shared[ty, tx] = total
    _tree_sum_rows(shared, tx, ty)
    if ty == 0 and j < m:
        work[0, blk, j] = block_mean
        work[1, blk, j] = shared[0, tx]


@cuda.jit
def _bn_moments_kernel(
    work,
    n,
    nb,
    rows_per_block,
    gamma,
    beta,
    running_mean,
    running_var,
    momentum,
    epsilon,
    mean,
    invstd,
):
    """Per column: merge the blocks in order (Chan et al.), save the statistics, fold the constants.

    With ``n_a`` rows merged and a block of ``n_b``: ``delta = mean_b -
    mean_a``, ``mean += delta n_b / (n_a + n_b)``, ``M2 += M2_b + delta**2
    n_a n_b / (n_a + n_b)``.  Leaves ``shift`` in ``work[0, 0]`` and
    ``scale`` in ``work[1, 0]``.
    """
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for j in range(start, mean.shape[0], stride):
        batch_mean = work[0, 0, j]
        m2 = work[1, 0, j]
        for b in range(1, nb):
            n_a = b * rows_per_block
            n_b = min(n, n_a + rows_per_block) - n_a
            w_mean = n_b / (n_a + n_b)
            w_m2 = n_a * w_mean
            delta = work[0, b, j] - batch_mean
            batch_mean += delta * w_mean
            m2 += work[1, b, j] + delta * delta * w_m2
        var = m2 / n
        s = batch_norm_invstd(var, epsilon)
        mean[j] = batch_mean
        invstd[j] = s
        running_mean[j] = moving_average(running_mean[j], batch_mean, momentum)
        running_var[j] = moving_average(running_var[j], var, momentum)
        scale, shift = batch_norm_scale_shift(
            np.float64(gamma[j]), np.float64(beta[j]), batch_mean, s
        )
        work[1, 0, j] = scale
        work[0, 0, j] = shift


@cuda.jit
def _bn_normalize_kernel(a, work, post_code, negative_slope, y):
    """``y = f_post(a * scale + shift)`` element by element (grid-stride)."""
    n, m = a.shape
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for e in range(start, n * m, stride):
        i = e // m
        j = e - i * m
        z = batch_norm_affine(np.float64(a[i, j]), work[1, 0, j], work[0, 0, j])
        y[i, j] = activate(z, post_code, negative_slope)


@cuda.jit
def _bn_infer_kernel(
    x, gamma, beta, running_mean, running_var, epsilon, pre_code, post_code, negative_slope, y
):
    """``y = f_post(gamma (f_pre(x) - r_mean) / sqrt(r_var + eps) + beta)`` element by element."""
    n, m = x.shape
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for e in range(start, n * m, stride):
        i = e // m
        j = e - i * m
        scale = batch_norm_infer_scale(np.float64(gamma[j]), np.float64(running_var[j]), epsilon)
        # a = f_pre(x) goes through y to be rounded as the training kernel stores it.
        y[i, j] = activate(np.float64(x[i, j]), pre_code, negative_slope)
        z = batch_norm_infer(np.float64(y[i, j]), np.float64(running_mean[j]), scale, beta[j])
        y[i, j] = activate(z, post_code, negative_slope)


@cuda.jit
def _bn_gradient_sums_kernel(dy, a, y, mean, post_code, negative_slope, rows_per_block, work):
    """Row block ``blockIdx.y``: column sums of ``g`` and ``g (a - mean)`` into ``work[:, b]``."""
    sum_g_shared = cuda.shared.array((_ROW_THREADS, _COLS), np.float64)
    sum_gc_shared = cuda.shared.array((_ROW_THREADS, _COLS), np.float64)
    n, m = dy.shape
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    j = cuda.blockIdx.x * cuda.blockDim.x + tx
    blk = cuda.blockIdx.y
    lo = blk * rows_per_block
    hi = min(n, lo + rows_per_block)
    sum_g = 0.0
    sum_gc = 0.0
    if j < m:
        mean_j = mean[j]
        for i in range(lo + ty, hi, cuda.blockDim.y):
            g = np.float64(dy[i, j]) * activate_grad(np.float64(y[i, j]), post_code, negative_slope)
            sum_g += g
            sum_gc += g * (np.float64(a[i, j]) - mean_j)
    sum_g_shared[ty, tx] = sum_g
    sum_gc_shared[ty, tx] = sum_gc
    _tree_sum_rows(sum_g_shared, tx, ty)
    _tree_sum_rows(sum_gc_shared, tx, ty)
    if ty == 0 and j < m:
        work[0, blk, j] = sum_g_shared[0, tx]
        work[1, blk, j] = sum_gc_shared[0, tx]


@cuda.jit
def _bn_gradient_columns_kernel(work, nb, n, mean, invstd, dgamma, dbeta):
    """Per column: add the block sums in order, write ``dgamma``, ``dbeta``, fold the constants.

    ``coef = s dgamma / n`` and ``offset = mean coef - dbeta / n`` go to
    ``work[1, 0]`` and ``work[0, 0]`` for ``dx = f'(a) gamma s (g - a coef + offset)``.
    """
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for j in range(start, mean.shape[0], stride):
        sum_g = work[0, 0, j]
        sum_gc = work[1, 0, j]
        for b in range(1, nb):
            sum_g += work[0, b, j]
            sum_gc += work[1, b, j]
        db, dg, coef, offset = batch_norm_grad_columns(
            sum_g, sum_gc, np.float64(mean[j]), np.float64(invstd[j]), n
        )
        dbeta[j] = db
        dgamma[j] = dg
        work[1, 0, j] = coef
        work[0, 0, j] = offset


@cuda.jit
def _bn_dx_kernel(dy, a, y, gamma, invstd, work, pre_code, post_code, negative_slope, dx):
    """``dx = f_pre'(a) gamma s (g - a coef + offset)``, ``g = dy f_post'(y)``; may alias ``dy``."""
    n, m = dy.shape
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for e in range(start, n * m, stride):
        i = e // m
        j = e - i * m
        g = np.float64(dy[i, j]) * activate_grad(np.float64(y[i, j]), post_code, negative_slope)
        pre_slope = activate_grad(np.float64(a[i, j]), pre_code, negative_slope)
        dx[i, j] = batch_norm_grad_input(
            g, np.float64(a[i, j]), work[1, 0, j], work[0, 0, j], gamma[j], invstd[j], pre_slope
        )


def _elementwise(n_items):
    return config.blocks_for(n_items), config.THREADS


def batch_norm_forward_train(
    x,
    gamma,
    beta,
    running_mean,
    running_var,
    momentum,
    epsilon,
    pre_code,
    post_code,
    negative_slope,
    a,
    y,
    mean,
    invstd,
    work,
) -> None:
    """Training-mode batch normalization: batch statistics, normalize, update running stats.

    Arguments and formulas as in
    ``fastnn.kernels.cpu.batchnorm.batch_norm_forward_train``, on the device
    (``N >= 2`` rows; ``a`` is written only when ``pre_code != LINEAR``, pass
    ``a = x`` otherwise); ``work`` is ``reduce.reduction_workspace(N, M)``.
    """
    n, m = x.shape
    _check_workspace(work, n, m)
    slope = np.float64(negative_slope)
    rows = np.int64(config.REDUCE_ROWS)
    grid, block = config.column_grid(n, m)
    _bn_statistics_kernel[grid, block](x, a, np.int64(pre_code), slope, rows, work)
    _bn_moments_kernel[config.blocks_for(m), config.THREADS](
        work,
        np.int64(n),
        np.int64(grid[1]),
        rows,
        gamma,
        beta,
        running_mean,
        running_var,
        np.float64(momentum),
        np.float64(epsilon),
        mean,
        invstd,
    )
    _bn_normalize_kernel[_elementwise(n * m)](a, work, np.int64(post_code), slope, y)


def batch_norm_forward_infer(
    x, gamma, beta, running_mean, running_var, epsilon, pre_code, post_code, negative_slope, y, work
) -> None:
    """Inference-mode batch normalization with the running statistics; only ``y`` is written.

    Arguments as in ``fastnn.kernels.cpu.batchnorm.batch_norm_forward_infer``.
    ``work`` is taken for the same signature and left untouched: each thread
    computes its column's constants itself, which costs nothing in a pass
    bound by memory and saves a launch.
    """
    n, m = x.shape
    if n * m == 0:
        return
    _bn_infer_kernel[_elementwise(n * m)](
        x,
        gamma,
        beta,
        running_mean,
        running_var,
        np.float64(epsilon),
        np.int64(pre_code),
        np.int64(post_code),
        np.float64(negative_slope),
        y,
    )


def batch_norm_backward(
    dy, a, y, gamma, mean, invstd, pre_code, post_code, negative_slope, dx, dgamma, dbeta, work
) -> None:
    """Gradients of training-mode batch normalization and its fused activations.

    Arguments and formulas as in
    ``fastnn.kernels.cpu.batchnorm.batch_norm_backward`` (``dx`` may alias
    ``dy``); ``work`` is ``reduce.reduction_workspace(N, M)``.
    """
    n, m = dy.shape
    _check_workspace(work, n, m)
    slope = np.float64(negative_slope)
    grid, block = config.column_grid(n, m)
    _bn_gradient_sums_kernel[grid, block](
        dy, a, y, mean, np.int64(post_code), slope, np.int64(config.REDUCE_ROWS), work
    )
    _bn_gradient_columns_kernel[config.blocks_for(m), config.THREADS](
        work, np.int64(grid[1]), np.int64(n), mean, invstd, dgamma, dbeta
    )
    _bn_dx_kernel[_elementwise(n * m)](
        dy, a, y, gamma, invstd, work, np.int64(pre_code), np.int64(post_code), slope, dx
    )
