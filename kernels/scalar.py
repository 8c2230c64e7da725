"""Per-element maths written once, compiled for every backend.

Responsibility: every formula a kernel applies to one element (or one column
constant): activations and their derivatives, the optimizer updates, the
per-element losses, the batch-normalization affine step and its gradient,
Philox4x32-10 and the transforms of its words to floats.  The kernels in
``fastnn.kernels.cpu`` and ``fastnn.kernels.cuda`` differ only in how they
loop and reduce; neither writes one of these formulas again.

Every function here is a plain ``@njit`` scalar function: integer and float
arithmetic and the ``math`` module only (NumPy names appear only as scalar
type casts and the bit cast of ``exp_f64``'s power of two), no
allocation, so the CPU kernels inline them into their loops and the CUDA
kernels compile the very same functions for the device.

Activations are selected by an integer code so that one compiled kernel serves
all of them; the code is loop-invariant, so LLVM hoists the branch out of the
element loop.

Every pointwise activation's derivative is written in terms of its *output*
``y = f(z)``: relu and leaky relu (with a non-negative slope) through the sign
of ``y``, sigmoid through ``y (1 - y)``, tanh through ``1 - y**2``, elu
through ``y + alpha`` (``alpha exp(z)``) where ``y <= 0``, selu through
``y + scale alpha`` there.  Backward passes therefore never need the
pre-activation ``z``.
"""

import enum
import math
from decimal import Decimal, localcontext

import numpy as np
from numba import njit


class Activation(enum.IntEnum):
    """Activation codes as kernels receive them (one compiled kernel serves every activation)."""

    LINEAR = 0
    RELU = 1
    LEAKY_RELU = 2
    SIGMOID = 3
    TANH = 4
    SOFTMAX = 5
    ELU = 6
    SELU = 7


# Plain ints with the members' values: Numba kernels compare against these
# module globals, which it freezes as integer constants.
LINEAR = int(Activation.LINEAR)
RELU = int(Activation.RELU)
LEAKY_RELU = int(Activation.LEAKY_RELU)
SIGMOID = int(Activation.SIGMOID)
TANH = int(Activation.TANH)
SOFTMAX = int(Activation.SOFTMAX)
ELU = int(Activation.ELU)
SELU = int(Activation.SELU)

#: The default leaky-relu slope (Keras 3's ``leaky_relu(negative_slope=0.2)``).
NEGATIVE_SLOPE = 0.2

#: elu's ``alpha``: Keras's default, ``elu(z) = alpha (exp(z) - 1)`` for ``z <= 0``.
ELU_ALPHA = 1.0

#: selu's constants (Klambauer et al., "Self-normalizing neural networks",
#: NeurIPS 2017, eq. 14): the fixed point of mean 0 and variance 1.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

#: Activation names accepted by the public API, mapped to their kernel codes.
ACTIVATIONS = {
    "linear": LINEAR,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
    "sigmoid": SIGMOID,
    "tanh": TANH,
    "softmax": SOFTMAX,
    "elu": ELU,
    "selu": SELU,
}


# --- exp, branch-free so that element loops vectorize --------------------------
# libm's exp is a call per element that no loop vectorizes (Numba has no SVML
# here): 3.1 ms for 2**20 float64 on the AMD EPYC development machine, against
# 0.8 ms for ``exp_f64`` below (NumPy's own vectorized exp: 0.6 ms).

#: ln 2 in two parts for the reduction ``r = x - k ln 2``: the high part has 32
#: significant bits, so ``k * _EXP_LN2_HI`` is exact for ``|k| < 2**21``; the low
#: part is the rest of ln 2 taken from its decimal expansion.  (``math.log(2.0)``
#: is itself rounded by 5e-17, and ``k = -1075`` times that error would be 250
#: ulps of the result.  ``_LN2_LO_F64`` of ``log_unit_f64`` below is formed that
#: way; it stays as it is, since it is part of the normal initializers' values.)
_LN2_DIGITS = "0.69314718055994530941723212145817656807550013436026"
_EXP_LN2_HI = math.ldexp(math.floor(math.ldexp(math.log(2.0), 32)), -32)
with localcontext() as _context:
    _context.prec = 50
    _EXP_LN2_LO = float(Decimal(_LN2_DIGITS) - Decimal(_EXP_LN2_HI))
_INV_LN2 = 1.0 / math.log(2.0)
_EXP_BIAS = np.int64(1023)
_EXP_SHIFT = np.int64(52)
_ONE_I64 = np.int64(1)
#: Taylor coefficients 1/i! of exp(r), i = 2..13 (i = 0, 1 are 1).
_EXP_C2, _EXP_C3, _EXP_C4, _EXP_C5, _EXP_C6, _EXP_C7, _EXP_C8, _EXP_C9, _EXP_C10, _EXP_C11 = (
    1.0 / math.factorial(i) for i in range(2, 12)
)
_EXP_C12, _EXP_C13 = 1.0 / math.factorial(12), 1.0 / math.factorial(13)


@njit(cache=True, forceinline=True, error_model="numpy")
def _pow2_f64(k):
    """``2.0**k`` for an integer ``k`` in [-1022, 1023], from its bits."""
    return np.int64((k + _EXP_BIAS) << _EXP_SHIFT).view(np.float64)


@njit(cache=True, forceinline=True, error_model="numpy")
def exp_f64(x):
    """``e**x`` in float64, within 1 ulp of libm's ``exp``, branch-free.

    ``x`` is clamped to [-746, 710] (beyond them the result is 0 or inf
    anyway; NaN passes through every select).  With ``k = round(x / ln 2)``
    and ``r = x - k ln 2`` (exact high part, ``|r| <= 0.347``), ``e**r`` is its
    Taylor series to ``r**13`` in Horner form (the first omitted term is below
    4e-18 relative), and ``2**k`` is applied as two exact powers of two
    ``2**k1 * 2**(k - k1)``, so that subnormal results are rounded once and
    ``2**1024`` overflows to inf.  Measured against libm over 3.1 million
    arguments in [-800, 0] (subnormal range included): at most 1 ulp apart,
    0.1 ulp on average.
    """
    x = x if not x < -746.0 else -746.0
    x = x if not x > 710.0 else 710.0
    t = x * _INV_LN2 + 0.5
    # NaN takes k = 0 (converting NaN to an integer is undefined); r is NaN anyway.
    ki = np.int64(math.floor(t if t == t else 0.0))  # math.floor is a float on CUDA
    k = np.float64(ki)
    r = (x - k * _EXP_LN2_HI) - k * _EXP_LN2_LO
    p = _EXP_C13
    p = p * r + _EXP_C12
    p = p * r + _EXP_C11
    p = p * r + _EXP_C10
    p = p * r + _EXP_C9
    p = p * r + _EXP_C8
    p = p * r + _EXP_C7
    p = p * r + _EXP_C6
    p = p * r + _EXP_C5
    p = p * r + _EXP_C4
    p = p * r + _EXP_C3
    p = p * r + _EXP_C2
    p = p * r + 1.0
    p = p * r + 1.0
    k1 = ki >> _ONE_I64
    return p * _pow2_f64(k1) * _pow2_f64(ki - k1)


@njit(cache=True, forceinline=True, error_model="numpy")
def sigmoid(z):
    """Logistic function ``1 / (1 + exp(-z))`` without overflow, in float64.

    With ``e = exp(-|z|) <= 1``: ``1 / (1 + e)`` for ``z >= 0`` and
    ``e / (1 + e)`` for ``z < 0``.  The sign picks the numerator by a select,
    not a branch: on random-signed inputs a branch here is mispredicted half
    the time, which measured 2x slower.  ``exp_f64`` keeps the loop vectorized.
    """
    e = exp_f64(-abs(np.float64(z)))
    numerator = 1.0 if z >= 0 else e
    return numerator / (1.0 + e)


@njit(cache=True, forceinline=True, error_model="numpy")
def tanh(z):
    """Hyperbolic tangent from one ``exp``, accurate to a few float64 ulps.

    libm's ``tanh`` measured 17 ns per call on the development machine
    (NumPy's vectorized one 0.4 ns, ``exp`` 2.6 ns).  With ``a = |z|`` in
    float64 and ``e = exp(-2a) <= 1``: ``tanh(a) = (1 - e) / (1 + e)``, whose
    subtraction loses at most ``eps / (2a)`` relative, below ``1.2e-15`` for
    ``a >= 0.05``; below that the Taylor series to ``a**9`` is used (its first
    omitted term, ``1382 a**11 / 155925``, is below ``1e-15`` relative).  Both
    are computed and one selected, so the loop has no branch; the result takes
    the sign of ``z``.
    """
    a = abs(np.float64(z))
    e = exp_f64(-2.0 * a)
    by_exp = (1.0 - e) / (1.0 + e)
    s = a * a
    series = s * (-17.0 / 315.0 + s * (62.0 / 2835.0))
    series = a * (1.0 + s * (-1.0 / 3.0 + s * (2.0 / 15.0 + series)))
    t = series if a < 0.05 else by_exp
    return math.copysign(t, z)


@njit(cache=True, forceinline=True)
def activate(z, code, negative_slope):
    """Pointwise activation ``f(z)`` for ``code``; ``negative_slope`` is the leaky-relu slope.

    elu: ``z`` if ``z > 0`` else ``alpha (exp(z) - 1)``; selu: ``scale`` times
    that with selu's ``alpha``; both through ``expm1``, exact near 0 where
    ``exp(z) - 1`` would cancel.  Softmax is not pointwise: callers handle
    ``SOFTMAX`` row by row and never pass it here (it falls through to the
    identity).

    Non-finite inputs: NaN propagates through every activation (as NumPy's
    ``maximum`` does); relu and leaky relu with slope 0 map ``-inf`` to 0, and
    leaky relu with a positive slope keeps it ``-inf``.  ``not z <= 0`` is true
    for a positive ``z`` and for NaN, so one compare and a select (no branch:
    the loop still vectorizes) pass both through; the constant 0, not
    ``z * 0``, avoids ``-inf * 0 = NaN``.
    """
    if code == RELU:
        return z if not z <= 0 else 0.0
    if code == LEAKY_RELU:
        negative = z * negative_slope if negative_slope > 0 else 0.0
        return z if not z <= 0 else negative
    if code == SIGMOID:
        return sigmoid(z)
    if code == TANH:
        return tanh(z)
    if code == ELU:
        return z if z > 0 else ELU_ALPHA * math.expm1(z)
    if code == SELU:
        return SELU_SCALE * z if z > 0 else (SELU_SCALE * SELU_ALPHA) * math.expm1(z)
    return z


@njit(cache=True, forceinline=True)
def activate_grad(y, code, negative_slope):
    """Derivative ``f'(z)`` expressed through the activation's output ``y = f(z)``.

    relu: ``1[y > 0]``; leaky relu (``negative_slope >= 0``): ``1`` if
    ``y > 0`` else ``negative_slope``; sigmoid: ``y (1 - y)``; tanh: ``1 - y**2``; linear: ``1``;
    elu: ``1`` if ``y > 0`` else ``y + alpha`` (``= alpha exp(z)``); selu: ``scale`` if
    ``y > 0`` else ``y + scale alpha`` (``= scale alpha exp(z)``).
    A NaN ``y`` gives a NaN derivative for every activation but linear (relu
    and leaky relu select it through, as ``activate`` does).
    """
    if code == RELU:
        return 1.0 if y > 0 else (0.0 if y <= 0 else y)
    if code == LEAKY_RELU:
        return 1.0 if y > 0 else (negative_slope if y <= 0 else y)
    if code == SIGMOID:
        return y * (1.0 - y)
    if code == TANH:
        return 1.0 - y * y
    if code == ELU:
        return 1.0 if y > 0 else y + ELU_ALPHA
    if code == SELU:
        return SELU_SCALE if y > 0 else y + SELU_SCALE * SELU_ALPHA
    return 1.0


# ---------------------------------------------------------------------------
# Optimizer updates of one element (Keras 3 formulas and defaults).
#
# The maths is written once, in the ``*_native`` functions, which compute in
# the float type of their arguments: the CPU kernels pass the parameters'
# dtype for every argument (float32 arithmetic for float32 parameters, as
# PyTorch and Keras compute), hyperparameters cast to it once per call, and
# ``one_minus_*`` precomputed in that dtype, so no float64 literal widens the
# arithmetic.  ``sgd_element``, ``adam_element``, ... are the float64 forms
# with the hyperparameters as given (the CUDA kernels call them): each widens
# its element to float64 (``np.float64(x)``; Numba's ``float(x)`` keeps
# float32), calls the native form, and returns float64 values that the kernel
# rounds once when it stores them.  ``decay`` is ``learning_rate *
# weight_decay``, the decoupled weight decay Keras applies before the update:
# ``p - decay p - step`` is evaluated as ``p - (decay p + step)``, the same
# value, so the parameter is rounded once per step at its own scale (as the
# float64 reference rounds it when it stores it) and the small terms are summed
# first; in float32, a second rounding at the parameter's scale would give the
# parameter's change ``|p| / |step|`` times the relative error.
# ``error_model="numpy"``: a division by zero gives inf/nan as in NumPy
# instead of raising, which keeps a branch out of the element loop so that
# LLVM vectorizes it (about 5x faster for Adam).
# ---------------------------------------------------------------------------


@njit(cache=True, forceinline=True, error_model="numpy")
def sgd_element_native(p, g, learning_rate, decay):
    """Plain SGD in the arguments' float type: ``p - (decay p + lr g)``."""
    return p - (p * decay + learning_rate * g)


@njit(cache=True, error_model="numpy")
def sgd_element(p, g, learning_rate, decay):
    """Plain SGD in float64 (see ``sgd_element_native``)."""
    return sgd_element_native(np.float64(p), np.float64(g), learning_rate, decay)


@njit(cache=True, forceinline=True, error_model="numpy")
def sgd_momentum_element_native(p, g, velocity, learning_rate, momentum, nesterov, decay):
    """SGD with (Nesterov) momentum in the arguments' float type; returns ``(p, velocity)``.

    ``v = mu v - lr g``, then ``p + (v - decay p)``, or with Nesterov
    ``p + (mu v - lr g - decay p)``.
    """
    velocity = momentum * velocity - learning_rate * g
    if nesterov:
        return p + (momentum * velocity - learning_rate * g - p * decay), velocity
    return p + (velocity - p * decay), velocity


@njit(cache=True, error_model="numpy")
def sgd_momentum_element(p, g, velocity, learning_rate, momentum, nesterov, decay):
    """SGD with (Nesterov) momentum in float64 (see ``sgd_momentum_element_native``)."""
    return sgd_momentum_element_native(
        np.float64(p), np.float64(g), np.float64(velocity), learning_rate, momentum, nesterov,
        decay,
    )  # fmt: skip


@njit(cache=True, error_model="numpy")
def adam_step_size(learning_rate, beta_1, beta_2, step):
    """Adam's bias-corrected step size ``lr sqrt(1 - beta_2**t) / (1 - beta_1**t)``.

    ``step`` is the 1-based update count ``t``.  Float exponents: libm's
    ``pow``, the same rounding as Python's ``beta ** step``.  Computed in
    float64 once per call; a kernel rounds it to its arrays' dtype.

    References
    ----------
    D. P. Kingma, J. Ba, "Adam: A method for stochastic optimization",
    ICLR 2015 (the step size of section 2, with epsilon outside the root).
    """
    t = np.float64(step)
    return learning_rate * math.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)


@njit(cache=True, forceinline=True, error_model="numpy")
def adam_element_native(p, g, m, v, step_size, one_minus_beta_1, one_minus_beta_2, epsilon, decay):
    """Adam in the arguments' float type; returns ``(p, m, v)``.

    ``m += (1 - beta_1)(g - m)``, ``v += (1 - beta_2)(g**2 - v)``,
    ``p -= step_size m / (sqrt(v) + epsilon)`` with ``step_size`` from
    ``adam_step_size`` (Kingma & Ba 2015, as ``adam_step_size``).
    """
    m = m + (g - m) * one_minus_beta_1
    v = v + (g * g - v) * one_minus_beta_2
    return p - (p * decay + step_size * m / (math.sqrt(v) + epsilon)), m, v


@njit(cache=True, error_model="numpy")
def adam_element(p, g, m, v, step_size, beta_1, beta_2, epsilon, decay):
    """Adam in float64 with the bias correction folded into ``step_size``; returns ``(p, m, v)``
    (see ``adam_element_native``)."""
    return adam_element_native(
        np.float64(p), np.float64(g), np.float64(m), np.float64(v), step_size, 1.0 - beta_1,
        1.0 - beta_2, epsilon, decay,
    )  # fmt: skip


@njit(cache=True, forceinline=True, error_model="numpy")
def rmsprop_element_native(p, g, v, learning_rate, rho, one_minus_rho, epsilon, decay):
    """RMSprop without momentum in the arguments' float type; returns ``(p, v)``.

    ``v = rho v + (1 - rho) g**2``, ``p -= lr g / sqrt(v + epsilon)``.
    """
    v = rho * v + one_minus_rho * g * g
    return p - (p * decay + learning_rate * g / math.sqrt(v + epsilon)), v


@njit(cache=True, error_model="numpy")
def rmsprop_element(p, g, v, learning_rate, rho, epsilon, decay):
    """RMSprop without momentum in float64 (see ``rmsprop_element_native``)."""
    return rmsprop_element_native(
        np.float64(p), np.float64(g), np.float64(v), learning_rate, rho, 1.0 - rho, epsilon, decay
    )


@njit(cache=True, forceinline=True, error_model="numpy")
def rmsprop_momentum_element_native(
    p, g, v, buffer, learning_rate, rho, one_minus_rho, momentum, epsilon, decay
):
    """RMSprop with momentum in the arguments' float type; returns ``(p, v, buffer)``.

    As ``rmsprop_element_native``, with ``buffer = mu buffer + lr g / sqrt(v + epsilon)``
    and ``p -= buffer``.
    """
    v = rho * v + one_minus_rho * g * g
    buffer = momentum * buffer + learning_rate * g / math.sqrt(v + epsilon)
    return p - (p * decay + buffer), v, buffer


@njit(cache=True, error_model="numpy")
def rmsprop_momentum_element(p, g, v, buffer, learning_rate, rho, momentum, epsilon, decay):
    """RMSprop with momentum in float64 (see ``rmsprop_momentum_element_native``)."""
    return rmsprop_momentum_element_native(
        np.float64(p), np.float64(g), np.float64(v), np.float64(buffer), learning_rate, rho,
        1.0 - rho, momentum, epsilon, decay,
    )  # fmt: skip


# ---------------------------------------------------------------------------
# Losses of one element, in float64 (the kernels widen their inputs first).
# ---------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def logistic_loss_and_sigmoid(z, t):
    """``(max(z, 0) - z t + log(1 + exp(-|z|)), sigmoid(z))`` from one exponential.

    The first value is the binary cross-entropy of target ``t`` against
    ``sigmoid(z)``, written so that no term overflows for any finite ``z``.
    ``log(1 + e)`` stands for ``log1p(e)``: glibc's ``log1p`` costs about three
    ``log`` calls, and with ``0 < e <= 1`` the difference is an absolute error
    below ``2**-52`` per element, so only a loss already below ~1e-16 loses
    relative precision.
    """
    e = math.exp(-abs(z))
    loss = max(z, 0.0) - z * t + math.log(1.0 + e)
    if z >= 0:
        return loss, 1.0 / (1.0 + e)
    return loss, e / (1.0 + e)


@njit(cache=True, error_model="numpy")
def squared_error(pred, target):
    """``((p - t)**2, p - t)`` in float64: the squared error and the residual."""
    diff = np.float64(pred) - np.float64(target)
    return diff * diff, diff


# ---------------------------------------------------------------------------
# Batch normalization (Ioffe & Szegedy 2015): per-column constants and the
# per-element affine step and its gradient.  Kernels reduce the statistics
# (their own business: fixed blocks on the CPU, shared memory on a GPU), fold
# them into float64 column constants with these functions, then apply the
# per-element ones.  ``forceinline``: they sit inside the column loops that
# LLVM must vectorize.
#
# References: S. Ioffe, C. Szegedy, "Batch normalization: accelerating deep
# network training by reducing internal covariate shift", ICML 2015.
# ---------------------------------------------------------------------------


@njit(cache=True, forceinline=True)
def batch_norm_invstd(var, epsilon):
    """``1 / sqrt(var + epsilon)``, the saved inverse standard deviation."""
    return 1.0 / math.sqrt(var + epsilon)


@njit(cache=True, forceinline=True)
def moving_average(running, batch, momentum):
    """Keras's running-statistic update ``momentum * running + (1 - momentum) * batch``."""
    return momentum * running + (1.0 - momentum) * batch


@njit(cache=True, forceinline=True)
def batch_norm_scale_shift(gamma, beta, mean, invstd):
    """Training-mode column constants ``(scale, shift)`` of ``y = a * scale + shift``.

    ``scale = gamma invstd``, ``shift = beta - mean scale``, in float64.
    """
    scale = gamma * invstd
    return scale, beta - mean * scale


@njit(cache=True, forceinline=True)
def batch_norm_affine(a, scale, shift):
    """Training-mode normalization of one element: ``a * scale + shift``."""
    return a * scale + shift


@njit(cache=True, forceinline=True)
def batch_norm_infer_scale(gamma, running_var, epsilon):
    """Inference-mode column scale ``gamma / sqrt(running_var + epsilon)``."""
    return gamma / math.sqrt(running_var + epsilon)


@njit(cache=True, forceinline=True)
def batch_norm_infer(a, running_mean, scale, beta):
    """Inference-mode normalization of one element: ``(a - running_mean) * scale + beta``.

    The CPU inference kernel passes the data's dtype for every argument
    (float32 arithmetic for float32 data): ``a - running_mean`` cancels
    exactly when the two are close (Sterbenz), so the result is good to a few
    ulps of its own size however far the mean is from zero.
    """
    return (a - running_mean) * scale + beta


@njit(cache=True, forceinline=True)
def batch_norm_grad_columns(sum_g, sum_gc, mean, invstd, n):
    """Column constants of the backward pass from the two gradient sums.

    With ``sum_g = sum_i g_i`` and ``sum_gc = sum_i g_i (a_i - mean)`` over
    the ``n`` rows: returns ``(dbeta, dgamma, coef, offset)`` where
    ``dbeta = sum_g``, ``dgamma = invstd sum_gc``, ``coef = invstd**2 sum_gc / n``
    and ``offset = mean coef - sum_g / n``, so that
    ``dx = f'(a) gamma invstd (g - a coef + offset)`` (``batch_norm_grad_input``).
    """
    coef = sum_gc * (invstd * invstd / n)
    return sum_g, sum_gc * invstd, coef, mean * coef - sum_g / n


@njit(cache=True, forceinline=True)
def batch_norm_grad_input(g, a, coef, offset, gamma, invstd, pre_slope):
    """``dx`` of one element: ``pre_slope (g - a coef + offset) gamma invstd``.

    ``g`` is the gradient at the normalized output (after the post
    activation's derivative), ``pre_slope`` the pre activation's derivative
    ``f'(a)`` (``1`` for none); ``coef`` and ``offset`` from
    ``batch_norm_grad_columns``.
    """
    d = g - a * coef + offset
    return pre_slope * d * gamma * invstd


# ---------------------------------------------------------------------------
# Counter-based random numbers: Philox4x32-10 and the transforms to floats.
#
# Every function below is pure integer/float arithmetic on scalars (the NumPy
# names are only scalar type casts), so the CPU kernels inline them into
# vectorizable loops and a CUDA kernel can compile the same source.  Words are
# carried as uint64 values holding 32 bits: a 32x32 -> 64-bit product then
# needs no widening, and LLVM lowers it to vpmuludq once it sees the high bits
# are masked off.  ``forceinline`` marks them alwaysinline for LLVM (Numba does
# not otherwise inline ``@njit`` callees, and a call inside the element loop
# stops vectorization); ``error_model="numpy"`` drops the divide-by-zero
# checks (the divisors here are never zero) whose branches would stop it too.
# ---------------------------------------------------------------------------

#: Philox4x32 multipliers and Weyl key increments (Salmon et al., SC'11, section 3.3).
PHILOX_M0 = np.uint64(0xD2511F53)
PHILOX_M1 = np.uint64(0xCD9E8D57)
PHILOX_W0 = np.uint64(0x9E3779B9)
PHILOX_W1 = np.uint64(0xBB67AE85)
_MASK32 = np.uint64(0xFFFFFFFF)
_U32 = np.uint64(32)
_U8 = np.uint64(8)
_U6 = np.uint64(6)
_U5 = np.uint64(5)
_U26 = np.uint64(26)

#: Philox blocks per chunk in the element -> counter map (see ``rng_block``).
#: Part of the output definition: changing it changes every initializer's
#: values.  256 makes one chunk one CUDA thread block of 256 threads.
RNG_LANES = 256


@njit(cache=True, forceinline=True, error_model="numpy")
def philox4x32_round(x0, x1, x2, x3, k0, k1):
    """One Philox4x32 round on 32-bit words held in uint64 values (< 2**32)."""
    p0 = PHILOX_M0 * x0
    p1 = PHILOX_M1 * x2
    return (
        (p1 >> _U32) ^ x1 ^ k0,
        p1 & _MASK32,
        (p0 >> _U32) ^ x3 ^ k1,
        p0 & _MASK32,
    )


@njit(cache=True, forceinline=True, error_model="numpy")
def philox4x32_bump(k0, k1):
    """The key schedule between rounds: add the Weyl constants modulo 2**32."""
    return (k0 + PHILOX_W0) & _MASK32, (k1 + PHILOX_W1) & _MASK32


@njit(cache=True)
def philox4x32(c0, c1, c2, c3, k0, k1, rounds):
    """Philox4x32 with ``rounds`` rounds (``philox4x32_10`` is the one kernels use).

    Counter words ``c0..c3`` and key words ``k0, k1`` are integers below 2**32
    (higher bits are discarded); returns the four output words as uint64
    values below 2**32.  The key is bumped before every round but the first.
    """
    x0 = np.uint64(c0) & _MASK32
    x1 = np.uint64(c1) & _MASK32
    x2 = np.uint64(c2) & _MASK32
    x3 = np.uint64(c3) & _MASK32
    key0 = np.uint64(k0) & _MASK32
    key1 = np.uint64(k1) & _MASK32
    for r in range(rounds):
        if r > 0:
            key0, key1 = philox4x32_bump(key0, key1)
        x0, x1, x2, x3 = philox4x32_round(x0, x1, x2, x3, key0, key1)
    return x0, x1, x2, x3


@njit(cache=True, forceinline=True, error_model="numpy")
def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10: counter ``(c0, c1, c2, c3)``, key ``(k0, k1)`` -> four 32-bit words.

    Straight-line (no round loop) so that, inlined into an element loop, the
    loop is innermost and LLVM vectorizes it.  Arguments and results as in
    ``philox4x32``.

    References
    ----------
    J. K. Salmon, M. A. Moraes, R. O. Dror, D. E. Shaw, "Parallel random
    numbers: as easy as 1, 2, 3", SC'11 (2011).
    """
    x0 = np.uint64(c0) & _MASK32
    x1 = np.uint64(c1) & _MASK32
    x2 = np.uint64(c2) & _MASK32
    x3 = np.uint64(c3) & _MASK32
    key0 = np.uint64(k0) & _MASK32
    key1 = np.uint64(k1) & _MASK32
    x0, x1, x2, x3 = philox4x32_round(x0, x1, x2, x3, key0, key1)
    key0, key1 = philox4x32_bump(key0, key1)
    x0, x1, x2, x3 = philox4x32_round(x0, x1, x2, x3, key0, key1)
    key0, key1 = philox4x32_bump(key0, key1)
    x0, x1, x2, x3 = philox4x32_round(x0, x1, x2, x3, key0, key1)
    key0, key1 = philox4x32_bump(key0, key1)
    x0, x1, x2, x3 = philox4x32_round(x0, x1, x2, x3, key0, key1)
    key0, key1 = philox4x32_bump(key0, key1)
    x0, x1, x2, x3 = philox4x32_round(x0, x1, x2, x3, key0, key1)
    key0, key1 = philox4x32_bump(key0, key1)
    x0, x1, x2, x3 = philox4x32_round(x0, x1, x2, x3, key0, key1)
    key0, key1 = philox4x32_bump(key0, key1)
    x0, x1, x2, x3 = philox4x32_round(x0, x1, x2, x3, key0, key1)
    key0, key1 = philox4x32_bump(key0, key1)
    x0, x1, x2, x3 = philox4x32_round(x0, x1, x2, x3, key0, key1)
    key0, key1 = philox4x32_bump(key0, key1)
    x0, x1, x2, x3 = philox4x32_round(x0, x1, x2, x3, key0, key1)
    key0, key1 = philox4x32_bump(key0, key1)
    x0, x1, x2, x3 = philox4x32_round(x0, x1, x2, x3, key0, key1)
    return x0, x1, x2, x3


@njit(cache=True, forceinline=True, error_model="numpy")
def rng_block(i, values_per_block):
    """The Philox block and output slot that element ``i`` of a tensor draws from.

    Elements are grouped in chunks of ``values_per_block * RNG_LANES``; within
    a chunk, slot ``s`` of block ``chunk * RNG_LANES + lane`` is element
    ``chunk * values_per_block * RNG_LANES + s * RNG_LANES + lane``.  Each slot
    is therefore a contiguous run of ``RNG_LANES`` elements (unit-stride
    stores on a CPU, coalesced ones on a GPU), and an element's value depends
    on ``(seed, stream, i)`` only.  Block ``j`` of stream ``t`` under seed
    ``s`` is ``philox4x32_10(j mod 2**32, j >> 32, t mod 2**32, t >> 32,
    s mod 2**32, s >> 32)``.  Returns ``(block, slot)``.
    """
    span = values_per_block * RNG_LANES
    chunk = i // span
    rest = i - chunk * span
    slot = rest // RNG_LANES
    return chunk * RNG_LANES + (rest - slot * RNG_LANES), slot


# --- uniform floats from the top bits of Philox words ------------------------

_F32_ONE = np.float32(1.0)
_F32_TWO = np.float32(2.0)
_F32_HALF = np.float32(0.5)
_F32_2M24 = np.float32(2.0**-24)
_F64_2M53 = 2.0**-53


@njit(cache=True, forceinline=True, error_model="numpy")
def unit_open_closed_f32(word):
    """Uniform float32 in (0, 1] from the top 24 bits of a word: ``(k + 1) 2**-24``."""
    return np.float32(np.int32((word >> _U8) + np.uint64(1))) * _F32_2M24


@njit(cache=True, forceinline=True, error_model="numpy")
def unit_symmetric_f32(word):
    """Uniform float32 in (-1, 1) from the top 24 bits: ``(2k + 1 - 2**24) 2**-24``.

    The 2**24 midpoints of a uniform grid: symmetric about 0, never 0 or +-1,
    every value exact in float32.
    """
    k = np.int32(word >> _U8)
    return np.float32(np.int32(k + k + 1 - 16777216)) * _F32_2M24


@njit(cache=True, forceinline=True, error_model="numpy")
def bits53(hi, lo):
    """53 random bits from two words: the top 27 of ``hi`` and the top 26 of ``lo``."""
    return ((hi >> _U5) << _U26) | (lo >> _U6)


@njit(cache=True, forceinline=True, error_model="numpy")
def unit_open_closed_f64(hi, lo):
    """Uniform float64 in (0, 1] from 53 bits of two words: ``(k + 1) 2**-53``."""
    return np.float64(np.int64(bits53(hi, lo) + np.uint64(1))) * _F64_2M53


@njit(cache=True, forceinline=True, error_model="numpy")
def unit_symmetric_f64(hi, lo):
    """Uniform float64 in (-1, 1): the 2**53 midpoints ``(2k + 1 - 2**53) 2**-53``."""
    k = np.int64(bits53(hi, lo))
    return np.float64(k + k + 1 - 9007199254740992) * _F64_2M53


# --- log and sin/cos, branch-free so that element loops vectorize -------------
# libm calls do not vectorize (Numba has no SVML here), and they would differ
# between CPU and GPU; these are Taylor/atanh series after exact reductions.

# ln 2 split so that e * hi is exact for |e| <= 63 (hi has 12 / 40 bits).
_LN2_HI_F32 = np.float32(math.ldexp(math.floor(math.ldexp(math.log(2.0), 12)), -12))
_LN2_LO_F32 = np.float32(math.log(2.0) - float(_LN2_HI_F32))
_LN2_HI_F64 = math.ldexp(math.floor(math.ldexp(math.log(2.0), 40)), -40)
_LN2_LO_F64 = math.log(2.0) - _LN2_HI_F64
_F32_SQRT_HALF = np.float32(math.sqrt(0.5))
_F64_SQRT_HALF = math.sqrt(0.5)


@njit(cache=True, forceinline=True, error_model="numpy")
def _scale_down(y, e, limit, factor, step):
    """One step of the exponent search: if ``y < limit`` scale it by ``factor``."""
    small = y < limit
    return (y * factor if small else y), (e - step if small else e)


@njit(cache=True, forceinline=True, error_model="numpy")
def log_unit_f32(y):
    """Natural logarithm of a float32 ``y`` in [2**-31, 1], branch-free, float32 maths.

    ``y = 2**e m`` with ``m`` in [sqrt(1/2), sqrt(2)) found by five exact
    power-of-two scalings; ``ln m = 2 atanh(s)``, ``s = (m - 1) / (m + 1)``,
    ``|s| <= 0.172``, summed to ``s**9`` (truncation < 3e-9 relative).
    """
    e = np.float32(0.0)
    y, e = _scale_down(y, e, np.float32(2.0**-16), np.float32(2.0**16), np.float32(16.0))
    y, e = _scale_down(y, e, np.float32(2.0**-8), np.float32(2.0**8), np.float32(8.0))
    y, e = _scale_down(y, e, np.float32(2.0**-4), np.float32(2.0**4), np.float32(4.0))
    y, e = _scale_down(y, e, np.float32(2.0**-2), np.float32(2.0**2), np.float32(2.0))
    y, e = _scale_down(y, e, _F32_HALF, _F32_TWO, _F32_ONE)
    y, e = _scale_down(y, e, _F32_SQRT_HALF, _F32_TWO, _F32_ONE)
    s = (y - _F32_ONE) / (y + _F32_ONE)
    s2 = s * s
    p = np.float32(1.0 / 9.0)
    p = p * s2 + np.float32(1.0 / 7.0)
    p = p * s2 + np.float32(1.0 / 5.0)
    p = p * s2 + np.float32(1.0 / 3.0)
    p = p * s2 + _F32_ONE
    return e * _LN2_HI_F32 + (e * _LN2_LO_F32 + _F32_TWO * s * p)


@njit(cache=True, forceinline=True, error_model="numpy")
def log_unit_f64(y):
    """Natural logarithm of a float64 ``y`` in [2**-63, 1], branch-free.

    As ``log_unit_f32`` with six scalings and the atanh series to ``s**21``
    (truncation < 1e-18 relative).
    """
    e = 0.0
    y, e = _scale_down(y, e, 2.0**-32, 2.0**32, 32.0)
    y, e = _scale_down(y, e, 2.0**-16, 2.0**16, 16.0)
    y, e = _scale_down(y, e, 2.0**-8, 2.0**8, 8.0)
    y, e = _scale_down(y, e, 2.0**-4, 2.0**4, 4.0)
    y, e = _scale_down(y, e, 2.0**-2, 2.0**2, 2.0)
    y, e = _scale_down(y, e, 0.5, 2.0, 1.0)
    y, e = _scale_down(y, e, _F64_SQRT_HALF, 2.0, 1.0)
    s = (y - 1.0) / (y + 1.0)
    s2 = s * s
    p = 1.0 / 21.0
    p = p * s2 + 1.0 / 19.0
    p = p * s2 + 1.0 / 17.0
    p = p * s2 + 1.0 / 15.0
    p = p * s2 + 1.0 / 13.0
    p = p * s2 + 1.0 / 11.0
    p = p * s2 + 1.0 / 9.0
    p = p * s2 + 1.0 / 7.0
    p = p * s2 + 1.0 / 5.0
    p = p * s2 + 1.0 / 3.0
    p = p * s2 + 1.0
    return e * _LN2_HI_F64 + (e * _LN2_LO_F64 + 2.0 * s * p)


@njit(cache=True, forceinline=True, error_model="numpy")
def _quadrant(c, s, q):
    """(cos, sin) of ``t + q pi/2`` from ``c = cos t``, ``s = sin t``, ``q`` in 0..3."""
    odd = (q & 1) != 0
    a = s if odd else c
    b = c if odd else s
    a = -a if ((q + 1) & 2) != 0 else a
    b = -b if (q & 2) != 0 else b
    return a, b


_TURN_F32 = np.float32(2.0 * math.pi * 2.0**-24)
_TURN_F64 = 2.0 * math.pi * 2.0**-53


@njit(cache=True, forceinline=True, error_model="numpy")
def sincos_turn_f32(k):
    """``(cos, sin)`` of the angle ``2 pi k / 2**24`` for an integer ``k`` in [0, 2**24).

    The nearest quarter turn ``q`` is removed exactly in integers, leaving
    ``|t| <= pi/4`` for Taylor series to ``t**9`` (sin) and ``t**10`` (cos),
    truncation below 2e-9; float32 maths.
    """
    q = (k + np.uint64(1 << 21)) >> np.uint64(22)
    t = np.float32(np.int64(k) - np.int64(q << np.uint64(22))) * _TURN_F32
    t2 = t * t
    s = np.float32(1.0 / 362880.0)
    s = s * t2 - np.float32(1.0 / 5040.0)
    s = s * t2 + np.float32(1.0 / 120.0)
    s = s * t2 - np.float32(1.0 / 6.0)
    s = t + t * t2 * s
    c = np.float32(-1.0 / 3628800.0)
    c = c * t2 + np.float32(1.0 / 40320.0)
    c = c * t2 - np.float32(1.0 / 720.0)
    c = c * t2 + np.float32(1.0 / 24.0)
    c = c * t2 - _F32_HALF
    c = _F32_ONE + t2 * c
    return _quadrant(c, s, np.int64(q))


@njit(cache=True, forceinline=True, error_model="numpy")
def sincos_turn_f64(k):
    """``(cos, sin)`` of ``2 pi k / 2**53`` for an integer ``k`` in [0, 2**53).

    As ``sincos_turn_f32``, series to ``t**17`` and ``t**16`` (truncation
    below 1e-16 relative).
    """
    q = (k + np.uint64(1 << 50)) >> np.uint64(51)
    t = np.float64(np.int64(k) - np.int64(q << np.uint64(51))) * _TURN_F64
    t2 = t * t
    s = 1.0 / 355687428096000.0
    s = s * t2 - 1.0 / 1307674368000.0
    s = s * t2 + 1.0 / 6227020800.0
    s = s * t2 - 1.0 / 39916800.0
    s = s * t2 + 1.0 / 362880.0
    s = s * t2 - 1.0 / 5040.0
    s = s * t2 + 1.0 / 120.0
    s = s * t2 - 1.0 / 6.0
    s = t + t * t2 * s
    c = 1.0 / 20922789888000.0
    c = c * t2 - 1.0 / 87178291200.0
    c = c * t2 + 1.0 / 479001600.0
    c = c * t2 - 1.0 / 3628800.0
    c = c * t2 + 1.0 / 40320.0
    c = c * t2 - 1.0 / 720.0
    c = c * t2 + 1.0 / 24.0
    c = c * t2 - 0.5
    c = 1.0 + t2 * c
    return _quadrant(c, s, np.int64(q))


# --- standard normal and truncated normal variates ----------------------------

_F32_MINUS_TWO = np.float32(-2.0)


@njit(cache=True, forceinline=True, error_model="numpy")
def box_muller_f32(wa, wb):
    """Two independent float32 standard normals from two words (Box-Muller).

    ``r = sqrt(-2 ln u)`` with ``u`` in (0, 1] from ``wa`` and the angle
    ``2 pi k / 2**24`` from the top 24 bits of ``wb``; returns
    ``(r cos, r sin)``.  With 24-bit ``u`` the magnitude never exceeds
    ``sqrt(48 ln 2) = 5.77``.
    """
    r = math.sqrt(_F32_MINUS_TWO * log_unit_f32(unit_open_closed_f32(wa)))
    c, s = sincos_turn_f32(wb >> _U8)
    return r * c, r * s


@njit(cache=True, forceinline=True, error_model="numpy")
def box_muller_f64(w0, w1, w2, w3):
    """Two float64 standard normals from four words: 53-bit radius and angle.

    The magnitude never exceeds ``sqrt(106 ln 2) = 8.57``.
    """
    r = math.sqrt(-2.0 * log_unit_f64(unit_open_closed_f64(w0, w1)))
    c, s = sincos_turn_f64(bits53(w2, w3))
    return r * c, r * s


#: P(|Z| < 2) = erf(sqrt 2): the truncated normal draws erf(sqrt 2) * v, v in (-1, 1).
ERF_SQRT2 = math.erf(math.sqrt(2.0))
_F32_ERF_SQRT2 = np.float32(ERF_SQRT2)
_F32_SQRT2 = np.float32(math.sqrt(2.0))
_F32_TRUNC = np.float32(2.0)
_SQRT2 = math.sqrt(2.0)

# erfinv(x) = x * P(w - c), w = -ln(1 - x**2), on |x| <= erf(sqrt 2), i.e.
# w in [0, w_max = 2.4199].  P interpolates erfinv(x) / x at the deg + 1
# Chebyshev nodes of [0, w_max], computed in 50-digit arithmetic (mpmath),
# re-expanded exactly in powers of (w - c) and rounded to the working
# precision: degree 7 for float32 (3e-8 relative, rounding included) and
# degree 15 for float64 (1e-16).
_ERFINV_W_CENTER = 1.209951440945552
_F32_ERFINV_W_CENTER = np.float32(_ERFINV_W_CENTER)


@njit(cache=True, forceinline=True, error_model="numpy")
def erfinv_central_f32(x):
    """Inverse error function for float32 ``|x| <= erf(sqrt 2)`` (i.e. ``|result| <= sqrt 2``)."""
    d = -log_unit_f32((_F32_ONE - x) * (_F32_ONE + x)) - _F32_ERFINV_W_CENTER
    p = np.float32(-3.529905806123553e-07)
    p = p * d + np.float32(-4.593573685821553e-06)
    p = p * d + np.float32(3.235648662453088e-05)
    p = p * d + np.float32(0.00013690793303642064)
    p = p * d + np.float32(-0.002276274610818438)
    p = p * d + np.float32(0.002783922752965016)
    p = p * d + np.float32(0.2493075736576348)
    p = p * d + np.float32(1.179572844658203)
    return x * p


@njit(cache=True, forceinline=True, error_model="numpy")
def erfinv_central_f64(x):
    """Inverse error function for float64 ``|x| <= erf(sqrt 2)``."""
    d = -log_unit_f64((1.0 - x) * (1.0 + x)) - _ERFINV_W_CENTER
    p = 1.765590047885588e-13
    p = p * d - 7.48816053843331e-13
    p = p * d - 6.866084311926111e-12
    p = p * d + 5.256753043876927e-11
    p = p * d + 1.6982732417862456e-10
    p = p * d - 2.8014441992300234e-09
    p = p * d - 1.3752555665843622e-10
    p = p * d + 1.278196174373848e-07
    p = p * d - 3.5352172624816236e-07
    p = p * d - 4.9518373799238876e-06
    p = p * d + 3.2357228259199e-05
    p = p * d + 0.00013723128553133978
    p = p * d - 0.0022762748572495257
    p = p * d + 0.0027838285909312474
    p = p * d + 0.24930757366915643
    p = p * d + 1.1795728489617106
    return x * p


@njit(cache=True, forceinline=True, error_model="numpy")
def truncated_normal_f32(word):
    """Standard normal truncated to [-2, 2], float32, by inversion of one word.

    ``z = sqrt(2) erfinv(erf(sqrt 2) v)`` with ``v`` uniform in (-1, 1): the
    inverse CDF applied to a uniform on (Phi(-2), Phi(2)).  Exact
    distribution up to the approximation error, one word per value, no
    rejection; clamped to [-2, 2] against rounding.
    """
    z = _F32_SQRT2 * erfinv_central_f32(_F32_ERF_SQRT2 * unit_symmetric_f32(word))
    return min(max(z, -_F32_TRUNC), _F32_TRUNC)


@njit(cache=True, forceinline=True, error_model="numpy")
def truncated_normal_f64(hi, lo):
    """Standard normal truncated to [-2, 2], float64, from 53 bits of two words."""
    z = _SQRT2 * erfinv_central_f64(ERF_SQRT2 * unit_symmetric_f64(hi, lo))
    return min(max(z, -2.0), 2.0)


# --- one Philox block -> the values of a distribution --------------------------

#: Distribution codes of the initializer kernels.
RNG_UNIFORM = 0
RNG_NORMAL = 1
RNG_TRUNCATED_NORMAL = 2


@njit(cache=True, forceinline=True, error_model="numpy")
def rng_values_f32(dist, w0, w1, w2, w3):
    """Four float32 draws of distribution ``dist`` from one Philox block's words.

    ``RNG_UNIFORM``: uniform on (-1, 1) (``unit_symmetric_f32``);
    ``RNG_NORMAL``: standard normal, Box-Muller on (w0, w1) and (w2, w3);
    ``RNG_TRUNCATED_NORMAL``: standard normal truncated to [-2, 2].
    Callers pass ``dist`` as a constant, so the branch folds away.
    """
    if dist == RNG_NORMAL:
        z0, z1 = box_muller_f32(w0, w1)
        z2, z3 = box_muller_f32(w2, w3)
        return z0, z1, z2, z3
    if dist == RNG_TRUNCATED_NORMAL:
        return (
            truncated_normal_f32(w0),
            truncated_normal_f32(w1),
            truncated_normal_f32(w2),
            truncated_normal_f32(w3),
        )
    return (
        unit_symmetric_f32(w0),
        unit_symmetric_f32(w1),
        unit_symmetric_f32(w2),
        unit_symmetric_f32(w3),
    )


@njit(cache=True, forceinline=True, error_model="numpy")
def rng_values_f64(dist, w0, w1, w2, w3):
    """Two float64 draws of distribution ``dist`` from one Philox block (53 bits each)."""
    if dist == RNG_NORMAL:
        return box_muller_f64(w0, w1, w2, w3)
    if dist == RNG_TRUNCATED_NORMAL:
        return truncated_normal_f64(w0, w1), truncated_normal_f64(w2, w3)
    return unit_symmetric_f64(w0, w1), unit_symmetric_f64(w2, w3)


# --- dropout: a keep decision from one Philox word -----------------------------
#
# Element ``i`` of a batch at step ``t`` of the stream ``s`` under seed ``k``
# takes word ``slot`` of the Philox4x32-10 block
# ``philox4x32_10(j, t mod 2**32, s mod 2**32, s >> 32, k mod 2**32, k >> 32)``
# with ``(j, slot) = rng_block(i, 4)``; it is kept when that 32-bit word is at
# least ``floor(rate * 2**32)``, so with probability ``1 - rate`` (to within
# 2**-32).  The decision is integer arithmetic only: the same on every device
# and for both dtypes.

_F64_2P32 = 4294967296.0


@njit(cache=True, forceinline=True, error_model="numpy")
def dropout_threshold(rate):
    """``floor(rate * 2**32)`` as a uint64: a word at least this is kept (``0 <= rate < 1``)."""
    return np.uint64(rate * _F64_2P32)


@njit(cache=True, forceinline=True, error_model="numpy")
def dropout_scale(rate):
    """Inverted dropout's factor ``1 / (1 - rate)`` for the kept elements, in float64."""
    return 1.0 / (1.0 - np.float64(rate))


@njit(cache=True, forceinline=True, error_model="numpy")
def dropout_block(j, step, seed, stream):
    """The four words of dropout block ``j`` (``0 <= j < 2**32``) at ``step``, as above."""
    s = np.uint64(seed)
    t = np.uint64(stream)
    return philox4x32_10(
        np.uint64(j) & _MASK32,
        np.uint64(step) & _MASK32,
        t & _MASK32,
        t >> _U32,
        s & _MASK32,
        s >> _U32,
    )
