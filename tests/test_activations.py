"""Activation kernels (on every backend) and functional API against the NumPy reference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fastnn import functional, reference
from fastnn.functional.activations import activation_args
from fastnn.kernels.cpu import activations as kernels
from fastnn.kernels.scalar import ACTIVATIONS, NEGATIVE_SLOPE
from tests.helpers import on_device, on_host, run_with_threads

DTYPES = [np.float32, np.float64]

# Kernel results differ from NumPy's by a few ulps (other exp/tanh
# implementations, float64 intermediates; measured <= 2.2 float32 and <= 6
# float64 ulps).  Where terms cancel (softmax backward) the error is relative
# to the terms, not the result, hence the magnitude-scaled atol of
# assert_close.  4e-6 is ~32 float32 ulps and 1e-13 ~450 float64 ulps: margin
# for other platforms' exp, far below any formula error.
RTOL = {np.float32: 4e-6, np.float64: 1e-13}

# Every registered activation, plus leaky relu at the slopes that matter:
# 0 (relu), the Keras default, and > 1 (the derivative is still read off sign(y)).
CASES = [(name, {}) for name in ACTIVATIONS] + [
    ("leaky_relu", {"negative_slope": 0.0}),
    ("leaky_relu", {"negative_slope": 1.5}),
    (None, {}),
]
CASE_IDS = [f"{name}{params or ''}" for name, params in CASES]

# 1 feature, 1 row, odd sizes.
SHAPES = [(1, 1), (7, 1), (1, 13), (33, 17), (130, 65), (257, 129)]
# Above both of the CPU kernels' thresholds (the prange path for every activation).
PARALLEL_SHAPE = (1025, 2049)
assert PARALLEL_SHAPE[0] * PARALLEL_SHAPE[1] >= kernels.PARALLEL_MIN_ELEMENTS
assert kernels.PARALLEL_MIN_ELEMENTS_COSTLY <= kernels.PARALLEL_MIN_ELEMENTS


def assert_close(actual, expected, magnitude, rtol):
    """Shape, then dtype, then values within ``rtol`` of themselves or of ``magnitude``.

    ``magnitude`` is the size of the largest term behind one entry: the scale
    of the rounding error of a sum whose terms may cancel.
    """
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * magnitude)


def check_forward(x, name, params, rtol):
    """The kernel's y against the reference's; returns it."""
    y = functional.activation_forward(x, name, **params)
    expected = reference.activation_forward(x, name, **params)
    assert_close(y, expected, np.abs(expected).max(), rtol)
    return y


def check_backward(dy, y, name, params, rtol):
    """The kernel's dx against the reference's, from the same y.

    Every backward's terms are at most |dy| times a derivative <= 1 (the leaky
    slope is covered by the relative part), softmax's are y*dy and
    y*sum(dy*y) with 0 <= y <= 1: max|dy| bounds them.
    """
    dx = functional.activation_backward(dy, y, name, **params)
    expected = reference.activation_backward(dy, y, name, **params)
    assert_close(dx, expected, np.abs(dy).max(), rtol)


def kernel_forward(backend, x, name, params):
    """``backend``'s ``activation_forward`` kernel on a copy of ``x``; the result on the host."""
    code, slope = activation_args(name, params)
    (x_dev,) = on_device(backend, x)
    y_dev = backend.memory.empty(x.shape, x.dtype)
    backend.activations.activation_forward(x_dev, int(code), slope, y_dev)
    return backend.memory.to_host(y_dev)


def kernel_backward(backend, dy, y, name, params):
    """``backend``'s ``activation_backward`` kernel; ``dx`` on the host."""
    code, slope = activation_args(name, params)
    dy_dev, y_dev = on_device(backend, dy, y)
    dx_dev = backend.memory.empty(dy.shape, dy.dtype)
    backend.activations.activation_backward(dy_dev, y_dev, int(code), slope, dx_dev)
    return backend.memory.to_host(dx_dev)


def random(shape, dtype, seed, scale=3.0):
    """Normal values; scale 3 reaches the saturated parts of sigmoid and tanh."""
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
def test_forward_matches_reference(backend, name, params, shape, dtype):
    x = random(shape, dtype, seed=1)
    expected = reference.activation_forward(x, name, **params)
    y = kernel_forward(backend, x, name, params)
    assert_close(y, expected, np.abs(expected).max(), RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
def test_backward_matches_reference(backend, name, params, shape, dtype):
    # Both sides get the same y, so only the backward formulas are compared.
    y = reference.activation_forward(random(shape, dtype, seed=2), name, **params)
    dy = random(shape, dtype, seed=3)
    expected = reference.activation_backward(dy, y, name, **params)
    # As in check_backward: max|dy| bounds every term of every backward.
    dx = kernel_backward(backend, dy, y, name, params)
    assert_close(dx, expected, np.abs(dy).max(), RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
def test_parallel_path_matches_reference(name, params, dtype):
    """Above the thresholds the rows are split over threads (the CPU kernels)."""
    x = random(PARALLEL_SHAPE, dtype, seed=10)
    expected = reference.activation_forward(x, name, **params)
    y = functional.activation_forward(x, name, **params)
    assert_close(y, expected, np.abs(expected).max(), RTOL[dtype])
    dy = random(PARALLEL_SHAPE, dtype, seed=11)
    expected = reference.activation_backward(dy, y, name, **params)
    dx = functional.activation_backward(dy, y, name, **params)
    assert_close(dx, expected, np.abs(dy).max(), RTOL[dtype])


# Softmax rows on both sides of the CPU kernel's switch to its vectorized path.
ALIAS_SHAPES = [(130, kernels.SOFTMAX_VECTOR_MIN - 1), (130, 65)]


@pytest.mark.parametrize("shape", ALIAS_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_kernels_allow_aliasing(backend, name, dtype, shape):
    """y may overwrite x and dx may overwrite dy (kernel contract), with the same bits."""
    code = ACTIVATIONS[name]
    x = random(shape, dtype, seed=4)
    dy = random(shape, dtype, seed=5)
    y_expected = kernel_forward(backend, x, name, {})
    dx_expected = kernel_backward(backend, dy, y_expected, name, {})
    x_dev, dy_dev = on_device(backend, x, dy)
    backend.activations.activation_forward(x_dev, code, NEGATIVE_SLOPE, x_dev)
    backend.activations.activation_backward(dy_dev, x_dev, code, NEGATIVE_SLOPE, dy_dev)
    x_out, dy_out = on_host(backend, x_dev, dy_dev)
    np.testing.assert_array_equal(x_out, y_expected)
    np.testing.assert_array_equal(dy_out, dx_expected)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_kernels_accept_activation_enum(backend, name):
    """A kernel given the ``Activation`` member computes what it computes for the plain int."""
    x = random((7, 5), np.float64, seed=10)
    code, slope = activation_args(name, {})
    assert code == ACTIVATIONS[name] and code.name == name.upper()
    (x_dev,) = on_device(backend, x)
    y_dev = backend.memory.empty(x.shape, x.dtype)
    backend.activations.activation_forward(x_dev, code, slope, y_dev)
    np.testing.assert_array_equal(
        backend.memory.to_host(y_dev), kernel_forward(backend, x, name, {})
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("module", [functional, reference], ids=["functional", "reference"])
def test_sigmoid_and_softmax_do_not_overflow(module, dtype):
    x = np.array([[1000, -1000, 0], [-1000, -1000, -1000], [1000, 1000, -1000]], dtype=dtype)
    sigmoid = module.activation_forward(x, "sigmoid")
    softmax = module.activation_forward(x, "softmax")
    # Exact limits: exp(-1000) underflows to 0 in both dtypes, so these are exact.
    np.testing.assert_array_equal(sigmoid, [[1, 0, 0.5], [0, 0, 0], [1, 1, 0]])
    np.testing.assert_allclose(
        softmax, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0]], rtol=RTOL[dtype]
    )
    dy = np.ones_like(x)
    for name, y in (("sigmoid", sigmoid), ("softmax", softmax)):
        assert np.isfinite(module.activation_backward(dy, y, name)).all()


@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
def test_backward_matches_finite_differences(name, params):
    """d/dx of L = sum(dy * f(x)) by central differences, in float64."""
    rng = np.random.default_rng(6)
    # Keep |x| >= 0.1 so no step crosses the relu/leaky-relu kink at 0.
    x = rng.uniform(0.1, 2.0, (3, 5)) * rng.choice([-1.0, 1.0], (3, 5))
    dy = rng.standard_normal((3, 5))
    y = functional.activation_forward(x, name, **params)
    dx = functional.activation_backward(dy, y, name, **params)
    h = 1e-6
    numeric = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = h
        up = np.sum(dy * functional.activation_forward(x + step, name, **params))
        down = np.sum(dy * functional.activation_forward(x - step, name, **params))
        numeric[idx] = (up - down) / (2 * h)
    # Central differences: truncation ~h**2 = 1e-12, rounding ~eps*|L|/h ~ 1e-9.
    np.testing.assert_allclose(dx, numeric, rtol=1e-6, atol=1e-7)


@settings(max_examples=25, deadline=None)
@given(
    data=st.data(),
    dtype=st.sampled_from(DTYPES),
    case=st.sampled_from(CASES),
    shape=st.tuples(st.integers(1, 20), st.integers(1, 20)),
)
def test_property_matches_reference(data, dtype, case, shape):
    name, params = case
    values = st.floats(-50, 50, width=32 if dtype is np.float32 else 64)
    x = data.draw(hnp.arrays(dtype, shape, elements=values))
    dy = data.draw(hnp.arrays(dtype, shape, elements=values))
    y = check_forward(x, name, params, RTOL[dtype])
    check_backward(dy, y, name, params, RTOL[dtype])
    if name in ("sigmoid", "softmax"):
        assert ((y >= 0) & (y <= 1)).all()
    if name == "softmax":
        # A float64-accumulated sum of n <= 20 rounded terms: a few ulps per term.
        np.testing.assert_allclose(y.sum(axis=1), 1, rtol=20 * np.finfo(dtype).eps)


def test_non_contiguous_input_is_accepted():
    x = random((20, 30), np.float64, seed=7)[:, ::3]
    check_forward(x, "tanh", {}, RTOL[np.float64])


def test_softmax_is_deterministic_across_thread_counts():
    """The prange path gives bitwise the same result with 1 and 2 threads."""
    assert 1025 * 600 >= kernels.PARALLEL_MIN_ELEMENTS_COSTLY
    script = """
        import hashlib
        import numpy as np
        from fastnn import functional
        # 1025 x 600 elements: above the softmax kernels' PARALLEL_MIN_ELEMENTS_COSTLY.
        x = np.random.default_rng(8).standard_normal((1025, 600))
        dy = np.random.default_rng(9).standard_normal((1025, 600))
        y = functional.activation_forward(x, "softmax")
        dx = functional.activation_backward(dy, y, "softmax")
        print(hashlib.sha256(y.tobytes() + dx.tobytes()).hexdigest())
    """
    one, two = run_with_threads(script, 1), run_with_threads(script, 2)
    assert len(one.strip()) == 64  # a digest was printed
    assert one == two


X = np.zeros((2, 3))
BAD_CALLS = [
    (lambda: functional.activation_forward([[1.0]], "relu"), TypeError, "x must be a numpy"),
    (lambda: functional.activation_forward(X.astype(int), "relu"), TypeError, "x must have dtype"),
    (lambda: functional.activation_forward(X[0], "relu"), ValueError, "x must be 2-D"),
    (lambda: functional.activation_forward(X[:0], "relu"), ValueError, "x must have at least 1"),
    (lambda: functional.activation_forward(X, "gelu"), ValueError, "activation must be one of"),
    (lambda: functional.activation_forward(X, 1), TypeError, "activation must be a string"),
    (
        lambda: functional.activation_forward(X, "relu", negative_slope=0.1),
        TypeError,
        r"'relu' takes no parameter\(s\) \['negative_slope'\]",
    ),
    (
        lambda: functional.activation_forward(X, "leaky_relu", slope=0.1),
        TypeError,
        r"'leaky_relu' takes no parameter\(s\) \['slope'\]",
    ),
    (
        lambda: functional.activation_forward(X, "leaky_relu", negative_slope=-0.1),
        ValueError,
        "negative_slope must be >= 0",
    ),
    (
        lambda: functional.activation_forward(X, "leaky_relu", negative_slope=np.inf),
        ValueError,
        "negative_slope must be finite",
    ),
    (
        lambda: functional.activation_forward(X, "leaky_relu", negative_slope="0.1"),
        TypeError,
        "negative_slope must be a real number",
    ),
    (lambda: functional.activation_backward(X, X[:1], "relu"), ValueError, "y must have shape"),
    (
        lambda: functional.activation_backward(X, X.astype(np.float32), "relu"),
        TypeError,
        "y must have dtype float64 like the other inputs",
    ),
    (lambda: functional.activation_backward(X[0], X[0], "relu"), ValueError, "dy must be 2-D"),
    (lambda: functional.activation_backward(X, X, "swish"), ValueError, "activation must be"),
]


@pytest.mark.parametrize(("call", "error", "match"), BAD_CALLS)
def test_validation_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# elu and selu at the limits: exp(z) - 1 saturates at -1, so elu(-inf) = -alpha and
# selu(-inf) = -scale alpha; +inf stays inf; NaN propagates; the derivative through
# y is 0 on the saturated side.  Expected values from the formulas (Klambauer et
# al. 2017's constants written out here).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
LIMITS_X = [-np.inf, -1000.0, 0.0, 1000.0, np.inf, np.nan]
LIMITS = {
    "elu": ([-1.0, -1.0, 0.0, 1000.0, np.inf, np.nan], [0.0, 0.0, 1.0, 1.0, 1.0, np.nan]),
    "selu": (
        [-SELU_SCALE * SELU_ALPHA] * 2 + [0.0, SELU_SCALE * 1000.0, np.inf, np.nan],
        [0.0, 0.0, SELU_SCALE * SELU_ALPHA, SELU_SCALE, SELU_SCALE, np.nan],
    ),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(LIMITS))
def test_elu_selu_limits_and_non_finite_inputs(backend, name, dtype):
    x = np.array([LIMITS_X], dtype=dtype)
    y_expected, slope_expected = (np.array([v], dtype=dtype) for v in LIMITS[name])
    y = kernel_forward(backend, x, name, {})
    dx = kernel_backward(backend, np.ones_like(x), y, name, {})
    # One rounding of a float64 product to the dtype: within one ulp.
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(y, y_expected, rtol=eps)
    np.testing.assert_allclose(dx, slope_expected, rtol=eps, atol=eps)
    np.testing.assert_allclose(reference.activation_forward(x, name), y_expected, rtol=eps)


def test_selu_is_self_normalizing():
    """E[selu(z)] = 0 and E[selu(z)**2] = 1 for z ~ N(0, 1): the constants' defining property.

    Simpson's rule on each side of the kink at 0, over [-12, 12] (the normal
    tail beyond holds < 1e-32), with 20000 intervals per side: error ~h**4 < 1e-12.
    """
    import scipy.integrate

    side = np.linspace(0.0, 12.0, 20001)
    moments = np.zeros(2)
    for z in (-side[::-1], side):
        y = functional.activation_forward(z.reshape(1, -1), "selu")[0]
        density = np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
        moments += [scipy.integrate.simpson(y * density, x=z),
                    scipy.integrate.simpson(y * y * density, x=z)]  # fmt: skip
    # The published constants have 32 digits; the kernel computes in float64.
    np.testing.assert_allclose(moments, [0.0, 1.0], atol=1e-9)
