"""Activation forward and backward: fastnn kernels vs the NumPy reference and PyTorch (float32).

fastnn writes into a preallocated output, as a network does; the reference
and PyTorch allocate theirs.  PyTorch's backward is timed through the ATen
backward ops autograd itself calls, so no graph building is counted.
"""

import numpy as np
import pytest

from fastnn import reference
from fastnn.kernels.cpu import activations as kernels
from fastnn.kernels.scalar import ACTIVATIONS

SHAPES = {"32x256": (32, 256), "1024x1024": (1024, 1024)}
SLOPE = 0.2


def torch_forward(torch, name):
    return {
        "linear": torch.clone,
        "relu": torch.relu,
        "leaky_relu": lambda x: torch.nn.functional.leaky_relu(x, SLOPE),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "softmax": lambda x: torch.softmax(x, dim=1),
    }[name]


def torch_backward(torch, name):
    aten = torch.ops.aten
    return {
        "linear": lambda dy, y: dy.clone(),
        "relu": lambda dy, y: aten.threshold_backward(dy, y, 0),
        "leaky_relu": lambda dy, y: aten.leaky_relu_backward(dy, y, SLOPE, False),
        "sigmoid": aten.sigmoid_backward,
        "tanh": aten.tanh_backward,
        "softmax": lambda dy, y: aten._softmax_backward_data(dy, y, 1, torch.float32),
    }[name]


@pytest.fixture(params=list(SHAPES), scope="module")
def shape_name(request):
    return request.param


@pytest.fixture(scope="module")
def arrays(shape_name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPES[shape_name], dtype=np.float32)
    dy = rng.standard_normal(SHAPES[shape_name], dtype=np.float32)
    return x, dy


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_forward_fastnn(benchmark, name, shape_name, arrays):
    x, _ = arrays
    y = np.empty_like(x)
    kernels.activation_forward(x, ACTIVATIONS[name], SLOPE, y)  # compile
    benchmark.group = f"{name} forward {shape_name}"
    benchmark(kernels.activation_forward, x, ACTIVATIONS[name], SLOPE, y)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_forward_reference(benchmark, name, shape_name, arrays):
    x, _ = arrays
    benchmark.group = f"{name} forward {shape_name}"
    benchmark(reference.activation_forward, x, name)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_forward_torch(benchmark, name, shape_name, arrays, torch):
    x = torch.from_numpy(arrays[0])
    benchmark.group = f"{name} forward {shape_name}"
    benchmark(torch_forward(torch, name), x)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_backward_fastnn(benchmark, name, shape_name, arrays):
    x, dy = arrays
    y, dx = np.empty_like(x), np.empty_like(x)
    kernels.activation_forward(x, ACTIVATIONS[name], SLOPE, y)
    kernels.activation_backward(dy, y, ACTIVATIONS[name], SLOPE, dx)  # compile
    benchmark.group = f"{name} backward {shape_name}"
    benchmark(kernels.activation_backward, dy, y, ACTIVATIONS[name], SLOPE, dx)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_backward_reference(benchmark, name, shape_name, arrays):
    x, dy = arrays
    y = reference.activation_forward(x, name)
    benchmark.group = f"{name} backward {shape_name}"
    benchmark(reference.activation_backward, dy, y, name)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_backward_torch(benchmark, name, shape_name, arrays, torch):
    x, dy = (torch.from_numpy(a) for a in arrays)
    y = torch_forward(torch, name)(x)
    benchmark.group = f"{name} backward {shape_name}"
    benchmark(torch_backward(torch, name), dy, y)
