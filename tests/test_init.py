"""fastnn.init, its kernels (fastnn.kernels.cpu.init) and fastnn.reference.init.

Expected distributions are written here from the formulas in the docs (not
read from the code).  Statistical thresholds assume a correct generator and
fixed seeds: each check would fail by chance with probability well below
1e-3, so a failure means a wrong formula, not bad luck.
"""

import hashlib
import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

import fastnn.init as init
from fastnn._validation import check_device_out
from fastnn.backend import cuda_unavailable_reason
from fastnn.kernels import scalar
from fastnn.kernels.cpu import init as kernels
from fastnn.reference import init as ref_init
from tests.helpers import on_host, run_with_threads
from tests.test_philox import philox4x32_py

DTYPES = [np.float32, np.float64]
# Non-square so that fan_in and fan_out give different answers; 10**6
# elements: a standard error of 1e-3 relative on the mean and about 1.4e-3
# on the variance, and a KS test that sees CDF errors of ~2e-3.
SHAPE = (500, 2000)
FAN_IN, FAN_OUT = SHAPE

# Standard deviation of N(0, 1) truncated to [-2, 2], from SciPy.
TRUNC_STD = scipy.stats.truncnorm(-2, 2).std()


def normal_dist(std, mean=0.0):
    return scipy.stats.norm(mean, std)


def uniform_dist(limit):
    return scipy.stats.uniform(-limit, 2 * limit)


def truncated_dist(std_before_truncation, mean=0.0):
    return scipy.stats.truncnorm(-2, 2, loc=mean, scale=std_before_truncation)


def fan(mode, fan_in, fan_out):
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]


# name -> (keyword arguments, the exact distribution for SHAPE)
RANDOM_CASES = {
    "normal": ({"std": 0.05, "mean": 0.25}, normal_dist(0.05, 0.25)),
    "truncated_normal": ({"std": 0.05, "mean": -0.5}, truncated_dist(0.05, -0.5)),
    "uniform": ({"limit": 0.3}, uniform_dist(0.3)),
    # Keras defaults: scale 1, fan_in, truncated normal with std sqrt(1/fan_in).
    "variance_scaling": ({}, truncated_dist(math.sqrt(1 / FAN_IN) / TRUNC_STD)),
    # PyTorch's names: plain normals (xavier_normal_, kaiming_normal_).
    "xavier_normal": ({}, normal_dist(math.sqrt(2 / (FAN_IN + FAN_OUT)))),
    "kaiming_normal": ({}, normal_dist(math.sqrt(2 / FAN_IN))),
    # Keras's names: normals truncated at 2 stds, the std divided by TRUNC_STD
    # so the values have the formula's variance (keras.initializers.HeNormal ...).
    "glorot_normal": ({}, truncated_dist(math.sqrt(2 / (FAN_IN + FAN_OUT)) / TRUNC_STD)),
    "he_normal": ({}, truncated_dist(math.sqrt(2 / FAN_IN) / TRUNC_STD)),
    "lecun_normal": ({}, truncated_dist(math.sqrt(1 / FAN_IN) / TRUNC_STD)),
    "xavier_uniform": ({}, uniform_dist(math.sqrt(6 / (FAN_IN + FAN_OUT)))),
    "he_uniform": ({}, uniform_dist(math.sqrt(6 / FAN_IN))),
    "lecun_uniform": ({}, uniform_dist(math.sqrt(3 / FAN_IN))),
}
CONSTANT_CASES = {"zeros": ({}, 0.0), "ones": ({}, 1.0), "constant": ({"value": -0.75}, -0.75)}


def test_every_registered_initializer_is_tested():
    assert set(init.INITIALIZERS) == set(RANDOM_CASES) | set(CONSTANT_CASES)


def test_reference_has_the_same_initializers():
    assert set(ref_init.__all__) <= set(init.__all__)
    assert set(init.INITIALIZERS) <= set(ref_init.__all__)


def test_truncated_normal_std_constant():
    assert init.TRUNCATED_NORMAL_STD == pytest.approx(TRUNC_STD, rel=1e-15)


# --- distributions ----------------------------------------------------------------------


def check_distribution(values, dist):
    """Moments within 4 standard errors, KS p > 1e-3, support respected."""
    x = values.astype(np.float64).ravel()
    n = x.size
    mean, var = dist.mean(), dist.var()
    excess_kurtosis = float(dist.stats(moments="k"))
    # Var of the sample mean is var/n; of the sample variance (mu4 - var**2)/n
    # with mu4 = (kurtosis + 3) var**2.  4 standard errors: 6e-5 two-sided.
    assert abs(x.mean() - mean) <= 4 * math.sqrt(var / n)
    assert abs(x.var() - var) <= 4 * var * math.sqrt((excess_kurtosis + 2) / n)
    # Fixed seeds make the p-value a fixed number; 1e-3 leaves room for
    # float32 rounding of the values (a CDF shift far below 1/sqrt(n)).
    assert scipy.stats.kstest(x, dist.cdf).pvalue > 1e-3
    low, high = dist.support()
    assert x.min() >= low and x.max() <= high


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(RANDOM_CASES))
def test_distribution(name, dtype):
    kwargs, dist = RANDOM_CASES[name]
    w = init.get(name)(SHAPE, **kwargs, seed=12345, dtype=dtype)
    assert w.shape == SHAPE and w.dtype == dtype
    check_distribution(w, dist)


@pytest.mark.parametrize("name", sorted(RANDOM_CASES))
def test_reference_distribution(name):
    kwargs, dist = RANDOM_CASES[name]
    w = getattr(ref_init, name)(SHAPE, **kwargs, seed=12345)
    assert w.shape == SHAPE and w.dtype == np.float32
    check_distribution(w, dist)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
@pytest.mark.parametrize(
    "distribution", ["truncated_normal", "normal", "untruncated_normal", "uniform"]
)
def test_variance_scaling(mode, distribution):
    scale = 3.0
    std = math.sqrt(scale / fan(mode, FAN_IN, FAN_OUT))
    dist = {
        "truncated_normal": truncated_dist(std / TRUNC_STD),
        # Keras's VarianceScaling treats "normal" as "truncated_normal".
        "normal": truncated_dist(std / TRUNC_STD),
        "untruncated_normal": normal_dist(std),
        "uniform": uniform_dist(math.sqrt(3) * std),
    }[distribution]
    # The target variance holds in every case, truncated included.
    assert dist.var() == pytest.approx(scale / fan(mode, FAN_IN, FAN_OUT), rel=1e-12)
    for module in (init, ref_init):
        w = module.variance_scaling(SHAPE, scale, mode, distribution, seed=7)
        check_distribution(w, dist)


def test_variance_scaling_names_follow_keras_bit_for_bit():
    """Distribution "normal" is the truncated normal (as Keras), "untruncated_normal" the plain."""
    shape, std = (300, 40), math.sqrt(2.0 / 300)
    normal = init.variance_scaling(shape, 2.0, distribution="normal", seed=3)
    truncated = init.variance_scaling(shape, 2.0, distribution="truncated_normal", seed=3)
    plain = init.variance_scaling(shape, 2.0, distribution="untruncated_normal", seed=3)
    assert np.array_equal(normal, truncated)
    assert np.array_equal(truncated, init.truncated_normal(shape, std / TRUNC_STD, seed=3))
    assert np.array_equal(plain, init.normal(shape, std, seed=3))
    assert np.abs(truncated).max() <= 2 * std / TRUNC_STD < np.abs(plain).max()


# Each named normal initializer: (the distribution it must be, fan, scale).  Keras's
# names are truncated normals, PyTorch's plain normals; a convention change fails here.
NAMED_NORMALS = {
    "glorot_normal": ("truncated_normal", "fan_avg", 1.0),
    "he_normal": ("truncated_normal", "fan_in", 2.0),
    "lecun_normal": ("truncated_normal", "fan_in", 1.0),
    "xavier_normal": ("untruncated_normal", "fan_avg", 1.0),
    "kaiming_normal": ("untruncated_normal", "fan_in", 2.0),
}


@pytest.mark.parametrize("name", sorted(NAMED_NORMALS))
@pytest.mark.parametrize("module", [init, ref_init], ids=["init", "reference"])
def test_named_normal_follows_its_librarys_convention(module, name):
    distribution, mode, scale = NAMED_NORMALS[name]
    shape = (300, 40)
    std = math.sqrt(scale / fan(mode, *shape))
    w = getattr(module, name)(shape, seed=4, dtype=np.float64)
    if distribution == "truncated_normal":
        expected = module.truncated_normal(shape, std / TRUNC_STD, seed=4, dtype=np.float64)
        # The truncation point, 2 stds of the normal before truncation, is never passed.
        assert np.abs(w).max() <= 2 * std / TRUNC_STD
    else:
        expected = module.normal(shape, std, seed=4, dtype=np.float64)
        # 12000 plain normal draws pass 2 stds ~550 times; the truncated never do.
        assert np.abs(w).max() > 2 * std / TRUNC_STD
    assert np.array_equal(w, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_dimensional_shape_uses_its_length_as_both_fans(dtype):
    n = 10**6
    assert init.compute_fans((n,)) == (n, n)
    check_distribution(init.kaiming_normal(n, seed=1, dtype=dtype), normal_dist(math.sqrt(2 / n)))
    check_distribution(
        init.xavier_uniform((n,), seed=1, dtype=dtype), uniform_dist(math.sqrt(6 / (2 * n)))
    )


def test_compute_fans():
    assert init.compute_fans((3, 5)) == (3, 5)
    assert init.compute_fans(7) == (7, 7)
    assert ref_init.compute_fans((3, 5)) == (3, 5)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        init.compute_fans((2, 3, 4))


# --- constants and the "what not to do" cases ------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CONSTANT_CASES))
def test_constant_initializers(name, dtype):
    kwargs, value = CONSTANT_CASES[name]
    for module in (init, ref_init):
        w = getattr(module, name)((33, 17), **kwargs, dtype=dtype)
        assert w.shape == (33, 17) and w.dtype == dtype
        assert np.all(w == value)


def test_bad_choices_stay_expressible():
    shape = (300, 400)
    assert np.all(init.zeros(shape) == 0)
    assert np.all(init.constant(shape, 0.1) == np.float32(0.1))
    tiny = init.normal(shape, 1e-6, seed=0)
    assert 0.9e-6 < tiny.std() < 1.1e-6
    huge = init.normal(shape, 1e3, seed=0)
    assert np.all(np.isfinite(huge)) and 0.9e3 < huge.std() < 1.1e3
    assert np.all(init.uniform(shape, 0.0, seed=0) == 0)
    assert np.all(init.normal(shape, 0.0, mean=2.5, seed=0) == 2.5)
    big_uniform = init.uniform(shape, 1e30, seed=0)
    assert np.all(np.abs(big_uniform) <= np.float32(1e30))


def test_bounded_draws_stay_in_range():
    w = init.uniform(10**6, low=1.0, high=1.0 + 2**-20, seed=4)
    assert w.min() >= 1.0 and w.max() <= np.float32(1.0 + 2**-20)
    # Bounds with no exact float32, rounding outwards (float32(0.1) > 0.1) or
    # inwards (float32(0.7) < 0.7): the float32 values still never leave them.
    # 2**20 draws from 2**24 grid points make values near the ends likely.
    for seed in range(4):
        for low, high in ((-0.1, 0.1), (0.1, 0.7), (0.7, 1.1)):
            w = init.uniform(2**20, low=low, high=high, seed=seed).astype(np.float64)
            assert w.min() >= low and w.max() <= high
        for mean, std in ((0.0, 0.05), (0.1, 0.3)):
            w = init.truncated_normal(2**20, std, mean=mean, seed=seed).astype(np.float64)
            assert w.min() >= mean - 2 * std and w.max() <= mean + 2 * std
    w = init.uniform(10**6, low=-3.0, high=5.0, seed=4, dtype=np.float64)
    check_distribution(w, scipy.stats.uniform(-3.0, 8.0))


def test_symmetric_uniform_is_exactly_symmetric():
    # The midpoint grid: v and -v are equally likely, the mean is exactly 0.
    w = init.uniform(4096, 1.0, seed=0)
    assert np.all(np.abs(w) < 1) and np.all(w != 0)
    k = (w.astype(np.float64) * 2**24 + 2**24 - 1) / 2
    assert np.array_equal(k, np.round(k))


# --- out= and dtype --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_out_is_filled_and_returned(dtype):
    out = np.full(SHAPE, np.nan, dtype=dtype)
    result = init.he_uniform(SHAPE, seed=9, out=out)
    assert result is out
    assert np.array_equal(out, init.he_uniform(SHAPE, seed=9, dtype=dtype))
    ref_out = np.zeros(SHAPE, dtype=dtype)
    assert ref_init.he_uniform(SHAPE, seed=9, out=ref_out) is ref_out


def test_dtype_defaults_to_float32():
    assert init.he_normal((4, 3), seed=0).dtype == np.float32
    assert init.zeros((4, 3)).dtype == np.float32


# --- the documented layout: element i <- Philox block of (seed, stream) -----------------------

SEED = 0x0123456789ABCDEF
STREAM = 0xFEDCBA9876543210


def block_words(block, seed=SEED, stream=STREAM):
    counter = (block & 0xFFFFFFFF, block >> 32, stream & 0xFFFFFFFF, stream >> 32)
    return philox4x32_py(counter, (seed & 0xFFFFFFFF, seed >> 32))


def block_and_slot(i, per_block):
    lanes = scalar.RNG_LANES
    chunk, rest = divmod(i, per_block * lanes)
    return chunk * lanes + rest % lanes, rest // lanes


@pytest.mark.parametrize("offset", [0, 2**34 + 5])
def test_uniform_float32_follows_the_documented_layout(backend, offset):
    # uniform on [-1, 1] returns the unit midpoint itself: (2k + 1 - 2**24) / 2**24
    # with k the top 24 bits of word `slot` of the element's block.  An offset
    # past 2**32 blocks exercises the counter's high word.
    out = backend.memory.empty((2 * 4 * scalar.RNG_LANES + 37,), np.float32)
    backend.init.fill_uniform(out, np.uint64(SEED), np.uint64(STREAM), offset, -1.0, 1.0)
    out = backend.memory.to_host(out)
    for k, value in enumerate(out):
        block, slot = block_and_slot(offset + k, 4)
        top = block_words(block)[slot] >> 8
        assert value == (2 * top + 1 - 2**24) / 2**24


def test_uniform_float64_follows_the_documented_layout(backend):
    out = backend.memory.empty((2 * 2 * scalar.RNG_LANES + 11,), np.float64)
    backend.init.fill_uniform(out, np.uint64(SEED), np.uint64(STREAM), 0, -1.0, 1.0)
    out = backend.memory.to_host(out)
    for k, value in enumerate(out):
        block, slot = block_and_slot(k, 2)
        words = block_words(block)
        bits = ((words[2 * slot] >> 5) << 26) | (words[2 * slot + 1] >> 6)
        assert value == (2 * bits + 1 - 2**53) / 2**53


def test_normal_float32_follows_the_documented_layout(backend):
    out = backend.memory.empty((4 * scalar.RNG_LANES + 300,), np.float32)
    backend.init.fill_normal(out, np.uint64(SEED), np.uint64(STREAM), 0, 0.0, 1.0)
    out = backend.memory.to_host(out)
    for k in range(0, out.size, 7):
        block, slot = block_and_slot(k, 4)
        words = block_words(block)
        w_radius, w_angle = words[2 * (slot // 2)], words[2 * (slot // 2) + 1]
        r = math.sqrt(-2 * math.log(((w_radius >> 8) + 1) / 2**24))
        theta = 2 * math.pi * (w_angle >> 8) / 2**24
        want = r * (math.cos(theta) if slot % 2 == 0 else math.sin(theta))
        # float32 transform: a few 1e-7 relative (see test_philox).
        assert out[k] == pytest.approx(want, rel=1e-6, abs=1e-6)


# --- reproducibility: threads, pieces, seeds and streams -----------------------------------------

FILLS = {
    "uniform": ("fill_uniform", (-0.5, 2.0)),
    "normal": ("fill_normal", (0.1, 3.0)),
    "truncated_normal": ("fill_truncated_normal", (-1.0, 0.5)),
}


def fill(name, out, offset=0, seed=11, stream=2, init_kernels=kernels):
    """Fill ``out`` with ``init_kernels``' kernel for ``name`` (the CPU's by default)."""
    func_name, params = FILLS[name]
    getattr(init_kernels, func_name)(out, np.uint64(seed), np.uint64(stream), offset, *params)
    return out


DIGEST_SCRIPT = """
import hashlib
import numpy as np
import fastnn.init as init
h = hashlib.sha256()
for dtype in (np.float32, np.float64):
    for name in ("he_normal", "xavier_uniform", "variance_scaling"):
        h.update(init.get(name)((1001, 517), seed=2026, stream=3, dtype=dtype).tobytes())
print(h.hexdigest())
"""


def test_bitwise_identical_on_one_and_two_threads():
    h = hashlib.sha256()
    for dtype in DTYPES:
        for name in ("he_normal", "xavier_uniform", "variance_scaling"):
            h.update(init.get(name)((1001, 517), seed=2026, stream=3, dtype=dtype).tobytes())
    one = run_with_threads(DIGEST_SCRIPT, 1).strip()
    two = run_with_threads(DIGEST_SCRIPT, 2).strip()
    assert one == two == h.hexdigest()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(FILLS))
def test_pieces_at_offsets_equal_the_whole(backend, name, dtype):
    n = 9 * 1024 + 77
    whole = fill(name, backend.memory.empty((n,), dtype), init_kernels=backend.init)
    # Cuts inside and on chunk boundaries (chunks are 1024 float32 or 512
    # float64 elements), single elements and a piece spanning several chunks.
    cuts = [0, 1, 2, 255, 256, 511, 512, 513, 1023, 1024, 1025, 3000, 3001, 8000, n]
    pieces = backend.memory.empty((n,), dtype)
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        fill(name, pieces[a:b], offset=a, init_kernels=backend.init)
    whole, pieces = on_host(backend, whole, pieces)
    assert np.array_equal(whole, pieces)


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(sorted(FILLS)),
    st.sampled_from(DTYPES),
    st.integers(1, 5000),
    st.lists(st.integers(0, 5000), max_size=6),
)
def test_random_pieces_equal_the_whole(name, dtype, n, cuts):
    whole = fill(name, np.empty(n, dtype))
    bounds = sorted({0, n, *(c for c in cuts if c < n)})
    pieces = np.empty(n, dtype)
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        fill(name, pieces[a:b], offset=a)
    assert np.array_equal(whole, pieces)


@pytest.mark.parametrize("dtype", DTYPES)
def test_public_functions_are_the_kernels_at_offset_zero(backend, dtype):
    w = init.normal((37, 41), 3.0, mean=0.1, seed=11, stream=2, dtype=dtype, device=backend.name)
    flat = fill("normal", backend.memory.empty((37 * 41,), dtype), init_kernels=backend.init)
    w, flat = on_host(backend, w, flat)
    assert w.shape == (37, 41)
    assert np.array_equal(w.ravel(), flat)


# --- devices ------------------------------------------------------------------------------------


def call_initializer(name, device="cpu", **kwargs):
    """Initializer ``name`` on a (37, 41) float32 tensor with fixed parameters."""
    args = {"constant": (0.25,), "normal": (0.5,), "truncated_normal": (0.5,), "uniform": (0.5,)}
    seeded = name not in ("zeros", "ones", "constant")
    extra = {"seed": 5, "stream": 3} if seeded else {}
    return init.get(name)((37, 41), *args.get(name, ()), device=device, **extra, **kwargs)


@pytest.mark.parametrize("name", sorted(init.INITIALIZERS))
def test_device_cpu_is_the_default(name):
    explicit = call_initializer(name, device="cpu")
    assert isinstance(explicit, np.ndarray)
    assert np.array_equal(explicit, call_initializer(name))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(init.INITIALIZERS))
def test_every_device_draws_the_cpu_values(backend, name, dtype):
    """The same generator on every device: uniform bits identical, normals within 2 ulp.

    2 ulp is the CUDA issue's contract: the transforms are the same scalar
    functions, and a device's libm-free arithmetic may round an FMA differently.
    """
    on_cpu = call_initializer(name, dtype=dtype)
    on_device = backend.memory.to_host(call_initializer(name, device=backend.name, dtype=dtype))
    assert on_device.shape == on_cpu.shape and on_device.dtype == on_cpu.dtype
    if "normal" in name:
        ulp = np.spacing(np.abs(on_cpu).astype(dtype))
        assert np.all(np.abs(on_device - on_cpu) <= 2 * ulp)
    else:
        assert np.array_equal(on_device, on_cpu)


def test_out_on_the_device(backend):
    out = backend.memory.zeros((37, 41), np.float32)
    result = init.uniform((37, 41), 0.5, seed=5, stream=3, out=out, device=backend.name)
    assert result is out
    assert np.array_equal(backend.memory.to_host(out), call_initializer("uniform"))


def test_bad_devices():
    with pytest.raises(ValueError, match=r"device must be one of \['cpu', 'cuda', 'auto'\]"):
        init.normal((3, 4), 1.0, seed=0, device="gpu")
    with pytest.raises(TypeError, match="device must be a string"):
        init.zeros((3, 4), device=0)


@pytest.mark.skipif(cuda_unavailable_reason() is None, reason="CUDA can run here")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="device='cuda' cannot be used"):
        init.he_normal((3, 4), seed=0, device="cuda")


class FakeGpuArray:
    """Only the ``__cuda_array_interface__`` of a GPU array: what ``check_device_out`` reads."""

    def __init__(self, shape, typestr="<f4", strides=None, read_only=False):
        self.__cuda_array_interface__ = {
            "shape": shape,
            "typestr": typestr,
            "strides": strides,
            "data": (0, read_only),
            "version": 3,
        }


def test_device_out_is_checked_through_its_interface():
    good = FakeGpuArray((3, 4))
    assert check_device_out("out", good, (3, 4), np.float32) is good
    one_row = FakeGpuArray((1, 4), strides=(64, 4))  # a length-1 dimension's stride is free
    assert check_device_out("out", one_row, (1, 4), np.float32) is one_row
    bad = [
        (np.zeros((3, 4), np.float32), TypeError, "out must be a GPU array"),
        (FakeGpuArray((3, 4), "<f8"), TypeError, "out must have dtype float32, got float64"),
        (FakeGpuArray((4, 3)), ValueError, r"out must have shape \(3, 4\), got \(4, 3\)"),
        (FakeGpuArray((3, 4), strides=(4, 12)), ValueError, "C-contiguous"),
        (FakeGpuArray((3, 4), read_only=True), ValueError, "writeable"),
    ]
    for out, error, match in bad:
        with pytest.raises(error, match=match):
            check_device_out("out", out, (3, 4), np.float32)


def test_cpu_out_must_be_a_numpy_array():
    with pytest.raises(TypeError, match="out must be a numpy.ndarray"):
        init.zeros((3, 4), out=FakeGpuArray((3, 4)))


# |corr| of two independent 10**6-draws has standard deviation 1e-3, so the
# issue's bound of 5e-3 is 5 standard deviations (failure by chance ~6e-7).
CORRELATION_BOUND = 5e-3


@pytest.mark.parametrize("name", ["normal", "uniform"])
def test_seeds_and_streams_are_uncorrelated(name):
    func, params = init.get(name), ({"std": 1.0} if name == "normal" else {"limit": 1.0})
    n = 10**6
    base = func(n, **params, seed=1, stream=0)
    others = [
        func(n, **params, seed=2, stream=0),  # next seed
        func(n, **params, seed=1, stream=1),  # next stream
        func(n, **params, seed=0, stream=1),  # seed and stream swapped
        func(n, **params, seed=2**32 + 1, stream=0),  # differs in the key's high word
    ]
    for other in others:
        assert not np.array_equal(base, other)
        assert abs(np.corrcoef(base, other)[0, 1]) < CORRELATION_BOUND
    # Neighbouring elements, and elements that share a Philox block.
    for lag in (1, scalar.RNG_LANES, 2 * scalar.RNG_LANES):
        assert abs(np.corrcoef(base[:-lag], base[lag:])[0, 1]) < CORRELATION_BOUND


def test_same_seed_same_values_and_reference_depends_on_seed():
    assert np.array_equal(init.he_normal(SHAPE, seed=5), init.he_normal(SHAPE, seed=5))
    a = ref_init.he_normal((100, 100), seed=5)
    assert np.array_equal(a, ref_init.he_normal((100, 100), seed=5))
    assert not np.array_equal(a, ref_init.he_normal((100, 100), seed=6))
    assert not np.array_equal(a, ref_init.he_normal((100, 100), seed=5, stream=1))


# --- registry ---------------------------------------------------------------------------------


def test_get_by_name_alias_callable_and_params():
    assert init.get("he_normal") is init.he_normal
    assert init.get("glorot_uniform") is init.xavier_uniform
    assert init.get("kaiming_normal") is init.kaiming_normal
    assert init.get("glorot_normal") is init.glorot_normal
    assert init.get("kaiming_uniform") is init.he_uniform
    assert init.get(init.lecun_normal) is init.lecun_normal
    bound = init.get("normal", std=0.5)
    assert np.array_equal(bound((10, 3), seed=1), init.normal((10, 3), 0.5, seed=1))
    for name in init.INITIALIZERS:
        assert init.get(name) is init.INITIALIZERS[name]


def test_get_rejects_unknown_names_listing_valid_ones():
    with pytest.raises(ValueError, match=r"unknown initializer 'he'.*he_normal.*xavier_uniform"):
        init.get("he")
    with pytest.raises(TypeError, match="name or a callable"):
        init.get(3)


# --- bad inputs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, error, message",
    [
        ((), ValueError, "at least one dimension"),
        ((0, 3), ValueError, "positive dimensions"),
        ((4, -1), ValueError, "positive dimensions"),
        (0, ValueError, "positive dimensions"),
        ((2.0, 3), TypeError, "must contain ints"),
        ((True, 3), TypeError, "must contain ints"),
        (3.5, TypeError, "int or a tuple of ints"),
        ("3", TypeError, "int or a tuple of ints"),
    ],
)
def test_bad_shapes(shape, error, message):
    with pytest.raises(error, match=message):
        init.he_normal(shape, seed=0)
    with pytest.raises(error, match=message):
        init.zeros(shape)


def test_fan_based_initializers_refuse_three_dimensions():
    with pytest.raises(ValueError, match="1-D or 2-D shape"):
        init.he_uniform((3, 3, 3), seed=0)
    assert init.normal((3, 3, 3), 1.0, seed=0).shape == (3, 3, 3)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: init.normal(4, -1.0, seed=0), ValueError, "std must be >= 0"),
        (lambda: init.normal(4, math.nan, seed=0), ValueError, "std must be finite"),
        (lambda: init.normal(4, math.inf, seed=0), ValueError, "std must be finite"),
        (lambda: init.normal(4, "1", seed=0), TypeError, "std must be a real number"),
        (lambda: init.normal(4, 1.0, mean=math.inf, seed=0), ValueError, "mean must be finite"),
        (lambda: init.truncated_normal(4, -0.1, seed=0), ValueError, "std must be >= 0"),
        (lambda: init.uniform(4, -1.0, seed=0), ValueError, "limit must be >= 0"),
        (lambda: init.uniform(4, math.nan, seed=0), ValueError, "limit must be finite"),
        (lambda: init.uniform(4, seed=0), TypeError, "either limit or both low and high"),
        (lambda: init.uniform(4, low=1.0, seed=0), TypeError, "either limit or both"),
        (lambda: init.uniform(4, 1.0, low=0.0, high=1.0, seed=0), TypeError, "not both"),
        (lambda: init.uniform(4, low=2.0, high=1.0, seed=0), ValueError, "high must be >= 2.0"),
        (lambda: init.constant(4, math.nan), ValueError, "value must be finite"),
        (lambda: init.normal(4, 1e38, seed=0), ValueError, "would overflow float32"),
        (lambda: init.uniform(4, 1e39, seed=0), ValueError, "would overflow float32"),
        (lambda: init.constant(4, -1e39), ValueError, "would overflow float32"),
        (lambda: init.variance_scaling(4, 0.0, seed=0), ValueError, "scale must be > 0"),
        (lambda: init.variance_scaling(4, -2.0, seed=0), ValueError, "scale must be > 0"),
        (
            lambda: init.variance_scaling(4, mode="fan_sum", seed=0),
            ValueError,
            r"mode must be one of \['fan_in', 'fan_out', 'fan_avg'\]",
        ),
        (
            lambda: init.variance_scaling(4, distribution="gaussian", seed=0),
            ValueError,
            "distribution must be one of",
        ),
    ],
)
def test_bad_parameters(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_large_values_allowed_in_float64():
    w = init.normal(4, 1e38, seed=0, dtype=np.float64)
    assert np.all(np.isfinite(w))


@pytest.mark.parametrize(
    "seed, error, message",
    [
        (-1, ValueError, r"seed must be in \[0, 2\*\*64\)"),
        (2**64, ValueError, r"seed must be in \[0, 2\*\*64\)"),
        (1.0, TypeError, "seed must be an int"),
        (True, TypeError, "seed must be an int"),
        (None, TypeError, "seed must be an int"),
    ],
)
def test_bad_seeds(seed, error, message):
    with pytest.raises(error, match=message):
        init.he_normal((3, 3), seed=seed)
    with pytest.raises(error, match=message.replace("seed", "stream")):
        init.he_normal((3, 3), seed=0, stream=seed)


def test_seed_is_required_and_full_range_accepted():
    with pytest.raises(TypeError, match="seed"):
        init.he_normal((3, 3))
    a = init.he_normal((3, 3), seed=2**64 - 1, stream=2**64 - 1)
    assert np.all(np.isfinite(a))


@pytest.mark.parametrize("dtype", [np.float16, np.int32, "complex128"])
def test_bad_dtypes(dtype):
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        init.he_normal((3, 3), seed=0, dtype=dtype)


def test_bad_out():
    with pytest.raises(ValueError, match=r"out must have shape \(3, 4\)"):
        init.he_normal((3, 4), seed=0, out=np.empty((4, 3), np.float32))
    with pytest.raises(TypeError, match="out must have dtype float32"):
        init.he_normal((3, 4), seed=0, dtype=np.float32, out=np.empty((3, 4), np.float64))
    with pytest.raises(TypeError, match="out must have dtype float32, got int64"):
        init.he_normal((3, 4), seed=0, out=np.empty((3, 4), np.int64))
    with pytest.raises(ValueError, match="C-contiguous"):
        init.he_normal((3, 4), seed=0, out=np.empty((4, 3), np.float32).T)
    readonly = np.empty((3, 4), np.float32)
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        init.zeros((3, 4), out=readonly)
    with pytest.raises(TypeError, match="out must be a numpy.ndarray"):
        init.zeros((3, 4), out=[[0.0] * 4] * 3)
