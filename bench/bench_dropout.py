"""Dropout forward and backward (float32): fastnn kernels against the NumPy reference and
PyTorch.

fastnn writes the mask and the output into preallocated arrays, as a network
does; the reference and PyTorch allocate theirs.  PyTorch draws its mask from
its own generator, so its outputs differ and only its time compares; its
backward runs through a graph built once (``retain_graph``).
"""

import pytest

FAMILY = "dropout"


@pytest.mark.parametrize("side", ["fastnn", "reference", "torch"])
def test_dropout(benchmark, bench_case, side):
    bench_case.time(benchmark, side)
