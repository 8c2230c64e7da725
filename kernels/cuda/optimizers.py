"""Optimizer update kernels on the GPU: one grid-stride pass per parameter array, in place.

The same names and signatures as ``fastnn.kernels.cpu.optimizers`` (1-D
device arrays of one dtype and length).  Each element runs the same
per-element update function as the CPU kernels (``sgd_element``,
``adam_element``, ...), which widens to float64 and returns the new values;
they are rounded once when stored.  Elements are independent, so the result
does not depend on the launch configuration.
"""

import numpy as np
from numba import cuda

from fastnn.kernels.cuda import config
from fastnn.kernels.scalar import (
    adam_element,
    adam_step_size,
    rmsprop_element,
    rmsprop_momentum_element,
    sgd_element,
    sgd_momentum_element,
)

__all__ = ["sgd_update", "adam_update", "rmsprop_update"]


@cuda.jit
def _sgd_kernel(param, grad, learning_rate, decay):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, param.shape[0], stride):
        param[i] = sgd_element(param[i], grad[i], learning_rate, decay)


@cuda.jit
def _sgd_momentum_kernel(param, grad, velocity, learning_rate, momentum, nesterov, decay):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, param.shape[0], stride):
        p, v = sgd_momentum_element(
            param[i], grad[i], velocity[i], learning_rate, momentum, nesterov, decay
        )
        param[i] = p
        velocity[i] = v


@cuda.jit
def _adam_kernel(param, grad, m, v, step_size, beta_1, beta_2, epsilon, decay):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, param.shape[0], stride):
        p, m_new, v_new = adam_element(
            param[i], grad[i], m[i], v[i], step_size, beta_1, beta_2, epsilon, decay
        )
        param[i] = p
        m[i] = m_new
        v[i] = v_new


@cuda.jit
def _rmsprop_kernel(param, grad, velocity, learning_rate, rho, epsilon, decay):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, param.shape[0], stride):
        p, v = rmsprop_element(param[i], grad[i], velocity[i], learning_rate, rho, epsilon, decay)
        param[i] = p
        velocity[i] = v


@cuda.jit
def _rmsprop_momentum_kernel(
    param, grad, velocity, momentum_buffer, learning_rate, rho, momentum, epsilon, decay
):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, param.shape[0], stride):
        p, v, b = rmsprop_momentum_element(
            param[i],
            grad[i],
            velocity[i],
            momentum_buffer[i],
            learning_rate,
            rho,
            momentum,
            epsilon,
            decay,
        )
        param[i] = p
        velocity[i] = v
        momentum_buffer[i] = b


def _launch(n):
    return config.blocks_for(n), config.THREADS


def sgd_update(param, grad, velocity, learning_rate, momentum, nesterov, weight_decay) -> None:
    """Keras SGD, plain or with (Nesterov) momentum, in place (see the CPU kernel for the maths).

    ``velocity`` is untouched (may be empty) when ``momentum == 0``.
    """
    n = param.shape[0]
    if n == 0:
        return
    lr = np.float64(learning_rate)
    decay = np.float64(learning_rate * weight_decay)
    if momentum == 0:
        _sgd_kernel[_launch(n)](param, grad, lr, decay)
        return
    _sgd_momentum_kernel[_launch(n)](
        param, grad, velocity, lr, np.float64(momentum), bool(nesterov), decay
    )


def adam_update(
    param, grad, m, v, step, learning_rate, beta_1, beta_2, epsilon, weight_decay
) -> None:
    """Keras Adam, in place; ``step`` is the 1-based number of this update.

    The bias-corrected step size is computed once on the host by
    ``scalar.adam_step_size``, the function the CPU kernel calls.
    """
    n = param.shape[0]
    if n == 0:
        return
    step_size = adam_step_size(
        np.float64(learning_rate), np.float64(beta_1), np.float64(beta_2), np.int64(step)
    )
    _adam_kernel[_launch(n)](
        param,
        grad,
        m,
        v,
        np.float64(step_size),
        np.float64(beta_1),
        np.float64(beta_2),
        np.float64(epsilon),
        np.float64(learning_rate * weight_decay),
    )


def rmsprop_update(
    param, grad, velocity, momentum_buffer, learning_rate, rho, momentum, epsilon, weight_decay
) -> None:
    """Keras RMSprop (uncentered), with optional momentum, in place.

    ``momentum_buffer`` is untouched (may be empty) when ``momentum == 0``.
    """
    n = param.shape[0]
    if n == 0:
        return
    lr, rho64, eps = np.float64(learning_rate), np.float64(rho), np.float64(epsilon)
    decay = np.float64(learning_rate * weight_decay)
    if momentum == 0:
        _rmsprop_kernel[_launch(n)](param, grad, velocity, lr, rho64, eps, decay)
        return
    _rmsprop_momentum_kernel[_launch(n)](
        param, grad, velocity, momentum_buffer, lr, rho64, np.float64(momentum), eps, decay
    )
