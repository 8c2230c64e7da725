"""Losses, value and gradient: fastnn vs the NumPy reference and PyTorch (float32).

The fastnn kernel writes into preallocated outputs, as a network does; the
functional entry point adds validation and allocation.  PyTorch builds the loss
with ``torch.nn.functional`` and takes the gradient with ``torch.autograd.grad``
(forward and backward, the same work as one fused fastnn pass).
"""

import numpy as np
import pytest

from fastnn import functional, reference
from fastnn.kernels.cpu import losses as kernels
from fastnn.kernels.cpu.reduce import reduction_workspace

# loss name -> {case name: shape}
CASES = {
    "softmax_cross_entropy": {"32x10": (32, 10), "1024x1000": (1024, 1000)},
    "binary_cross_entropy": {"32x256": (32, 256), "1024x1024": (1024, 1024)},
    "mean_squared_error": {"32x256": (32, 256), "1024x1024": (1024, 1024)},
}
PARAMS = [(name, case) for name, cases in CASES.items() for case in cases]


def torch_loss(torch, name):
    functional_torch = torch.nn.functional
    return {
        "softmax_cross_entropy": functional_torch.cross_entropy,
        "binary_cross_entropy": functional_torch.binary_cross_entropy_with_logits,
        "mean_squared_error": functional_torch.mse_loss,
    }[name]


@pytest.fixture(params=PARAMS, ids=[f"{n}-{c}" for n, c in PARAMS], scope="module")
def case(request):
    """``(name, case, x, target)`` with float32 inputs."""
    name, case_name = request.param
    shape = CASES[name][case_name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=np.float32)
    if name == "softmax_cross_entropy":
        target = rng.integers(0, shape[1], size=shape[0])
    else:
        target = rng.random(shape, dtype=np.float32)
    return name, case_name, x, target


def test_fastnn_kernel(benchmark, case):
    name, case_name, x, target = case
    grad, loss_out = np.empty_like(x), np.empty(1)
    work = reduction_workspace(len(x), 1)
    kernel = getattr(kernels, name)
    kernel(x, target, grad, loss_out, work)  # compile
    benchmark.group = f"{name} {case_name}"
    benchmark(kernel, x, target, grad, loss_out, work)


def test_fastnn_functional(benchmark, case):
    name, case_name, x, target = case
    loss_fn = getattr(functional, name)
    loss_fn(x, target)  # compile
    benchmark.group = f"{name} {case_name}"
    benchmark(loss_fn, x, target)


def test_reference(benchmark, case):
    name, case_name, x, target = case
    benchmark.group = f"{name} {case_name}"
    benchmark(getattr(reference, name), x, target)


def test_torch(benchmark, case, torch):
    name, case_name, x, target = case
    z = torch.from_numpy(x.copy()).requires_grad_(True)
    t = torch.from_numpy(target)
    loss_fn = torch_loss(torch, name)

    def value_and_grad():
        loss = loss_fn(z, t)
        (grad,) = torch.autograd.grad(loss, z)
        return loss.item(), grad

    value_and_grad()
    benchmark.group = f"{name} {case_name}"
    benchmark(value_and_grad)
