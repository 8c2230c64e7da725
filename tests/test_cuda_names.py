"""``fastnn.kernels.cpu`` and ``fastnn.kernels.cuda`` export the same public functions.

For every kernel family, the public callables defined in the CPU module and
in the CUDA module have the same names and the same parameters (names, kinds
and defaults, in order), so the Network and the shared kernel tests call
either backend the same way.  Importing the CUDA modules needs numba-cuda but
no GPU (kernels compile at their first launch), so this runs in plain CI.
"""

import importlib
import inspect

import pytest

pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")

from fastnn.backend import KERNEL_MODULES  # noqa: E402


def public_functions(module) -> dict:
    """``{name: signature}`` of the public callables that ``module`` itself defines."""
    found = {}
    for name, value in vars(module).items():
        if name.startswith("_") or not callable(value):
            continue
        function = getattr(value, "py_func", value)
        if inspect.isfunction(function) and function.__module__ == module.__name__:
            found[name] = inspect.signature(function)
    return found


def parameters(signature) -> list:
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


@pytest.mark.parametrize("family", KERNEL_MODULES)
def test_same_public_functions_and_signatures(family):
    cpu = public_functions(importlib.import_module(f"fastnn.kernels.cpu.{family}"))
    cuda = public_functions(importlib.import_module(f"fastnn.kernels.cuda.{family}"))
    assert cpu, f"fastnn.kernels.cpu.{family} defines no public function"
    assert sorted(cuda) == sorted(cpu)
    for name, signature in cpu.items():
        assert parameters(cuda[name]) == parameters(signature), name


def test_public_functions_sees_kernels_and_plain_functions():
    # The comparison above is only as good as this listing: njit kernels and
    # plain functions both appear, with their parameters; helpers imported
    # from elsewhere and private names do not.
    memory = public_functions(importlib.import_module("fastnn.kernels.cpu.memory"))
    assert [p.name for p in memory["gather_rows"].parameters.values()] == ["src", "index", "out"]
    metrics = public_functions(importlib.import_module("fastnn.kernels.cpu.metrics"))
    assert sorted(metrics) == ["count_correct_binary", "count_correct_classes"]
    batchnorm = public_functions(importlib.import_module("fastnn.kernels.cpu.batchnorm"))
    assert "batch_norm_forward_train" in batchnorm
    assert "activate" not in batchnorm  # imported from scalar, not defined there
