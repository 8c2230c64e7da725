"""Batch normalization, float32, training mode unless noted: fastnn vs the NumPy reference and
``torch.nn.BatchNorm1d``, with a copy of the same bytes for a bandwidth yardstick.

Issue targets for forward+backward (training, float32): at 4096x1024 at least as
fast as PyTorch (which runs near memory bandwidth there), at 60x100 and 128x256
at least 2x faster than PyTorch, and at least 4x faster than the reference at
all three.  GB/s for a copy = 2 * n * m * 4 bytes / time.

Groups: ``bn fwd+bwd <shape>`` (fastnn functional, fastnn kernels on
preallocated buffers, reference, torch, copy); ``bn forward-train``,
``bn forward-infer``, ``bn backward`` (fastnn, torch); and, up to 4096x1024,
``bn->relu`` and ``relu->bn`` fwd+bwd (fastnn, reference, torch).
"""

import numpy as np
import pytest

from fastnn import functional, reference
from fastnn.kernels.cpu import batchnorm
from fastnn.kernels.cpu.reduce import reduction_workspace
from fastnn.kernels.scalar import LINEAR

SHAPES = [(60, 100), (128, 256), (4096, 1024), (32, 256), (1024, 1024), (65536, 1024)]
# The reference allocates several float64 temporaries per call (gigabytes at
# 65536x1024) and the fused groups add little information at that size.
LARGEST_COMPARED = 4096 * 1024


@pytest.fixture(params=SHAPES, ids=[f"{n}x{m}" for n, m in SHAPES], scope="module")
def shape(request):
    return request.param


@pytest.fixture(scope="module")
def arrays(shape):
    n, m = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, m), dtype=np.float32)
    dy = rng.standard_normal((n, m), dtype=np.float32)
    gamma = rng.uniform(0.5, 1.5, m).astype(np.float32)
    beta = rng.standard_normal(m, dtype=np.float32)
    return x, gamma, beta, np.zeros(m, np.float32), np.ones(m, np.float32), dy


def label(shape):
    return f"{shape[0]}x{shape[1]}"


def skip_if_large(shape):
    if shape[0] * shape[1] > LARGEST_COMPARED:
        pytest.skip("not compared at this size (see LARGEST_COMPARED)")


def torch_layer(torch, arrays):
    """A BatchNorm1d with fastnn's gamma/beta and Keras-equivalent settings."""
    x, gamma, beta, _, _, dy = arrays
    layer = torch.nn.BatchNorm1d(x.shape[1], eps=1e-3, momentum=0.01)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(gamma))
        layer.bias.copy_(torch.from_numpy(beta))
    xt = torch.from_numpy(x.copy()).requires_grad_()
    return layer, xt, torch.from_numpy(dy)


def clear_grads(layer, xt):
    # Set to None, so torch writes fresh gradients instead of accumulating.
    xt.grad = None
    layer.weight.grad = None
    layer.bias.grad = None


# ---------------------------------------------------------------------------
# Plain BN, forward + backward
# ---------------------------------------------------------------------------


def test_fwd_bwd_fastnn(benchmark, shape, arrays):
    x, gamma, beta, rm, rv, dy = arrays

    def step():
        _, cache = functional.batch_norm_forward(x, gamma, beta, rm, rv)
        return functional.batch_norm_backward(dy, cache)

    step()  # compile
    benchmark.group = f"bn fwd+bwd {label(shape)}"
    benchmark(step)


def test_fwd_bwd_fastnn_kernels(benchmark, shape, arrays):
    x, gamma, beta, rm, rv, dy = arrays
    n, m = x.shape
    y, dx = np.empty_like(x), np.empty_like(x)
    mean, invstd, dgamma, dbeta = (np.empty(m, np.float32) for _ in range(4))
    work = reduction_workspace(n, m)

    def step():
        batchnorm.batch_norm_forward_train(
            x, gamma, beta, rm, rv, 0.99, 1e-3, LINEAR, LINEAR, 0.0, x, y, mean, invstd, work
        )
        batchnorm.batch_norm_backward(
            dy, x, y, gamma, mean, invstd, LINEAR, LINEAR, 0.0, dx, dgamma, dbeta, work
        )

    step()  # compile
    benchmark.group = f"bn fwd+bwd {label(shape)}"
    benchmark(step)


def test_fwd_bwd_reference(benchmark, shape, arrays):
    skip_if_large(shape)
    x, gamma, beta, rm, rv, dy = arrays

    def step():
        _, cache = reference.batch_norm_forward(x, gamma, beta, rm, rv)
        return reference.batch_norm_backward(dy, cache)

    benchmark.group = f"bn fwd+bwd {label(shape)}"
    benchmark(step)


def test_fwd_bwd_torch(benchmark, torch, shape, arrays):
    layer, xt, dyt = torch_layer(torch, arrays)

    def step():
        clear_grads(layer, xt)
        layer(xt).backward(dyt)

    step()
    benchmark.group = f"bn fwd+bwd {label(shape)}"
    benchmark(step)


def test_copy_same_bytes(benchmark, shape, arrays):
    x = arrays[0]
    out = np.empty_like(x)
    benchmark.group = f"bn fwd+bwd {label(shape)}"
    benchmark(np.copyto, out, x)


# ---------------------------------------------------------------------------
# Plain BN, one pass at a time
# ---------------------------------------------------------------------------


def test_forward_train_fastnn(benchmark, shape, arrays):
    x, gamma, beta, rm, rv, _ = arrays
    functional.batch_norm_forward(x, gamma, beta, rm, rv)  # compile
    benchmark.group = f"bn forward-train {label(shape)}"
    benchmark(functional.batch_norm_forward, x, gamma, beta, rm, rv)


def test_forward_train_torch(benchmark, torch, shape, arrays):
    layer, xt, _ = torch_layer(torch, arrays)

    def step():
        with torch.no_grad():
            return layer(xt)

    benchmark.group = f"bn forward-train {label(shape)}"
    benchmark(step)


def test_forward_infer_fastnn(benchmark, shape, arrays):
    x, gamma, beta, rm, rv, _ = arrays
    functional.batch_norm_forward(x, gamma, beta, rm, rv, training=False)  # compile
    benchmark.group = f"bn forward-infer {label(shape)}"
    benchmark(functional.batch_norm_forward, x, gamma, beta, rm, rv, training=False)


def test_forward_infer_torch(benchmark, torch, shape, arrays):
    layer, xt, _ = torch_layer(torch, arrays)
    layer.eval()

    def step():
        with torch.no_grad():
            return layer(xt)

    benchmark.group = f"bn forward-infer {label(shape)}"
    benchmark(step)


def test_backward_fastnn(benchmark, shape, arrays):
    x, gamma, beta, rm, rv, dy = arrays
    _, cache = functional.batch_norm_forward(x, gamma, beta, rm, rv)
    functional.batch_norm_backward(dy, cache)  # compile
    benchmark.group = f"bn backward {label(shape)}"
    benchmark(functional.batch_norm_backward, dy, cache)


def test_backward_torch(benchmark, torch, shape, arrays):
    layer, xt, dyt = torch_layer(torch, arrays)
    y = layer(xt)

    def step():
        clear_grads(layer, xt)
        y.backward(dyt, retain_graph=True)

    benchmark.group = f"bn backward {label(shape)}"
    benchmark(step)


# ---------------------------------------------------------------------------
# Fused placements, forward + backward
# ---------------------------------------------------------------------------

PLACEMENTS = {
    "bn->relu": ("batch_norm_act", lambda torch, layer, x: torch.relu(layer(x))),
    "relu->bn": ("act_batch_norm", lambda torch, layer, x: layer(torch.relu(x))),
}


@pytest.fixture(params=list(PLACEMENTS), scope="module")
def placement(request):
    return request.param


def fused_step(module, op, arrays):
    x, gamma, beta, rm, rv, dy = arrays
    forward = getattr(module, f"{op}_forward")
    backward = getattr(module, f"{op}_backward")

    def step():
        _, cache = forward(x, gamma, beta, rm, rv, activation="relu")
        return backward(dy, cache)

    return step


def test_fused_fastnn(benchmark, placement, shape, arrays):
    skip_if_large(shape)
    step = fused_step(functional, PLACEMENTS[placement][0], arrays)
    step()  # compile
    benchmark.group = f"{placement} fwd+bwd {label(shape)}"
    benchmark(step)


def test_fused_reference(benchmark, placement, shape, arrays):
    skip_if_large(shape)
    step = fused_step(reference, PLACEMENTS[placement][0], arrays)
    benchmark.group = f"{placement} fwd+bwd {label(shape)}"
    benchmark(step)


def test_fused_torch(benchmark, torch, placement, shape, arrays):
    skip_if_large(shape)
    layer, xt, dyt = torch_layer(torch, arrays)
    forward = PLACEMENTS[placement][1]

    def step():
        clear_grads(layer, xt)
        forward(torch, layer, xt).backward(dyt)

    step()
    benchmark.group = f"{placement} fwd+bwd {label(shape)}"
    benchmark(step)
