"""NumPy reference for the optimizer updates (Keras 3 formulas), in place.

Each update is computed in float64 from the current arrays and written back
into them in their own dtype.  Inputs are assumed valid (``fastnn.functional``
checks them).  Weight decay is decoupled and applied first, as in Keras:
``p -= learning_rate * weight_decay * p``.

These formulas are written here again on purpose, independently of the
kernels' ``fastnn.kernels.scalar.*_element`` functions: the reference is the
oracle those are tested against.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sgd_update", "adam_update", "rmsprop_update"]


def sgd_update(
    param: np.ndarray,
    grad: np.ndarray,
    velocity: np.ndarray | None = None,
    *,
    learning_rate: float = 0.01,
    momentum: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
) -> None:
    """Keras SGD, in place: ``v = mu v - lr g``; ``p += v`` (Nesterov: ``p += mu v - lr g``).

    With ``momentum == 0``: ``p -= lr g`` and ``velocity`` is not used.
    """
    p = param.astype(np.float64)
    g = grad.astype(np.float64)
    p -= learning_rate * weight_decay * p
    if momentum == 0:
        param[...] = p - learning_rate * g
        return
    v = momentum * velocity.astype(np.float64) - learning_rate * g
    if nesterov:
        param[...] = p + momentum * v - learning_rate * g
    else:
        param[...] = p + v
    velocity[...] = v


def adam_update(
    param: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    step: int,
    *,
    learning_rate: float = 0.001,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
    weight_decay: float = 0.0,
) -> None:
    """Keras Adam, in place; ``step`` is 1 on the first update.

    ``step_size = lr sqrt(1 - beta_2**step) / (1 - beta_1**step)``;
    ``m += (1 - beta_1)(g - m)``; ``v += (1 - beta_2)(g**2 - v)``;
    ``p -= step_size m / (sqrt(v) + epsilon)``.

    References
    ----------
    D. P. Kingma, J. Ba, "Adam: A method for stochastic optimization",
    ICLR 2015.
    """
    p = param.astype(np.float64)
    g = grad.astype(np.float64)
    p -= learning_rate * weight_decay * p
    step_size = learning_rate * np.sqrt(1.0 - beta_2 ** float(step)) / (1.0 - beta_1 ** float(step))
    m_new = m + (g - m) * (1.0 - beta_1)
    v_new = v + (g * g - v) * (1.0 - beta_2)
    param[...] = p - step_size * m_new / (np.sqrt(v_new) + epsilon)
    m[...] = m_new
    v[...] = v_new


def rmsprop_update(
    param: np.ndarray,
    grad: np.ndarray,
    velocity: np.ndarray,
    momentum_buffer: np.ndarray | None = None,
    *,
    learning_rate: float = 0.001,
    rho: float = 0.9,
    momentum: float = 0.0,
    epsilon: float = 1e-7,
    weight_decay: float = 0.0,
) -> None:
    """Keras RMSprop (uncentered), in place.

    ``v = rho v + (1 - rho) g**2``; ``delta = lr g / sqrt(v + epsilon)``;
    ``p -= delta``, or with momentum ``b = mu b + delta``; ``p -= b``.
    """
    p = param.astype(np.float64)
    g = grad.astype(np.float64)
    p -= learning_rate * weight_decay * p
    v = rho * velocity.astype(np.float64) + (1.0 - rho) * g * g
    delta = learning_rate * g / np.sqrt(v + epsilon)
    if momentum == 0:
        param[...] = p - delta
    else:
        b = momentum * momentum_buffer.astype(np.float64) + delta
        param[...] = p - b
        momentum_buffer[...] = b
    velocity[...] = v
