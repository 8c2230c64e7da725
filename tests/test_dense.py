"""Dense kernels (on every backend) and functional API against the NumPy reference."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from fastnn import functional, reference
from fastnn.functional.activations import activation_args
from fastnn.kernels.cpu import dense as kernels
from fastnn.kernels.cpu.reduce import BLOCK_ROWS, reduction_workspace
from fastnn.kernels.scalar import ACTIVATIONS, NEGATIVE_SLOPE, TANH
from tests.helpers import on_device, on_host, run_with_threads
from tests.test_activations import CASE_IDS, CASES, DTYPES, assert_close

# The kernels' GEMMs run in SciPy's BLAS, the reference's in NumPy's: other
# builds may sum in other orders.  A float sum of n terms errs by at most about
# n*eps times the sum of the terms' magnitudes, so values are compared with
# atol = RTOL * that sum (assert_close's magnitude); n <= 150 here, so 1e-5 covers
# 150 float32 eps (9e-6) and 1e-12 is 60x the float64 bound, while any wrong
# formula is off by O(1).
RTOL = {np.float32: 1e-5, np.float64: 1e-12}

# (batch, n_in, n_out): 1x1, one input, one output, one row, odd sizes, several row blocks.
SHAPES = [(1, 1, 1), (7, 1, 3), (7, 3, 1), (1, 13, 5), (33, 17, 5), (130, 65, 9)]
assert 130 > 2 * BLOCK_ROWS


def random_layer(batch, n_in, n_out, dtype, seed):
    rng = np.random.default_rng(seed)
    x, W, b, dy = (
        rng.standard_normal(shape).astype(dtype)
        for shape in ((batch, n_in), (n_in, n_out), (n_out,), (batch, n_out))
    )
    return x, W, b, dy


def kernel_dense(backend, x, W, b, dy, name, params):
    """``backend``'s dense kernels as ``functional`` calls them; returns host arrays."""
    code, slope = activation_args(name, params)
    n_out = W.shape[1]
    bias = np.zeros(n_out, x.dtype) if b is None else b
    mem = backend.memory
    x_dev, W_dev, b_dev, dy_dev = on_device(backend, x, W, bias, dy)
    y_dev = mem.empty((x.shape[0], n_out), x.dtype)
    backend.dense.dense_forward(x_dev, W_dev, b_dev, int(code), slope, y_dev)
    dz, dx, dW, db = (mem.empty(s, x.dtype) for s in (dy.shape, x.shape, W.shape, (n_out,)))
    work = backend.workspace(x.shape[0], n_out)
    backend.dense.dense_backward(
        dy_dev, x_dev, W_dev, y_dev, int(code), slope, dz, dx, dW, db, work, True
    )
    y, dx, dW, db = on_host(backend, y_dev, dx, dW, db)
    return y, (dx, dW, None if b is None else db)


def check_against_reference(x, W, b, dy, name, params, rtol, backend=None):
    """Forward and backward of ``functional`` (or ``backend``'s kernels) against the reference."""
    if backend is None:
        y, cache = functional.dense_forward(x, W, b, name, **params)
    else:
        y, grads = kernel_dense(backend, x, W, b, dy, name, params)
    y_ref, cache_ref = reference.dense_forward(x, W, b, name, **params)
    abs_x, abs_W = np.abs(x), np.abs(W)
    z_magnitude = (abs_x @ abs_W).max() + (0 if b is None else np.abs(b).max())
    # Every activation here changes an error in z by at most 2x (softmax; leaky slope <= 1.5).
    assert_close(y, y_ref, 2 * z_magnitude, rtol)
    # The reference's backward starts from our y: a pre-activation within
    # rounding of the relu kink must not flip the derivative between the two.
    dx, dW, db = functional.dense_backward(dy, cache) if backend is None else grads
    dx_ref, dW_ref, db_ref = reference.dense_backward(dy, cache_ref._replace(y=y))
    # Bounds the terms of every dz formula (|f'| <= 1.5 here; softmax's terms are
    # y*dy and y*sum(dy*y) with 0 <= y <= 1), cancelling or not.
    abs_dz = np.abs(dy) + np.abs(dy).max(axis=1, keepdims=True)
    assert_close(dx, dx_ref, (abs_dz @ abs_W.T).max(), rtol)
    assert_close(dW, dW_ref, (abs_x.T @ abs_dz).max(), rtol)
    if b is None:
        assert db is None and db_ref is None
    else:
        assert_close(db, db_ref, abs_dz.sum(axis=0).max(), rtol)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
def test_matches_reference(backend, name, params, shape, dtype, bias):
    x, W, b, dy = random_layer(*shape, dtype, seed=1)
    check_against_reference(x, W, b if bias else None, dy, name, params, RTOL[dtype], backend)


@settings(max_examples=25, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 150), st.integers(1, 20), st.integers(1, 20)),
    dtype=st.sampled_from(DTYPES),
    case=st.sampled_from(CASES),
    bias=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(0.01, 30.0),
)
def test_property_matches_reference(shape, dtype, case, bias, seed, scale):
    x, W, b, dy = random_layer(*shape, dtype, seed)
    x = (x * scale).astype(dtype)  # large scales saturate sigmoid/tanh and sharpen softmax
    check_against_reference(x, W, b if bias else None, dy, *case, RTOL[dtype])


@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
def test_backward_matches_finite_differences(name, params):
    """Gradients of L = sum(r * dense(x, W, b)) by central differences, in float64."""
    x, W, b, r = random_layer(4, 5, 3, np.float64, seed=2)
    z = x @ W + b
    # No step below may cross the relu kink; this seed keeps every |z| far from it.
    assert np.abs(z).min() > 1e-3

    def loss(x, W, b):
        return np.sum(r * functional.dense_forward(x, W, b, name, **params)[0])

    _, cache = functional.dense_forward(x, W, b, name, **params)
    grads = functional.dense_backward(r, cache)
    h = 1e-6
    for which, (grad, arg) in enumerate(zip(grads, (x, W, b), strict=True)):
        numeric = np.empty_like(arg)
        for idx in np.ndindex(arg.shape):
            args_up = [x.copy(), W.copy(), b.copy()]
            args_down = [x.copy(), W.copy(), b.copy()]
            args_up[which][idx] += h
            args_down[which][idx] -= h
            numeric[idx] = (loss(*args_up) - loss(*args_down)) / (2 * h)
        # Central differences: truncation ~h**2 = 1e-12, rounding ~eps*|L|/h ~ 1e-9.
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_and_softmax_do_not_overflow(dtype):
    x = np.ones((2, 1), dtype=dtype)
    W = np.array([[1000, -1000, 0]], dtype=dtype)
    b = np.array([0, 0, -1000], dtype=dtype)
    sigmoid, _ = functional.dense_forward(x, W, b, "sigmoid")
    softmax, cache = functional.dense_forward(x, W, b, "softmax")
    # exp(-1000) underflows to exactly 0 in both dtypes, so these limits are exact.
    np.testing.assert_array_equal(sigmoid, [[1, 0, 0]] * 2)
    np.testing.assert_array_equal(softmax, [[1, 0, 0]] * 2)
    grads = functional.dense_backward(np.ones_like(softmax), cache)
    assert all(np.isfinite(grad).all() for grad in grads)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bias_none_and_need_dx(dtype):
    x, W, b, dy = random_layer(33, 17, 5, dtype, seed=3)
    y, cache = functional.dense_forward(x, W, None, "tanh")
    y_zero, cache_zero = functional.dense_forward(x, W, np.zeros_like(b), "tanh")
    np.testing.assert_array_equal(y, y_zero)
    dx, dW, db = functional.dense_backward(dy, cache)
    assert db is None
    dx_zero, dW_zero, db_zero = functional.dense_backward(dy, cache_zero)
    np.testing.assert_array_equal(dx, dx_zero)
    np.testing.assert_array_equal(dW, dW_zero)
    no_dx, dW_no_dx, db_no_dx = functional.dense_backward(dy, cache_zero, need_dx=False)
    assert no_dx is None
    np.testing.assert_array_equal(dW_no_dx, dW_zero)
    np.testing.assert_array_equal(db_no_dx, db_zero)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_kernel_dz_may_alias_dy(backend, name, dtype):
    x, W, b, dy = random_layer(130, 65, 9, dtype, seed=4)
    y, (dx, dW, db) = kernel_dense(backend, x, W, b, dy, name, {})
    mem = backend.memory
    dy_dev, x_dev, W_dev, y_dev = on_device(backend, dy, x, W, y)
    dx_alias, dW_alias, db_alias = (mem.empty(a.shape, a.dtype) for a in (dx, dW, db))
    work = backend.workspace(*y.shape)
    backend.dense.dense_backward(
        dy_dev,
        x_dev,
        W_dev,
        y_dev,
        ACTIVATIONS[name],
        NEGATIVE_SLOPE,
        dy_dev,
        dx_alias,
        dW_alias,
        db_alias,
        work,
        True,
    )
    for got, want in zip(on_host(backend, dx_alias, dW_alias, db_alias), (dx, dW, db), strict=True):
        np.testing.assert_array_equal(got, want)


def test_kernel_need_dx_false_leaves_dx_alone(backend):
    x, W, b, dy = random_layer(33, 17, 5, np.float64, seed=5)
    y, _ = kernel_dense(backend, x, W, b, dy, "relu", {})
    mem = backend.memory
    dy_dev, x_dev, W_dev, y_dev, dx = on_device(backend, dy, x, W, y, np.full_like(x, 7.0))
    dz, dW, db = (mem.empty(a.shape, a.dtype) for a in (y, W, b))
    work = backend.workspace(*y.shape)
    backend.dense.dense_backward(
        dy_dev, x_dev, W_dev, y_dev, ACTIVATIONS["relu"], 0.0, dz, dx, dW, db, work, False
    )
    assert (mem.to_host(dx) == 7.0).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_kernels_compile_without_performance_warnings(dtype):
    """np.dot on the transposed views compiles to BLAS calls without a copy or a warning.

    Fresh, uncached dispatchers, so the compilation really happens here.
    """
    x, W, b, dy = random_layer(33, 17, 5, dtype, seed=6)
    y, dz, dx, dW, db = (np.empty_like(a) for a in (dy, dy, x, W, b))
    work = reduction_workspace(*y.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        njit(kernels.dense_forward.py_func)(x, W, b, TANH, 0.0, y)
        njit(kernels.dense_backward.py_func)(dy, x, W, y, TANH, 0.0, dz, dx, dW, db, work, True)


def test_db_is_deterministic_across_thread_counts():
    """db over 1000 rows (16 blocks) is bitwise the same with 1 and 2 threads."""
    script = """
        import hashlib
        import numpy as np
        from fastnn import functional
        rng = np.random.default_rng(7)
        x, W, b, dy = (rng.standard_normal(s).astype(np.float32)
                       for s in ((1000, 37), (37, 29), (29,), (1000, 29)))
        for name in ("relu", "softmax"):
            _, cache = functional.dense_forward(x, W, b, name)
            _, _, db = functional.dense_backward(dy, cache)
            print(hashlib.sha256(db.tobytes()).hexdigest())
    """
    one, two = run_with_threads(script, 1), run_with_threads(script, 2)
    assert len(one.split()) == 2  # two digests were printed
    assert one == two


def test_non_contiguous_inputs_are_accepted():
    x, W, b, dy = random_layer(20, 12, 6, np.float64, seed=8)
    x_strided, W_fortran = x[:, ::2], np.asfortranarray(W[::2])
    y, cache = functional.dense_forward(x_strided, W_fortran, b, "relu")
    y_ref, _ = reference.dense_forward(x_strided, W_fortran, b, "relu")
    assert_close(y, y_ref, (np.abs(x_strided) @ np.abs(W_fortran)).max(), RTOL[np.float64])


X, W_, B, DY = np.ones((4, 3)), np.ones((3, 2)), np.ones(2), np.ones((4, 2))
_, CACHE = functional.dense_forward(X, W_, B, "relu")
BAD_CALLS = [
    (lambda: functional.dense_forward(X.tolist(), W_, B), TypeError, "x must be a numpy"),
    (lambda: functional.dense_forward(X[0], W_, B), ValueError, "x must be 2-D"),
    (lambda: functional.dense_forward(X[:0], W_, B), ValueError, "x must have at least 1"),
    (lambda: functional.dense_forward(X.astype(int), W_, B), TypeError, "x must have dtype"),
    (lambda: functional.dense_forward(X, W_[0], B), ValueError, "W must be 2-D"),
    (lambda: functional.dense_forward(X, W_[:2], B), ValueError, r"W must have shape \(3, n_out\)"),
    (
        lambda: functional.dense_forward(X, W_.astype(np.float32), B),
        TypeError,
        "W must have dtype float64 like the other inputs",
    ),
    (lambda: functional.dense_forward(X, W_, B[:1]), ValueError, r"b must have shape \(2,\)"),
    (
        lambda: functional.dense_forward(X, W_, B.astype(np.float32)),
        TypeError,
        "b must have dtype float64",
    ),
    (lambda: functional.dense_forward(X, W_, B, "gelu"), ValueError, "activation must be one of"),
    (
        lambda: functional.dense_forward(X, W_, B, "leaky_relu", negative_slope=-1),
        ValueError,
        "negative_slope must be >= 0",
    ),
    (
        lambda: functional.dense_forward(X, W_, B, "tanh", negative_slope=0.1),
        TypeError,
        r"'tanh' takes no parameter\(s\)",
    ),
    (lambda: functional.dense_backward(DY[:1], CACHE), ValueError, r"dy must have shape \(4, 2\)"),
    (
        lambda: functional.dense_backward(DY.astype(np.float32), CACHE),
        TypeError,
        "dy must have dtype float64",
    ),
    (
        lambda: functional.dense_backward(DY, tuple(CACHE)),
        TypeError,
        "cache must be the DenseCache",
    ),
]


@pytest.mark.parametrize(("call", "error", "match"), BAD_CALLS)
def test_validation_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
