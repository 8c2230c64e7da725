"""Optimizer updates on one flat parameter (float32): fastnn against the NumPy reference and
PyTorch.

Each round applies one in-place update with the same gradient, with the Keras
hyperparameters of ``fastnn.optimizers`` (SGD with momentum 0.9).  fastnn's
kernel takes the flat arrays a network passes it; the functional entry adds
validation.  PyTorch runs ``torch.optim.<Optimizer>.step()`` with its default
``foreach`` implementation.
"""

import pytest

FAMILY = "optimizers"


@pytest.mark.parametrize("side", ["fastnn", "functional", "reference", "torch"])
def test_optimizer(benchmark, bench_case, side):
    bench_case.time(benchmark, side)
