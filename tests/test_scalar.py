"""The per-element maths in ``fastnn.kernels.scalar`` against NumPy's."""

import math
from decimal import Decimal, localcontext

import numpy as np
from numba import njit

from fastnn.kernels import scalar
from fastnn.kernels.scalar import exp_f64, sigmoid, tanh


@njit(cache=True)
def _map_exp(x, y):
    for i in range(x.shape[0]):
        y[i] = exp_f64(x[i])


@njit(cache=True)
def _map_tanh(x, y):
    for i in range(x.shape[0]):
        y[i] = tanh(x[i])


@njit(cache=True)
def _map_sigmoid(x, y):
    for i in range(x.shape[0]):
        y[i] = sigmoid(x[i])


def _inputs():
    grid = np.linspace(-30.0, 30.0, 200_001)
    tiny_to_large = np.logspace(-300, 2, 20_000)
    # Both sides of the series/exp switch at |z| = 0.05.
    switch = np.linspace(0.04, 0.06, 10_001)
    return np.concatenate([grid, tiny_to_large, -tiny_to_large, switch, -switch])


def test_tanh_matches_numpy_to_a_few_float64_ulps():
    x = _inputs()
    y = np.empty_like(x)
    _map_tanh(x, y)
    expected = np.tanh(x)
    ulps = np.abs(y - expected) / (np.finfo(np.float64).eps * np.abs(expected))
    # The docstring's bound: 1.2e-15 relative (about 5.4 ulps) from the
    # subtraction, plus the roundings of exp and the division; 8 ulps.
    assert ulps.max() < 8


def test_tanh_special_values():
    x = np.array([0.0, -0.0, 1e308, -1e308, np.inf, -np.inf, np.nan])
    y = np.empty_like(x)
    _map_tanh(x, y)
    np.testing.assert_array_equal(y[:6], [0.0, -0.0, 1.0, -1.0, 1.0, -1.0])
    assert np.signbit(y[1]) and not np.signbit(y[0])
    assert np.isnan(y[6])


def test_tanh_float32_inputs_round_correctly():
    x = _inputs().astype(np.float32)
    y = np.empty_like(x)
    _map_tanh(x, y)
    expected = np.tanh(x.astype(np.float64)).astype(np.float32)
    # Computed in float64 and rounded once: at most one float32 ulp apart
    # from the correctly rounded value.
    assert np.max(np.abs(y - expected) / np.spacing(np.abs(expected))) <= 1


def test_sigmoid_matches_numpy_and_saturates():
    x = _inputs()
    y = np.empty_like(x)
    _map_sigmoid(x, y)
    expected = 1.0 / (1.0 + np.exp(-x))
    # A handful of float64 roundings (exp, one addition, one division).
    np.testing.assert_allclose(y, expected, rtol=8 * np.finfo(np.float64).eps, atol=0)
    extremes = np.array([-1000.0, 1000.0])
    out = np.empty_like(extremes)
    _map_sigmoid(extremes, out)
    np.testing.assert_array_equal(out, [0.0, 1.0])


def _ulps(actual, expected):
    """|actual - expected| in units of the spacing of floats at ``expected`` (subnormals too)."""
    return np.abs(actual - expected) / np.spacing(np.abs(expected))


def test_exp_f64_within_one_ulp_of_libm():
    rng = np.random.default_rng(7)
    x = np.concatenate(
        [
            np.linspace(-746.0, 710.0, 400_001),
            rng.uniform(-745.2, -708.0, 100_000),  # results in the subnormal range
            rng.uniform(-1e-3, 1e-3, 100_000),
            -np.logspace(-300, 0, 10_000),
            rng.normal(0.0, 5.0, 100_000),
        ]
    )
    y = np.empty_like(x)
    _map_exp(x, y)
    with np.errstate(over="ignore"):  # exp(x) is inf above 709.78, as it should be
        expected = np.exp(x)
    # NumPy's exp is within an ulp of libm's; the bound below is against libm.
    libm = np.array([math.exp(v) for v in x[x < 709.78]])
    assert _ulps(expected[x < 709.78], libm).max() <= 1
    expected[x < 709.78] = libm
    # Horner rounding of the series (below 1 ulp at |r| <= 0.347) and the final
    # rounding: the docstring promises at most 1 ulp from libm, which is itself
    # within half an ulp or so of the exact value.  A low part of ln 2 taken as
    # math.log(2.0) - hi would put 250 ulps between them near x = -745.
    finite = np.isfinite(expected)
    assert _ulps(y[finite], expected[finite]).max() <= 1
    assert np.array_equal(y[~finite], expected[~finite])


def test_exp_f64_special_values():
    x = np.array([0.0, -0.0, -np.inf, np.inf, np.nan, 709.78, 709.79, -745.13, -745.2, -1e300])
    y = np.empty_like(x)
    _map_exp(x, y)
    assert y[0] == 1.0 and y[1] == 1.0
    assert y[2] == 0.0 and y[3] == np.inf and np.isnan(y[4])
    assert np.isfinite(y[5]) and y[6] == np.inf  # ln(DBL_MAX) = 709.7827...
    assert y[7] == math.exp(-745.13) > 0  # the smallest subnormal, 2**-1074
    assert y[8] == 0.0 and y[9] == 0.0


def test_exp_f64_ln2_split_carries_ln2_beyond_float64():
    digits = Decimal(scalar._LN2_DIGITS)
    with localcontext() as context:
        context.prec = 50
        error = Decimal(scalar._EXP_LN2_HI) + Decimal(scalar._EXP_LN2_LO) - digits
    # lo (about 1.9e-10) is rounded once, so hi + lo misses ln 2 by at most
    # 1.9e-10 * 2**-53, about 2e-26: k * error for |k| <= 1075 stays below 3e-23,
    # far from the 1.1e-16 of one ulp.  lo = math.log(2.0) - hi would miss by 2e-17.
    assert abs(error) < 3e-26
    # And the high part times any k the reduction meets is exact (32 bits).
    assert math.ldexp(scalar._EXP_LN2_HI, 32) == int(math.ldexp(scalar._EXP_LN2_HI, 32))
    assert str(math.log(2.0))[:17] == scalar._LN2_DIGITS[:17]
