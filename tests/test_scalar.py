"""The per-element maths in ``fastnn.kernels.scalar`` against NumPy's."""

import numpy as np
from numba import njit

from fastnn.kernels.scalar import sigmoid, tanh


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
