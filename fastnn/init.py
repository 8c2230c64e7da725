"""Weight initializers drawn from a counter-based generator (Philox4x32-10).

Responsibility: the initializers' names, fans and parameters, validated,
turned into one call of the backend's fill kernels.

Every random initializer is ``name(shape, ..., *, seed, stream=0, dtype=None,
out=None, device="cpu")`` and returns an array of ``shape``.  Element ``i``
(C order) is a function of ``(seed, stream, i)`` and the dtype alone, so the
same seed gives bitwise the same weights on any number of threads, and a
tensor filled in pieces equals one filled at once; give each tensor of a
network its own ``stream`` (or seed).

``device`` picks the backend (``fastnn.backend.get_backend``): ``"cpu"``
returns a NumPy array; ``"cuda"`` a device array filled on the GPU by the same
generator (``out`` may then be any GPU array exposing
``__cuda_array_interface__``).  The kernels are the backend's ``init`` module;
the generator and the transforms are in ``fastnn.kernels.scalar``, shared by
both.

Conventions
-----------
``shape`` is ``(n_in, n_out)``, the way a dense layer stores ``W`` for
``y = x @ W + b`` (as Keras): ``fan_in = shape[0]``, ``fan_out = shape[1]``.
PyTorch stores ``(out, in)`` and reads ``fan_in`` from ``shape[1]``; the
formulas are the same.  For a 1-D shape (a bias) ``fan_in = fan_out =
shape[0]``, as Keras does.

Which normal each named initializer draws.  The names follow the library
they come from, so a user of either gets what that library gives:

==================  ======================================  ===================
name                distribution                            convention
==================  ======================================  ===================
``glorot_normal``   truncated normal, variance 2/(in+out)   Keras
``he_normal``       truncated normal, variance 2/in         Keras
``lecun_normal``    truncated normal, variance 1/in         Keras
``xavier_normal``   plain normal, variance 2/(in+out)       PyTorch
``kaiming_normal``  plain normal, variance 2/in             PyTorch
==================  ======================================  ===================

Keras's truncated normals are ``variance_scaling(..., distribution=
"truncated_normal")``: a normal of std ``sqrt(scale / fan) / 0.8796`` cut at
2 of its stds, which has std ``sqrt(scale / fan)``.  As in Keras's
``VarianceScaling``, ``distribution="normal"`` means that truncated normal
too, and ``"untruncated_normal"`` is the plain one.  The uniform variants
(``glorot_uniform`` = ``xavier_uniform``, ``he_uniform`` =
``kaiming_uniform``, ``lecun_uniform``) are the same in both libraries.

The variance ``1/n_in``, which some texts call "Xavier normal", is
``lecun_normal``'s here; ``xavier_normal`` and ``glorot_normal`` have Glorot &
Bengio's ``2/(n_in + n_out)``, as in PyTorch and Keras.

The choices a tutorial warns against stay expressible: ``zeros``,
``constant(value)``, and ``normal``/``uniform`` with a very small or very
large ``std``/``limit``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

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
    "xavier_normal",
    "xavier_uniform",
    "glorot_normal",
    "he_normal",
    "kaiming_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "compute_fans",
    "get",
    "INITIALIZERS",
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


def xavier_normal(shape, *, seed, stream=0, dtype=None, out=None, device="cpu"):
    """Glorot/Xavier normal: ``N(0, 2 / (fan_in + fan_out))``, for tanh and sigmoid.

    Keeps the variance of activations (forward) and of gradients (backward)
    roughly constant for symmetric saturating activations near 0.
    PyTorch's convention: a plain (untruncated) normal, as its
    ``xavier_normal_``; Keras's ``glorot_normal`` is the truncated variant
    with the same variance.  ``N(0, 1 / fan_in)`` is ``lecun_normal``'s
    variance, not this.

    ``variance_scaling(shape, 1.0, "fan_avg", "untruncated_normal")``;
    parameters as in ``normal``.

    References
    ----------
    X. Glorot, Y. Bengio, "Understanding the difficulty of training deep
    feedforward neural networks", AISTATS 2010.
    """
    where = dict(seed=seed, stream=stream, dtype=dtype, out=out, device=device)
    return variance_scaling(shape, 1.0, "fan_avg", "untruncated_normal", **where)


def glorot_normal(shape, *, seed, stream=0, dtype=None, out=None, device="cpu"):
    """Keras's Glorot normal: variance ``2 / (fan_in + fan_out)``, truncated normal.

    Keras's convention: a normal of std ``sqrt(2 / (fan_in + fan_out)) /
    0.8796`` truncated to 2 of its stds (which brings the std back to
    ``sqrt(2 / (fan_in + fan_out))``), as ``keras.initializers.GlorotNormal``.
    PyTorch's plain-normal ``xavier_normal_`` is ``xavier_normal``.

    ``variance_scaling(shape, 1.0, "fan_avg", "truncated_normal")``;
    parameters as in ``normal``.  Reference as ``xavier_normal``.
    """
    where = dict(seed=seed, stream=stream, dtype=dtype, out=out, device=device)
    return variance_scaling(shape, 1.0, "fan_avg", "truncated_normal", **where)


def xavier_uniform(shape, *, seed, stream=0, dtype=None, out=None, device="cpu"):
    """Glorot/Xavier uniform: ``U(-l, l)``, ``l = sqrt(6 / (fan_in + fan_out))``, for tanh/sigmoid.

    Variance ``2 / (fan_in + fan_out)``; Keras's default kernel initializer
    (``glorot_uniform``, an alias), and PyTorch's ``xavier_uniform_``: both
    libraries agree on the uniform variants.
    ``variance_scaling(shape, 1.0, "fan_avg", "uniform")``; parameters as in
    ``normal``.  Reference as ``xavier_normal``.
    """
    where = dict(seed=seed, stream=stream, dtype=dtype, out=out, device=device)
    return variance_scaling(shape, 1.0, "fan_avg", "uniform", **where)


def he_normal(shape, *, seed, stream=0, dtype=None, out=None, device="cpu"):
    """Keras's He normal: variance ``2 / fan_in``, truncated normal, for relu and leaky relu.

    relu zeroes half of its inputs, halving the second moment; the factor 2
    restores it so activations keep their scale through depth.  Keras's
    convention: a normal of std ``sqrt(2 / fan_in) / 0.8796`` truncated to 2
    of its stds, as ``keras.initializers.HeNormal``.  PyTorch's plain-normal
    ``kaiming_normal_`` is ``kaiming_normal``.
    ``variance_scaling(shape, 2.0, "fan_in", "truncated_normal")``;
    parameters as in ``normal``.

    References
    ----------
    K. He, X. Zhang, S. Ren, J. Sun, "Delving deep into rectifiers:
    surpassing human-level performance on ImageNet classification", ICCV 2015.
    """
    where = dict(seed=seed, stream=stream, dtype=dtype, out=out, device=device)
    return variance_scaling(shape, 2.0, "fan_in", "truncated_normal", **where)


def kaiming_normal(shape, *, seed, stream=0, dtype=None, out=None, device="cpu"):
    """PyTorch's Kaiming normal: ``N(0, 2 / fan_in)``, a plain normal, for relu.

    PyTorch's convention: ``kaiming_normal_`` with mode fan_in and the relu
    gain, an untruncated normal.  Keras's truncated variant is ``he_normal``.
    The default kernel initializer of ``Dense`` for relu and leaky relu.
    ``variance_scaling(shape, 2.0, "fan_in", "untruncated_normal")``;
    parameters as in ``normal``.  Reference as ``he_normal``.
    """
    where = dict(seed=seed, stream=stream, dtype=dtype, out=out, device=device)
    return variance_scaling(shape, 2.0, "fan_in", "untruncated_normal", **where)


def he_uniform(shape, *, seed, stream=0, dtype=None, out=None, device="cpu"):
    """He/Kaiming uniform: ``U(-l, l)``, ``l = sqrt(6 / fan_in)``, for relu.

    Variance ``2 / fan_in``; Keras's ``he_uniform`` and PyTorch's
    ``kaiming_uniform_`` (an alias here) agree.  ``variance_scaling(shape,
    2.0, "fan_in", "uniform")``; parameters as in ``normal``.  Reference as
    ``he_normal``.
    """
    where = dict(seed=seed, stream=stream, dtype=dtype, out=out, device=device)
    return variance_scaling(shape, 2.0, "fan_in", "uniform", **where)


def lecun_normal(shape, *, seed, stream=0, dtype=None, out=None, device="cpu"):
    """Keras's LeCun normal: variance ``1 / fan_in``, truncated normal, for selu (and linear, tanh).

    Unit variance of pre-activations for unit-variance inputs; the formula
    some texts call "Xavier normal".  With ``selu`` it is the
    self-normalizing pairing of Klambauer et al. (2017), and the default of
    ``Dense(activation="selu")``.  Keras's convention (PyTorch has no
    ``lecun_normal``): a normal of std ``sqrt(1 / fan_in) / 0.8796``
    truncated to 2 of its stds, as ``keras.initializers.LecunNormal``; the
    plain normal is ``variance_scaling(shape, 1.0, "fan_in",
    "untruncated_normal")``.  This is ``variance_scaling(shape, 1.0,
    "fan_in", "truncated_normal")``; parameters as in ``normal``.

    References
    ----------
    Y. LeCun, L. Bottou, G. Orr, K.-R. Mueller, "Efficient BackProp", in
    Neural Networks: Tricks of the Trade, 1998.
    """
    where = dict(seed=seed, stream=stream, dtype=dtype, out=out, device=device)
    return variance_scaling(shape, 1.0, "fan_in", "truncated_normal", **where)


def lecun_uniform(shape, *, seed, stream=0, dtype=None, out=None, device="cpu"):
    """LeCun uniform: ``U(-l, l)``, ``l = sqrt(3 / fan_in)``, for linear/tanh/selu.

    Variance ``1 / fan_in``, as Keras's ``lecun_uniform``.
    ``variance_scaling(shape, 1.0, "fan_in", "uniform")``; parameters as in
    ``normal``.
    """
    where = dict(seed=seed, stream=stream, dtype=dtype, out=out, device=device)
    return variance_scaling(shape, 1.0, "fan_in", "uniform", **where)


# --- lookup by name -----------------------------------------------------------------------

#: Initializers by name.  ``get`` also accepts the aliases in ``_ALIASES``.
INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {
    "zeros": zeros,
    "ones": ones,
    "constant": constant,
    "normal": normal,
    "truncated_normal": truncated_normal,
    "uniform": uniform,
    "variance_scaling": variance_scaling,
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "glorot_normal": glorot_normal,
    "he_normal": he_normal,
    "kaiming_normal": kaiming_normal,
    "he_uniform": he_uniform,
    "lecun_normal": lecun_normal,
    "lecun_uniform": lecun_uniform,
}

#: Names of the same initializer in both libraries' spellings (the uniform ones
#: agree; the normal ones do not, and each has its own function above).
_ALIASES = {
    "glorot_uniform": "xavier_uniform",
    "kaiming_uniform": "he_uniform",
}


def get(identifier, **params) -> Callable[..., np.ndarray]:
    """The initializer called ``identifier``, or ``identifier`` itself if callable.

    ``params`` are bound with ``functools.partial``: ``get("normal",
    std=0.01)(shape, seed=0)``.  Names: the keys of ``INITIALIZERS`` plus
    ``glorot_uniform`` and ``kaiming_uniform`` (aliases of ``xavier_uniform``
    and ``he_uniform``).  ``glorot_normal``/``he_normal``/``lecun_normal``
    are Keras's truncated normals, ``xavier_normal``/``kaiming_normal``
    PyTorch's plain ones (see the module docstring).

    Raises
    ------
    TypeError
        ``identifier`` is neither a string nor callable.
    ValueError
        Unknown name; the message lists the valid ones.
    """
    if isinstance(identifier, str):
        name = _ALIASES.get(identifier, identifier)
        if name not in INITIALIZERS:
            valid = sorted(INITIALIZERS) + sorted(_ALIASES)
            raise ValueError(f"unknown initializer {identifier!r}; valid names: {valid}")
        func = INITIALIZERS[name]
    elif callable(identifier):
        func = identifier
    else:
        raise TypeError(
            f"initializer must be a name or a callable, got {type(identifier).__name__}"
        )
    return functools.partial(func, **params) if params else func
