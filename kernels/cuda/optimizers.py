"""Optimizer update kernels on the GPU: one grid-stride pass per parameter array, in place.

The same names and signatures as ``fastnn.kernels.cpu.optimizers`` (1-D
device arrays of one dtype and length).  Each element runs the same
per-element update function as the CPU kernels (``sgd_element``,
``adam_element``, ...), which widens to float64 and returns the new values;
they are rounded once when stored.  Elements are independent, so the result
does not depend on the launch configuration.

Each kernel reads the old state and writes the new state to ``*_out``
arrays, and stores the old parameter in ``saved`` before updating it in
place.  The in-place updates pass the state arrays as their own outputs and
the parameter as its own ``saved`` (each thread reads its element before it
writes it, so that is safe); the checked updates (``adam_update_checked``,
...) pass separate arrays, then reduce the new parameters' finiteness with
``memory.all_finite``, so a step that wrote NaN or Inf can be undone exactly.
"""

import numpy as np
from numba import cuda

from fastnn.kernels.cuda import config, memory
from fastnn.kernels.scalar import (
    adam_element,
    adam_step_size,
    rmsprop_element,
    rmsprop_momentum_element,
    sgd_element,
    sgd_momentum_element,
)

__all__ = [
    "sgd_update",
    "adam_update",
    "rmsprop_update",
    "sgd_update_checked",
    "adam_update_checked",
    "rmsprop_update_checked",
]


@cuda.jit
def _sgd_kernel(param, grad, saved, learning_rate, decay):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, param.shape[0], stride):
        p = param[i]
        saved[i] = p
        param[i] = sgd_element(p, grad[i], learning_rate, decay)


@cuda.jit
def _sgd_momentum_kernel(
    param, grad, velocity, velocity_out, saved, learning_rate, momentum, nesterov, decay
):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, param.shape[0], stride):
        p = param[i]
        saved[i] = p
        p, v = sgd_momentum_element(p, grad[i], velocity[i], learning_rate, momentum, nesterov,
                                    decay)  # fmt: skip
        param[i] = p
        velocity_out[i] = v


@cuda.jit
def _adam_kernel(param, grad, m, v, m_out, v_out, saved, step_size, beta_1, beta_2, epsilon,
                 decay):  # fmt: skip
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, param.shape[0], stride):
        p = param[i]
        saved[i] = p
        p, m_new, v_new = adam_element(p, grad[i], m[i], v[i], step_size, beta_1, beta_2, epsilon,
                                       decay)  # fmt: skip
        param[i] = p
        m_out[i] = m_new
        v_out[i] = v_new


@cuda.jit
def _rmsprop_kernel(param, grad, velocity, velocity_out, saved, learning_rate, rho, epsilon,
                    decay):  # fmt: skip
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, param.shape[0], stride):
        p = param[i]
        saved[i] = p
        p, v = rmsprop_element(p, grad[i], velocity[i], learning_rate, rho, epsilon, decay)
        param[i] = p
        velocity_out[i] = v


@cuda.jit
def _rmsprop_momentum_kernel(
    param, grad, velocity, momentum_buffer, velocity_out, momentum_buffer_out, saved,
    learning_rate, rho, momentum, epsilon, decay,
):  # fmt: skip
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, param.shape[0], stride):
        p = param[i]
        saved[i] = p
        p, v, b = rmsprop_momentum_element(
            p, grad[i], velocity[i], momentum_buffer[i], learning_rate, rho, momentum, epsilon,
            decay,
        )  # fmt: skip
        param[i] = p
        velocity_out[i] = v
        momentum_buffer_out[i] = b


def _launch(n):
    return config.blocks_for(n), config.THREADS


def _sgd(param, grad, velocity, velocity_out, saved, learning_rate, momentum, nesterov,
         weight_decay) -> None:  # fmt: skip
    lr = np.float64(learning_rate)
    decay = np.float64(learning_rate * weight_decay)
    if momentum == 0:
        _sgd_kernel[_launch(param.shape[0])](param, grad, saved, lr, decay)
        return
    _sgd_momentum_kernel[_launch(param.shape[0])](
        param, grad, velocity, velocity_out, saved, lr, np.float64(momentum), bool(nesterov), decay
    )


def _adam(param, grad, m, v, m_out, v_out, saved, step, learning_rate, beta_1, beta_2, epsilon,
          weight_decay) -> None:  # fmt: skip
    step_size = adam_step_size(
        np.float64(learning_rate), np.float64(beta_1), np.float64(beta_2), np.int64(step)
    )
    _adam_kernel[_launch(param.shape[0])](
        param, grad, m, v, m_out, v_out, saved, np.float64(step_size), np.float64(beta_1),
        np.float64(beta_2), np.float64(epsilon), np.float64(learning_rate * weight_decay),
    )  # fmt: skip


def _rmsprop(param, grad, velocity, momentum_buffer, velocity_out, momentum_buffer_out, saved,
             learning_rate, rho, momentum, epsilon, weight_decay) -> None:  # fmt: skip
    lr, rho64, eps = np.float64(learning_rate), np.float64(rho), np.float64(epsilon)
    decay = np.float64(learning_rate * weight_decay)
    if momentum == 0:
        _rmsprop_kernel[_launch(param.shape[0])](
            param, grad, velocity, velocity_out, saved, lr, rho64, eps, decay
        )
        return
    _rmsprop_momentum_kernel[_launch(param.shape[0])](
        param, grad, velocity, momentum_buffer, velocity_out, momentum_buffer_out, saved, lr,
        rho64, np.float64(momentum), eps, decay,
    )  # fmt: skip


def sgd_update(param, grad, velocity, learning_rate, momentum, nesterov, weight_decay) -> None:
    """Keras SGD, plain or with (Nesterov) momentum, in place (see the CPU kernel for the maths).

    ``velocity`` is untouched (may be empty) when ``momentum == 0``.
    """
    if param.shape[0] == 0:
        return
    _sgd(param, grad, velocity, velocity, param, learning_rate, momentum, nesterov, weight_decay)


def adam_update(
    param, grad, m, v, step, learning_rate, beta_1, beta_2, epsilon, weight_decay
) -> None:
    """Keras Adam, in place; ``step`` is the 1-based number of this update.

    The bias-corrected step size is computed once on the host by
    ``scalar.adam_step_size``, the function the CPU kernel calls.
    """
    if param.shape[0] == 0:
        return
    _adam(param, grad, m, v, m, v, param, step, learning_rate, beta_1, beta_2, epsilon,
          weight_decay)  # fmt: skip


def rmsprop_update(
    param, grad, velocity, momentum_buffer, learning_rate, rho, momentum, epsilon, weight_decay
) -> None:
    """Keras RMSprop (uncentered), with optional momentum, in place.

    ``momentum_buffer`` is untouched (may be empty) when ``momentum == 0``.
    """
    if param.shape[0] == 0:
        return
    _rmsprop(param, grad, velocity, momentum_buffer, velocity, momentum_buffer, param,
             learning_rate, rho, momentum, epsilon, weight_decay)  # fmt: skip


def sgd_update_checked(
    param, grad, velocity, velocity_out, param_saved, learning_rate, momentum, nesterov,
    weight_decay,
) -> bool:  # fmt: skip
    """``sgd_update`` with the new velocity in ``velocity_out`` and the old ``param`` in
    ``param_saved``; returns whether every new parameter is finite (CPU kernel's contract)."""
    if param.shape[0] == 0:
        return True
    _sgd(param, grad, velocity, velocity_out, param_saved, learning_rate, momentum, nesterov,
         weight_decay)  # fmt: skip
    return memory.all_finite(param)


def adam_update_checked(
    param, grad, m, v, m_out, v_out, param_saved, step, learning_rate, beta_1, beta_2, epsilon,
    weight_decay,
) -> bool:  # fmt: skip
    """``adam_update`` with the new moments in ``m_out``/``v_out`` and the old ``param`` in
    ``param_saved``; returns whether every new parameter is finite (CPU kernel's contract)."""
    if param.shape[0] == 0:
        return True
    _adam(param, grad, m, v, m_out, v_out, param_saved, step, learning_rate, beta_1, beta_2,
          epsilon, weight_decay)  # fmt: skip
    return memory.all_finite(param)


def rmsprop_update_checked(
    param, grad, velocity, momentum_buffer, velocity_out, momentum_buffer_out, param_saved,
    learning_rate, rho, momentum, epsilon, weight_decay,
) -> bool:  # fmt: skip
    """``rmsprop_update`` with the new state in the ``*_out`` arrays and the old ``param`` in
    ``param_saved``; returns whether every new parameter is finite (CPU kernel's contract)."""
    if param.shape[0] == 0:
        return True
    _rmsprop(param, grad, velocity, momentum_buffer, velocity_out, momentum_buffer_out,
             param_saved, learning_rate, rho, momentum, epsilon, weight_decay)  # fmt: skip
    return memory.all_finite(param)
