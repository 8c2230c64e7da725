"""Dense layer forward, backward and both (relu, float32): fastnn against its GEMMs alone,
the NumPy reference and PyTorch.

Issue target (1024x1024 -> 1024, relu, fwd+bwd): fastnn within 1.2x of the
three GEMMs alone and at least 4x faster than the reference.  ``fastnn`` is the
kernels on preallocated outputs; ``functional`` adds validation and allocation.
"""

import pytest

FAMILY = "dense"


@pytest.mark.parametrize("side", ["fastnn", "functional", "gemm_only", "reference", "torch"])
def test_dense(benchmark, bench_case, side):
    bench_case.time(benchmark, side)
