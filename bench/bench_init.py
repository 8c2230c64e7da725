"""Initializer throughput: fastnn's Philox kernels against NumPy and PyTorch.

Each group fills a preallocated 4096 x 4096 float32 array.  Samples per
second are ``4096**2 / median`` (stored in each benchmark's ``extra_info``).
Run, with OpenBLAS's tuning variables unset as PERF_NOTES.md advises::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python -m pytest \\
        bench/bench_init.py --benchmark-enable --benchmark-min-rounds=5 -q
"""

import math

import numpy as np
import pytest

import fastnn.init as init
from fastnn.reference import init as ref_init

SHAPE = (4096, 4096)
N_SAMPLES = SHAPE[0] * SHAPE[1]
HE_STD = math.sqrt(2 / SHAPE[0])
XAVIER_LIMIT = math.sqrt(6 / (SHAPE[0] + SHAPE[1]))


def record(benchmark):
    """Samples per second from the median, when timing was enabled."""
    if benchmark.stats is not None:
        benchmark.extra_info["samples_per_s"] = N_SAMPLES / benchmark.stats.stats.median


@pytest.fixture
def out():
    return np.empty(SHAPE, np.float32)


# --- he_normal ----------------------------------------------------------------------------


@pytest.mark.benchmark(group="he_normal 4096x4096 float32")
def test_he_normal_fastnn(benchmark, out):
    init.he_normal(SHAPE, seed=0, out=out)  # compile before timing
    benchmark(init.he_normal, SHAPE, seed=0, out=out)
    record(benchmark)
    assert abs(out.std() - HE_STD) < 1e-2 * HE_STD


@pytest.mark.benchmark(group="he_normal 4096x4096 float32")
def test_he_normal_numpy_standard_normal(benchmark, out):
    rng = np.random.default_rng(0)

    def draw():
        rng.standard_normal(out=out, dtype=np.float32)
        np.multiply(out, np.float32(HE_STD), out=out)

    benchmark(draw)
    record(benchmark)
    assert abs(out.std() - HE_STD) < 1e-2 * HE_STD


@pytest.mark.benchmark(group="he_normal 4096x4096 float32")
def test_he_normal_reference(benchmark, out):
    benchmark(ref_init.he_normal, SHAPE, seed=0, out=out)
    record(benchmark)
    assert abs(out.std() - HE_STD) < 1e-2 * HE_STD


@pytest.mark.benchmark(group="he_normal 4096x4096 float32")
def test_he_normal_torch_kaiming_normal(benchmark, torch):
    weight = torch.empty(SHAPE, dtype=torch.float32)
    # PyTorch stores (out, in) and takes fan_in from shape[1]; square here.
    benchmark(torch.nn.init.kaiming_normal_, weight, mode="fan_in", nonlinearity="relu")
    record(benchmark)
    assert abs(weight.std().item() - HE_STD) < 1e-2 * HE_STD


# --- xavier_uniform -------------------------------------------------------------------------


@pytest.mark.benchmark(group="xavier_uniform 4096x4096 float32")
def test_xavier_uniform_fastnn(benchmark, out):
    init.xavier_uniform(SHAPE, seed=0, out=out)
    benchmark(init.xavier_uniform, SHAPE, seed=0, out=out)
    record(benchmark)
    assert np.abs(out).max() <= XAVIER_LIMIT


@pytest.mark.benchmark(group="xavier_uniform 4096x4096 float32")
def test_xavier_uniform_numpy_random(benchmark, out):
    rng = np.random.default_rng(0)

    def draw():
        rng.random(out=out, dtype=np.float32)
        np.multiply(out, np.float32(2 * XAVIER_LIMIT), out=out)
        np.subtract(out, np.float32(XAVIER_LIMIT), out=out)

    benchmark(draw)
    record(benchmark)
    assert np.abs(out).max() <= XAVIER_LIMIT * (1 + 1e-6)


@pytest.mark.benchmark(group="xavier_uniform 4096x4096 float32")
def test_xavier_uniform_reference(benchmark, out):
    benchmark(ref_init.xavier_uniform, SHAPE, seed=0, out=out)
    record(benchmark)
    assert np.abs(out).max() <= XAVIER_LIMIT * (1 + 1e-6)


@pytest.mark.benchmark(group="xavier_uniform 4096x4096 float32")
def test_xavier_uniform_torch(benchmark, torch):
    weight = torch.empty(SHAPE, dtype=torch.float32)
    benchmark(torch.nn.init.xavier_uniform_, weight)
    record(benchmark)
    assert weight.abs().max().item() <= XAVIER_LIMIT * (1 + 1e-6)


# --- truncated normal (variance_scaling's default) ----------------------------------------------


@pytest.mark.benchmark(group="truncated normal 4096x4096 float32")
def test_truncated_normal_fastnn(benchmark, out):
    init.variance_scaling(SHAPE, 2.0, seed=0, out=out)
    benchmark(init.variance_scaling, SHAPE, 2.0, seed=0, out=out)
    record(benchmark)
    assert abs(out.std() - HE_STD) < 1e-2 * HE_STD


@pytest.mark.benchmark(group="truncated normal 4096x4096 float32")
def test_truncated_normal_torch(benchmark, torch):
    weight = torch.empty(SHAPE, dtype=torch.float32)
    std = HE_STD / init.TRUNCATED_NORMAL_STD
    benchmark(torch.nn.init.trunc_normal_, weight, std=std, a=-2 * std, b=2 * std)
    record(benchmark)
    assert abs(weight.std().item() - HE_STD) < 1e-2 * HE_STD
