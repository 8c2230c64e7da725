"""Philox4x32-10 and the float transforms in fastnn.kernels.scalar.

The generator is pinned by the published known-answer vectors; a pure-Python
Philox written here from the paper (not from the code under test) checks
the same vectors and then serves as the oracle for random counters and for
the element -> block layout (tests/test_init.py uses it too).  The float
transforms are compared with NumPy/SciPy in float64.
"""

import math

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from fastnn.kernels import scalar

MASK32 = 0xFFFFFFFF

# Random123 tests/kat_vectors (D. E. Shaw Research), the philox4x32 lines:
# counter (4 words), key (2 words), expected output (4 words).
KAT_10 = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    (
        (MASK32, MASK32, MASK32, MASK32),
        (MASK32, MASK32),
        (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD),
    ),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]
KAT_7 = [
    ((0, 0, 0, 0), (0, 0), (0x5F6FB709, 0x0D893F64, 0x4F121F81, 0x4F730A48)),
    (
        (MASK32, MASK32, MASK32, MASK32),
        (MASK32, MASK32),
        (0x5207DDC2, 0x45165E59, 0x4D8EE751, 0x8C52F662),
    ),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0x4DFCCABA, 0x190A87F0, 0xC47362BA, 0xB6B5242A),
    ),
]

PAPER_CONSTANTS = {"m0": 0xD2511F53, "m1": 0xCD9E8D57, "w0": 0x9E3779B9, "w1": 0xBB67AE85}


def philox4x32_py(counter, key, rounds=10, *, m0=None, m1=None, w0=None, w1=None):
    """Philox4x32-R in plain Python integers, following Salmon et al. (SC'11)."""
    m0 = PAPER_CONSTANTS["m0"] if m0 is None else m0
    m1 = PAPER_CONSTANTS["m1"] if m1 is None else m1
    w0 = PAPER_CONSTANTS["w0"] if w0 is None else w0
    w1 = PAPER_CONSTANTS["w1"] if w1 is None else w1
    x0, x1, x2, x3 = counter
    k0, k1 = key
    for r in range(rounds):
        if r:
            k0, k1 = (k0 + w0) & MASK32, (k1 + w1) & MASK32
        p0, p1 = m0 * x0, m1 * x2
        x0, x1, x2, x3 = (p1 >> 32) ^ x1 ^ k0, p1 & MASK32, (p0 >> 32) ^ x3 ^ k1, p0 & MASK32
    return x0, x1, x2, x3


def as_ints(words):
    return tuple(int(w) for w in words)


# --- known answers -----------------------------------------------------------------


@pytest.mark.parametrize("counter, key, expected", KAT_10)
def test_philox4x32_10_known_answers(counter, key, expected):
    assert as_ints(scalar.philox4x32_10(*counter, *key)) == expected
    assert as_ints(scalar.philox4x32(*counter, *key, 10)) == expected
    assert philox4x32_py(counter, key) == expected


@pytest.mark.parametrize("counter, key, expected", KAT_7)
def test_philox4x32_7_known_answers(counter, key, expected):
    # A second round count pins the round function and the key schedule
    # independently of the number of rounds.
    assert as_ints(scalar.philox4x32(*counter, *key, 7)) == expected
    assert philox4x32_py(counter, key, 7) == expected


@pytest.mark.parametrize("counter, key, expected", KAT_10)
@pytest.mark.parametrize("rounds", [9, 11])
def test_wrong_round_count_misses_the_vectors(counter, key, expected, rounds):
    # The vectors can tell a round too many or too few.
    assert as_ints(scalar.philox4x32(*counter, *key, rounds)) != expected


@pytest.mark.parametrize("constant", sorted(PAPER_CONSTANTS))
@pytest.mark.parametrize("counter, key, expected", KAT_10)
def test_wrong_constant_misses_the_vectors(counter, key, expected, constant):
    # The vectors can tell any multiplier or key increment off by one bit.
    wrong = {constant: PAPER_CONSTANTS[constant] ^ 1}
    assert philox4x32_py(counter, key, **wrong) != expected


words = st.integers(0, MASK32)


@settings(max_examples=25, deadline=None)
@given(st.tuples(words, words, words, words), st.tuples(words, words))
def test_philox_matches_python_on_random_counters(counter, key):
    expected = philox4x32_py(counter, key)
    assert as_ints(scalar.philox4x32_10(*counter, *key)) == expected
    for word in scalar.philox4x32_10(*counter, *key):
        assert 0 <= int(word) <= MASK32


# --- element -> block layout -----------------------------------------------------------


@pytest.mark.parametrize("per_block", [2, 4])
def test_rng_block_is_a_bijection_with_contiguous_slots(per_block):
    lanes = scalar.RNG_LANES
    span = per_block * lanes
    seen = set()
    for i in range(3 * span):
        block, slot = scalar.rng_block(i, per_block)
        chunk, rest = divmod(i, span)
        assert (block, slot) == (chunk * lanes + rest % lanes, rest // lanes)
        seen.add((block, slot))
    assert len(seen) == 3 * span
    assert {b for b, _ in seen} == set(range(3 * lanes))


# --- uniform floats from words -----------------------------------------------------------


def test_unit_floats_at_the_extreme_words():
    u0, u_max = np.uint64(0), np.uint64(MASK32)
    assert scalar.unit_open_closed_f32(u0) == 2.0**-24
    assert scalar.unit_open_closed_f32(u_max) == 1.0
    assert scalar.unit_symmetric_f32(u0) == -(1 - 2.0**-24)
    assert scalar.unit_symmetric_f32(u_max) == 1 - 2.0**-24
    assert scalar.unit_symmetric_f32(np.uint64(0x80000000)) == 2.0**-24
    assert scalar.unit_open_closed_f64(u0, u0) == 2.0**-53
    assert scalar.unit_open_closed_f64(u_max, u_max) == 1.0
    assert scalar.unit_symmetric_f64(u0, u0) == -(1 - 2.0**-53)
    assert scalar.unit_symmetric_f64(u_max, u_max) == 1 - 2.0**-53
    assert scalar.bits53(u_max, u_max) == 2**53 - 1


@settings(max_examples=25, deadline=None)
@given(words, words)
def test_unit_floats_use_the_top_bits(hi, lo):
    k24 = hi >> 8
    k53 = ((hi >> 5) << 26) | (lo >> 6)
    h, w = np.uint64(hi), np.uint64(lo)
    assert scalar.unit_open_closed_f32(h) == (k24 + 1) / 2**24
    assert scalar.unit_symmetric_f32(h) == (2 * k24 + 1 - 2**24) / 2**24
    assert scalar.unit_open_closed_f64(h, w) == (k53 + 1) / 2**53
    assert scalar.unit_symmetric_f64(h, w) == (2 * k53 + 1 - 2**53) / 2**53


# --- log, sin/cos, erfinv against NumPy/SciPy -------------------------------------------------


@njit
def _map_log32(y):
    out = np.empty_like(y)
    for i in range(y.size):
        out[i] = scalar.log_unit_f32(y[i])
    return out


@njit
def _map_log64(y):
    out = np.empty_like(y)
    for i in range(y.size):
        out[i] = scalar.log_unit_f64(y[i])
    return out


@njit
def _map_sincos32(k):
    c = np.empty(k.size, np.float32)
    s = np.empty(k.size, np.float32)
    for i in range(k.size):
        c[i], s[i] = scalar.sincos_turn_f32(k[i])
    return c, s


@njit
def _map_sincos64(k):
    c = np.empty(k.size)
    s = np.empty(k.size)
    for i in range(k.size):
        c[i], s[i] = scalar.sincos_turn_f64(k[i])
    return c, s


@njit
def _map_erfinv32(x):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = scalar.erfinv_central_f32(x[i])
    return out


@njit
def _map_erfinv64(x):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = scalar.erfinv_central_f64(x[i])
    return out


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(20261129)


def test_log_unit_f32_accuracy(rng):
    # Every input the Box-Muller radius can see is k * 2**-24, k in [1, 2**24];
    # take the small k exhaustively (largest |log|) and a random sample.
    k = np.concatenate([np.arange(1, 4097), rng.integers(1, 2**24 + 1, 200_000)])
    y = (k * 2.0**-24).astype(np.float32)
    got = _map_log32(y).astype(np.float64)
    want = np.log(y.astype(np.float64))
    # A few float32 roundings (division, series, e*ln2 sum): 4 ulp of the result.
    ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    assert np.all(np.abs(got - want) <= 4 * np.maximum(ulp, 2.0**-149))
    assert _map_log32(np.ones(1, np.float32))[0] == 0.0


def test_log_unit_f64_accuracy(rng):
    y = np.concatenate(
        [np.arange(1, 4097) * 2.0**-53, rng.random(200_000), 2.0 ** -rng.uniform(0, 63, 10_000)]
    )
    y = y[y > 0]
    got = _map_log64(y)
    want = np.log(y)
    # Same reasoning in float64: 4 ulp.
    assert np.all(np.abs(got - want) <= 4 * np.spacing(np.abs(want)))


def test_sincos_turn_accuracy(rng):
    k24 = np.concatenate([np.arange(0, 2**24, 97), rng.integers(0, 2**24, 100_000)])
    c, s = _map_sincos32(k24.astype(np.uint64))
    angle = 2 * np.pi * k24 / 2**24
    # |cos|, |sin| <= 1: float32 rounding of the reduced angle and Horner sums,
    # a few ulp of 1 (2**-23 ~ 1.2e-7).
    assert np.max(np.abs(c - np.cos(angle))) < 3e-7
    assert np.max(np.abs(s - np.sin(angle))) < 3e-7
    k53 = rng.integers(0, 2**53, 100_000, dtype=np.uint64)
    c, s = _map_sincos64(k53)
    angle = 2 * np.pi * (k53.astype(np.float64) / 2**53)
    # The float64 reference angle itself carries ~1 ulp of 2*pi (9e-16).
    assert np.max(np.abs(c - np.cos(angle))) < 4e-15
    assert np.max(np.abs(s - np.sin(angle))) < 4e-15


def test_erfinv_central_accuracy():
    x = np.linspace(-scalar.ERF_SQRT2, scalar.ERF_SQRT2, 200_001)
    want = scipy.special.erfinv(x)
    x32 = x.astype(np.float32)
    got32 = _map_erfinv32(x32).astype(np.float64)
    want32 = scipy.special.erfinv(x32.astype(np.float64))
    # Fit and coefficient rounding 3e-8 relative (half an ulp) plus the float32
    # log and Horner roundings; 2 ulp observed, 4 allowed.
    assert np.all(np.abs(got32 - want32) <= 4 * np.spacing(np.abs(want32).astype(np.float32)))
    # Fit 1e-16 relative plus float64 log and Horner roundings; 4 ulp observed
    # (scipy's own erfinv is good to about 1 ulp), 6 allowed.
    got64 = _map_erfinv64(x)
    assert np.all(np.abs(got64 - want) <= 6 * np.spacing(np.abs(want)) + 1e-300)


# --- the normal transforms ------------------------------------------------------------------


def _words(rng, n):
    return rng.integers(0, 2**32, size=(n, 4), dtype=np.uint64)


def test_box_muller_f32_matches_float64_formula(rng):
    for w0, w1, _, _ in _words(rng, 2000):
        z0, z1 = scalar.box_muller_f32(w0, w1)
        r = math.sqrt(-2 * math.log(((int(w0) >> 8) + 1) / 2**24))
        theta = 2 * math.pi * (int(w1) >> 8) / 2**24
        # float32 log/sqrt/sincos: relative error a few 1e-7 on r, absolute on the angle.
        assert z0 == pytest.approx(r * math.cos(theta), rel=1e-6, abs=1e-6)
        assert z1 == pytest.approx(r * math.sin(theta), rel=1e-6, abs=1e-6)


def test_box_muller_f64_matches_float64_formula(rng):
    for w0, w1, w2, w3 in _words(rng, 2000):
        z0, z1 = scalar.box_muller_f64(w0, w1, w2, w3)
        k_radius = ((int(w0) >> 5) << 26) | (int(w1) >> 6)
        k_angle = ((int(w2) >> 5) << 26) | (int(w3) >> 6)
        r = math.sqrt(-2 * math.log((k_radius + 1) / 2**53))
        theta = 2 * math.pi * k_angle / 2**53
        # A few float64 ulp in log, sqrt and the angle.
        assert z0 == pytest.approx(r * math.cos(theta), rel=1e-13, abs=1e-13)
        assert z1 == pytest.approx(r * math.sin(theta), rel=1e-13, abs=1e-13)


def test_truncated_normal_matches_inverse_cdf(rng):
    bound = scipy.special.erf(math.sqrt(2))
    for w0, w1, _, _ in _words(rng, 2000):
        v32 = (2 * (int(w0) >> 8) + 1 - 2**24) / 2**24
        want = math.sqrt(2) * scipy.special.erfinv(bound * v32)
        # float32: erfinv error of a few ulp, plus the rounding of erf(sqrt 2) * v.
        assert scalar.truncated_normal_f32(w0) == pytest.approx(want, rel=2e-6, abs=2e-7)
        k53 = ((int(w0) >> 5) << 26) | (int(w1) >> 6)
        v64 = (2 * k53 + 1 - 2**53) / 2**53
        want = math.sqrt(2) * scipy.special.erfinv(bound * v64)
        assert scalar.truncated_normal_f64(w0, w1) == pytest.approx(want, rel=1e-13, abs=1e-15)


def test_truncated_normal_stays_within_two():
    extremes = [np.uint64(0), np.uint64(MASK32)]
    for w in extremes:
        assert abs(scalar.truncated_normal_f32(w)) <= 2.0
        assert abs(scalar.truncated_normal_f64(w, w)) <= 2.0
    assert scalar.truncated_normal_f32(np.uint64(MASK32)) > 1.999
