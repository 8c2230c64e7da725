"""The named initializers (Glorot/Xavier, He/Kaiming, LeCun) as one-line calls of
``variance_scaling``, the registry of every initializer by name, and ``get``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from fastnn.init.distributions import (
    constant,
    normal,
    ones,
    truncated_normal,
    uniform,
    variance_scaling,
    zeros,
)

__all__ = [
    "xavier_normal",
    "xavier_uniform",
    "glorot_normal",
    "he_normal",
    "kaiming_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "get",
    "INITIALIZERS",
]


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
