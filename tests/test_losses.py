"""Losses: kernels against the NumPy reference, gradients against finite differences.

Tolerances (each comparison says which one it uses and why):

- ``LOSS_RTOL``: the kernels and the reference both compute the loss in float64
  from the same inputs (float32 inputs widen exactly), so they differ only by
  summation order and libm rounding: ``~ n_terms * 2**-53``, far below 1e-12 for
  the sizes used here.
- gradients, ``grad_tolerances``: ``rtol`` covers relative rounding.  float32:
  both sides round float64 values to float32 (0.5 ulp each) and the softmax
  kernel rounds twice, so 4 ulps.  float64: the reference forms
  ``exp(z - logsumexp)``, whose error grows with ``|logsumexp|`` (up to ~100
  here), so 256 ulps.  ``atol`` covers cancellation: each entry is a difference
  (``softmax - onehot``, ``sigmoid - t``, ``p - t``), formed in float64 on both
  sides, so it carries an absolute error of a few ``k * 2**-53`` times the size
  of the terms (``1/n``, ``1/(nk)``, ``2 max(|p|, |t|)/(nk)``); 1e-13 times that
  size bounds it.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastnn import functional, reference
from tests.helpers import on_device, run_with_threads

LOSSES = ["softmax_cross_entropy", "binary_cross_entropy", "mean_squared_error"]
DTYPES = [np.float32, np.float64]
SHAPES = [(1, 1), (7, 1), (1, 13), (33, 17), (130, 65)]
LOSS_RTOL = 1e-12


def grad_tolerances(name: str, x: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """``(rtol, atol)`` for a gradient of loss ``name`` at ``x`` (see the module docstring)."""
    rtol = 4 * np.finfo(np.float32).eps if x.dtype == np.float32 else 256 * np.finfo(np.float64).eps
    if name == "softmax_cross_entropy":
        term_size = 1.0 / x.shape[0]
    elif name == "binary_cross_entropy":
        term_size = 1.0 / x.size
    else:
        term_size = 2.0 * max(np.abs(x).max(), np.abs(target).max()) / x.size
    return rtol, 1e-13 * term_size


def assert_grad_close(actual, expected, name, x, target) -> None:
    """Shape, then dtype, then values (``grad_tolerances``)."""
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    rtol, atol = grad_tolerances(name, x, target)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def make_inputs(name: str, shape, dtype, rng, scale: float = 3.0):
    """Random first argument and target for loss ``name``."""
    x = (scale * rng.standard_normal(shape)).astype(dtype)
    if name == "softmax_cross_entropy":
        return x, rng.integers(0, shape[1], size=shape[0])
    if name == "binary_cross_entropy":
        return x, rng.random(shape).astype(dtype)
    return x, rng.standard_normal(shape).astype(dtype)


def kernel_loss(backend, name, x, target, fill=None):
    """``backend``'s loss kernel ``name`` on device copies; ``(loss, grad)`` on the host.

    ``fill`` (if given) is written into the outputs first, to show they are overwritten.
    """
    if name == "softmax_cross_entropy":
        target = target.astype(np.int64)
    mem = backend.memory
    x_dev, target_dev = on_device(backend, x, target)
    grad, loss_out = mem.empty(x.shape, x.dtype), mem.empty((1,), np.float64)
    if fill is not None:
        mem.fill(grad, fill)
        mem.fill(loss_out, fill)
    kernel = getattr(backend.losses, name)
    assert kernel(x_dev, target_dev, grad, loss_out, backend.workspace(len(x), 1)) is None
    return mem.read_scalar(loss_out, 0), mem.to_host(grad)


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_matches_reference(backend, name, dtype, shape):
    x, target = make_inputs(name, shape, dtype, np.random.default_rng(0))
    loss, grad = kernel_loss(backend, name, x, target)
    ref_loss, ref_grad = getattr(reference, name)(x, target)
    assert type(loss) is float
    assert loss == pytest.approx(ref_loss, rel=LOSS_RTOL)  # LOSS_RTOL: float64 on both sides
    assert_grad_close(grad, ref_grad, name, x, target)


@pytest.mark.parametrize("name", LOSSES)
def test_parallel_path_matches_reference(name):
    """Above the CPU kernels' PARALLEL_MIN_SIZE the blocks are split over threads."""
    from fastnn.kernels.cpu import losses as kernels

    shape = (28_411, 37)
    assert shape[0] * shape[1] >= kernels.PARALLEL_MIN_SIZE
    x, target = make_inputs(name, shape, np.float32, np.random.default_rng(3))
    loss, grad = getattr(functional, name)(x, target)
    ref_loss, ref_grad = getattr(reference, name)(x, target)
    assert loss == pytest.approx(ref_loss, rel=LOSS_RTOL)  # LOSS_RTOL: float64 on both sides
    assert_grad_close(grad, ref_grad, name, x, target)


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_kernel_contract(backend, name, dtype):
    """The kernel writes into preallocated outputs and returns None, crossing several row blocks."""
    x, target = make_inputs(name, (200, 9), dtype, np.random.default_rng(1))
    loss, grad = kernel_loss(backend, name, x, target, fill=np.nan)
    ref_loss, ref_grad = getattr(reference, name)(x, target)
    assert loss == pytest.approx(ref_loss, rel=LOSS_RTOL)  # float64 on both sides
    assert_grad_close(grad, ref_grad, name, x, target)


def test_known_values():
    """Hand-derived values that fix the Keras means (batch for CE, all elements otherwise)."""
    n, k = 4, 5
    labels = np.array([0, 4, 2, 2])
    # Equal logits: softmax is 1/k, so the loss is log(k) for every row.
    loss, grad = functional.softmax_cross_entropy(np.zeros((n, k)), labels)
    assert loss == pytest.approx(np.log(k), rel=1e-15)  # one log and a mean of equal terms
    expected = np.full((n, k), 1.0 / k)
    expected[np.arange(n), labels] -= 1.0
    np.testing.assert_allclose(grad, expected / n, rtol=1e-15, atol=1e-17)  # a few roundings
    # Zero logits: sigmoid is 1/2 and every term is log(2), whatever the target.
    targets = np.linspace(0.0, 1.0, n * k).reshape(n, k)
    loss, grad = functional.binary_cross_entropy(np.zeros((n, k)), targets)
    assert loss == pytest.approx(np.log(2.0), rel=1e-15)  # as above
    np.testing.assert_allclose(grad, (0.5 - targets) / (n * k), rtol=1e-15, atol=1e-17)
    loss, grad = functional.mean_squared_error(np.full((n, k), 3.0), np.ones((n, k)))
    assert loss == 4.0  # exact: (3 - 1)**2 averaged
    np.testing.assert_array_equal(
        grad, np.full((n, k), 2.0 * 2.0 / (n * k))
    )  # exact binary fractions


@pytest.mark.parametrize("dtype", DTYPES)
def test_extreme_logits_do_not_overflow(dtype):
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]], dtype=dtype)
    loss, grad = functional.softmax_cross_entropy(logits, np.array([1, 2]))
    # Row 0: logsumexp = 1000, loss 2000; row 1: loss ~0.  Softmax is one-hot on the max.
    assert loss == pytest.approx(1000.0, rel=1e-15)  # exact up to exp(-1000) terms
    expected = np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]]) / 2
    np.testing.assert_allclose(grad, expected, atol=1e-30)  # exp(-1000) underflows to 0
    targets = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 1.0]], dtype=dtype)
    loss, grad = functional.binary_cross_entropy(logits, targets)
    # Per element max(z, 0) - z t + log1p(exp(-|z|)): 1000, 1000, log 2; 1000, 0, 0.
    assert loss == pytest.approx((3000.0 + np.log(2.0)) / 6, rel=1e-15)  # as above
    expected = np.array([[1.0, -1.0, 0.0], [-1.0, 0.0, 0.0]]) / 6
    np.testing.assert_allclose(grad, expected, atol=1e-30)  # sigmoid(+-1000) is exactly 1 or 0
    assert np.isfinite(grad).all()


def finite_difference(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar function ``f`` at ``x`` (float64)."""
    grad = np.empty_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        grad[index] = (f(up) - f(down)) / (2 * h)
    return grad


@pytest.mark.parametrize("name", LOSSES)
def test_gradient_matches_finite_differences(name):
    x, target = make_inputs(name, (5, 4), np.float64, np.random.default_rng(2), scale=2.0)
    loss_fn = getattr(functional, name)
    _, grad = loss_fn(x, target)
    numeric = finite_difference(lambda z: loss_fn(z, target)[0], x)
    # h = 1e-6: truncation ~h**2 |f'''| ~ 1e-12, rounding ~eps |f| / h ~ 1e-10.
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(LOSSES),
    dtype=st.sampled_from(DTYPES),
    n=st.integers(1, 150),
    k=st.integers(1, 20),
    scale=st.floats(0.01, 50.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_matches_reference(name, dtype, n, k, scale, seed):
    x, target = make_inputs(name, (n, k), dtype, np.random.default_rng(seed), scale)
    loss, grad = getattr(functional, name)(x, target)
    ref_loss, ref_grad = getattr(reference, name)(x, target)
    assert loss == pytest.approx(ref_loss, rel=LOSS_RTOL)  # float64 on both sides
    assert_grad_close(grad, ref_grad, name, x, target)


def test_non_contiguous_inputs_and_other_integer_labels():
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((9, 12))[:, ::2]
    labels = rng.integers(0, 6, size=9).astype(np.int32)
    loss, grad = functional.softmax_cross_entropy(logits, labels)
    ref_loss, ref_grad = reference.softmax_cross_entropy(np.ascontiguousarray(logits), labels)
    assert loss == pytest.approx(ref_loss, rel=LOSS_RTOL)  # float64 on both sides
    assert_grad_close(grad, ref_grad, "softmax_cross_entropy", logits, labels)
    targets = rng.random((9, 12))[:, ::2]
    loss, grad = functional.binary_cross_entropy(logits, targets)
    ref_loss, ref_grad = reference.binary_cross_entropy(
        np.ascontiguousarray(logits), np.ascontiguousarray(targets)
    )
    assert loss == pytest.approx(ref_loss, rel=LOSS_RTOL)  # float64 on both sides
    assert_grad_close(grad, ref_grad, "binary_cross_entropy", logits, targets)


X = np.zeros((3, 4))
LABELS = np.array([0, 1, 3])
BAD_CALLS = [
    ("softmax_cross_entropy", ([[0.0, 1.0]], np.array([0])), TypeError, "logits must be a numpy"),
    ("softmax_cross_entropy", (np.zeros((3, 4), int), LABELS), TypeError, "logits must have dtype"),
    ("softmax_cross_entropy", (np.zeros(4), LABELS), ValueError, "logits must be 2-D"),
    ("softmax_cross_entropy", (np.zeros((0, 4)), LABELS[:0]), ValueError, "at least 1 element"),
    ("softmax_cross_entropy", (X, [0, 1, 3]), TypeError, "labels must be a numpy.ndarray"),
    ("softmax_cross_entropy", (X, LABELS.astype(float)), TypeError, "labels must have an integer"),
    ("softmax_cross_entropy", (X, LABELS > 0), TypeError, "labels must have an integer"),
    ("softmax_cross_entropy", (X, LABELS[:2]), ValueError, r"labels must have shape \(3,\)"),
    (
        "softmax_cross_entropy",
        (X, np.array([0, 4, 1])),
        ValueError,
        r"\[0, 4\), got labels\[1\] = 4",
    ),
    ("softmax_cross_entropy", (X, np.array([0, 1, -1])), ValueError, r"got labels\[2\] = -1"),
    (
        "binary_cross_entropy",
        (X, np.zeros((3, 4), np.float32)),
        TypeError,
        "targets must have dtype",
    ),
    ("binary_cross_entropy", (X, np.zeros((4, 3))), ValueError, "targets must have shape"),
    ("binary_cross_entropy", (X, [[0.0] * 4] * 3), TypeError, "targets must be a numpy"),
    ("binary_cross_entropy", (X, np.full((3, 4), 1.5)), ValueError, r"got targets\[0, 0\] = 1.5"),
    ("binary_cross_entropy", (X, -np.eye(3, 4) / 10), ValueError, r"got targets\[0, 0\] = -0.1"),
    ("binary_cross_entropy", (X, np.where(np.eye(3, 4), np.nan, 0)), ValueError, r"in \[0, 1\]"),
    ("binary_cross_entropy", (np.zeros((3, 4), np.int64), X), TypeError, "logits must have dtype"),
    ("mean_squared_error", (X, np.zeros((3, 5))), ValueError, "targets must have shape"),
    ("mean_squared_error", (X.astype(np.float32), X), TypeError, "targets must have dtype float32"),
    ("mean_squared_error", (np.zeros(3), np.zeros(3)), ValueError, "pred must be 2-D"),
]


@pytest.mark.parametrize(("name", "args", "error", "match"), BAD_CALLS)
def test_validation_errors(name, args, error, match):
    with pytest.raises(error, match=match):
        getattr(functional, name)(*args)


DETERMINISM_SCRIPT = """
import hashlib
import numpy as np
from fastnn import functional
rng = np.random.default_rng(7)
# 28_411 x 37 = 1_051_207 elements: above kernels.PARALLEL_MIN_SIZE (the prange path).
x = (5 * rng.standard_normal((28_411, 37))).astype(np.float32)
labels = rng.integers(0, 37, size=28_411)
targets = rng.random((28_411, 37)).astype(np.float32)
for loss, grad in (
    functional.softmax_cross_entropy(x, labels),
    functional.binary_cross_entropy(x, targets),
    functional.mean_squared_error(x, targets),
):
    print(hashlib.sha256(np.float64(loss).tobytes() + grad.tobytes()).hexdigest())
"""


def test_deterministic_across_thread_counts():
    one = run_with_threads(DETERMINISM_SCRIPT, 1)
    two = run_with_threads(DETERMINISM_SCRIPT, 2)
    assert len(one.split()) == 3
    assert one == two
