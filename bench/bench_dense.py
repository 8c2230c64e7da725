"""Dense layer forward+backward: fastnn vs its three GEMMs alone, the NumPy reference and PyTorch.

Issue target (1024x1024 -> 1024, relu, float32): fastnn within 1.2x of the
three GEMMs alone and at least 4x faster than the reference.
"""

import numpy as np
import pytest
from numba import njit

from fastnn import functional, reference
from fastnn.kernels.cpu import dense
from fastnn.kernels.cpu.reduce import reduction_workspace
from fastnn.kernels.scalar import RELU

# (batch, n_in, n_out)
SHAPES = {"small 32x256->256": (32, 256, 256), "medium 1024x1024->1024": (1024, 1024, 1024)}


@pytest.fixture(params=list(SHAPES), scope="module")
def shape_name(request):
    return request.param


@pytest.fixture(scope="module")
def arrays(shape_name):
    batch, n_in, n_out = SHAPES[shape_name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, n_in), dtype=np.float32)
    W = rng.standard_normal((n_in, n_out), dtype=np.float32) / np.float32(np.sqrt(n_in))
    b = rng.standard_normal(n_out, dtype=np.float32)
    dy = rng.standard_normal((batch, n_out), dtype=np.float32)
    return x, W, b, dy


@njit(cache=True)
def three_gemms(x, W, dz, y, dW, dx):
    """The GEMMs of one dense forward+backward and nothing else."""
    np.dot(x, W, y)
    np.dot(x.T, dz, dW)
    np.dot(dz, W.T, dx)


def test_fastnn_kernels(benchmark, shape_name, arrays):
    x, W, b, dy = arrays
    y, dz, dx, dW, db = (np.empty_like(a) for a in (dy, dy, x, W, b))
    work = reduction_workspace(*dy.shape)

    def step():
        dense.dense_forward(x, W, b, RELU, 0.0, y)
        dense.dense_backward(dy, x, W, y, RELU, 0.0, dz, dx, dW, db, work, True)

    step()  # compile
    benchmark.group = f"dense relu fwd+bwd {shape_name}"
    benchmark(step)


def test_fastnn_functional(benchmark, shape_name, arrays):
    x, W, b, dy = arrays

    def step():
        _, cache = functional.dense_forward(x, W, b, "relu")
        return functional.dense_backward(dy, cache)

    step()  # compile
    benchmark.group = f"dense relu fwd+bwd {shape_name}"
    benchmark(step)


def test_three_gemms_alone(benchmark, shape_name, arrays):
    x, W, _, dy = arrays
    y, dx, dW = np.empty_like(dy), np.empty_like(x), np.empty_like(W)
    three_gemms(x, W, dy, y, dW, dx)  # compile
    benchmark.group = f"dense relu fwd+bwd {shape_name}"
    benchmark(three_gemms, x, W, dy, y, dW, dx)


def test_reference(benchmark, shape_name, arrays):
    x, W, b, dy = arrays

    def step():
        _, cache = reference.dense_forward(x, W, b, "relu")
        return reference.dense_backward(dy, cache)

    benchmark.group = f"dense relu fwd+bwd {shape_name}"
    benchmark(step)


def test_torch(benchmark, shape_name, arrays, torch):
    x, W, b, dy = (torch.from_numpy(a) for a in arrays)
    x.requires_grad_(True)
    weight = W.T.contiguous().requires_grad_(True)  # torch stores (n_out, n_in)
    b.requires_grad_(True)

    def step():
        y = torch.relu(torch.nn.functional.linear(x, weight, b))
        return torch.autograd.grad(y, (x, weight, b), dy)

    step()
    benchmark.group = f"dense relu fwd+bwd {shape_name}"
    benchmark(step)
