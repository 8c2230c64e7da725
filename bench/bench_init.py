"""Initializer throughput (float32, 4096 x 4096): fastnn's Philox kernels against NumPy's
own generator, the NumPy reference and PyTorch.

Each side fills an array; fastnn writes into a preallocated one through the
public ``fastnn.init`` (``out=``).  GB/s of the array written is stored in each
benchmark's ``extra_info`` (samples per second = GB/s * 1e9 / 4).  Run, with
OpenBLAS's tuning variables unset as PERF_NOTES.md advises::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python -m pytest \\
        bench/bench_init.py --benchmark-enable --benchmark-min-rounds=5 -q
"""

import pytest

FAMILY = "init"


@pytest.mark.parametrize("side", ["fastnn", "numpy", "reference", "torch"])
def test_initializer(benchmark, bench_case, side):
    bench_case.time(benchmark, side)
