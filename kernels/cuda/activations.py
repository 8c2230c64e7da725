"""Activation kernels on the GPU: forward and backward for every activation code.

The same names and signatures as ``fastnn.kernels.cpu.activations``.
Pointwise activations run a grid-stride loop over the elements calling
``fastnn.kernels.scalar.activate`` / ``activate_grad``; softmax gives each
row to one thread, which runs the CPU backend's row helpers
(``_softmax_row``, ``_softmax_grad_row``) compiled for the device.  One
thread per row suits the narrow softmax outputs of classifiers (tens of
columns); it is correct, but not fast, for rows of thousands.
"""

import numpy as np
from numba import cuda

from fastnn.kernels.cpu import activations as _cpu
from fastnn.kernels.cuda import config
from fastnn.kernels.cuda._device import device_callable
from fastnn.kernels.scalar import SOFTMAX, activate, activate_grad

__all__ = ["activation_forward", "activation_backward"]

_softmax_row = device_callable(_cpu._softmax_row)
_softmax_grad_row = device_callable(_cpu._softmax_grad_row)


@cuda.jit
def _activation_forward_kernel(x, code, negative_slope, y):
    """``y = f(x)`` element by element (grid-stride over the flattened 2-D array)."""
    n, m = x.shape
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for e in range(start, n * m, stride):
        i = e // m
        j = e - i * m
        y[i, j] = activate(x[i, j], code, negative_slope)


@cuda.jit
def _activation_backward_kernel(dy, y, code, negative_slope, dx):
    """``dx = dy * f'(y)`` element by element; ``dx`` may alias ``dy``."""
    n, m = y.shape
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for e in range(start, n * m, stride):
        i = e // m
        j = e - i * m
        dx[i, j] = dy[i, j] * activate_grad(y[i, j], code, negative_slope)


@cuda.jit
def _softmax_rows_kernel(z, y):
    """Row softmax, one thread per row (grid-stride over rows); ``y`` may alias ``z``."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, z.shape[0], stride):
        _softmax_row(z[i], y[i])


@cuda.jit
def _softmax_grad_rows_kernel(dy, y, dx):
    """``dx = y * (dy - sum(dy * y))`` per row, one thread per row; ``dx`` may alias ``dy``."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, y.shape[0], stride):
        _softmax_grad_row(dy[i], y[i], dx[i])


def _launch_softmax(z, y) -> None:
    """Launch the row softmax ``y = softmax(z)`` (``y`` may alias ``z``)."""
    n = z.shape[0]
    if n:
        _softmax_rows_kernel[config.blocks_for(n), config.THREADS](z, y)


def _launch_softmax_grad(dy, y, dx) -> None:
    """Launch the row softmax gradient ``dx = y * (dy - sum(dy * y))``."""
    n = y.shape[0]
    if n:
        _softmax_grad_rows_kernel[config.blocks_for(n), config.THREADS](dy, y, dx)


def activation_forward(x, code, negative_slope, y) -> None:
    """Apply an activation: ``y = f(x)``, softmax row-wise over axis 1.

    Parameters
    ----------
    x : device array, shape (batch, features), float32 or float64, C-contiguous
        Input.
    code : int
        Activation code from ``fastnn.kernels.scalar.ACTIVATIONS``.
    negative_slope : float
        Leaky-relu negative slope, ``>= 0`` (ignored by other activations).
    y : device array, same shape and dtype as ``x``
        Output, overwritten.  May alias ``x``.
    """
    code = int(code)
    if code == SOFTMAX:
        _launch_softmax(x, y)
        return
    size = x.shape[0] * x.shape[1]
    if size:
        _activation_forward_kernel[config.blocks_for(size), config.THREADS](
            x, np.int64(code), np.float64(negative_slope), y
        )


def activation_backward(dy, y, code, negative_slope, dx) -> None:
    """Gradient through an activation, from its forward output ``y``.

    Parameters
    ----------
    dy : device array, shape (batch, features), float32 or float64, C-contiguous
        Gradient of the loss with respect to ``y``.
    y : device array, same shape and dtype
        The forward output ``y = f(x)``.
    code : int
        Activation code from ``fastnn.kernels.scalar.ACTIVATIONS``.
    negative_slope : float
        Leaky-relu negative slope, ``>= 0``.
    dx : device array, same shape and dtype
        Gradient with respect to the forward input, overwritten.  May alias ``dy``.
    """
    code = int(code)
    if code == SOFTMAX:
        _launch_softmax_grad(dy, y, dx)
        return
    size = y.shape[0] * y.shape[1]
    if size:
        _activation_backward_kernel[config.blocks_for(size), config.THREADS](
            dy, y, np.int64(code), np.float64(negative_slope), dx
        )
