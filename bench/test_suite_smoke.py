"""Every op of the ``fastnn bench`` registry, built and called once at its small shape.

``fastnn bench`` times these callables; here each one (fastnn, the NumPy
reference, PyTorch when installed, and the baselines) runs once, so an op whose
setup or call breaks fails CI instead of showing up as "failed" in a user's table.
"""

import numba
import numpy as np
import pytest

from fastnn import benchmark

TASKS = benchmark.select(sizes=["small"])


@pytest.fixture(scope="module")
def torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(numba.get_num_threads())
    return torch


def test_every_family_has_a_small_task():
    assert {task.spec.family for task in TASKS} == set(benchmark.FAMILIES)


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.key)
def test_registry_op_runs_once(task, torch_or_none):
    ctx = benchmark.Context(np.dtype(task.dtype), np.random.default_rng(0), torch_or_none)
    impl = task.spec.make(task.shape, ctx)
    assert impl.limit in ("bandwidth", "gemm") and impl.work > 0
    assert impl.reference is not None
    if torch_or_none is not None and task.spec.family != "init":
        assert impl.torch is not None  # every family but some initializers has a PyTorch twin
    for fn in (impl.fastnn, impl.reference, impl.torch, *impl.baselines.values()):
        if fn is not None:
            fn()
