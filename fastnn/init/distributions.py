"""The initializers' distributions: validation of shapes, dtypes and parameters, and one call
of the backend's fill kernels per initializer (constant, normal, truncated normal, uniform,
variance scaling).  The conventions are in ``fastnn.init``'s docstring.
"""

from __future__ import annotations

import math

import numpy as np

from fastnn._validation import (
    FLOAT_DTYPES,
    check_allocation,
    check_device_out,
    check_finite_scalar,
    check_out,
)
from fastnn.backend import get_backend

__all__ = [
    "zeros",
    "ones",
    "constant",
    "normal",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "compute_fans",
    "TRUNCATED_NORMAL_STD",
]

#: Standard deviation of a standard normal truncated to [-2, 2]; variance
#: scaling divides its target std by it (as Keras and JAX do) so the
#: truncated values have the target variance.
TRUNCATED_NORMAL_STD = 0.87962566103423978

#: Largest |z| a normal draw can reach: sqrt(-2 ln 2**-53) = 8.57 (float64;
#: float32 stops at 5.77).  Used to refuse parameters that would overflow.
_MAX_NORMAL_Z = 9.0

_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "normal", "untruncated_normal", "uniform")


# --- argument checks -------------------------------------------------------------


def _check_shape(shape) -> tuple[int, ...]:
    """``shape`` as a tuple of positive ints (an int means a 1-D shape)."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"shape must be an int or a tuple of ints, got {type(shape).__name__}")
    dims = []
    for d in shape:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
            raise TypeError(f"shape must contain ints, got {shape!r}")
        dims.append(int(d))
    if not dims:
        raise ValueError("shape must have at least one dimension, got ()")
    if any(d <= 0 for d in dims):
        raise ValueError(f"shape must have positive dimensions, got {tuple(dims)}")
    return tuple(dims)


def _check_uint64(name: str, value) -> np.uint64:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = int(value)
    if not 0 <= value < 2**64:
        raise ValueError(f"{name} must be in [0, 2**64), got {value}")
    return np.uint64(value)


def _resolve_dtype(dtype, out) -> np.dtype:
    """float32 unless ``dtype`` or ``out`` says otherwise; both must agree."""
    if dtype is None:
        # Any array on any device (NumPy, Numba, CuPy, torch) has a ``dtype``;
        # compared only when present, as NumPy reads ``dtype == None`` as float64.
        out_dtype = getattr(out, "dtype", None)
        if out_dtype is not None:
            try:
                if np.dtype(out_dtype) in FLOAT_DTYPES:
                    return np.dtype(out_dtype)
            except TypeError:
                pass
        return np.dtype(np.float32)
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if resolved not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {resolved}")
    return resolved


def _output(shape, dtype, out, device):
    """Validated ``(init kernels, array, flat view)``: ``out`` if given, else a new array.

    ``out`` must live on ``device``: a NumPy array on the CPU, a GPU array
    (``__cuda_array_interface__``) on CUDA.
    """
    backend = get_backend(device)
    shape = _check_shape(shape)
    dtype = _resolve_dtype(dtype, out)
    if out is None:
        check_allocation("shape", shape, dtype)  # before NumPy's "array is too big"
        array = backend.memory.empty(shape, dtype)
    elif backend.name == "cpu":
        array = check_out("out", out, shape, dtype)
    else:
        array = check_device_out("out", out, shape, dtype, device=backend.name)
    return backend.init, array, array.reshape(-1)


def _check_bound(names: str, magnitude: float, dtype: np.dtype) -> None:
    """Refuse parameters whose draws would overflow ``dtype``."""
    if magnitude > float(np.finfo(dtype).max):
        raise ValueError(f"{names} too large: values would overflow {dtype}")


# --- the fan computation ------------------------------------------------------------


def compute_fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape``.

    ``(n_in, n_out)`` -> ``(n_in, n_out)``; ``(n,)`` -> ``(n, n)`` (as
    Keras).  Other ranks have no agreed convention for a dense network and
    are refused.

    Raises
    ------
    TypeError, ValueError
        ``shape`` is not a 1-D or 2-D shape of positive ints.
    """
    shape = _check_shape(shape)
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    raise ValueError(f"fan-based initializers need a 1-D or 2-D shape (n_in, n_out), got {shape}")


# --- basic initializers ---------------------------------------------------------------


def constant(shape, value, *, seed=None, stream=0, dtype=None, out=None, device="cpu"):
    """Every element equal to ``value``.

    Breaks no symmetry: every unit of a layer computes the same function and
    gets the same gradient, so a constant weight matrix never learns distinct
    features.  Fine for biases (zero) and for demonstrating that failure.

    Parameters
    ----------
    shape : int or tuple of int
    value : float
        Finite.
    seed, stream : ignored
        Accepted so that every initializer can be called the same way.
    dtype : float32 or float64, optional
        Default float32, or ``out.dtype`` when ``out`` is given.
    out : ndarray, optional
        C-contiguous, writeable, of ``shape`` and ``dtype``; filled and returned.
        With ``device="cuda"``, any GPU array exposing ``__cuda_array_interface__``.
    device : {"cpu", "cuda", "auto"}
        Where the array lives (``fastnn.backend.get_backend``); default ``"cpu"``.

    Returns
    -------
    ndarray of ``shape``
        A NumPy array on the CPU, a device array on CUDA.

    Raises
    ------
    TypeError
        Non-integer shape, non-float dtype, non-real value, wrong ``out`` dtype,
        an ``out`` that does not live on ``device``, a non-string ``device``.
    ValueError
        Empty or non-positive shape, non-finite value, wrong ``out`` shape,
        an unknown ``device``.
    RuntimeError
        ``device="cuda"`` where CUDA cannot run (the message says why).
    """
    kernels, array, flat = _output(shape, dtype, out, device)
    value = check_finite_scalar("value", value)
    _check_bound("value", abs(value), array.dtype)
    kernels.fill_constant(flat, value)
    return array


def zeros(shape, *, seed=None, stream=0, dtype=None, out=None, device="cpu"):
    """All zeros: the right start for biases, the classic failure for weights.

    See ``constant`` (``value=0``) for the parameters.
    """
    return constant(shape, 0.0, dtype=dtype, out=out, device=device)


def ones(shape, *, seed=None, stream=0, dtype=None, out=None, device="cpu"):
    """All ones (e.g. a batch-norm scale).  See ``constant`` for the parameters."""
    return constant(shape, 1.0, dtype=dtype, out=out, device=device)


def normal(shape, std, mean=0.0, *, seed, stream=0, dtype=None, out=None, device="cpu"):
    """Normal draws: ``W ~ N(mean, std**2)``.

    Parameters
    ----------
    shape : int or tuple of int
    std : float
        Standard deviation, finite and >= 0.  No default, because frameworks
        disagree (PyTorch 1.0, Keras 0.05, JAX 0.01).
    mean : float
        Finite.
    seed : int
        In [0, 2**64).  Required: the point is reproducibility.
    stream : int
        In [0, 2**64); distinct streams give independent draws under one seed.
    dtype, out, device
        As in ``constant``.

    Returns
    -------
    ndarray of ``shape``

    Raises
    ------
    TypeError
        As in ``constant``; ``seed``/``stream`` not ints.
    ValueError
        As in ``constant``; ``std < 0``, non-finite ``std``/``mean``,
        ``seed``/``stream`` out of range, or values that would overflow ``dtype``.

    Notes
    -----
    Box-Muller on 24-bit (float32) or 53-bit (float64) uniforms: ``|z|`` is
    at most 5.77 (float32) or 8.57 (float64); the float32 tail beyond 5.77
    has probability 8e-9.
    """
    kernels, array, flat = _output(shape, dtype, out, device)
    std = check_finite_scalar("std", std, low=0.0)
    mean = check_finite_scalar("mean", mean)
    _check_bound("mean/std", abs(mean) + _MAX_NORMAL_Z * std, array.dtype)
    seed = _check_uint64("seed", seed)
    stream = _check_uint64("stream", stream)
    kernels.fill_normal(flat, seed, stream, 0, mean, std)
    return array


def truncated_normal(shape, std, mean=0.0, *, seed, stream=0, dtype=None, out=None, device="cpu"):
    """Normal draws truncated to ``mean +- 2 std`` (Keras ``TruncatedNormal``).

    ``std`` is the standard deviation of the normal *before* truncation, so
    the values have standard deviation ``TRUNCATED_NORMAL_STD * std`` (0.88);
    ``variance_scaling`` corrects for that.

    Parameters and errors as in ``normal``.

    Notes
    -----
    Each value inverts the normal CDF at a uniform on (Phi(-2), Phi(2)):
    ``z = sqrt(2) erfinv(erf(sqrt 2) v)``, ``v`` uniform on (-1, 1).  Unlike
    rejection, that needs exactly one random word per value, so the output
    stays a function of ``(seed, stream, i)``.  Rounding never takes a value
    outside ``mean +- 2 std``.
    """
    kernels, array, flat = _output(shape, dtype, out, device)
    std = check_finite_scalar("std", std, low=0.0)
    mean = check_finite_scalar("mean", mean)
    _check_bound("mean/std", abs(mean) + 2.0 * std, array.dtype)
    seed = _check_uint64("seed", seed)
    stream = _check_uint64("stream", stream)
    kernels.fill_truncated_normal(flat, seed, stream, 0, mean, std)
    return array


def uniform(
    shape, limit=None, *, low=None, high=None, seed, stream=0, dtype=None, out=None, device="cpu"
):
    """Uniform draws on ``[-limit, limit]``, or on ``[low, high]``.

    Parameters
    ----------
    shape : int or tuple of int
    limit : float, optional
        Finite, >= 0; the symmetric range.  Give either ``limit`` or both
        ``low`` and ``high``.
    low, high : float, optional
        Finite, ``low <= high``.
    seed, stream, dtype, out, device
        As in ``normal``.

    Returns
    -------
    ndarray of ``shape``

    Raises
    ------
    TypeError
        As in ``normal``; both or neither of ``limit`` and ``low``/``high``.
    ValueError
        As in ``normal``; ``limit < 0``, ``low > high``, non-finite bounds.

    Notes
    -----
    Values lie on the grid of 2**24 (float32) or 2**53 (float64) midpoints
    of the range, so a symmetric range gives an exactly symmetric, zero-mean
    distribution; rounding never leaves ``[low, high]``.
    """
    kernels, array, flat = _output(shape, dtype, out, device)
    if limit is not None:
        if low is not None or high is not None:
            raise TypeError("give either limit or low and high, not both")
        limit = check_finite_scalar("limit", limit, low=0.0)
        low, high = -limit, limit
    else:
        if low is None or high is None:
            raise TypeError("give either limit or both low and high")
        low = check_finite_scalar("low", low)
        high = check_finite_scalar("high", high, low=low)
    _check_bound("low/high", max(abs(low), abs(high)), array.dtype)
    seed = _check_uint64("seed", seed)
    stream = _check_uint64("stream", stream)
    kernels.fill_uniform(flat, seed, stream, 0, low, high)
    return array


# --- variance scaling and its named cases ----------------------------------------------


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
    device="cpu",
):
    r"""Draws with variance ``scale / n``, ``n`` the fan chosen by ``mode``.

    .. math::
        \sigma^2 = \frac{\text{scale}}{n}, \quad
        n = \text{fan\_in},\ \text{fan\_out}\ \text{or}\
        \frac{\text{fan\_in} + \text{fan\_out}}{2}

    ``truncated_normal`` (and ``normal``, as Keras reads it): a normal of std
    ``sigma / 0.8796`` truncated to 2 of its stds, which has std ``sigma``;
    ``untruncated_normal``: ``N(0, sigma**2)``; ``uniform``:
    ``U(-sqrt(3) sigma, sqrt(3) sigma)``.  Names, meanings and defaults as
    Keras's ``VarianceScaling``; every named initializer below is one case.

    Parameters
    ----------
    shape : int or tuple of int
        1-D or 2-D; see ``compute_fans``.
    scale : float
        Finite, > 0.
    mode : {"fan_in", "fan_out", "fan_avg"}
    distribution : {"truncated_normal", "normal", "untruncated_normal", "uniform"}
        ``"normal"`` is the truncated normal, as in Keras (which treats it as
        ``"truncated_normal"``); ``"untruncated_normal"`` is the plain normal.
    seed, stream, dtype, out, device
        As in ``normal``.

    Returns
    -------
    ndarray of ``shape``

    Raises
    ------
    TypeError, ValueError
        As in ``normal``; unknown ``mode``/``distribution``, ``scale <= 0``,
        a shape that is not 1-D or 2-D.
    """
    scale = check_finite_scalar("scale", scale, low=0.0, low_open=True)
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {list(_MODES)}, got {mode!r}")
    if distribution not in _DISTRIBUTIONS:
        raise ValueError(
            f"distribution must be one of {list(_DISTRIBUTIONS)}, got {distribution!r}"
        )
    fan_in, fan_out = compute_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
    std = math.sqrt(scale / n)
    kwargs = dict(seed=seed, stream=stream, dtype=dtype, out=out, device=device)
    if distribution in ("truncated_normal", "normal"):
        return truncated_normal(shape, std / TRUNCATED_NORMAL_STD, **kwargs)
    if distribution == "uniform":
        return uniform(shape, math.sqrt(3.0) * std, **kwargs)
    return normal(shape, std, **kwargs)
