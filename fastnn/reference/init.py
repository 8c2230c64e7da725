"""The NumPy reference for ``fastnn.init``: the same initializers, drawn from NumPy.

Same names and signatures as ``fastnn.init``, written as the formulas read.
The draws come from ``numpy.random.default_rng([seed, stream])``, so they
match ``fastnn.init`` in distribution, not in bits: tests use them to check
moments.  Truncated normals are drawn by plain rejection.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "zeros",
    "ones",
    "constant",
    "normal",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "xavier_normal",
    "xavier_uniform",
    "glorot_normal",
    "he_normal",
    "kaiming_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "compute_fans",
]

#: Standard deviation of N(0, 1) truncated to [-2, 2].
TRUNCATED_NORMAL_STD = 0.87962566103423978


def _generator(seed, stream) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def _finish(values: np.ndarray, dtype, out) -> np.ndarray:
    """``values`` cast to the dtype (float32 unless ``dtype``/``out`` say otherwise)."""
    if dtype is None:
        dtype = out.dtype if out is not None else np.float32
    if out is None:
        return values.astype(dtype)
    out[...] = values
    return out


def compute_fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)``: ``(shape[0], shape[1])`` for 2-D, ``(n, n)`` for ``(n,)``."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    raise ValueError(f"fan-based initializers need a 1-D or 2-D shape, got {shape}")


def constant(shape, value, *, seed=None, stream=0, dtype=None, out=None) -> np.ndarray:
    """Every element ``value``."""
    return _finish(np.full(shape, float(value)), dtype, out)


def zeros(shape, *, seed=None, stream=0, dtype=None, out=None) -> np.ndarray:
    """All zeros."""
    return constant(shape, 0.0, dtype=dtype, out=out)


def ones(shape, *, seed=None, stream=0, dtype=None, out=None) -> np.ndarray:
    """All ones."""
    return constant(shape, 1.0, dtype=dtype, out=out)


def normal(shape, std, mean=0.0, *, seed, stream=0, dtype=None, out=None) -> np.ndarray:
    """``N(mean, std**2)``."""
    return _finish(_generator(seed, stream).normal(mean, std, size=shape), dtype, out)


def truncated_normal(shape, std, mean=0.0, *, seed, stream=0, dtype=None, out=None) -> np.ndarray:
    """``N(mean, std**2)`` restricted to ``mean +- 2 std``, by redrawing what falls outside."""
    rng = _generator(seed, stream)
    z = rng.standard_normal(size=shape)
    outside = np.abs(z) > 2.0
    while outside.any():
        z[outside] = rng.standard_normal(size=int(outside.sum()))
        outside = np.abs(z) > 2.0
    return _finish(mean + std * z, dtype, out)


def uniform(
    shape, limit=None, *, low=None, high=None, seed, stream=0, dtype=None, out=None
) -> np.ndarray:
    """``U(-limit, limit)`` or ``U(low, high)``."""
    if limit is not None:
        low, high = -limit, limit
    return _finish(_generator(seed, stream).uniform(low, high, size=shape), dtype, out)


def variance_scaling(
    shape,
    scale=1.0,
    mode="fan_in",
    distribution="truncated_normal",
    *,
    seed,
    stream=0,
    dtype=None,
    out=None,
) -> np.ndarray:
    """Variance ``scale / n``, ``n`` = fan_in, fan_out or their mean.

    As Keras's ``VarianceScaling``: ``"normal"`` is the truncated normal,
    ``"untruncated_normal"`` the plain one.
    """
    fan_in, fan_out = compute_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    std = math.sqrt(scale / n)
    kwargs = dict(seed=seed, stream=stream, dtype=dtype, out=out)
    if distribution in ("truncated_normal", "normal"):
        return truncated_normal(shape, std / TRUNCATED_NORMAL_STD, **kwargs)
    if distribution == "uniform":
        return uniform(shape, math.sqrt(3 * scale / n), **kwargs)
    if distribution == "untruncated_normal":
        return normal(shape, std, **kwargs)
    raise ValueError(f"unknown distribution {distribution!r}")


def xavier_normal(shape, *, seed, stream=0, dtype=None, out=None) -> np.ndarray:
    """``N(0, 2 / (fan_in + fan_out))``, a plain normal (PyTorch's ``xavier_normal_``)."""
    fan_in, fan_out = compute_fans(shape)
    std = math.sqrt(2 / (fan_in + fan_out))
    return normal(shape, std, seed=seed, stream=stream, dtype=dtype, out=out)


def glorot_normal(shape, *, seed, stream=0, dtype=None, out=None) -> np.ndarray:
    """Keras's: variance ``2 / (fan_in + fan_out)`` from a normal truncated at 2 stds."""
    fan_in, fan_out = compute_fans(shape)
    std = math.sqrt(2 / (fan_in + fan_out)) / TRUNCATED_NORMAL_STD
    return truncated_normal(shape, std, seed=seed, stream=stream, dtype=dtype, out=out)


def xavier_uniform(shape, *, seed, stream=0, dtype=None, out=None) -> np.ndarray:
    """``U(-l, l)``, ``l = sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = compute_fans(shape)
    limit = math.sqrt(6 / (fan_in + fan_out))
    return uniform(shape, limit, seed=seed, stream=stream, dtype=dtype, out=out)


def he_normal(shape, *, seed, stream=0, dtype=None, out=None) -> np.ndarray:
    """Keras's: variance ``2 / fan_in`` from a normal truncated at 2 stds."""
    fan_in, _ = compute_fans(shape)
    std = math.sqrt(2 / fan_in) / TRUNCATED_NORMAL_STD
    return truncated_normal(shape, std, seed=seed, stream=stream, dtype=dtype, out=out)


def kaiming_normal(shape, *, seed, stream=0, dtype=None, out=None) -> np.ndarray:
    """``N(0, 2 / fan_in)``, a plain normal (PyTorch's ``kaiming_normal_``)."""
    fan_in, _ = compute_fans(shape)
    return normal(shape, math.sqrt(2 / fan_in), seed=seed, stream=stream, dtype=dtype, out=out)


def he_uniform(shape, *, seed, stream=0, dtype=None, out=None) -> np.ndarray:
    """``U(-l, l)``, ``l = sqrt(6 / fan_in)``."""
    fan_in, _ = compute_fans(shape)
    return uniform(shape, math.sqrt(6 / fan_in), seed=seed, stream=stream, dtype=dtype, out=out)


def lecun_normal(shape, *, seed, stream=0, dtype=None, out=None) -> np.ndarray:
    """Keras's: variance ``1 / fan_in`` from a normal truncated at 2 stds."""
    fan_in, _ = compute_fans(shape)
    std = math.sqrt(1 / fan_in) / TRUNCATED_NORMAL_STD
    return truncated_normal(shape, std, seed=seed, stream=stream, dtype=dtype, out=out)


def lecun_uniform(shape, *, seed, stream=0, dtype=None, out=None) -> np.ndarray:
    """``U(-l, l)``, ``l = sqrt(3 / fan_in)``."""
    fan_in, _ = compute_fans(shape)
    return uniform(shape, math.sqrt(3 / fan_in), seed=seed, stream=stream, dtype=dtype, out=out)
