"""Batch normalization (float32), plain and fused with relu: fastnn against the NumPy
reference and ``torch.nn.functional.batch_norm``, with a copy of the same bytes as a
bandwidth yardstick.

Issue targets for plain forward+backward (training): at 4096x1024 at least as
fast as PyTorch (which runs near memory bandwidth there), at 60x100 and 128x256
at least 2x faster than PyTorch, and at least 4x faster than the reference at
all three.  GB/s for the copy = 2 * n * m * 4 bytes / time.
"""

import pytest

FAMILY = "batchnorm"
#: The reference allocates several float64 temporaries per call (gigabytes at 65536x1024),
#: so it is not timed beyond this many elements.
LARGEST_COMPARED = 4096 * 1024


@pytest.mark.parametrize("side", ["fastnn", "functional", "reference", "torch", "copy"])
def test_batchnorm(benchmark, bench_case, side):
    n, m = bench_case.shape
    if side == "reference" and n * m > LARGEST_COMPARED:
        pytest.skip("the reference is not timed at this size (see LARGEST_COMPARED)")
    bench_case.time(benchmark, side)
