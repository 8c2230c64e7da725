"""Activation forward and backward (float32): fastnn kernels against the NumPy reference and
PyTorch.

fastnn writes into a preallocated output, as a network does; the functional
entry, the reference and PyTorch allocate theirs.  PyTorch's backward runs
through a graph built once (``retain_graph``), so no graph building is counted.
"""

import pytest

FAMILY = "activations"


@pytest.mark.parametrize("side", ["fastnn", "functional", "reference", "torch"])
def test_activation(benchmark, bench_case, side):
    bench_case.time(benchmark, side)
