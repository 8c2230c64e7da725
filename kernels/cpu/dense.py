"""Dense (fully connected) layer kernels: ``y = act(x @ W + b)``.

``W`` is stored ``(n_in, n_out)`` as in Keras.  The matrix products go to BLAS
through ``np.dot(a, b, out)``, which writes into the caller's array; every
other step is fused into one pass over the product:

* forward: GEMM, then one epilogue pass adding the bias and applying the
  activation (softmax row-wise);
* backward: one pass computing ``dz = dy * f'(y)`` and, in the same sweep, the
  bias gradient as column sums of ``dz`` over fixed blocks of
  ``reduce.BLOCK_ROWS`` rows (bitwise identical for any thread count); then the
  two GEMMs ``dW = x.T @ dz`` and ``dx = dz @ W.T``.  The transposes are
  Fortran-ordered views that BLAS reads directly, without a copy.

The fused passes run on one thread, on purpose.  They cost a few per cent of
the GEMMs around them, and a ``prange`` region there made forward+backward
1.23x slower than its GEMMs at 1024x1024->1024 and 11x slower at
256x256->256 (2-core machine, OpenMP threading layer): after a parallel
region the OpenMP worker keeps spinning and competes for the cores with
OpenBLAS's threads in the next GEMM (fastnn now selects Numba's workqueue
layer, whose idle threads sleep, for that reason).  Serial, the same step is
within 1.0-1.13x of the GEMMs alone.
"""

import numpy as np
from numba import njit

from fastnn.kernels.cpu.activations import _softmax_grad_row, _softmax_row
from fastnn.kernels.cpu.reduce import BLOCK_ROWS, _column_sums_block, combine_blocks
from fastnn.kernels.scalar import (
    ELU,
    LEAKY_RELU,
    LINEAR,
    RELU,
    SELU,
    SIGMOID,
    SOFTMAX,
    TANH,
    activate,
    activate_grad,
)


@njit(inline="always")
def _bias_activation_loop(y, b, code, negative_slope):
    for j in range(y.shape[0]):
        y[j] = activate(y[j] + b[j], code, negative_slope)


@njit(inline="always")
def _grad_loop(dy, y, code, negative_slope, dz, partial):
    for j in range(y.shape[0]):
        dz[j] = dy[j] * activate_grad(y[j], code, negative_slope)
        partial[j] += dz[j]


# Each pointwise code gets its own element loop with the code a constant (as in
# fastnn.kernels.cpu.activations): with a run-time code the loop over seven
# branches neither unswitches nor vectorizes.


@njit(cache=True)
def _bias_activation_row(y, b, code, negative_slope):
    """One row of the forward epilogue, in place: ``y = f(y + b)``."""
    if code == SOFTMAX:
        for j in range(y.shape[0]):
            y[j] = y[j] + b[j]
        _softmax_row(y, y)
    elif code == RELU:
        _bias_activation_loop(y, b, RELU, negative_slope)
    elif code == LEAKY_RELU:
        _bias_activation_loop(y, b, LEAKY_RELU, negative_slope)
    elif code == SIGMOID:
        _bias_activation_loop(y, b, SIGMOID, negative_slope)
    elif code == TANH:
        _bias_activation_loop(y, b, TANH, negative_slope)
    elif code == ELU:
        _bias_activation_loop(y, b, ELU, negative_slope)
    elif code == SELU:
        _bias_activation_loop(y, b, SELU, negative_slope)
    else:
        _bias_activation_loop(y, b, LINEAR, negative_slope)


@njit(cache=True)
def _grad_block(dy, y, code, negative_slope, dz, partial, start, stop):
    """Rows ``start:stop`` of ``dz = dy * f'(y)``; ``partial`` gets their column sums (float64)."""
    m = y.shape[1]
    for j in range(m):
        partial[j] = 0.0
    for i in range(start, stop):
        if code == SOFTMAX:
            _softmax_grad_row(dy[i], y[i], dz[i])
            for j in range(m):
                partial[j] += dz[i, j]
        elif code == RELU:
            _grad_loop(dy[i], y[i], RELU, negative_slope, dz[i], partial)
        elif code == LEAKY_RELU:
            _grad_loop(dy[i], y[i], LEAKY_RELU, negative_slope, dz[i], partial)
        elif code == SIGMOID:
            _grad_loop(dy[i], y[i], SIGMOID, negative_slope, dz[i], partial)
        elif code == TANH:
            _grad_loop(dy[i], y[i], TANH, negative_slope, dz[i], partial)
        elif code == ELU:
            _grad_loop(dy[i], y[i], ELU, negative_slope, dz[i], partial)
        elif code == SELU:
            _grad_loop(dy[i], y[i], SELU, negative_slope, dz[i], partial)
        else:
            _grad_loop(dy[i], y[i], LINEAR, negative_slope, dz[i], partial)


@njit(cache=True)
def dense_forward(x, W, b, code, negative_slope, y):
    """Dense layer forward pass: ``y = f(x @ W + b)``.

    Parameters
    ----------
    x : ndarray, shape (batch, n_in), float32 or float64, C-contiguous
        Input.
    W : ndarray, shape (n_in, n_out), same dtype
        Weights, stored as in Keras.
    b : ndarray, shape (n_out,), same dtype
        Bias (pass zeros for a layer without bias).
    code : int
        Activation code from ``fastnn.kernels.scalar.ACTIVATIONS``.
    negative_slope : float
        Leaky-relu negative slope, ``>= 0``.
    y : ndarray, shape (batch, n_out), same dtype
        Output, overwritten.  Must not alias ``x`` or ``W``.

    Notes
    -----
    ``z = x @ W`` is written into ``y`` by BLAS; one epilogue pass then sets
    ``y = f(z + b)`` row by row (softmax over each row, see
    ``activations.activation_forward``).
    """
    np.dot(x, W, y)
    for i in range(y.shape[0]):
        _bias_activation_row(y[i], b, code, negative_slope)


@njit(cache=True)
def dense_backward(dy, x, W, y, code, negative_slope, dz, dx, dW, db, work, need_dx):
    """Dense layer backward pass, from the forward output ``y``.

    Parameters
    ----------
    dy : ndarray, shape (batch, n_out), float32 or float64, C-contiguous
        Gradient of the loss with respect to ``y``.
    x : ndarray, shape (batch, n_in), same dtype
        The forward input.
    W : ndarray, shape (n_in, n_out), same dtype
        Weights.
    y : ndarray, shape (batch, n_out), same dtype
        The forward output ``y = f(x @ W + b)``.
    code : int
        Activation code from ``fastnn.kernels.scalar.ACTIVATIONS``.
    negative_slope : float
        Leaky-relu negative slope, ``>= 0``.
    dz : ndarray, shape (batch, n_out), same dtype
        Gradient with respect to the pre-activation, overwritten.  May be ``dy``
        itself: for a linear layer nothing is then written (``dz = dy``); for
        any other activation a separate buffer is faster, since the in-place
        epilogue loop fails LLVM's alias check and runs scalar.
    dx : ndarray, shape (batch, n_in), same dtype
        Gradient with respect to ``x``, overwritten when ``need_dx``.
    dW : ndarray, shape (n_in, n_out), same dtype
        Gradient with respect to ``W``, overwritten.
    db : ndarray, shape (n_out,), same dtype
        Gradient with respect to ``b``, overwritten.
    work : ndarray, float64
        ``reduce.reduction_workspace(batch, n_out)``; its first plane is overwritten.
    need_dx : bool
        Whether to compute ``dx`` (False for a network's first layer).

    Notes
    -----
    ``dz = dy * f'(y)`` (softmax: ``dz = y * (dy - sum_k dy[k] y[k])`` per row),
    ``db = sum_i dz[i]`` reduced in float64 over fixed ``BLOCK_ROWS``-row
    blocks combined in block order, ``dW = x.T @ dz``, ``dx = dz @ W.T``.
    """
    n = y.shape[0]
    nb = (n + BLOCK_ROWS - 1) // BLOCK_ROWS
    if code == LINEAR and dz.ctypes.data == dy.ctypes.data:
        # dz is dy already: only the bias gradient's column sums remain (the same
        # float64 sums as below, so the same bits), one read of dy and no store.
        for blk in range(nb):
            _column_sums_block(dy, work[0, blk], blk * BLOCK_ROWS, min(n, (blk + 1) * BLOCK_ROWS))
    else:
        for blk in range(nb):
            start = blk * BLOCK_ROWS
            stop = min(n, start + BLOCK_ROWS)
            _grad_block(dy, y, code, negative_slope, dz, work[0, blk], start, stop)
    combine_blocks(work[0], nb, db)
    np.dot(x.T, dz, dW)
    if need_dx:
        np.dot(dz, W.T, dx)
