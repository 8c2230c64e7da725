r"""Batch normalization in plain NumPy: the specification of ``fastnn.functional.batchnorm``.

Same names, arguments and conventions (Keras: ``momentum=0.99`` weights the
old running value, the running variance is the biased batch variance,
``epsilon=1e-3``).  Everything is computed in float64 and rounded to the
input's dtype at the end; ``a = act(x)`` is rounded first, because that is
the value a layer stores and normalizes.  The activations are the reference
ones, ``fastnn.reference.activations``.  Written independently of the
kernels' ``fastnn.kernels.scalar.batch_norm_*`` functions, as the oracle they
are tested against.

References
----------
S. Ioffe, C. Szegedy, "Batch normalization: accelerating deep network
training by reducing internal covariate shift", ICML 2015.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from fastnn.reference.activations import activation_backward, activation_forward

__all__ = [
    "batch_norm_forward",
    "batch_norm_backward",
    "batch_norm_act_forward",
    "batch_norm_act_backward",
    "act_batch_norm_forward",
    "act_batch_norm_backward",
]


class BatchNormCache(NamedTuple):
    """What a forward call hands to its backward call."""

    forward: str
    training: bool
    a: np.ndarray
    y: np.ndarray
    gamma: np.ndarray
    mean: np.ndarray
    invstd: np.ndarray
    placement: tuple  # (pre, post, params): activation names or None, and their parameters


def _fusable(activation):
    if activation == "softmax":
        raise ValueError("activation 'softmax' cannot be fused with batch normalization")
    return activation


def _forward(forward, x, layer, mode, placement):
    """``y = post(gamma (a - mean) / sqrt(var + epsilon) + beta)`` with ``a = pre(x)``."""
    gamma, beta, running_mean, running_var = layer
    training, momentum, epsilon = mode
    pre, post, params = placement
    dtype = x.dtype
    if training and x.shape[0] < 2:
        raise ValueError("training-mode batch normalization needs at least 2 rows")
    a = x.astype(np.float64)
    if pre is not None:
        a = activation_forward(a, pre, **params)
    a = a.astype(dtype)
    a64 = a.astype(np.float64)
    if training:
        mean = a64.mean(axis=0)
        var = ((a64 - mean) ** 2).mean(axis=0)  # biased
        running_mean[...] = momentum * running_mean.astype(np.float64) + (1 - momentum) * mean
        running_var[...] = momentum * running_var.astype(np.float64) + (1 - momentum) * var
    else:
        mean = running_mean.astype(np.float64)
        var = running_var.astype(np.float64)
    invstd = 1.0 / np.sqrt(var + epsilon)
    y = gamma * (a64 - mean) * invstd + beta
    if post is not None:
        y = activation_forward(y, post, **params)
    y = y.astype(dtype)
    saved = (a, y, gamma, mean.astype(dtype), invstd.astype(dtype))
    return y, BatchNormCache(forward, training, *saved, placement)


def _backward(backward, dy, cache):
    """Gradients of ``_forward`` in training mode, from its cache."""
    if cache.forward != backward.replace("backward", "forward"):
        raise ValueError(f"cache comes from {cache.forward}, not the forward of {backward}")
    if not cache.training:
        raise ValueError(f"{backward} needs a cache from a training-mode forward")
    pre, post, params = cache.placement
    a, y, gamma, mean, invstd = (
        v.astype(np.float64) for v in (cache.a, cache.y, cache.gamma, cache.mean, cache.invstd)
    )
    n = a.shape[0]
    g = dy.astype(np.float64)
    if post is not None:
        g = activation_backward(g, y, post, **params)
    xhat = (a - mean) * invstd
    dbeta = g.sum(axis=0)
    dgamma = (g * xhat).sum(axis=0)
    dx = gamma * invstd / n * (n * g - dbeta - xhat * dgamma)
    if pre is not None:
        dx = activation_backward(dx, a, pre, **params)
    dtype = cache.y.dtype
    return dx.astype(dtype), dgamma.astype(dtype), dbeta.astype(dtype)


def batch_norm_forward(
    x, gamma, beta, running_mean, running_var, training=True, momentum=0.99, epsilon=1e-3
):
    r"""Batch normalization of each column of ``x`` over the batch.

    .. math::

        y_{ij} = \gamma_j \frac{x_{ij} - \mu_j}{\sqrt{\sigma^2_j + \epsilon}} + \beta_j

    Training: batch mean and biased variance, and in place
    ``running = momentum * running + (1 - momentum) * batch``.  Inference:
    the running statistics.

    Parameters
    ----------
    x, gamma, beta, running_mean, running_var, training, momentum, epsilon
        As in ``fastnn.functional.batch_norm_forward``.

    Returns
    -------
    y : (N, M) array
    cache : BatchNormCache
    """
    layer = (gamma, beta, running_mean, running_var)
    mode = (training, momentum, epsilon)
    return _forward("batch_norm_forward", x, layer, mode, (None, None, {}))


def batch_norm_backward(dy, cache):
    r"""Gradients of training-mode ``batch_norm_forward``.

    .. math::

        d\beta = \sum_i g_i, \quad d\gamma = \sum_i g_i \hat{x}_i, \quad
        dx = \frac{\gamma s}{N} \big(N g - d\beta - \hat{x}\, d\gamma\big)

    with ``g = dy``, ``s = 1 / sqrt(var + epsilon)``, ``xhat = (x - mean) s``.

    Returns
    -------
    dx : (N, M) array
    dgamma, dbeta : (M,) arrays
    """
    return _backward("batch_norm_backward", dy, cache)


def batch_norm_act_forward(
    x,
    gamma,
    beta,
    running_mean,
    running_var,
    activation="relu",
    training=True,
    momentum=0.99,
    epsilon=1e-3,
    **params,
):
    r"""Batch normalization, then an activation: :math:`y = f(\gamma \hat{x} + \beta)`.

    Parameters
    ----------
    x, gamma, beta, running_mean, running_var, training, momentum, epsilon
        As in ``batch_norm_forward``.
    activation : str
        A pointwise activation name (not ``"softmax"``).
    **params
        ``negative_slope`` for ``"leaky_relu"``.

    Returns
    -------
    y : (N, M) array
    cache : BatchNormCache
    """
    layer = (gamma, beta, running_mean, running_var)
    mode = (training, momentum, epsilon)
    placement = (None, _fusable(activation), params)
    return _forward("batch_norm_act_forward", x, layer, mode, placement)


def batch_norm_act_backward(dy, cache):
    """Gradients of ``batch_norm_act_forward``: ``batch_norm_backward`` with ``g = dy f'(y)``.

    Returns
    -------
    dx : (N, M) array
    dgamma, dbeta : (M,) arrays
    """
    return _backward("batch_norm_act_backward", dy, cache)


def act_batch_norm_forward(
    x,
    gamma,
    beta,
    running_mean,
    running_var,
    activation="relu",
    training=True,
    momentum=0.99,
    epsilon=1e-3,
    **params,
):
    r"""An activation, then batch normalization: :math:`a = f(x)`, :math:`y = BN(a)`.

    The statistics (and running statistics) are those of ``a``.  Arguments
    as in ``batch_norm_act_forward``.

    Returns
    -------
    y : (N, M) array
    cache : BatchNormCache
    """
    layer = (gamma, beta, running_mean, running_var)
    mode = (training, momentum, epsilon)
    placement = (_fusable(activation), None, params)
    return _forward("act_batch_norm_forward", x, layer, mode, placement)


def act_batch_norm_backward(dy, cache):
    """Gradients of ``act_batch_norm_forward``: ``batch_norm_backward`` of ``a``, times ``f'(a)``.

    Returns
    -------
    dx : (N, M) array
    dgamma, dbeta : (M,) arrays
    """
    return _backward("act_batch_norm_backward", dy, cache)
