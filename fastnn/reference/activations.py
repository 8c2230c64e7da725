"""Reference activations in plain NumPy: the specification for the kernels.

Every backward takes the forward *output* ``y``.  Results keep the input dtype.
"""

import numpy as np

from fastnn.kernels.scalar import NEGATIVE_SLOPE

__all__ = ["activation_forward", "activation_backward"]

NAMES = ("linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "elu", "selu")

#: elu's alpha (Keras's default) and selu's constants, from Klambauer et al.,
#: "Self-normalizing neural networks", NeurIPS 2017 (alpha_01 and lambda_01).
ELU_ALPHA = 1.0
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _negative_slope(name, params) -> float:
    """The leaky-relu slope from ``params`` (default ``NEGATIVE_SLOPE``, 0.2 as Keras).

    No activation takes another parameter.
    """
    name = "linear" if name is None else name
    if name not in NAMES:
        raise ValueError(f"activation must be one of {list(NAMES)}, got {name!r}")
    allowed = {"negative_slope"} if name == "leaky_relu" else set()
    unexpected = sorted(set(params) - allowed)
    if unexpected:
        raise TypeError(f"activation {name!r} takes no parameter(s) {unexpected}")
    slope = float(params.get("negative_slope", NEGATIVE_SLOPE))
    if not (np.isfinite(slope) and slope >= 0):
        raise ValueError(f"negative_slope must be finite and >= 0, got {slope}")
    return slope


def activation_forward(x, name, **params):
    """``y = f(x)``; softmax row-wise over axis 1.

    relu ``max(x, 0)``; leaky_relu ``x if x > 0 else negative_slope * x``;
    sigmoid ``1 / (1 + exp(-x))``; tanh; linear ``x``;
    softmax ``exp(x - max) / sum(exp(x - max))`` per row;
    elu ``x if x > 0 else alpha (exp(x) - 1)``; selu ``scale`` times the same
    with selu's own alpha (``expm1`` for ``exp - 1``).

    Non-finite values: NaN in, NaN out, for every activation; relu(-inf) = 0
    (and leaky_relu with slope 0), leaky_relu(-inf) = -inf for a positive
    slope, sigmoid(+-inf) = 1 and 0, tanh(+-inf) = +-1, elu(-inf) = -alpha
    (selu: -scale alpha).  A softmax row holding NaN or +inf, or only -inf,
    is NaN throughout; -inf entries of another row get probability 0 (a mask).
    """
    slope = _negative_slope(name, params)
    # NaN propagates (``~(x <= 0)`` is true for NaN); -inf gives 0 for relu and
    # for leaky relu with slope 0 (never ``0 * -inf``), -inf for a positive slope.
    if name == "relu":
        return np.where(~(x <= 0), x, 0).astype(x.dtype)
    if name == "leaky_relu":
        negative = slope * x if slope > 0 else np.zeros_like(x)
        return np.where(~(x <= 0), x, negative).astype(x.dtype)
    if name == "sigmoid":
        # exp(-|x|) <= 1 never overflows; pick the algebraically equal form per sign.
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)
    if name == "tanh":
        return np.tanh(x)
    if name in ("elu", "selu"):
        alpha, scale = (ELU_ALPHA, 1.0) if name == "elu" else (SELU_ALPHA, SELU_SCALE)
        # The negative branch only where x <= 0, so expm1 never overflows on large x.
        negative = alpha * np.expm1(np.minimum(x, 0))
        return (scale * np.where(x > 0, x, negative)).astype(x.dtype)
    if name == "softmax":
        with np.errstate(invalid="ignore"):  # inf - inf in a row holding +inf: NaN, as specified
            e = np.exp(x - x.max(axis=1, keepdims=True))
            return (e / e.sum(axis=1, keepdims=True, dtype=np.float64)).astype(x.dtype)
    return x.copy()


def activation_backward(dy, y, name, **params):
    """``dx = dy * f'(x)``, with ``f'`` written through the forward output ``y``.

    relu ``dy * (y > 0)``; leaky_relu ``dy`` if ``y > 0`` else
    ``negative_slope * dy``; sigmoid ``dy * y (1 - y)``; tanh ``dy (1 - y**2)``;
    linear ``dy``; softmax ``y * (dy - sum(dy * y))`` per row; elu ``dy`` if
    ``y > 0`` else ``dy (y + alpha)``; selu ``scale dy`` if ``y > 0`` else
    ``dy (y + scale alpha)`` (``y + alpha = alpha exp(x)`` where ``x <= 0``).
    """
    slope = _negative_slope(name, params)
    # ``dy * f'(y)``: a NaN ``y`` has a NaN derivative, and a non-finite ``dy``
    # stays non-finite (``inf * 0`` is NaN), so the guard sees it.
    if name == "relu":
        return (dy * np.where(y > 0, 1.0, np.where(y <= 0, 0.0, y))).astype(dy.dtype)
    if name == "leaky_relu":
        return (dy * np.where(y > 0, 1.0, np.where(y <= 0, slope, y))).astype(dy.dtype)
    if name == "sigmoid":
        return dy * y * (1 - y)
    if name == "tanh":
        return dy * (1 - y * y)
    if name in ("elu", "selu"):
        alpha, scale = (ELU_ALPHA, 1.0) if name == "elu" else (SELU_ALPHA, SELU_SCALE)
        return (dy * np.where(y > 0, scale, y + scale * alpha)).astype(dy.dtype)
    if name == "softmax":
        dot = np.sum(dy * y, axis=1, keepdims=True, dtype=np.float64)
        return (y * (dy - dot)).astype(dy.dtype)
    return dy.copy()
