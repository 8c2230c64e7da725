"""Initializer kernels: fill a preallocated array with counter-based random numbers.

Responsibility: mapping elements to Philox blocks and looping over them on
the CPU; the generator and its transforms to floats are in
``fastnn.kernels.scalar``.  One implementation serves both dtypes: the
dtype picks the generator and the number of values per block at compile time.

Element ``i`` of a tensor (``i`` counted from the start of the whole tensor;
``offset`` says where ``out_flat`` begins) takes its value from Philox4x32-10
block ``j`` of ``(seed, stream)``, where ``(j, slot) = rng_block(i, k)`` and
``k`` values come from one block: 4 in float32 (24 bits each), 2 in float64
(53 bits each).  The value is thus a function of ``(seed, stream, i)`` and
the dtype alone: bitwise the same on any thread count, and the same whether
the tensor is filled in one call or in pieces.  See ``fastnn.kernels.scalar``
for the generator and the transforms.

Work is split into chunks of ``k * RNG_LANES`` elements (one prange
iteration each).  A chunk that lies wholly inside ``out_flat`` runs a
straight loop over its ``RNG_LANES`` blocks, which LLVM vectorizes (each
slot is a contiguous store); the at most two partial chunks at the ends take
a scalar path that computes the same values element by element.
"""

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from fastnn.kernels.scalar import (
    RNG_LANES,
    RNG_NORMAL,
    RNG_TRUNCATED_NORMAL,
    RNG_UNIFORM,
    philox4x32_10,
    rng_values_f32,
    rng_values_f64,
)

_MASK32 = np.uint64(0xFFFFFFFF)
_U32 = np.uint64(32)
_LANES, _LANES2, _LANES3 = (np.uint64(k * RNG_LANES) for k in (1, 2, 3))


@njit(cache=True, forceinline=True, error_model="numpy")
def _key_and_stream(seed, stream):
    """Key words (seed low, high) and counter words 2-3 (stream low, high)."""
    s = np.uint64(seed)
    t = np.uint64(stream)
    return s & _MASK32, s >> _U32, t & _MASK32, t >> _U32


@njit(cache=True, forceinline=True, error_model="numpy")
def _finish(dist, v, a, b, lo, hi):
    """``a + b v``; bounded distributions are clamped to [lo, hi] against rounding."""
    x = a + b * v
    if dist != RNG_NORMAL:
        x = min(max(x, lo), hi)
    return x


def _block_values(out, dist, w0, w1, w2, w3):
    """The draws of one Philox block in ``out``'s dtype (compiled by the overload below)."""
    raise NotImplementedError("only callable from compiled code")


@overload(_block_values, jit_options=dict(error_model="numpy"), prefer_literal=True)
def _block_values_overload(out, dist, w0, w1, w2, w3):
    """Picks the generator at compile time from the array's dtype.

    float32 takes one 32-bit word per value (4 values a block), float64 two
    (2 values): ``rng_values_f32`` or ``rng_values_f64``.  ``prefer_literal``
    passes the kernels' literal distribution code on, so Numba types and
    compiles only that distribution's transform (without it, every fill
    compiled all three and left the choice to LLVM).
    """
    if out.dtype == types.float32:
        return lambda out, dist, w0, w1, w2, w3: rng_values_f32(dist, w0, w1, w2, w3)
    return lambda out, dist, w0, w1, w2, w3: rng_values_f64(dist, w0, w1, w2, w3)


def _as_dtype_of(out, value):
    """``value`` rounded to ``out``'s dtype (compiled by the overload below)."""
    raise NotImplementedError("only callable from compiled code")


@overload(_as_dtype_of)
def _as_dtype_of_overload(out, value):
    if out.dtype == types.float32:
        return lambda out, value: np.float32(value)
    return lambda out, value: np.float64(value)


@njit(cache=True, forceinline=True, error_model="numpy")
def _values_per_block(out):
    """Values one Philox block (four 32-bit words) gives: 4 in float32, 2 in float64."""
    return 4 // (out.itemsize // 4)


@njit(cache=True, forceinline=True, error_model="numpy")
def _parameters(out, a, b, lo, hi):
    """``a``, ``b`` and the bounds in ``out``'s dtype, the bounds rounded into [lo, hi].

    So a clamped value never leaves [lo, hi] (if no value of the dtype lies
    in it, the clamp returns the upper one).  In float64 this is the identity.
    """
    lo_t = _as_dtype_of(out, lo)
    if np.float64(lo_t) < lo:
        lo_t = np.nextafter(lo_t, _as_dtype_of(out, np.inf))
    hi_t = _as_dtype_of(out, hi)
    if np.float64(hi_t) > hi:
        hi_t = np.nextafter(hi_t, _as_dtype_of(out, -np.inf))
    return _as_dtype_of(out, a), _as_dtype_of(out, b), lo_t, hi_t


@njit(cache=True, forceinline=True, error_model="numpy")
def _block(j, c2, c3, k0, k1):
    """Philox4x32-10 words of block ``j`` (a non-negative int64)."""
    ju = np.uint64(j)
    return philox4x32_10(ju & _MASK32, ju >> _U32, c2, c3, k0, k1)


def _store_slots(out, i, values, dist, a, b, lo, hi):
    """``out[i + s * RNG_LANES] = a + b values[s]`` for every slot (compiled by the overload)."""
    raise NotImplementedError("only callable from compiled code")


@overload(_store_slots, jit_options=dict(error_model="numpy"))
def _store_slots_overload(out, i, values, dist, a, b, lo, hi):
    """One straight-line store per slot, picked by the tuple's length at compile time.

    Written out rather than looped: with a loop over the slots the float32
    normal fill measured 1.36x slower than the straight stores (4096x4096, 2
    threads, medians of interleaved runs), the slot loop being left rolled.
    """
    if len(values) == 4:

        def store4(out, i, values, dist, a, b, lo, hi):
            out[i] = _finish(dist, values[0], a, b, lo, hi)
            out[i + _LANES] = _finish(dist, values[1], a, b, lo, hi)
            out[i + _LANES2] = _finish(dist, values[2], a, b, lo, hi)
            out[i + _LANES3] = _finish(dist, values[3], a, b, lo, hi)

        return store4

    def store2(out, i, values, dist, a, b, lo, hi):
        out[i] = _finish(dist, values[0], a, b, lo, hi)
        out[i + _LANES] = _finish(dist, values[1], a, b, lo, hi)

    return store2


@njit(cache=True, forceinline=True, error_model="numpy")
def _full_chunk(out, base, block0, c2, c3, k0, k1, dist, a, b, lo, hi):
    """All values of one chunk, stored from ``out[base]``, slot by slot.

    Slot ``s`` of lane ``lane`` is ``out[base + s * RNG_LANES + lane]``: for
    a fixed slot the lanes are contiguous, and the slots are stored one
    statement each (``_store_slots``), so LLVM vectorizes the lane loop.
    Indices are unsigned so Numba emits no negative-index wraparound, which
    would otherwise keep the stores from being recognised as contiguous.
    """
    start = np.uint64(base)
    for lane in range(RNG_LANES):
        w0, w1, w2, w3 = _block(block0 + lane, c2, c3, k0, k1)
        values = _block_values(out, dist, w0, w1, w2, w3)
        i = start + np.uint64(lane)
        _store_slots(out, i, values, dist, a, b, lo, hi)


@njit(cache=True)
def _partial_chunk(out, chunk, offset, c2, c3, k0, k1, dist, a, b, lo, hi):
    """The elements of chunk ``chunk`` that fall inside ``out``, one at a time.

    Same arithmetic as ``_full_chunk``, so the bits agree.
    """
    n = out.size
    per_block = _values_per_block(out)
    base = chunk * per_block * RNG_LANES - offset
    for lane in range(RNG_LANES):
        first = base + lane
        if first + (per_block - 1) * RNG_LANES < 0 or first >= n:
            continue
        w0, w1, w2, w3 = _block(chunk * RNG_LANES + lane, c2, c3, k0, k1)
        values = _block_values(out, dist, w0, w1, w2, w3)
        for slot in range(len(values)):
            i = first + slot * RNG_LANES
            if 0 <= i < n:
                out[i] = _finish(dist, values[slot], a, b, lo, hi)


@njit(parallel=True, cache=True, error_model="numpy")
def _fill(out, seed, stream, offset, dist, a, b, lo, hi):
    """Shared body of the random fills: ``a + b * draw``, clamped to [lo, hi] if bounded.

    One chunk (``_values_per_block * RNG_LANES`` elements) per ``prange``
    iteration; ``a``, ``b`` and the bounds are first rounded to ``out``'s dtype.
    """
    n = out.size
    if n == 0:
        return
    k0, k1, c2, c3 = _key_and_stream(seed, stream)
    a_t, b_t, lo_t, hi_t = _parameters(out, a, b, lo, hi)
    span = _values_per_block(out) * RNG_LANES
    first = offset // span
    n_chunks = (offset + n - 1) // span - first + 1
    for c in prange(n_chunks):
        chunk = first + c
        base = chunk * span - offset
        if base >= 0 and base + span <= n:
            _full_chunk(out, base, chunk * RNG_LANES, c2, c3, k0, k1, dist, a_t, b_t, lo_t, hi_t)
        else:
            _partial_chunk(out, chunk, offset, c2, c3, k0, k1, dist, a_t, b_t, lo_t, hi_t)


@njit(cache=True)
def fill_uniform(out_flat, seed, stream, offset, low, high):
    """Fill ``out_flat`` with uniform values on [low, high].

    Parameters
    ----------
    out_flat : ndarray, 1-D, C-contiguous, float32 or float64
        Elements ``offset .. offset + out_flat.size - 1`` of the tensor.
    seed, stream : int
        In [0, 2**64): the Philox key and the high half of the counter.
    offset : int
        Index (>= 0) of ``out_flat[0]`` in the whole tensor.
    low, high : float
        Finite bounds, ``low <= high``.

    Notes
    -----
    ``x = (low + high)/2 + (high - low)/2 * v`` with ``v`` on the grid of
    2**24 (float32) or 2**53 (float64) midpoints of (-1, 1), so a symmetric
    range gives an exactly symmetric distribution; ``x`` is clamped to
    [low, high] (float32 bounds rounded inwards) against rounding.
    """
    mid = 0.5 * low + 0.5 * high
    half = 0.5 * high - 0.5 * low
    _fill(out_flat, seed, stream, offset, RNG_UNIFORM, mid, half, low, high)


@njit(cache=True)
def fill_normal(out_flat, seed, stream, offset, mean, std):
    """Fill ``out_flat`` with normal values ``mean + std * z`` (Box-Muller).

    Arguments as in ``fill_uniform``; ``std >= 0``.  ``|z|`` is at most 5.77
    in float32 and 8.57 in float64 (the largest radius a 24- or 53-bit
    uniform gives).
    """
    _fill(out_flat, seed, stream, offset, RNG_NORMAL, mean, std, -np.inf, np.inf)


@njit(cache=True)
def fill_truncated_normal(out_flat, seed, stream, offset, mean, std):
    """Fill ``out_flat`` with ``mean + std * z``, ``z`` standard normal truncated to [-2, 2].

    ``std`` is the standard deviation of the normal *before* truncation (as
    in Keras and JAX); the values have standard deviation ``0.8796 std``.
    ``z`` is drawn by inverting the CDF (see ``truncated_normal_f32``), so
    each value costs one word and no rejection loop.  Values are clamped to
    [mean - 2 std, mean + 2 std] (float32 bounds rounded inwards).
    """
    low, high = mean - 2.0 * std, mean + 2.0 * std
    _fill(out_flat, seed, stream, offset, RNG_TRUNCATED_NORMAL, mean, std, low, high)


@njit(parallel=True, cache=True)
def fill_constant(out_flat, value):
    """Fill ``out_flat`` with ``value`` (rounded to its dtype)."""
    for i in prange(out_flat.size):
        out_flat[np.uint64(i)] = value
