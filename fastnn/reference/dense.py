"""Reference dense layer in plain NumPy: ``y = f(x @ W + b)``, ``W`` of shape ``(n_in, n_out)``."""

from typing import NamedTuple

import numpy as np

from fastnn.reference.activations import activation_backward, activation_forward

__all__ = ["dense_forward", "dense_backward"]


class DenseCache(NamedTuple):
    x: np.ndarray
    W: np.ndarray
    y: np.ndarray
    activation: str
    params: dict
    has_bias: bool


def dense_forward(x, W, b, activation="relu", **params):
    """``y = f(x @ W + b)``; ``b=None`` means no bias.  Returns ``(y, cache)``."""
    z = x @ W
    if b is not None:
        z = z + b
    y = activation_forward(z, activation, **params)
    return y, DenseCache(x, W, y, activation, params, b is not None)


def dense_backward(dy, cache, need_dx=True):
    """``dz = dy * f'(y)``; returns ``(dx, dW, db)`` with ``dx = dz @ W.T``, ``dW = x.T @ dz``,
    ``db = sum_i dz[i]`` (float64 sum; ``None`` without bias), ``dx = None`` unless ``need_dx``.
    """
    dz = activation_backward(dy, cache.y, cache.activation, **cache.params)
    dW = cache.x.T @ dz
    db = dz.sum(axis=0, dtype=np.float64).astype(dz.dtype) if cache.has_bias else None
    dx = dz @ cache.W.T if need_dx else None
    return dx, dW, db
