"""Losses, value and gradient in one pass (float32): fastnn against the NumPy reference and
PyTorch.

The fastnn kernel writes into preallocated outputs, as a network does; the
functional entry adds validation and allocation.  PyTorch builds the loss with
``torch.nn.functional`` and runs its backward (the same work as one fused pass).
"""

import pytest

FAMILY = "losses"


@pytest.mark.parametrize("side", ["fastnn", "functional", "reference", "torch"])
def test_loss(benchmark, bench_case, side):
    bench_case.time(benchmark, side)
