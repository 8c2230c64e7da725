"""Every CUDA kernel against the NumPy reference (or its CPU twin), with the CPU tests' tolerances.

These tests run when the CUDA backend can run: on a GPU, or in CI under the
simulator (``NUMBA_ENABLE_CUDASIM=1 FASTNN_CUDA_SMALL_BLOCKS=1 pytest
tests/test_cuda_*.py``; the variables must be set before Numba is imported;
the second makes the GEMM and reduction blocks small, see ``config``).  Under plain ``pytest``
without a GPU they skip.  The launch sizes are shrunk (``config.shrunk``) so
that the small shapes here cross several thread blocks and reduction blocks,
and the GEMM shapes cross several 64 x 64 tiles and 16-deep steps, edges
included.  The simulator is slow Python, so shapes and parametrizations are
few.  Tolerances are the CPU tests' own, imported from them; each module
there says why its values are what they are.  Tests marked ``gpu`` need a
real GPU (concurrency the simulator does not have) and skip without one.
"""

import os

import numpy as np
import pytest

from fastnn import reference
from fastnn.backend import cuda_unavailable_reason

_REASON = cuda_unavailable_reason()
if _REASON is not None:
    pytest.skip(f"the CUDA backend cannot run here: {_REASON}", allow_module_level=True)

from fastnn.kernels.cpu import init as cpu_init  # noqa: E402
from fastnn.kernels.cuda import (  # noqa: E402
    activations,
    batchnorm,
    config,
    dense,
    init,
    losses,
    memory,
    metrics,
    optimizers,
    reduce,
)
from fastnn.kernels.scalar import ACTIVATIONS, LINEAR  # noqa: E402
from tests.test_activations import CASE_IDS, CASES, assert_close  # noqa: E402
from tests.test_activations import RTOL as ACTIVATION_RTOL  # noqa: E402
from tests.test_batchnorm import TOL as BN_TOL  # noqa: E402
from tests.test_batchnorm import make_layer  # noqa: E402
from tests.test_dense import RTOL as DENSE_RTOL  # noqa: E402
from tests.test_losses import LOSS_RTOL, assert_grad_close, make_inputs  # noqa: E402
from tests.test_optimizers import CONFIGS, assert_state_close  # noqa: E402

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
DTYPES = [np.float32, np.float64]
gpu = pytest.mark.gpu
needs_real_gpu = pytest.mark.skipif(SIMULATOR, reason="needs a real GPU, not the simulator")


@pytest.fixture(autouse=True)
def small_launches():
    """32-thread blocks, 8-row reduction blocks, at most 4 blocks per grid-stride launch."""
    with config.shrunk(threads=32, reduce_rows=8, max_blocks=4):
        yield


def dev(a):
    return memory.from_host(a)


def host(a):
    return memory.to_host(a)


def random(shape, dtype, seed, scale=3.0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)


# --- memory, reduce, metrics ------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_memory_helpers_cross_blocks(dtype):
    src = random((150, 3), dtype, 0)
    index = np.random.default_rng(1).integers(0, 150, 200).astype(np.int64)
    out = memory.empty((200, 3), dtype)
    memory.gather_rows(dev(src), dev(index), out)
    np.testing.assert_array_equal(host(out), src[index])  # a copy: exact
    flat = memory.empty((200,), dtype)
    memory.gather_rows(dev(src[:, 0].copy()), dev(index), flat)
    np.testing.assert_array_equal(host(flat), src[index, 0])
    z = memory.zeros((37, 5), dtype)
    assert host(z).dtype == dtype and not host(z).any()
    memory.copy(dev(src[:37, :3].copy()), memory.empty((37, 3), dtype))
    with pytest.raises(ValueError, match="shape"):
        memory.copy(src, memory.empty((3, 150), dtype))
    values = np.ones(500, dtype)
    assert memory.all_finite(dev(values))
    values[-1] = np.nan  # in the last block of the grid-stride loop
    assert not memory.all_finite(dev(values))
    assert memory.read_scalar(dev(src[:, 1].copy()), 149) == float(src[149, 1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_column_sums_fixed_order(dtype):
    a = random((45, 35), dtype, 2)
    out = memory.empty((35,), np.float64)
    work = reduce.reduction_workspace(45, 35)
    assert tuple(work.shape) == (2, 6, 35)  # 45 rows in blocks of 8; 2 column groups of 32
    reduce.column_sums(dev(a), work, out)
    # float64 sums of 45 float32/float64 values: error ~ 45 * 2**-53 * sum|a| < 1e-13.
    np.testing.assert_allclose(host(out), a.sum(axis=0, dtype=np.float64), rtol=0, atol=1e-13)
    again = memory.empty((35,), np.float64)
    reduce.column_sums(dev(a), work, again)
    np.testing.assert_array_equal(host(out), host(again))
    with pytest.raises(ValueError, match="reduction_workspace"):
        reduce.column_sums(dev(a), reduce.reduction_workspace(8, 35), out)


@pytest.mark.parametrize("dtype", DTYPES)
def test_metrics_cross_blocks(dtype):
    rng = np.random.default_rng(3)
    logits = random((100, 4), dtype, 4)
    logits[7] = [2.0, 2.0, 0.0, -1.0]  # a tie: the first maximal index wins, as np.argmax
    labels = rng.integers(0, 4, 100).astype(np.int64)
    labels[7] = 0
    out = memory.zeros((1,), np.float64)
    metrics.count_correct_classes(dev(logits), dev(labels), out)
    assert memory.read_scalar(out) == np.count_nonzero(logits.argmax(axis=1) == labels)
    targets = rng.uniform(0, 1, (100, 4)).astype(dtype)
    metrics.count_correct_binary(dev(logits), dev(targets), out)
    assert memory.read_scalar(out) == np.count_nonzero((logits > 0) == (targets > 0.5)) / 4


# --- activations --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
def test_activations_match_reference(name, params, dtype):
    x = random((37, 5), dtype, 5)
    dy = random((37, 5), dtype, 6, scale=1.0)
    code = ACTIVATIONS[name] if name is not None else LINEAR
    slope = params.get("negative_slope", 0.2)
    y = memory.empty(x.shape, dtype)
    activations.activation_forward(dev(x), code, slope, y)
    ref_name = name or "linear"
    expected = reference.activation_forward(x, ref_name, **params)
    assert_close(host(y), expected, np.abs(expected).max(), ACTIVATION_RTOL[dtype])
    dx = memory.empty(x.shape, dtype)
    activations.activation_backward(dev(dy), y, code, slope, dx)
    expected = reference.activation_backward(dy, host(y), ref_name, **params)
    assert_close(host(dx), expected, np.abs(dy).max(), ACTIVATION_RTOL[dtype])


# --- dense ----------------------------------------------------------------------------


# (batch, n_in, n_out): every product crosses two 64-row or 64-column tiles and
# two or more 16-deep steps, with partial tiles at every edge.
DENSE_SHAPES = [(70, 20, 67), (3, 33, 5)]


@pytest.mark.parametrize(
    ("shape", "dtype", "name"),
    [
        (DENSE_SHAPES[0], np.float32, "relu"),
        (DENSE_SHAPES[0], np.float64, "tanh"),
        (DENSE_SHAPES[1], np.float32, "softmax"),
        (DENSE_SHAPES[1], np.float64, "linear"),
    ],
)
def test_dense_matches_reference(shape, dtype, name):
    batch, n_in, n_out = shape
    rng = np.random.default_rng(7)
    x, W, b, dy = (
        rng.standard_normal(s).astype(dtype)
        for s in ((batch, n_in), (n_in, n_out), (n_out,), (batch, n_out))
    )
    rtol = DENSE_RTOL[dtype]
    y = memory.empty((batch, n_out), dtype)
    dense.dense_forward(dev(x), dev(W), dev(b), ACTIVATIONS[name], 0.2, y)
    y_ref, cache = reference.dense_forward(x, W, b, name)
    abs_x, abs_W = np.abs(x), np.abs(W)
    # As tests/test_dense.py: error bounded by rtol times the magnitude of the terms.
    assert_close(host(y), y_ref, 2 * ((abs_x @ abs_W).max() + np.abs(b).max()), rtol)
    dz, dx, dW, db = (memory.empty(s, dtype) for s in (dy.shape, x.shape, W.shape, b.shape))
    work = reduce.reduction_workspace(batch, n_out)
    d_x, d_W, d_y = dev(x), dev(W), dev(dy)
    dense.dense_backward(d_y, d_x, d_W, y, ACTIVATIONS[name], 0.2, dz, dx, dW, db, work, True)
    dx_ref, dW_ref, db_ref = reference.dense_backward(dy, cache._replace(y=host(y)))
    abs_dz = np.abs(dy) + np.abs(dy).max(axis=1, keepdims=True)
    assert_close(host(dx), dx_ref, (abs_dz @ abs_W.T).max(), rtol)
    assert_close(host(dW), dW_ref, (abs_x.T @ abs_dz).max(), rtol)
    assert_close(host(db), db_ref, abs_dz.sum(axis=0).max(), rtol)
    # Same launch, same bits; need_dx=False leaves dx alone.
    db_first, dW_first = host(db), host(dW)
    memory.fill(dx, 7.0)
    dense.dense_backward(d_y, d_x, d_W, y, ACTIVATIONS[name], 0.2, dz, dx, dW, db, work, False)
    np.testing.assert_array_equal(host(db), db_first)
    np.testing.assert_array_equal(host(dW), dW_first)
    assert (host(dx) == 7.0).all()


# --- batch normalization ------------------------------------------------------------------

BN_CASES = [
    ("batch_norm", None, np.float32),
    ("batch_norm_act", "relu", np.float64),
    ("act_batch_norm", "leaky_relu", np.float32),
    ("act_batch_norm", "tanh", np.float64),
]


def _bn_codes(op, activation):
    code = LINEAR if activation is None else ACTIVATIONS[activation]
    return (code, LINEAR) if op == "act_batch_norm" else (LINEAR, code)


@pytest.mark.parametrize(("op", "activation", "dtype"), BN_CASES)
def test_batch_norm_matches_reference(op, activation, dtype):
    n, m = 45, 35  # 6 reduction blocks of 8 rows (the last partial), 2 column groups of 32
    x, gamma, beta, rm, rv, dy = make_layer(n, m, dtype)
    pre, post = _bn_codes(op, activation)
    slope = 0.1
    params = {"negative_slope": slope} if activation == "leaky_relu" else {}
    kwargs = {} if activation is None else {"activation": activation, **params}
    rm_ref, rv_ref = rm.copy(), rv.copy()
    forward = getattr(reference, f"{op}_forward")
    y_ref, cache = forward(x, gamma, beta, rm_ref, rv_ref, momentum=0.9, epsilon=1e-3, **kwargs)
    d_x, d_rm, d_rv = dev(x), dev(rm), dev(rv)
    a = d_x if pre == LINEAR else memory.empty((n, m), dtype)
    y, mean, invstd = memory.empty((n, m), dtype), memory.empty(m, dtype), memory.empty(m, dtype)
    work = reduce.reduction_workspace(n, m)
    memory.fill(work, np.nan)  # the kernels must not read stale workspace contents
    d_gamma = dev(gamma)
    batchnorm.batch_norm_forward_train(
        d_x, d_gamma, dev(beta), d_rm, d_rv, 0.9, 1e-3, pre, post, slope, a, y, mean, invstd, work
    )
    for got, want in ((y, y_ref), (mean, cache.mean), (invstd, cache.invstd), (a, cache.a)):
        np.testing.assert_allclose(host(got), want, **BN_TOL[dtype])
    np.testing.assert_allclose(host(d_rm), rm_ref, **BN_TOL[dtype])
    np.testing.assert_allclose(host(d_rv), rv_ref, **BN_TOL[dtype])
    dx, dgamma, dbeta = memory.empty((n, m), dtype), memory.empty(m, dtype), memory.empty(m, dtype)
    batchnorm.batch_norm_backward(
        dev(dy), a, y, d_gamma, mean, invstd, pre, post, slope, dx, dgamma, dbeta, work
    )
    backward = getattr(reference, f"{op}_backward")
    for got, want in zip((dx, dgamma, dbeta), backward(dy, cache), strict=True):
        np.testing.assert_allclose(host(got), want, **BN_TOL[dtype])
    first = host(dgamma)
    batchnorm.batch_norm_backward(
        dev(dy), a, y, d_gamma, mean, invstd, pre, post, slope, dx, dgamma, dbeta, work
    )
    np.testing.assert_array_equal(host(dgamma), first)  # two launches, the same bits
    # Inference with the updated running statistics.
    y_inf = memory.empty((n, m), dtype)
    batchnorm.batch_norm_forward_infer(
        d_x, d_gamma, dev(beta), d_rm, d_rv, 1e-3, pre, post, slope, y_inf, work
    )
    want, _ = forward(x, gamma, beta, rm_ref, rv_ref, training=False, epsilon=1e-3, **kwargs)
    np.testing.assert_allclose(host(y_inf), want, **BN_TOL[dtype])


def test_batch_norm_variance_is_stable_for_a_large_offset():
    # float32 values 1e4 + N(0, 1), as the CPU test: E[x^2] - E[x]^2 cancels every digit.
    rng = np.random.default_rng(1)
    n, m = 400, 4
    x = (1e4 + rng.standard_normal((n, m))).astype(np.float32)
    ones, zeros = np.ones(m, np.float32), np.zeros(m, np.float32)
    y, mean, invstd = (
        memory.empty((n, m), np.float32),
        memory.empty(m, np.float32),
        memory.empty(m, np.float32),
    )
    d_x = dev(x)
    with config.shrunk(threads=32, reduce_rows=64, max_blocks=4):
        work = reduce.reduction_workspace(n, m)
        batchnorm.batch_norm_forward_train(
            d_x, dev(ones), dev(zeros), dev(zeros), dev(ones), 0.99, 1e-6, LINEAR, LINEAR, 0.2,
            d_x, y, mean, invstd, work,
        )  # fmt: skip
    out = host(y).astype(np.float64)
    # As the CPU test: one rounding per element of O(1) values.
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-3)
    np.testing.assert_allclose(out.std(axis=0), 1.0, atol=1e-3)
    naive = (x * x).mean(axis=0) - x.mean(axis=0) ** 2  # the test has power
    assert np.all(np.abs(naive - x.astype(np.float64).var(axis=0)) > 1e-2)


# --- losses -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "name", ["softmax_cross_entropy", "binary_cross_entropy", "mean_squared_error"]
)
def test_losses_match_reference(name, dtype):
    x, target = make_inputs(name, (75, 6), dtype, np.random.default_rng(8))
    if name == "softmax_cross_entropy":
        target = target.astype(np.int64)
    grad = memory.empty(x.shape, dtype)
    loss_out = memory.empty((1,), np.float64)
    work = reduce.reduction_workspace(75, 1)
    kernel = getattr(losses, name)
    kernel(dev(x), dev(target), grad, loss_out, work)
    ref_loss, ref_grad = getattr(reference, name)(x, target)
    loss = memory.read_scalar(loss_out)
    assert loss == pytest.approx(ref_loss, rel=LOSS_RTOL)  # float64 on both sides
    assert_grad_close(host(grad), ref_grad, name, x, target)
    kernel(dev(x), dev(target), grad, loss_out, work)
    assert memory.read_scalar(loss_out) == loss  # two launches, the same bits


# --- optimizers ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_optimizers_match_reference(name, dtype):
    function, n_states, kwargs = CONFIGS[name]
    rng = np.random.default_rng(9)
    n = 300  # > 4 blocks of 32 threads: the grid-stride loop runs several rounds
    param = rng.standard_normal(n).astype(dtype)
    states = [np.zeros(n, dtype) for _ in range(n_states)]
    ref_param, ref_states = param.copy(), [s.copy() for s in states]
    d_param, d_states = dev(param), [dev(s) for s in states]
    hyper = {
        "sgd_update": ("learning_rate", "momentum", "nesterov", "weight_decay"),
        "adam_update": ("learning_rate", "beta_1", "beta_2", "epsilon", "weight_decay"),
        "rmsprop_update": ("learning_rate", "rho", "momentum", "epsilon", "weight_decay"),
    }[function]
    defaults = {
        "sgd_update": dict(learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=0.0),
        "adam_update": dict(
            learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.0
        ),
        "rmsprop_update": dict(
            learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, weight_decay=0.0
        ),
    }[function]
    values = [{**defaults, **kwargs}[h] for h in hyper]
    full_states = d_states + [memory.empty(0, dtype)] * (
        {"sgd_update": 1, "adam_update": 2, "rmsprop_update": 2}[function] - n_states
    )
    for step in range(1, 4):
        grad = rng.standard_normal(n).astype(dtype)
        d_grad = dev(grad)
        if function == "adam_update":
            optimizers.adam_update(d_param, d_grad, *full_states, step, *values)
            reference.adam_update(ref_param, grad, *ref_states, step, **kwargs)
        else:
            getattr(optimizers, function)(d_param, d_grad, *full_states, *values)
            getattr(reference, function)(ref_param, grad, *ref_states, **kwargs)
    assert_state_close(host(d_param), ref_param)
    for got, want in zip(d_states, ref_states, strict=True):
        assert_state_close(host(got), want)


# --- initializers --------------------------------------------------------------------------

FILLS = ["fill_uniform", "fill_normal", "fill_truncated_normal"]


def _fill_args(name):
    return (-0.5, 1.5) if name == "fill_uniform" else (0.25, 2.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FILLS)
@pytest.mark.parametrize(("n", "offset"), [(2 * 4 * 256 + 77, 0), (700, 1000)])
def test_initializers_match_cpu_bits(name, dtype, n, offset):
    seed, stream = 2**63 + 12345, 7
    want = np.empty(n, dtype)
    getattr(cpu_init, name)(want, seed, stream, offset, *_fill_args(name))
    got = memory.empty(n, dtype)
    getattr(init, name)(got, seed, stream, offset, *_fill_args(name))
    bits = np.uint32 if dtype == np.float32 else np.uint64
    if name == "fill_uniform":
        # The Philox words and the uniform grid are integer maths: identical bits.
        np.testing.assert_array_equal(host(got).view(bits), want.view(bits))
    else:
        # The bound for the transforms: within 2 ulp of the CPU.
        np.testing.assert_array_max_ulp(host(got), want, maxulp=2)
    again = memory.empty(n, dtype)
    getattr(init, name)(again, seed, stream, offset, *_fill_args(name))
    np.testing.assert_array_equal(host(again).view(bits), host(got).view(bits))


@pytest.mark.parametrize("dtype", DTYPES)
def test_symmetric_uniform_and_constant_are_bit_identical(dtype):
    n = 3000
    want = np.empty(n, dtype)
    cpu_init.fill_uniform(want, 5, 0, 0, -1.0, 1.0)
    got = memory.empty(n, dtype)
    init.fill_uniform(got, 5, 0, 0, -1.0, 1.0)
    np.testing.assert_array_equal(host(got), want)
    init.fill_constant(got, -0.75)
    assert (host(got) == dtype(-0.75)).all()


# --- only on a real GPU ---------------------------------------------------------------------


@gpu
@needs_real_gpu
def test_large_launches_are_deterministic_and_match_cpu():
    """Full-size launches (real concurrency): same bits twice, initializers within 2 ulp."""
    n, m = 8192, 512
    with config.shrunk(threads=256, reduce_rows=64, max_blocks=4096):
        x, gamma, beta, rm, rv, dy = make_layer(n, m, np.float32)
        d = [dev(v) for v in (x, gamma, beta, rm, rv, dy)]
        outs = []
        for _ in range(2):
            y, mean, invstd = (memory.empty(s, np.float32) for s in ((n, m), m, m))
            work = reduce.reduction_workspace(n, m)
            batchnorm.batch_norm_forward_train(
                d[0], d[1], d[2], d[3], d[4], 0.99, 1e-3, LINEAR, LINEAR, 0.2,
                d[0], y, mean, invstd, work,
            )  # fmt: skip
            outs.append(host(y))
        np.testing.assert_array_equal(outs[0], outs[1])
        for name in FILLS:
            want = np.empty(1 << 20, np.float32)
            getattr(cpu_init, name)(want, 3, 1, 0, *_fill_args(name))
            got = memory.empty(1 << 20, np.float32)
            getattr(init, name)(got, 3, 1, 0, *_fill_args(name))
            np.testing.assert_array_max_ulp(host(got), want, maxulp=2)
