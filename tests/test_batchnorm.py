"""Batch normalization (plain, BN -> act, act -> BN): kernels against the NumPy reference.

Tolerances.  The kernels and the reference both compute in float64 from the
same inputs and round once to the arrays' dtype; they differ in the order of
float64 additions (fixed row blocks versus NumPy's pairwise sums), in libm
versus NumPy for exp/tanh, in the kernels' folded per-column constants
(``a * scale + shift``), and in inference, where the kernel rounds its scale
to the dtype once more.  So:

- float32: results agree to one or two float32 ulps (6e-8 relative each);
  ``rtol`` 2e-6 allows a few more, ``atol`` 2e-6 covers values that cancel to
  near zero (sums of O(1) terms, normalized values near the mean).
- float64: about ``N * 1e-16`` relative for sums of ``N`` terms; ``rtol`` /
  ``atol`` 1e-9 leaves three orders of margin at ``N = 1e5``.
"""

import hashlib
import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastnn import functional as F
from fastnn import reference as R
from fastnn.kernels.cpu import batchnorm as kernels
from fastnn.kernels.cpu.reduce import BLOCK_ROWS
from fastnn.kernels.scalar import ACTIVATIONS, LINEAR, NEGATIVE_SLOPE
from tests.helpers import on_device, on_host, run_with_threads

DTYPES = [np.float32, np.float64]
TOL = {
    np.float32: dict(rtol=2e-6, atol=2e-6),
    np.float64: dict(rtol=1e-9, atol=1e-9),
}
POINTWISE = [name for name in ACTIVATIONS if name != "softmax"]
FUSED = ["batch_norm_act", "act_batch_norm"]
# (op, activation) for every placement: plain BN has no activation.
PLACEMENTS = [("batch_norm", None)] + [(op, act) for op in FUSED for act in POINTWISE]
SHAPES = [(2, 1), (7, 1), (2, 13), (33, 17), (64, 3), (65, 3), (130, 65)]


def make_layer(n, m, dtype, seed=0):
    """x, gamma, beta, running_mean, running_var, dy with unremarkable values."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.5, 2.0, (n, m)).astype(dtype)
    gamma = rng.uniform(0.5, 1.5, m).astype(dtype)
    beta = rng.normal(0.0, 0.5, m).astype(dtype)
    running_mean = rng.normal(0.0, 1.0, m).astype(dtype)
    running_var = rng.uniform(0.5, 2.0, m).astype(dtype)
    dy = rng.normal(0.0, 1.0, (n, m)).astype(dtype)
    return x, gamma, beta, running_mean, running_var, dy


def run(module, op, activation, x, gamma, beta, running_mean, running_var, **kwargs):
    """``module.<op>_forward`` with the activation argument only for fused ops."""
    if activation is not None:
        kwargs["activation"] = activation
    if activation == "leaky_relu":
        kwargs.setdefault("negative_slope", 0.1)
    forward = getattr(module, f"{op}_forward")
    return forward(x, gamma, beta, running_mean, running_var, **kwargs)


def kernel_codes(op, activation):
    """``(pre_code, post_code, negative_slope)`` as ``functional`` passes them to the kernels."""
    code = ACTIVATIONS[activation] if activation is not None else LINEAR
    slope = 0.1 if activation == "leaky_relu" else NEGATIVE_SLOPE  # 0.1: as ``run`` sets
    if op == "act_batch_norm":
        return code, LINEAR, slope
    return LINEAR, code, slope


def kernel_train(backend, op, activation, x, gamma, beta, rm, rv, dy, momentum=0.99, epsilon=1e-3):
    """Training forward and backward on ``backend``'s kernels, as ``functional`` calls them.

    Returns ``(y, running_mean, running_var, dx, dgamma, dbeta)`` on the host;
    ``rm`` and ``rv`` are not modified (the kernels update device copies).
    """
    pre, post, slope = kernel_codes(op, activation)
    mem = backend.memory
    n, m = x.shape
    x_d, g_d, b_d, rm_d, rv_d, dy_d = on_device(backend, x, gamma, beta, rm, rv, dy)
    a_d = x_d if pre == LINEAR else mem.empty(x.shape, x.dtype)
    y_d, dx_d = mem.empty(x.shape, x.dtype), mem.empty(x.shape, x.dtype)
    mean_d, invstd_d, dg_d, db_d = (mem.empty((m,), x.dtype) for _ in range(4))
    work = backend.workspace(n, m)
    backend.batchnorm.batch_norm_forward_train(
        x_d, g_d, b_d, rm_d, rv_d, momentum, epsilon, pre, post, slope, a_d, y_d, mean_d,
        invstd_d, work,
    )  # fmt: skip
    backend.batchnorm.batch_norm_backward(
        dy_d, a_d, y_d, g_d, mean_d, invstd_d, pre, post, slope, dx_d, dg_d, db_d, work
    )
    return on_host(backend, y_d, rm_d, rv_d, dx_d, dg_d, db_d)


def kernel_infer(backend, op, activation, x, gamma, beta, rm, rv, epsilon=1e-3):
    """Inference forward on ``backend``'s kernels; ``y`` on the host."""
    pre, post, slope = kernel_codes(op, activation)
    x_d, g_d, b_d, rm_d, rv_d = on_device(backend, x, gamma, beta, rm, rv)
    y_d = backend.memory.empty(x.shape, x.dtype)
    backend.batchnorm.batch_norm_forward_infer(
        x_d, g_d, b_d, rm_d, rv_d, epsilon, pre, post, slope, y_d, backend.workspace(1, x.shape[1])
    )
    return backend.memory.to_host(y_d)


def assert_close(actual, expected, dtype):
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype == np.dtype(dtype)
    np.testing.assert_allclose(actual, expected, **TOL[dtype])


def check_against_reference(op, activation, n, m, dtype, seed=0, backend=None, **kwargs):
    """Forward, running statistics and backward of fastnn equal the reference's.

    Through ``fastnn.functional``, or through ``backend``'s kernels when one is given.
    """
    x, gamma, beta, rm, rv, dy = make_layer(n, m, dtype, seed)
    rm_ref, rv_ref = rm.copy(), rv.copy()
    if backend is None:
        y, cache = run(F, op, activation, x, gamma, beta, rm, rv, **kwargs)
    else:
        y, rm, rv, *grads = kernel_train(
            backend, op, activation, x, gamma, beta, rm, rv, dy, **kwargs
        )
    y_ref, cache_ref = run(R, op, activation, x, gamma, beta, rm_ref, rv_ref, **kwargs)
    assert_close(y, y_ref, dtype)
    assert_close(rm, rm_ref, dtype)
    assert_close(rv, rv_ref, dtype)
    if backend is None:
        grads = getattr(F, f"{op}_backward")(dy, cache)
    grads_ref = getattr(R, f"{op}_backward")(dy, cache_ref)
    for got, want in zip(grads, grads_ref, strict=True):
        assert_close(got, want, dtype)


# ---------------------------------------------------------------------------
# Kernels against the reference
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize(("op", "activation"), PLACEMENTS)
def test_matches_reference(backend, op, activation, shape, dtype):
    check_against_reference(op, activation, *shape, dtype, backend=backend)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("op", "activation"), PLACEMENTS)
def test_parallel_path_matches_reference(backend, op, activation, dtype):
    # Small inputs run on one thread; this one is above the threshold.
    n, m = 3001, 700
    assert n * m >= kernels.PARALLEL_MIN_SIZE
    check_against_reference(op, activation, n, m, dtype, backend=backend)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("op", "activation"), [("batch_norm", None), ("act_batch_norm", "relu")])
def test_large_batch_matches_reference(op, activation, dtype):
    check_against_reference(op, activation, 100_003, 5, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("op", "activation"), PLACEMENTS)
@pytest.mark.parametrize("shape", [(1, 1), (70, 9), (3001, 23)], ids=str)
def test_inference_matches_reference(backend, op, activation, shape, dtype):
    x, gamma, beta, rm, rv, _ = make_layer(*shape, dtype)
    saved = rm.copy(), rv.copy()
    y, _ = run(F, op, activation, x, gamma, beta, rm, rv, training=False)
    y_ref, _ = run(R, op, activation, x, gamma, beta, rm, rv, training=False)
    assert_close(y, y_ref, dtype)
    assert_close(kernel_infer(backend, op, activation, x, gamma, beta, rm, rv), y_ref, dtype)
    np.testing.assert_array_equal(rm, saved[0])  # inference never updates them
    np.testing.assert_array_equal(rv, saved[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_inference_formula(dtype):
    # Written out here, independently of the reference; float64 maths, one rounding.
    x, gamma, beta, rm, rv, _ = make_layer(9, 4, dtype)
    y, _ = F.batch_norm_forward(x, gamma, beta, rm, rv, training=False, epsilon=0.01)
    expected = gamma * (x - rm.astype(np.float64)) / np.sqrt(rv + 0.01) + beta
    assert_close(y, expected.astype(dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum", [0.0, 0.3, 0.99, 1.0])
def test_running_statistics_keras_convention(momentum, dtype):
    # running = momentum * running + (1 - momentum) * batch, with the BIASED
    # variance, computed here with np.mean / np.var rather than the reference.
    x, gamma, beta, rm, rv, _ = make_layer(50, 6, dtype)
    old_mean, old_var = rm.astype(np.float64), rv.astype(np.float64)
    F.batch_norm_forward(x, gamma, beta, rm, rv, momentum=momentum)
    x64 = x.astype(np.float64)
    expected_mean = momentum * old_mean + (1 - momentum) * x64.mean(axis=0)
    expected_var = momentum * old_var + (1 - momentum) * x64.var(axis=0)
    assert_close(rm, expected_mean.astype(dtype), dtype)
    assert_close(rv, expected_var.astype(dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_normalized_columns_have_zero_mean_unit_variance(dtype):
    x, _, _, rm, rv, _ = make_layer(300, 7, dtype)
    ones, zeros = np.ones(7, dtype), np.zeros(7, dtype)
    y, cache = F.batch_norm_forward(x, ones, zeros, rm, rv, epsilon=1e-6)
    # One rounding per element of O(1) values: the column mean is ~1e-8 (float32);
    # eps = 1e-6 against a variance of 4 moves the std by 1.3e-7.
    np.testing.assert_allclose(y.mean(axis=0, dtype=np.float64), 0.0, atol=1e-6)
    np.testing.assert_allclose(y.std(axis=0, dtype=np.float64), 1.0, atol=1e-6)
    np.testing.assert_allclose(cache.mean, x.mean(axis=0, dtype=np.float64), rtol=1e-6, atol=1e-6)


def test_variance_is_stable_for_a_large_offset():
    # float32 values 1e4 + N(0, 1): E[x^2] - E[x]^2 cancels 8 of float32's 7 digits.
    rng = np.random.default_rng(1)
    n, m = 5000, 4
    x = (1e4 + rng.standard_normal((n, m))).astype(np.float32)
    ones, zeros = np.ones(m, np.float32), np.zeros(m, np.float32)
    y, _ = F.batch_norm_forward(x, ones, zeros, zeros.copy(), ones.copy(), epsilon=1e-6)
    np.testing.assert_allclose(y.mean(axis=0, dtype=np.float64), 0.0, atol=1e-3)
    np.testing.assert_allclose(y.std(axis=0, dtype=np.float64), 1.0, atol=1e-3)
    # The test has power: the naive float32 formula is far off.
    naive = (x * x).mean(axis=0) - x.mean(axis=0) ** 2
    assert np.all(np.abs(naive - x.astype(np.float64).var(axis=0)) > 1e-2)


def test_kernels_ignore_workspace_contents_and_accept_a_is_x(backend):
    # Kernel level: callers pass a = x for no pre activation, and the workspace
    # holds garbage from earlier calls.
    n, m = 3 * BLOCK_ROWS + 5, 11
    x, gamma, beta, rm, rv, dy = make_layer(n, m, np.float64)
    rm_ref, rv_ref = rm.copy(), rv.copy()
    mem = backend.memory
    x, gamma, beta, rm, rv, dy = on_device(backend, x, gamma, beta, rm, rv, dy)
    y, mean, invstd = (
        mem.empty((n, m), np.float64),
        mem.empty((m,), np.float64),
        mem.empty((m,), np.float64),
    )
    work = backend.workspace(n, m)
    mem.fill(work, np.nan)
    backend.batchnorm.batch_norm_forward_train(
        x, gamma, beta, rm, rv, 0.9, 1e-3, LINEAR, LINEAR, 0.0, x, y, mean, invstd, work
    )
    host_x, host_gamma, host_beta, host_dy = on_host(backend, x, gamma, beta, dy)
    y_ref, cache_ref = R.batch_norm_forward(
        host_x, host_gamma, host_beta, rm_ref, rv_ref, momentum=0.9
    )
    assert_close(mem.to_host(y), y_ref, np.float64)
    dx, dgamma, dbeta = (
        mem.empty((n, m), np.float64),
        mem.empty((m,), np.float64),
        mem.empty((m,), np.float64),
    )
    mem.fill(work, np.nan)
    backend.batchnorm.batch_norm_backward(
        dy, x, y, gamma, mean, invstd, LINEAR, LINEAR, 0.0, dx, dgamma, dbeta, work
    )
    grads_ref = R.batch_norm_backward(host_dy, cache_ref)
    for got, want in zip(on_host(backend, dx, dgamma, dbeta), grads_ref, strict=True):
        assert_close(got, want, np.float64)
    mem.fill(work, np.nan)
    y_infer = mem.empty((n, m), np.float64)
    backend.batchnorm.batch_norm_forward_infer(
        x, gamma, beta, rm, rv, 1e-3, LINEAR, LINEAR, 0.0, y_infer, work
    )
    host_rm, host_rv = on_host(backend, rm, rv)
    y_infer_ref, _ = R.batch_norm_forward(
        host_x, host_gamma, host_beta, host_rm, host_rv, training=False, epsilon=1e-3
    )
    assert_close(mem.to_host(y_infer), y_infer_ref, np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_and_read_only_inputs(dtype):
    x, gamma, beta, rm, rv, dy = make_layer(40, 6, dtype)
    y, cache = F.act_batch_norm_forward(x, gamma, beta, rm.copy(), rv.copy())
    wide = np.zeros((40, 12), dtype)
    wide[:, ::2] = x
    y_strided, _ = F.act_batch_norm_forward(wide[:, ::2], gamma, beta, rm.copy(), rv.copy())
    np.testing.assert_array_equal(y_strided, y)
    x_read_only = x.copy()
    x_read_only.flags.writeable = False
    y_read_only, cache_ro = F.batch_norm_forward(x_read_only, gamma, beta, rm.copy(), rv.copy())
    y_plain, _ = F.batch_norm_forward(x, gamma, beta, rm.copy(), rv.copy())
    np.testing.assert_array_equal(y_read_only, y_plain)
    F.batch_norm_backward(dy, cache_ro)


# ---------------------------------------------------------------------------
# Gradients against finite differences (float64)
# ---------------------------------------------------------------------------


def numerical_gradient(loss, param, h=1e-6):
    """Central differences of ``loss()`` with respect to each element of ``param``."""
    grad = np.empty_like(param)
    for index in np.ndindex(param.shape):
        saved = param[index]
        param[index] = saved + h
        up = loss()
        param[index] = saved - h
        down = loss()
        param[index] = saved
        grad[index] = (up - down) / (2 * h)
    return grad


@pytest.mark.parametrize("module", [F, R], ids=["fastnn", "reference"])
@pytest.mark.parametrize(("op", "activation"), PLACEMENTS)
def test_gradients_match_finite_differences(op, activation, module):
    n, m = 6, 3
    x, gamma, beta, rm, rv, weights = make_layer(n, m, np.float64, seed=3)
    # Keep every activation input far (> 1e3 steps) from relu's kink at 0, so
    # the +-1e-6 steps never cross it: x feeds the pre activation directly, the
    # normalized values z (which move by ~1e-6 per step) the post activation.
    x = np.where(np.abs(x) < 0.05, 0.3, x)
    z = gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-3) + beta
    assert np.abs(z).min() > 1e-3

    def loss():
        y, _ = run(module, op, activation, x, gamma, beta, rm.copy(), rv.copy())
        return np.sum(weights * y)

    _, cache = run(module, op, activation, x, gamma, beta, rm.copy(), rv.copy())
    dx, dgamma, dbeta = getattr(module, f"{op}_backward")(weights, cache)
    # Central differences with h = 1e-6: truncation ~h^2 = 1e-12, rounding
    # ~1e-16 * |loss| / h ~ 1e-9 for |loss| ~ 10; gradients are O(1).
    for got, param in [(dx, x), (dgamma, gamma), (dbeta, beta)]:
        np.testing.assert_allclose(got, numerical_gradient(loss, param), rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 150),
    m=st.integers(1, 20),
    dtype=st.sampled_from(DTYPES),
    placement=st.sampled_from(PLACEMENTS),
    momentum=st.floats(0.0, 1.0),
    epsilon=st.floats(1e-6, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_matches_reference(n, m, dtype, placement, momentum, epsilon, seed):
    op, activation = placement
    check_against_reference(op, activation, n, m, dtype, seed, momentum=momentum, epsilon=epsilon)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 100),
    m=st.integers(1, 8),
    shift=st.floats(-1e3, 1e3),
    scale=st.floats(0.1, 10.0),
)
def test_property_invariant_to_shift_and_scale_of_x(n, m, shift, scale):
    # BN(scale * x + shift) == BN(x) when epsilon is negligible against the variance:
    # 1e-30 is, for every column here (with epsilon=1e-12, n=2, m=3 has a column of
    # std 0.02, whose normalized values then moved by 4e-9 under scale=0.5).
    x, gamma, beta, rm, rv, _ = make_layer(n, m, np.float64)
    moved_x = scale * x + shift
    y, _ = F.batch_norm_forward(x, gamma, beta, rm.copy(), rv.copy(), epsilon=1e-30)
    moved, _ = F.batch_norm_forward(moved_x, gamma, beta, rm, rv, epsilon=1e-30)
    # Rounding scale * x + shift moves each value by up to eps64 * |value|; relative
    # to the narrowest column's spread that is the error of the normalized values,
    # with a factor 100 for the rounding inside both normalizations.
    spread = moved_x.std(axis=0).min()
    tol = 100 * np.finfo(np.float64).eps * np.abs(moved_x).max() / spread
    np.testing.assert_allclose(moved, y, rtol=tol, atol=tol * np.abs(y).max())


# ---------------------------------------------------------------------------
# Determinism across thread counts
# ---------------------------------------------------------------------------


def test_bitwise_identical_for_1_and_2_threads():
    script = """
        import hashlib
        import numpy as np
        from fastnn import functional as F
        rng = np.random.default_rng(7)
        n, m = 5000, 420  # above kernels.PARALLEL_MIN_SIZE: the prange path
        x = (3.0 + rng.standard_normal((n, m))).astype(np.float32)
        gamma, beta = rng.random(m).astype(np.float32), rng.random(m).astype(np.float32)
        rm, rv = np.zeros(m, np.float32), np.ones(m, np.float32)
        dy = rng.standard_normal((n, m)).astype(np.float32)
        digest = hashlib.sha256()
        for op in ["batch_norm", "batch_norm_act", "act_batch_norm"]:
            kwargs = {} if op == "batch_norm" else {"activation": "tanh"}
            y, cache = getattr(F, op + "_forward")(x, gamma, beta, rm, rv, **kwargs)
            for array in (y, rm, rv, *getattr(F, op + "_backward")(dy, cache)):
                digest.update(array.tobytes())
        print(digest.hexdigest())
    """
    one, two = run_with_threads(script, 1), run_with_threads(script, 2)
    assert len(one.strip()) == len(hashlib.sha256().hexdigest())
    assert one == two


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def layer_arguments(n=5, m=3, dtype=np.float32):
    x, gamma, beta, rm, rv, _ = make_layer(n, m, dtype)
    return dict(x=x, gamma=gamma, beta=beta, running_mean=rm, running_var=rv)


def read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


INVALID_FORWARD = [
    (dict(x=[[1.0, 2.0]]), TypeError, "x must be a numpy.ndarray"),
    (dict(x=np.ones((5, 3), np.int64)), TypeError, "x must have dtype float32 or float64"),
    (dict(x=np.ones(3, np.float32)), ValueError, "x must be 2-D"),
    (dict(x=np.ones((0, 3), np.float32)), ValueError, "x must have at least 1 element"),
    (dict(x=np.ones((1, 3), np.float32)), ValueError, "at least 2 rows"),
    (dict(gamma=np.ones(4, np.float32)), ValueError, r"gamma must have shape \(3,\)"),
    (dict(gamma=np.ones(3, np.float64)), TypeError, "gamma must have dtype float32 like"),
    (dict(beta=np.ones((3, 1), np.float32)), ValueError, r"beta must have shape \(3,\)"),
    (dict(beta=np.ones(3, np.float64)), TypeError, "beta must have dtype float32"),
    (dict(running_mean=np.ones(2, np.float32)), ValueError, r"running_mean must have shape"),
    (dict(running_mean=np.ones(3, np.float64)), TypeError, "running_mean must have dtype"),
    (dict(running_mean=[0.0, 0.0, 0.0]), TypeError, "running_mean must be a numpy.ndarray"),
    (dict(running_var=np.ones(6, np.float32)[::2]), ValueError, "running_var must be C-contig"),
    (dict(running_var=read_only(np.ones(3, np.float32))), ValueError, "must be writeable"),
    (dict(training=1), TypeError, "training must be a bool"),
    (dict(momentum=1.5), ValueError, r"momentum must be <= 1"),
    (dict(momentum=-0.1), ValueError, r"momentum must be >= 0"),
    (dict(momentum="0.9"), TypeError, "momentum must be a real number"),
    (dict(momentum=float("nan")), ValueError, "momentum must be finite"),
    (dict(epsilon=0.0), ValueError, r"epsilon must be > 0"),
    (dict(epsilon=-1e-3), ValueError, r"epsilon must be > 0"),
    (dict(epsilon=float("inf")), ValueError, "epsilon must be finite"),
]


@pytest.mark.parametrize("op", ["batch_norm", *FUSED])
@pytest.mark.parametrize(("change", "error", "match"), INVALID_FORWARD)
def test_invalid_forward_arguments(op, change, error, match):
    arguments = layer_arguments() | change
    with pytest.raises(error, match=match):
        getattr(F, f"{op}_forward")(**arguments)


def test_inference_accepts_one_row_and_read_only_running_statistics():
    arguments = layer_arguments(n=1) | dict(running_var=read_only(np.ones(3, np.float32)))
    y, _ = F.batch_norm_forward(**arguments, training=False)
    assert y.shape == (1, 3)


@pytest.mark.parametrize("op", FUSED)
@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (dict(activation="softmax"), ValueError, "'softmax' cannot be fused"),
        (dict(activation="swish"), ValueError, "activation must be one of"),
        (dict(activation=3), TypeError, "activation must be a string"),
        (dict(negative_slope=-0.1), ValueError, r"negative_slope must be >= 0"),
        (dict(alpha=0.1), TypeError, r"'leaky_relu' takes no parameter\(s\) \['alpha'\]"),
        (dict(activation="relu", negative_slope=0.1), TypeError, r"'relu' takes no param"),
    ],
)
def test_invalid_activation(op, change, error, match):
    arguments = layer_arguments() | dict(activation="leaky_relu") | change
    with pytest.raises(error, match=match):
        getattr(F, f"{op}_forward")(**arguments)


@pytest.mark.parametrize("module", [F, R], ids=["fastnn", "reference"])
def test_reference_raises_like_fastnn_on_semantic_errors(module):
    with pytest.raises(ValueError, match="at least 2 rows"):
        module.batch_norm_forward(**layer_arguments(n=1))
    with pytest.raises(ValueError, match="'softmax' cannot be fused"):
        module.act_batch_norm_forward(**layer_arguments(), activation="softmax")


def test_invalid_backward_arguments():
    arguments = layer_arguments()
    dy = np.ones((5, 3), np.float32)
    _, cache = F.batch_norm_forward(**arguments)
    with pytest.raises(ValueError, match=r"dy must have shape \(5, 3\)"):
        F.batch_norm_backward(np.ones((5, 4), np.float32), cache)
    with pytest.raises(TypeError, match="dy must have dtype float32"):
        F.batch_norm_backward(np.ones((5, 3)), cache)
    with pytest.raises(TypeError, match="cache must be the BatchNormCache"):
        F.batch_norm_backward(dy, (1, 2, 3))
    with pytest.raises(ValueError, match="cache comes from batch_norm_forward"):
        F.act_batch_norm_backward(dy, cache)
    _, cache = F.batch_norm_act_forward(**arguments)
    with pytest.raises(ValueError, match="pass it to batch_norm_act_backward"):
        F.batch_norm_backward(dy, cache)
    _, cache = F.batch_norm_forward(**arguments, training=False)
    with pytest.raises(ValueError, match="needs a cache from a training-mode forward"):
        F.batch_norm_backward(dy, cache)


# ---------------------------------------------------------------------------
# Names and signatures
# ---------------------------------------------------------------------------


def test_functional_and_reference_export_the_same_names():
    from fastnn.functional import batchnorm as functional_module
    from fastnn.reference import batchnorm as reference_module

    assert functional_module.__all__ == reference_module.__all__
    for name in functional_module.__all__:
        assert callable(getattr(F, name)) and callable(getattr(R, name))


@pytest.mark.parametrize(
    ("kernel", "parameters"),
    [
        (
            "batch_norm_forward_train",
            "x gamma beta running_mean running_var momentum epsilon pre_code post_code "
            "negative_slope a y mean invstd work",
        ),
        (
            "batch_norm_forward_infer",
            "x gamma beta running_mean running_var epsilon pre_code post_code negative_slope y "
            "work",
        ),
        (
            "batch_norm_backward",
            "dy a y gamma mean invstd pre_code post_code negative_slope dx dgamma dbeta work",
        ),
    ],
)
def test_kernel_signatures_match_the_contract(kernel, parameters):
    # The CUDA backend and the Network are written against these names.
    signature = inspect.signature(getattr(kernels, kernel).py_func)
    assert list(signature.parameters) == parameters.split()


# ---------------------------------------------------------------------------
# The PyTorch mapping stated in the docstrings
# ---------------------------------------------------------------------------


def test_pytorch_mapping():
    torch = pytest.importorskip("torch")
    x, gamma, beta, rm, rv, dy = make_layer(40, 5, np.float64)
    momentum, epsilon, n = 0.9, 1e-3, x.shape[0]
    layer = torch.nn.BatchNorm1d(5, eps=epsilon, momentum=1 - momentum, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(gamma))
        layer.bias.copy_(torch.from_numpy(beta))
        layer.running_mean.copy_(torch.from_numpy(rm))
        layer.running_var.copy_(torch.from_numpy(rv))
    xt = torch.from_numpy(x).requires_grad_()
    yt = layer(xt)
    yt.backward(torch.from_numpy(dy))
    old_var = rv.copy()
    y, cache = F.batch_norm_forward(x, gamma, beta, rm, rv, momentum=momentum, epsilon=epsilon)
    dx, dgamma, dbeta = F.batch_norm_backward(dy, cache)
    # Different summation orders in float64: 1e-10 is ~1e6 ulps of margin.
    tol = dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(y, yt.detach().numpy(), **tol)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **tol)
    np.testing.assert_allclose(dgamma, layer.weight.grad.numpy(), **tol)
    np.testing.assert_allclose(dbeta, layer.bias.grad.numpy(), **tol)
    np.testing.assert_allclose(rm, layer.running_mean.numpy(), **tol)
    # torch feeds the unbiased variance into running_var.
    batch_var = (rv - momentum * old_var) / (1 - momentum)
    unbiased = momentum * old_var + (1 - momentum) * batch_var * n / (n - 1)
    np.testing.assert_allclose(unbiased, layer.running_var.numpy(), **tol)
