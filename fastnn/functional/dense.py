"""Validated dense (fully connected) layer forward/backward on the CPU backend's kernels.

``y = f(x @ W + b)`` with ``W`` stored ``(n_in, n_out)`` as in Keras.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from fastnn._validation import (
    check_activation_member,
    check_allocation,
    check_bool,
    check_cache_array,
    check_finite_scalar,
    check_float_array,
)
from fastnn.functional._backend import BACKEND
from fastnn.functional.activations import activation_args
from fastnn.kernels.scalar import Activation

__all__ = ["dense_forward", "dense_backward"]


class DenseCache(NamedTuple):
    """What ``dense_backward`` needs from the forward pass (references, not copies)."""

    x: np.ndarray
    W: np.ndarray
    y: np.ndarray
    code: Activation
    negative_slope: float
    has_bias: bool


def dense_forward(
    x: np.ndarray, W: np.ndarray, b: np.ndarray | None, activation: str = "relu", **params
) -> tuple[np.ndarray, DenseCache]:
    """Dense layer forward pass, ``y = f(x @ W + b)``.

    Parameters
    ----------
    x : ndarray, shape (batch, n_in), float32 or float64
        Input.
    W : ndarray, shape (n_in, n_out), same dtype
        Weights.
    b : ndarray, shape (n_out,), same dtype, or None
        Bias; ``None`` for a layer without bias.
    activation : str
        ``"linear"`` (or ``None``), ``"relu"``, ``"leaky_relu"``, ``"sigmoid"``,
        ``"tanh"`` or ``"softmax"`` (row-wise).
    **params
        ``negative_slope`` for ``"leaky_relu"`` (default 0.2, finite, ``>= 0``).

    Returns
    -------
    y : ndarray, shape (batch, n_out)
    cache : DenseCache
        For ``dense_backward``.  It refers to ``x``, ``W`` and ``y`` without
        copying them: do not modify them before the backward pass.

    Raises
    ------
    TypeError
        A non-ndarray or non-float input, mixed dtypes, or a bad parameter.
    ValueError
        Wrong dimensions or shapes, empty arrays, an unknown activation or a bad slope.
    """
    code, negative_slope = activation_args(activation, params)
    x = check_float_array("x", x, ndim=2)
    W = check_float_array("W", W, ndim=2, dtype=x.dtype)
    if W.shape[0] != x.shape[1]:
        raise ValueError(
            f"W must have shape ({x.shape[1]}, n_out) to match x {x.shape}, got {W.shape}"
        )
    n_out = W.shape[1]
    if b is None:
        bias = BACKEND.memory.zeros((n_out,), x.dtype)
    else:
        bias = check_float_array("b", b, shape=(n_out,), dtype=x.dtype)
    check_allocation("the output y of shape", (x.shape[0], n_out), x.dtype)
    y = BACKEND.memory.empty((x.shape[0], n_out), x.dtype)
    BACKEND.dense.dense_forward(x, W, bias, int(code), negative_slope, y)
    return y, DenseCache(x, W, y, code, negative_slope, b is not None)


def _check_cache(cache: DenseCache):
    """Every array and scalar of a ``DenseCache``, checked against each other before any kernel.

    A cache is a plain tuple a caller can edit; the kernel trusts its shapes,
    so a resized array would be read out of bounds.
    """
    x = cache.x
    dtype = getattr(x, "dtype", None)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"cache.x must be a float32 or float64 ndarray, got {type(x).__name__}")
    x = check_cache_array("cache.x", x, shape=(None, None), dtype=dtype)
    W = check_cache_array("cache.W", cache.W, shape=(x.shape[1], None), dtype=dtype)
    y = check_cache_array("cache.y", cache.y, shape=(x.shape[0], W.shape[1]), dtype=dtype)
    code = check_activation_member("cache.code", cache.code)
    negative_slope = check_finite_scalar("cache.negative_slope", cache.negative_slope, low=0.0)
    check_bool("cache.has_bias", cache.has_bias)
    return x, W, y, code, negative_slope


def dense_backward(
    dy: np.ndarray, cache: DenseCache, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Dense layer backward pass.

    Parameters
    ----------
    dy : ndarray, shape (batch, n_out), dtype of the forward pass
        Gradient of the loss with respect to ``y``.
    cache : DenseCache
        From ``dense_forward``.
    need_dx : bool
        Whether to compute ``dx`` (False for a network's first layer).

    Returns
    -------
    dx : ndarray, shape (batch, n_in), or None when ``need_dx`` is False
    dW : ndarray, shape (n_in, n_out)
    db : ndarray, shape (n_out,), or None when the forward pass had no bias

    Raises
    ------
    TypeError
        ``cache`` is not a ``DenseCache``, or ``dy`` is not an ndarray of the forward dtype.
    ValueError
        ``dy`` does not have the shape of ``y``, or the cache was edited: an
        array resized, re-typed or made non-contiguous, an unknown activation
        code, a slope that is not finite and ``>= 0`` (every entry of the
        cache is checked against the others before the kernel runs).

    Notes
    -----
    ``dz = dy * f'(y)`` (softmax per row: ``dz = y * (dy - sum_k dy_k y_k)``),
    ``dW = x.T @ dz``, ``db = sum_i dz_i`` (float64, deterministic for any
    thread count), ``dx = dz @ W.T``.
    """
    if not isinstance(cache, DenseCache):
        raise TypeError(
            f"cache must be the DenseCache from dense_forward, got {type(cache).__name__}"
        )
    x, W, y, code, negative_slope = _check_cache(cache)
    need_dx = check_bool("need_dx", need_dx)
    dy = check_float_array("dy", dy, shape=y.shape, dtype=y.dtype)
    memory = BACKEND.memory
    dz = memory.empty(y.shape, y.dtype)
    dx = memory.empty(x.shape if need_dx else (0, 0), x.dtype)
    dW = memory.empty(W.shape, W.dtype)
    db = memory.empty((y.shape[1],), y.dtype)
    work = BACKEND.workspace(*y.shape)
    BACKEND.dense.dense_backward(dy, x, W, y, code, negative_slope, dz, dx, dW, db, work, need_dx)
    return (dx if need_dx else None), dW, (db if cache.has_bias else None)
