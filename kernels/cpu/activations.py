"""Activation kernels: forward and backward for every activation code.

Pointwise activations use ``activate`` and ``activate_grad`` from
``fastnn.kernels.scalar``; softmax is row-wise over axis 1 and written here,
in the row helpers that the dense kernels reuse for their fused epilogues.

Every backward pass takes the forward *output* ``y``, never the input, so a
layer can let the output overwrite the input and keep one buffer.

Work is split over rows with ``prange`` once an array has at least
``PARALLEL_MIN_ELEMENTS`` elements (``PARALLEL_MIN_ELEMENTS_COSTLY`` for the
passes that call ``exp`` or ``tanh`` per element, and softmax); below that a
thread launch costs more than the pass itself, so the same row loop runs
serially.  (The dense kernels' fused passes stay serial: see ``dense`` for
why, next to BLAS.)
"""

import math

import numpy as np
from numba import njit, prange

from fastnn.kernels.cpu.reduce import _lane_sum
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
    exp_f64,
)

#: Smallest element count for which a pass of a few flops per element (every
#: pointwise backward, the linear, relu and leaky-relu forward) is split over
#: threads.  A parallel region of the workqueue layer costs 100-170 us to start
#: here (see ``batchnorm.PARALLEL_MIN_SIZE``).  Measured on the 2-core AVX-512
#: machine, float32, medians, each call after 2 ms idle, one thread against
#: two: relu forward 18 / 159 us at 256x256, 103 / 230 us at 1024x256, 282 /
#: 403 us at 1024x1024 and 1205 / 802 us at 4096x1024; relu backward 491 /
#: 588 us at 1024x1024.
PARALLEL_MIN_ELEMENTS = 1 << 21
#: The same for the forward passes that call ``exp`` or ``tanh`` per element
#: (sigmoid, tanh, elu, selu), and softmax both ways.  Same measurements: tanh
#: forward 1800 / 1833 us at 1024x256 and 6638 / 3539 us at 1024x1024; softmax
#: forward 1034 / 1311 us and 4398 / 3911 us, backward 306 / 345 us and 953 /
#: 654 us.
PARALLEL_MIN_ELEMENTS_COSTLY = 1 << 19


@njit(cache=True)
def _parallel_min_elements(code, backward):
    """The element count from which the pass for ``code`` goes over threads."""
    cheap_forward = code == LINEAR or code == RELU or code == LEAKY_RELU
    if code == SOFTMAX or (not backward and not cheap_forward):
        return PARALLEL_MIN_ELEMENTS_COSTLY
    return PARALLEL_MIN_ELEMENTS


#: Rows at least this wide take ``exp_f64`` and ``_lane_sum`` in ``_softmax_row``.
SOFTMAX_VECTOR_MIN = 32


@njit(cache=True)
def _softmax_row(z, y):
    """``y = exp(z - max z) / sum exp(z - max z)`` for one row; ``y`` may alias ``z``.

    Subtracting the maximum keeps every exponent <= 0, so nothing overflows,
    and the sum, in float64, is >= 1.  A row of ``SOFTMAX_VECTOR_MIN`` or more
    entries takes its exponentials from ``exp_f64`` into ``y``, a loop LLVM
    vectorizes (over one array when ``y`` is ``z``: with two names for one
    buffer the overlap check would send it down its scalar path), then sums
    the stored values with ``_lane_sum``.  Narrower rows (a classifier's ten
    outputs) keep libm's ``exp`` and a running sum of the float64 values,
    which measured faster there.  One thread, float32: 32x256 32 -> 17 us,
    1024x1024 4.3 -> 2.2 ms; 1024x10 44 us either way.
    """
    m = z.shape[0]
    zmax = z[0]
    for j in range(1, m):
        if z[j] > zmax:
            zmax = z[j]
    if m < SOFTMAX_VECTOR_MIN:
        total = 0.0
        for j in range(m):
            e = math.exp(z[j] - zmax)
            y[j] = e
            total += e
    else:
        shift = np.float64(zmax)
        if z.ctypes.data == y.ctypes.data:
            for j in range(m):
                y[j] = exp_f64(np.float64(y[j]) - shift)
        else:
            for j in range(m):
                y[j] = exp_f64(np.float64(z[j]) - shift)
        total = _lane_sum(y)
    scale = 1.0 / total
    for j in range(m):
        y[j] = y[j] * scale


@njit(cache=True)
def _softmax_grad_row(dy, y, dx):
    """``dx = y * (dy - sum(dy * y))`` for one row (the softmax Jacobian product).

    The dot product is accumulated in float64 before any ``dx`` is written, so
    ``dx`` may alias ``dy``.
    """
    m = y.shape[0]
    dot = 0.0
    for j in range(m):
        dot += dy[j] * y[j]
    for j in range(m):
        dx[j] = y[j] * (dy[j] - dot)


@njit(inline="always")
def _forward_loop(x, code, negative_slope, y):
    for j in range(x.shape[0]):
        y[j] = activate(x[j], code, negative_slope)


@njit(inline="always")
def _backward_loop(dy, y, code, negative_slope, dx):
    for j in range(y.shape[0]):
        dx[j] = dy[j] * activate_grad(y[j], code, negative_slope)


# Each pointwise code gets its own element loop with the code a constant.  With
# the code a run-time value, LLVM neither unswitches nor vectorizes the loop
# since ``activate`` has seven branches: relu on 2**20 float32 took 3.3 ms that
# way against 0.31 ms with the code constant (one thread, in one process).


@njit(cache=True)
def _forward_row(x, code, negative_slope, y):
    """One row of ``activation_forward``."""
    if code == SOFTMAX:
        _softmax_row(x, y)
    elif code == RELU:
        _forward_loop(x, RELU, negative_slope, y)
    elif code == LEAKY_RELU:
        _forward_loop(x, LEAKY_RELU, negative_slope, y)
    elif code == SIGMOID:
        _forward_loop(x, SIGMOID, negative_slope, y)
    elif code == TANH:
        _forward_loop(x, TANH, negative_slope, y)
    elif code == ELU:
        _forward_loop(x, ELU, negative_slope, y)
    elif code == SELU:
        _forward_loop(x, SELU, negative_slope, y)
    else:
        _forward_loop(x, LINEAR, negative_slope, y)


@njit(cache=True)
def _backward_row(dy, y, code, negative_slope, dx):
    """One row of ``activation_backward``."""
    if code == SOFTMAX:
        _softmax_grad_row(dy, y, dx)
    elif code == RELU:
        _backward_loop(dy, y, RELU, negative_slope, dx)
    elif code == LEAKY_RELU:
        _backward_loop(dy, y, LEAKY_RELU, negative_slope, dx)
    elif code == SIGMOID:
        _backward_loop(dy, y, SIGMOID, negative_slope, dx)
    elif code == TANH:
        _backward_loop(dy, y, TANH, negative_slope, dx)
    elif code == ELU:
        _backward_loop(dy, y, ELU, negative_slope, dx)
    elif code == SELU:
        _backward_loop(dy, y, SELU, negative_slope, dx)
    else:
        _backward_loop(dy, y, LINEAR, negative_slope, dx)


@njit(cache=True, parallel=True)
def activation_forward(x, code, negative_slope, y):
    """Apply an activation: ``y = f(x)``, softmax row-wise over axis 1.

    Parameters
    ----------
    x : ndarray, shape (batch, features), float32 or float64, C-contiguous
        Input.
    code : int
        Activation code from ``fastnn.kernels.scalar.ACTIVATIONS``.
    negative_slope : float
        Leaky-relu negative slope, ``>= 0`` (ignored by other activations).
    y : ndarray, same shape and dtype as ``x``
        Output, overwritten.  May alias ``x``.

    Notes
    -----
    Pointwise: ``y = f(x)`` with ``f`` from ``fastnn.kernels.scalar.activate``.
    Softmax: ``y[i, j] = exp(x[i, j] - m_i) / sum_k exp(x[i, k] - m_i)`` with
    ``m_i = max_k x[i, k]``, finite for any finite input.
    """
    n = x.shape[0]
    if x.size < _parallel_min_elements(code, False):
        for i in range(n):
            _forward_row(x[i], code, negative_slope, y[i])
    else:
        for i in prange(n):
            _forward_row(x[i], code, negative_slope, y[i])


@njit(cache=True, parallel=True)
def activation_backward(dy, y, code, negative_slope, dx):
    """Gradient through an activation, from its forward output ``y``.

    Parameters
    ----------
    dy : ndarray, shape (batch, features), float32 or float64, C-contiguous
        Gradient of the loss with respect to ``y``.
    y : ndarray, same shape and dtype
        The forward output ``y = f(x)``.
    code : int
        Activation code from ``fastnn.kernels.scalar.ACTIVATIONS``.
    negative_slope : float
        Leaky-relu negative slope, ``>= 0``.
    dx : ndarray, same shape and dtype
        Gradient with respect to the forward input, overwritten.  May alias ``dy``.

    Notes
    -----
    Pointwise: ``dx = dy * f'(x)`` with ``f'`` written through ``y``
    (``fastnn.kernels.scalar.activate_grad``).  Softmax, row by row:
    ``dx = y * (dy - sum_k dy[k] y[k])``.
    """
    n = y.shape[0]
    if y.size < _parallel_min_elements(code, True):
        for i in range(n):
            _backward_row(dy[i], y[i], code, negative_slope, dx[i])
    else:
        for i in prange(n):
            _backward_row(dy[i], y[i], code, negative_slope, dx[i])
