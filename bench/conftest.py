"""What every pytest-benchmark suite shares: the cases come from the registry of ``fastnn
bench`` (``fastnn.benchmark.cases``), never from the suites themselves.

A suite module names its ``FAMILY`` and the sides it times, and has test
functions that take the ``bench_case`` fixture and a ``side`` parameter.  This
file parametrizes ``bench_case`` over the family's registry entries at their
suite shapes (``OpSpec.suite``), builds each case once per module, and
``bench_case.time(benchmark, side)`` times one side in the benchmark group
``"<op> <shape>"``, so fastnn, fastnn functional, the NumPy reference, PyTorch,
the baselines and the yardsticks of one case sit in one group.

PyTorch is an optional comparison, never a dependency: its side skips with
"PyTorch not installed" when it cannot be imported, and otherwise PyTorch is
pinned to the same thread count as Numba so the comparison is fair.
"""

from __future__ import annotations

import functools

import numba
import numpy as np
import pytest

from fastnn.benchmark.cases import Context, family_specs

#: The dtype every suite times.
DTYPE = "float32"


@functools.cache
def torch_or_none():
    """PyTorch with Numba's thread count, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(numba.get_num_threads())
    return torch


def suite_params(family: str) -> list:
    """``pytest.param((spec, shape))`` for every registry entry of ``family`` at its suite
    shapes."""
    return [
        pytest.param((spec, shape), id=f"{spec.name} {spec.label(shape)}")
        for spec in family_specs(family)
        for shape in spec.suite()
    ]


class BuiltCase:
    """One registry case built at one shape (float32, seed 0) and the sides it offers."""

    def __init__(self, spec, shape):
        self.spec, self.shape = spec, shape
        self.group = f"{spec.name} {spec.label(shape)}"
        ctx = Context(np.dtype(DTYPE), np.random.default_rng(0), torch_or_none())
        self.impl = spec.make(shape, ctx)

    def time(self, benchmark, side: str) -> None:
        """Benchmark ``side`` in the case's group, after one untimed call (compilation)."""
        sides = self.impl.sides()
        if side not in sides:
            pytest.fail(f"{self.spec.name} has no side {side!r}; it has {sorted(sides)}")
        fn = sides[side]
        if fn is None:
            if side in ("torch", "torch_compile") and torch_or_none() is None:
                pytest.skip("PyTorch not installed")
            if side in self.impl.unavailable:
                pytest.skip(f"{side}: {self.impl.unavailable[side]}")
            pytest.fail(f"{self.spec.name} offers no {side} side")
        fn()  # compile, allocate, create optimizer state: none of it is timed
        benchmark.group = self.group
        benchmark(fn)
        if benchmark.stats is not None and self.impl.limit is not None:
            rate = self.impl.work / benchmark.stats.stats.median / 1e9
            unit = "GBps" if self.impl.limit == "bandwidth" else "GFLOPs"
            benchmark.extra_info[unit] = rate


def pytest_generate_tests(metafunc):
    if "bench_case" in metafunc.fixturenames:
        params = suite_params(metafunc.module.FAMILY)
        metafunc.parametrize("bench_case", params, indirect=True, scope="module")


@pytest.fixture(scope="module")
def bench_case(request) -> BuiltCase:
    spec, shape = request.param
    return BuiltCase(spec, shape)
