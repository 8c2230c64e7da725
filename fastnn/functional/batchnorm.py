r"""Batch normalization, alone or fused with a pointwise activation.

Each feature (column) is normalized over the batch (rows):

.. math::

    y = \gamma \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta

with the batch mean and the *biased* batch variance in training mode, and the
running statistics in inference mode.  Three placements share one kernel
family (the CPU backend's ``batchnorm`` module):

- ``batch_norm_forward``: plain BN;
- ``batch_norm_act_forward``: BN, then the activation, ``y = act(BN(x))``;
- ``act_batch_norm_forward``: the activation, then BN, ``y = BN(act(x))``.
  This is the recommended placement: the normalized values feed the next
  layer directly.

Softmax is not pointwise and cannot be fused.

Conventions (Keras)
-------------------
``momentum=0.99``, ``epsilon=1e-3``; in training mode the running statistics
are updated in place as ``running = momentum * running + (1 - momentum) *
batch``, with the biased variance.  PyTorch's ``BatchNorm1d`` differs in
three ways: its ``momentum`` is the weight of the *new* value (torch
``momentum = 1 - keras momentum``, 0.1 by default), its ``running_var`` is
updated with the unbiased variance ``var * n / (n - 1)``, and its default
``eps`` is ``1e-5``.  The normalization itself uses the biased variance in
both.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from fastnn._validation import (
    check_activation_member,
    check_bool,
    check_cache_array,
    check_finite_scalar,
    check_float_array,
    check_out,
    check_separate,
)
from fastnn.functional._backend import BACKEND
from fastnn.functional.activations import activation_args
from fastnn.kernels.scalar import Activation

__all__ = [
    "batch_norm_forward",
    "batch_norm_backward",
    "batch_norm_act_forward",
    "batch_norm_act_backward",
    "act_batch_norm_forward",
    "act_batch_norm_backward",
]


class BatchNormCache(NamedTuple):
    """What a forward call hands to its backward call.

    It holds references, not copies: ``x`` (as ``a`` for no pre activation)
    must not be modified before the backward call.
    """

    forward: str  # name of the forward function that made this cache
    training: bool
    a: np.ndarray  # the normalized layer's input: x, or act(x) for act -> BN
    y: np.ndarray
    gamma: np.ndarray
    mean: np.ndarray  # batch mean (training) or running mean (inference)
    invstd: np.ndarray  # 1 / sqrt(var + epsilon)
    pre_code: Activation
    post_code: Activation
    negative_slope: float


def _activation(activation, params: dict) -> tuple[Activation, float]:
    """Kernel code and leaky-relu slope for a fused activation (not softmax)."""
    if isinstance(activation, str) and activation == "softmax":
        raise ValueError(
            "activation 'softmax' cannot be fused with batch normalization: it is not "
            "pointwise; apply it separately"
        )
    return activation_args(activation, params)


def _forward(forward, x, layer, mode, codes):
    """Validate, allocate and call the training or inference kernel."""
    gamma, beta, running_mean, running_var = layer
    training, momentum, epsilon = mode
    pre_code, post_code, negative_slope = codes
    kernel_codes = (int(pre_code), int(post_code), negative_slope)
    memory = BACKEND.memory
    x = check_float_array("x", x, ndim=2)
    n, m = x.shape
    dtype = x.dtype
    gamma = check_float_array("gamma", gamma, shape=(m,), dtype=dtype)
    beta = check_float_array("beta", beta, shape=(m,), dtype=dtype)
    training = check_bool("training", training)
    momentum = check_finite_scalar("momentum", momentum, low=0.0, high=1.0)
    epsilon = check_finite_scalar("epsilon", epsilon, low=0.0, low_open=True)
    y = memory.empty(x.shape, dtype)
    if not training:
        running_mean = check_float_array("running_mean", running_mean, shape=(m,), dtype=dtype)
        running_var = check_float_array("running_var", running_var, shape=(m,), dtype=dtype)
        _check_running(running_mean, running_var)
        BACKEND.batchnorm.batch_norm_forward_infer(
            x, gamma, beta, running_mean, running_var, epsilon, *kernel_codes, y,
            BACKEND.workspace(1, m),
        )  # fmt: skip
        cache = BatchNormCache(
            forward, False, None, y, gamma, running_mean, None, pre_code, post_code, negative_slope
        )
        return y, cache
    # Updated in place, so they are never copied: check, don't convert.
    running_mean = check_out("running_mean", running_mean, (m,), dtype)
    running_var = check_out("running_var", running_var, (m,), dtype)
    _check_running(running_mean, running_var)
    # The running statistics are written while x, gamma and beta are read.
    check_separate(running_mean=running_mean, running_var=running_var, x=x, gamma=gamma, beta=beta)
    if n < 2:
        raise ValueError(
            f"training-mode batch normalization needs at least 2 rows to compute batch "
            f"statistics, got x with shape {x.shape}"
        )
    if not x.flags.writeable:
        # The kernel is compiled with a write to `a`, which is `x` for no pre
        # activation; Numba cannot compile that for a read-only array.
        x = x.copy()
    a = x if pre_code == Activation.LINEAR else memory.empty(x.shape, dtype)
    mean = memory.empty((m,), dtype)
    invstd = memory.empty((m,), dtype)
    work = BACKEND.workspace(n, m)
    # O(m) copies, so that a batch with NaN/Inf (or a variance beyond the
    # dtype's range) cannot leave its mark on the running statistics.
    before = (running_mean.copy(), running_var.copy())
    BACKEND.batchnorm.batch_norm_forward_train(
        x,
        gamma,
        beta,
        running_mean,
        running_var,
        momentum,
        epsilon,
        *kernel_codes,
        a,
        y,
        mean,
        invstd,
        work,
    )
    _undo_non_finite(x, (running_mean, running_var), before)
    cache = BatchNormCache(
        forward, True, a, y, gamma, mean, invstd, pre_code, post_code, negative_slope
    )
    return y, cache


def _check_running(running_mean: np.ndarray, running_var: np.ndarray) -> None:
    """The running statistics must be finite and the variance ``>= 0`` (O(m), NaN fails)."""
    if not np.isfinite(running_mean).all():
        j = int(np.flatnonzero(~np.isfinite(running_mean))[0])
        raise ValueError(f"running_mean must be finite, got running_mean[{j}] = {running_mean[j]}")
    bad = ~(np.isfinite(running_var) & (running_var >= 0))
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"running_var must be finite and >= 0, got running_var[{j}] = {running_var[j]}"
        )


def _undo_non_finite(x: np.ndarray, running: tuple, before: tuple) -> None:
    """Restore the running statistics and raise if the update made any of them non-finite.

    A NaN or Inf in a column of ``x`` (or of ``act(x)``) makes that column's
    batch mean non-finite; finite values whose variance exceeds the dtype's
    range make the running variance Inf.  Both show in the updated running
    statistics, so checking those (O(m)) catches every case without a pass
    over ``x`` on the normal path.
    """
    running_mean, running_var = running
    bad = ~(np.isfinite(running_mean) & np.isfinite(running_var))
    if not bad.any():
        return
    running_mean[...], running_var[...] = before
    j = int(np.flatnonzero(bad)[0])
    if not np.isfinite(x[:, j]).all():
        i = int(np.flatnonzero(~np.isfinite(x[:, j]))[0])
        raise ValueError(
            f"x must be finite in training mode, got x[{i}, {j}] = {x[i, j]}; "
            "the running statistics were left unchanged"
        )
    raise ValueError(
        f"the batch statistics of column {j} of x overflow {x.dtype} (its values are too "
        "large to normalize); the running statistics were left unchanged"
    )


#: The activation placements each forward function may store in its cache.
_PLACEMENTS = {
    "batch_norm_forward": (False, False),  # (pre activation allowed, post activation allowed)
    "batch_norm_act_forward": (False, True),
    "act_batch_norm_forward": (True, False),
}


def _check_cache(forward: str, cache: BatchNormCache):
    """Every array and scalar of a training-mode cache, checked against each other.

    A cache is a plain tuple a caller can edit; the kernel trusts its shapes
    (a ``y`` with more rows than ``a`` would be read out of bounds), so each
    array must have the shape, dtype and C order the forward pass gave it,
    and each code must be an activation this forward function fuses.
    """
    y = cache.y
    dtype = getattr(y, "dtype", None)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"cache.y must be a float32 or float64 ndarray, got {type(y).__name__}")
    y = check_cache_array("cache.y", y, shape=(None, None), dtype=dtype)
    n, m = y.shape
    a = check_cache_array("cache.a", cache.a, shape=(n, m), dtype=dtype)
    gamma = check_cache_array("cache.gamma", cache.gamma, shape=(m,), dtype=dtype)
    mean = check_cache_array("cache.mean", cache.mean, shape=(m,), dtype=dtype)
    invstd = check_cache_array("cache.invstd", cache.invstd, shape=(m,), dtype=dtype)
    pre_code = check_activation_member("cache.pre_code", cache.pre_code, allow_softmax=False)
    post_code = check_activation_member("cache.post_code", cache.post_code, allow_softmax=False)
    pre_allowed, post_allowed = _PLACEMENTS[forward]
    for label, code, allowed in (("pre", pre_code, pre_allowed), ("post", post_code, post_allowed)):
        if code != Activation.LINEAR and not allowed:
            raise ValueError(
                f"cache.{label}_code must be LINEAR in a cache from {forward}, "
                f"got {Activation(code).name}"
            )
    negative_slope = check_finite_scalar("cache.negative_slope", cache.negative_slope, low=0.0)
    return a, y, gamma, mean, invstd, pre_code, post_code, negative_slope


def _backward(backward, dy, cache):
    """Validate the cache and ``dy``, allocate and call the backward kernel."""
    if not isinstance(cache, BatchNormCache):
        raise TypeError(
            f"cache must be the BatchNormCache returned by a forward function, "
            f"got {type(cache).__name__}"
        )
    forward = backward.replace("backward", "forward")
    if cache.forward != forward:
        raise ValueError(
            f"cache comes from {cache.forward}; pass it to "
            f"{cache.forward.replace('forward', 'backward')}, not {backward}"
        )
    if not check_bool("cache.training", cache.training):
        raise ValueError(
            f"{backward} needs a cache from a training-mode forward (training=True); "
            f"inference-mode batch normalization has no backward pass here"
        )
    a, y, gamma, mean, invstd, pre_code, post_code, negative_slope = _check_cache(forward, cache)
    dy = check_float_array("dy", dy, shape=y.shape, dtype=y.dtype)
    n, m = y.shape
    memory = BACKEND.memory
    dx = memory.empty(y.shape, y.dtype)
    dgamma = memory.empty((m,), y.dtype)
    dbeta = memory.empty((m,), y.dtype)
    work = BACKEND.workspace(n, m)
    BACKEND.batchnorm.batch_norm_backward(
        dy,
        a,
        y,
        gamma,
        mean,
        invstd,
        pre_code,
        post_code,
        negative_slope,
        dx,
        dgamma,
        dbeta,
        work,
    )
    return dx, dgamma, dbeta


def batch_norm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    training: bool = True,
    momentum: float = 0.99,
    epsilon: float = 1e-3,
) -> tuple[np.ndarray, BatchNormCache]:
    r"""Batch normalization of each column of ``x`` over the batch.

    .. math::

        y_{ij} = \gamma_j \frac{x_{ij} - \mu_j}{\sqrt{\sigma^2_j + \epsilon}} + \beta_j

    Training: ``mu`` and ``sigma2`` are the batch mean and biased variance,
    and ``running_mean``, ``running_var`` are updated in place,
    ``running = momentum * running + (1 - momentum) * batch``.  Inference:
    ``mu = running_mean``, ``sigma2 = running_var``.

    Parameters
    ----------
    x : (N, M) float32 or float64 array
        The batch; ``N >= 2`` in training mode.
    gamma, beta : (M,) arrays of ``x``'s dtype
        Scale and shift.
    running_mean, running_var : (M,) arrays of ``x``'s dtype
        Moving statistics, finite, ``running_var >= 0``; C-contiguous and
        writeable in training mode, where they are updated in place and so
        must not share memory with each other, ``x``, ``gamma`` or ``beta``
        (checked).  In inference mode nothing is written but the new ``y``,
        so the inputs may alias each other.
    training : bool
        Use (and update) batch statistics, or use the running ones.
    momentum : float
        In ``[0, 1]``; the weight of the old running value (Keras convention;
        PyTorch's ``momentum`` is ``1 - momentum``).
    epsilon : float
        ``> 0``, added to the variance.

    Returns
    -------
    y : (N, M) array
    cache : BatchNormCache
        For ``batch_norm_backward`` (training mode only).

    Raises
    ------
    TypeError
        Non-array or non-float inputs, mixed dtypes, a non-bool ``training``.
    ValueError
        Wrong shapes, ``N < 2`` in training mode, ``momentum`` outside
        ``[0, 1]``, ``epsilon <= 0``, non-contiguous or read-only running
        arrays in training mode, a non-finite running statistic or a
        negative running variance, running arrays sharing memory with an
        input in training mode, or (training mode) a non-finite ``x`` or a
        batch variance beyond the dtype's range: then the running statistics
        are left exactly as they were.

    Notes
    -----
    Statistics are accumulated in float64 (per-block two-pass, merged in a
    fixed order), so they are accurate even for a large common offset and
    identical for any thread count.  PyTorch's ``BatchNorm1d`` updates
    ``running_var`` with the unbiased variance and defaults to ``eps=1e-5``.

    References
    ----------
    S. Ioffe, C. Szegedy, "Batch normalization: accelerating deep network
    training by reducing internal covariate shift", ICML 2015.
    """
    codes = (Activation.LINEAR, Activation.LINEAR, 0.0)
    layer = (gamma, beta, running_mean, running_var)
    mode = (training, momentum, epsilon)
    return _forward("batch_norm_forward", x, layer, mode, codes)


def batch_norm_backward(
    dy: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients of training-mode ``batch_norm_forward``.

    With :math:`\hat{x} = (x - \mu) / \sqrt{\sigma^2 + \epsilon}`:

    .. math::

        d\beta = \sum_i dy_i, \quad d\gamma = \sum_i dy_i \hat{x}_i, \quad
        dx = \frac{\gamma}{N \sqrt{\sigma^2 + \epsilon}}
             \big(N\,dy - d\beta - \hat{x}\,d\gamma\big)

    Parameters
    ----------
    dy : (N, M) array
        Gradient of the loss with respect to ``y``, same dtype.
    cache : BatchNormCache
        From ``batch_norm_forward(..., training=True)``.

    Returns
    -------
    dx : (N, M) array
    dgamma, dbeta : (M,) arrays

    Raises
    ------
    TypeError
        ``cache`` is not a ``BatchNormCache``, or ``dy`` has the wrong dtype.
    ValueError
        The cache comes from another forward function or from inference
        mode, or ``dy`` has the wrong shape.
    """
    return _backward("batch_norm_backward", dy, cache)


def batch_norm_act_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    activation: str = "relu",
    training: bool = True,
    momentum: float = 0.99,
    epsilon: float = 1e-3,
    **params,
) -> tuple[np.ndarray, BatchNormCache]:
    r"""Batch normalization followed by a pointwise activation, in one pass.

    .. math::

        y = f\big(\gamma \hat{x} + \beta\big), \quad
        \hat{x} = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}

    Parameters
    ----------
    x, gamma, beta, running_mean, running_var, training, momentum, epsilon
        As in ``batch_norm_forward``.
    activation : str
        ``"linear"``, ``"relu"``, ``"leaky_relu"``, ``"sigmoid"`` or ``"tanh"``.
    **params
        ``negative_slope`` for ``"leaky_relu"`` (default 0.2 as in Keras, ``>= 0``).

    Returns
    -------
    y : (N, M) array
    cache : BatchNormCache
        For ``batch_norm_act_backward``.

    Raises
    ------
    TypeError, ValueError
        As in ``batch_norm_forward``; also an unknown activation, ``"softmax"``
        (not pointwise), an unknown parameter or a negative ``negative_slope``.
    """
    code, slope = _activation(activation, params)
    layer = (gamma, beta, running_mean, running_var)
    mode = (training, momentum, epsilon)
    return _forward("batch_norm_act_forward", x, layer, mode, (Activation.LINEAR, code, slope))


def batch_norm_act_backward(
    dy: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients of training-mode ``batch_norm_act_forward``.

    ``g = dy * f'(y)`` (the derivative taken from the output ``y``), then the
    ``batch_norm_backward`` formulas with ``g`` in place of ``dy``.

    Parameters
    ----------
    dy : (N, M) array
    cache : BatchNormCache
        From ``batch_norm_act_forward(..., training=True)``.

    Returns
    -------
    dx : (N, M) array
    dgamma, dbeta : (M,) arrays

    Raises
    ------
    TypeError, ValueError
        As in ``batch_norm_backward``.
    """
    return _backward("batch_norm_act_backward", dy, cache)


def act_batch_norm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    activation: str = "relu",
    training: bool = True,
    momentum: float = 0.99,
    epsilon: float = 1e-3,
    **params,
) -> tuple[np.ndarray, BatchNormCache]:
    r"""A pointwise activation followed by batch normalization, in one pass.

    .. math::

        a = f(x), \quad y = \gamma \frac{a - \mu_a}{\sqrt{\sigma^2_a + \epsilon}} + \beta

    with the statistics (and the running statistics) of ``a``.  The
    recommended placement: the next layer receives normalized values.
    Arguments, returns and errors as in ``batch_norm_act_forward``; the cache
    holds ``a`` for ``act_batch_norm_backward``.
    """
    code, slope = _activation(activation, params)
    layer = (gamma, beta, running_mean, running_var)
    mode = (training, momentum, epsilon)
    return _forward("act_batch_norm_forward", x, layer, mode, (code, Activation.LINEAR, slope))


def act_batch_norm_backward(
    dy: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients of training-mode ``act_batch_norm_forward``.

    The ``batch_norm_backward`` formulas with ``a = f(x)`` as the normalized
    input, then ``dx = f'(a) * da`` (the derivative taken from the output ``a``).

    Parameters
    ----------
    dy : (N, M) array
    cache : BatchNormCache
        From ``act_batch_norm_forward(..., training=True)``.

    Returns
    -------
    dx : (N, M) array
    dgamma, dbeta : (M,) arrays

    Raises
    ------
    TypeError, ValueError
        As in ``batch_norm_backward``.
    """
    return _backward("act_batch_norm_backward", dy, cache)
