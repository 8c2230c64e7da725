"""Optimizer updates on one parameter: fastnn vs the NumPy reference and PyTorch (float32).

Each round applies one in-place update with the same gradient.  fastnn's kernel
takes 1-D views, as a network passes them; the functional entry point adds
validation.  PyTorch runs ``torch.optim.<Optimizer>.step()`` with its default
``foreach`` implementation and the Keras hyperparameters.
"""

import numpy as np
import pytest

from fastnn import functional, reference
from fastnn.kernels.cpu import optimizers as kernels

SHAPES = {"256x256": (256, 256), "1024x1024": (1024, 1024)}
# Keras defaults, with momentum for SGD (plain SGD is a single axpy); each dict is
# ordered as the kernel's scalar arguments, so kernel_call can pass its values.
SGD = {"learning_rate": 0.01, "momentum": 0.9, "nesterov": False, "weight_decay": 0.0}
ADAM = {"learning_rate": 1e-3, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "weight_decay": 0.0}
RMSPROP = {"learning_rate": 1e-3, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "weight_decay": 0.0}
OPTIMIZERS = ["sgd", "adam", "rmsprop"]
STEP = 10  # any Adam step count: the kernel's cost does not depend on it


@pytest.fixture(params=list(SHAPES), scope="module")
def shape_name(request):
    return request.param


@pytest.fixture
def arrays(shape_name):
    """Fresh ``param, grad, state_1, state_2`` (float32) for each benchmark."""
    rng = np.random.default_rng(0)
    shape = SHAPES[shape_name]
    param = rng.standard_normal(shape, dtype=np.float32)
    grad = rng.standard_normal(shape, dtype=np.float32)
    return param, grad, np.zeros(shape, np.float32), np.zeros(shape, np.float32)


def kernel_call(name, param, grad, state_1, state_2):
    """A no-argument call of the kernel ``name`` on 1-D views."""
    p, g, s1, s2 = (a.reshape(-1) for a in (param, grad, state_1, state_2))
    if name == "sgd":
        return lambda: kernels.sgd_update(p, g, s1, *SGD.values())
    if name == "adam":
        return lambda: kernels.adam_update(p, g, s1, s2, STEP, *ADAM.values())
    return lambda: kernels.rmsprop_update(p, g, s1, s2, *RMSPROP.values())


def module_call(module, name, param, grad, state_1, state_2):
    """A no-argument call of ``module.<name>_update`` (functional or reference)."""
    if name == "sgd":
        return lambda: module.sgd_update(param, grad, state_1, **SGD)
    if name == "adam":
        return lambda: module.adam_update(param, grad, state_1, state_2, STEP, **ADAM)
    return lambda: module.rmsprop_update(param, grad, state_1, state_2, **RMSPROP)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_fastnn_kernel(benchmark, name, shape_name, arrays):
    step = kernel_call(name, *arrays)
    step()  # compile
    benchmark.group = f"{name} {shape_name}"
    benchmark(step)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_fastnn_functional(benchmark, name, shape_name, arrays):
    step = module_call(functional, name, *arrays)
    step()  # compile
    benchmark.group = f"{name} {shape_name}"
    benchmark(step)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_reference(benchmark, name, shape_name, arrays):
    benchmark.group = f"{name} {shape_name}"
    benchmark(module_call(reference, name, *arrays))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_torch(benchmark, name, shape_name, arrays, torch):
    param = torch.nn.Parameter(torch.from_numpy(arrays[0]))
    param.grad = torch.from_numpy(arrays[1])
    if name == "sgd":
        optimizer = torch.optim.SGD([param], lr=SGD["learning_rate"], momentum=SGD["momentum"])
    elif name == "adam":
        optimizer = torch.optim.Adam([param], lr=ADAM["learning_rate"], eps=ADAM["epsilon"])
    else:
        optimizer = torch.optim.RMSprop(
            [param], lr=RMSPROP["learning_rate"], alpha=RMSPROP["rho"], eps=RMSPROP["epsilon"]
        )
    optimizer.step()  # creates the state
    benchmark.group = f"{name} {shape_name}"
    benchmark(optimizer.step)
