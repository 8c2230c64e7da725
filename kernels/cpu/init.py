"""Initializer kernels: fill a preallocated array with counter-based random numbers.

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
from numba import njit, prange

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
_LANES_U = np.uint64(RNG_LANES)


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


@njit(cache=True, forceinline=True, error_model="numpy")
def _inward_f32(lo, hi):
    """float32 bounds rounded into [lo, hi], so a clamped value never leaves it.

    (If no float32 lies in [lo, hi], the clamp returns the upper one.)
    """
    lo32 = np.float32(lo)
    if np.float64(lo32) < lo:
        lo32 = np.nextafter(lo32, np.float32(np.inf))
    hi32 = np.float32(hi)
    if np.float64(hi32) > hi:
        hi32 = np.nextafter(hi32, np.float32(-np.inf))
    return lo32, hi32


@njit(cache=True, forceinline=True, error_model="numpy")
def _block(j, c2, c3, k0, k1):
    """Philox4x32-10 words of block ``j`` (a non-negative int64)."""
    ju = np.uint64(j)
    return philox4x32_10(ju & _MASK32, ju >> _U32, c2, c3, k0, k1)


@njit(cache=True, forceinline=True, error_model="numpy")
def _full_chunk_f32(out, base, block0, c2, c3, k0, k1, dist, a, b, lo, hi):
    """All 4 * RNG_LANES float32 values of one chunk, stored from ``out[base]``.

    Indices are unsigned so Numba emits no negative-index wraparound, which
    would otherwise keep the stores from being recognised as contiguous.
    """
    start = np.uint64(base)
    for lane in range(RNG_LANES):
        w0, w1, w2, w3 = _block(block0 + lane, c2, c3, k0, k1)
        v0, v1, v2, v3 = rng_values_f32(dist, w0, w1, w2, w3)
        i = start + np.uint64(lane)
        out[i] = _finish(dist, v0, a, b, lo, hi)
        out[i + _LANES_U] = _finish(dist, v1, a, b, lo, hi)
        out[i + np.uint64(2 * RNG_LANES)] = _finish(dist, v2, a, b, lo, hi)
        out[i + np.uint64(3 * RNG_LANES)] = _finish(dist, v3, a, b, lo, hi)


@njit(cache=True, forceinline=True, error_model="numpy")
def _full_chunk_f64(out, base, block0, c2, c3, k0, k1, dist, a, b, lo, hi):
    """All 2 * RNG_LANES float64 values of one chunk, stored from ``out[base]``."""
    start = np.uint64(base)
    for lane in range(RNG_LANES):
        w0, w1, w2, w3 = _block(block0 + lane, c2, c3, k0, k1)
        v0, v1 = rng_values_f64(dist, w0, w1, w2, w3)
        i = start + np.uint64(lane)
        out[i] = _finish(dist, v0, a, b, lo, hi)
        out[i + _LANES_U] = _finish(dist, v1, a, b, lo, hi)


@njit(cache=True)
def _partial_chunk(out, chunk, offset, c2, c3, k0, k1, dist, a, b, lo, hi):
    """The elements of chunk ``chunk`` that fall inside ``out``, one at a time.

    Same arithmetic as the full-chunk loops, so the bits agree.
    """
    n = out.size
    if out.itemsize == 4:
        a32, b32 = np.float32(a), np.float32(b)
        lo32, hi32 = _inward_f32(lo, hi)
        base = chunk * 4 * RNG_LANES - offset
        for lane in range(RNG_LANES):
            first = base + lane
            if first + 3 * RNG_LANES < 0 or first >= n:
                continue
            w0, w1, w2, w3 = _block(chunk * RNG_LANES + lane, c2, c3, k0, k1)
            vals = rng_values_f32(dist, w0, w1, w2, w3)
            for slot in range(4):
                i = first + slot * RNG_LANES
                if 0 <= i < n:
                    out[i] = _finish(dist, vals[slot], a32, b32, lo32, hi32)
    else:
        base = chunk * 2 * RNG_LANES - offset
        for lane in range(RNG_LANES):
            first = base + lane
            if first + RNG_LANES < 0 or first >= n:
                continue
            w0, w1, w2, w3 = _block(chunk * RNG_LANES + lane, c2, c3, k0, k1)
            vals = rng_values_f64(dist, w0, w1, w2, w3)
            for slot in range(2):
                i = first + slot * RNG_LANES
                if 0 <= i < n:
                    out[i] = _finish(dist, vals[slot], a, b, lo, hi)


@njit(parallel=True, cache=True, error_model="numpy")
def _fill(out, seed, stream, offset, dist, a, b, lo, hi):
    """Shared body of the random fills: ``a + b * draw``, clamped to [lo, hi] if bounded."""
    n = out.size
    if n == 0:
        return
    k0, k1, c2, c3 = _key_and_stream(seed, stream)
    if out.itemsize == 4:
        a32, b32 = np.float32(a), np.float32(b)
        lo32, hi32 = _inward_f32(lo, hi)
        span = 4 * RNG_LANES
        first = offset // span
        n_chunks = (offset + n - 1) // span - first + 1
        for c in prange(n_chunks):
            chunk = first + c
            base = chunk * span - offset
            if base >= 0 and base + span <= n:
                _full_chunk_f32(
                    out, base, chunk * RNG_LANES, c2, c3, k0, k1, dist, a32, b32, lo32, hi32
                )
            else:
                _partial_chunk(out, chunk, offset, c2, c3, k0, k1, dist, a, b, lo, hi)
    else:
        span = 2 * RNG_LANES
        first = offset // span
        n_chunks = (offset + n - 1) // span - first + 1
        for c in prange(n_chunks):
            chunk = first + c
            base = chunk * span - offset
            if base >= 0 and base + span <= n:
                _full_chunk_f64(out, base, chunk * RNG_LANES, c2, c3, k0, k1, dist, a, b, lo, hi)
            else:
                _partial_chunk(out, chunk, offset, c2, c3, k0, k1, dist, a, b, lo, hi)


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
