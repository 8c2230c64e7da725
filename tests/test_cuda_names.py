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

#: Per-element maths the `kern` branch moves into ``kernels/scalar.py``; until it
#: lands, the CPU modules define these themselves and the CUDA modules import them.
MOVING_TO_SCALAR = {
    "sgd_element",
    "sgd_momentum_element",
    "adam_element",
    "rmsprop_element",
    "rmsprop_momentum_element",
    "logistic_loss_and_sigmoid",
}
#: The same branch renames the CPU kernels' ``alpha`` to the shared name ``negative_slope``.
RENAMED = {"alpha": "negative_slope"}


def public_functions(module) -> dict:
    """``{name: signature}`` of the public callables that ``module`` itself defines."""
    found = {}
    for name, value in vars(module).items():
        if name.startswith("_") or name in MOVING_TO_SCALAR or not callable(value):
            continue
        function = getattr(value, "py_func", value)
        if inspect.isfunction(function) and function.__module__ == module.__name__:
            found[name] = inspect.signature(function)
    return found


def parameters(signature) -> list:
    return [(RENAMED.get(p.name, p.name), p.kind, p.default) for p in signature.parameters.values()]


@pytest.mark.parametrize("family", KERNEL_MODULES)
def test_same_public_functions_and_signatures(family):
    cpu = public_functions(importlib.import_module(f"fastnn.kernels.cpu.{family}"))
    cuda = public_functions(importlib.import_module(f"fastnn.kernels.cuda.{family}"))
    assert cpu, f"fastnn.kernels.cpu.{family} defines no public function"
    assert sorted(cuda) == sorted(cpu)
    for name, signature in cpu.items():
        assert parameters(cuda[name]) == parameters(signature), name
