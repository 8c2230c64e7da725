"""Validated activation forward/backward on the CPU backend's kernels.

Activations: ``linear``, ``relu``, ``leaky_relu`` (parameter
``negative_slope``, default 0.2 as in Keras), ``sigmoid``, ``tanh``,
``softmax`` (row-wise over axis 1), ``elu`` (alpha 1, Keras's default) and
``selu`` (Klambauer et al. 2017's constants).  Every backward takes the forward *output*
``y``, not the input.
"""

from __future__ import annotations

import numpy as np

from fastnn._validation import activation_code, check_finite_scalar, check_float_array
from fastnn.functional._backend import BACKEND
from fastnn.kernels.scalar import NEGATIVE_SLOPE, Activation

__all__ = ["activation_forward", "activation_backward"]


def activation_args(name, params: dict) -> tuple[Activation, float]:
    """Kernel ``(code, negative_slope)`` for an activation name and its keyword parameters.

    Only ``leaky_relu`` takes a parameter, ``negative_slope`` (finite, ``>= 0``).

    Raises
    ------
    TypeError
        ``name`` is not a string, a parameter the activation does not take,
        or a ``negative_slope`` that is not a real number.
    ValueError
        An unknown activation, or a negative or non-finite ``negative_slope``.
    """
    code = activation_code(name)
    allowed = {"negative_slope"} if name == "leaky_relu" else set()
    unexpected = sorted(set(params) - allowed)
    if unexpected:
        raise TypeError(f"activation {name!r} takes no parameter(s) {unexpected}")
    negative_slope = check_finite_scalar(
        "negative_slope", params.get("negative_slope", NEGATIVE_SLOPE), low=0.0
    )
    return code, negative_slope


def activation_forward(x: np.ndarray, name: str, **params) -> np.ndarray:
    """Apply an activation, ``y = f(x)``.

    Parameters
    ----------
    x : ndarray, shape (batch, features), float32 or float64
        Input.
    name : str
        ``"linear"`` (or ``None``), ``"relu"``, ``"leaky_relu"``, ``"sigmoid"``,
        ``"tanh"``, ``"softmax"``, ``"elu"`` or ``"selu"``.
    **params
        ``negative_slope`` for ``"leaky_relu"`` (default 0.2, finite, ``>= 0``).

    Returns
    -------
    y : ndarray, same shape and dtype as ``x``

    Raises
    ------
    TypeError
        ``x`` is not a float32/float64 ndarray, or a bad parameter (see ``activation_args``).
    ValueError
        ``x`` is not 2-D or is empty, or an unknown activation or bad slope.

    Notes
    -----
    relu ``max(x, 0)``; leaky_relu ``x`` if ``x > 0`` else ``negative_slope * x``;
    sigmoid ``1 / (1 + exp(-x))``; tanh; linear ``x``; softmax per row
    ``y_j = exp(x_j - max_k x_k) / sum_k exp(x_k - max_k x_k)``; elu ``x`` if
    ``x > 0`` else ``exp(x) - 1``; selu ``lambda x`` if ``x > 0`` else
    ``lambda alpha (exp(x) - 1)`` (``lambda = 1.0507``, ``alpha = 1.6733``).
    Sigmoid and softmax are finite for any finite input.
    """
    code, negative_slope = activation_args(name, params)
    x = check_float_array("x", x, ndim=2)
    y = BACKEND.memory.empty(x.shape, x.dtype)
    BACKEND.activations.activation_forward(x, int(code), negative_slope, y)
    return y


def activation_backward(dy: np.ndarray, y: np.ndarray, name: str, **params) -> np.ndarray:
    """Gradient through an activation, from the forward OUTPUT ``y``.

    Parameters
    ----------
    dy : ndarray, shape (batch, features), float32 or float64
        Gradient of the loss with respect to ``y``.
    y : ndarray, same shape and dtype as ``dy``
        The forward output ``activation_forward(x, name, **params)``.
    name : str
        Activation name, as in ``activation_forward``.
    **params
        ``negative_slope`` for ``"leaky_relu"``, as in the forward call.

    Returns
    -------
    dx : ndarray, same shape and dtype as ``dy``
        Gradient with respect to the forward input ``x``.

    Raises
    ------
    TypeError
        Not float32/float64 ndarrays, mixed dtypes, or a bad parameter.
    ValueError
        Not 2-D, empty, shapes differ, or an unknown activation or bad slope.

    Notes
    -----
    ``dx = dy * f'(x)`` with ``f'`` written through ``y``: relu ``1[y > 0]``;
    leaky_relu ``1`` if ``y > 0`` else ``negative_slope``; sigmoid ``y (1 - y)``;
    tanh ``1 - y**2``; linear ``1``; elu ``1`` if ``y > 0`` else ``y + 1``; selu
    ``lambda`` if ``y > 0`` else ``y + lambda alpha``.  Softmax, per row:
    ``dx = y * (dy - sum_k dy_k y_k)``.
    """
    code, negative_slope = activation_args(name, params)
    dy = check_float_array("dy", dy, ndim=2)
    y = check_float_array("y", y, shape=dy.shape, dtype=dy.dtype)
    dx = BACKEND.memory.empty(dy.shape, dy.dtype)
    BACKEND.activations.activation_backward(dy, y, int(code), negative_slope, dx)
    return dx
