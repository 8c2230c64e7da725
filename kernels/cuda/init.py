"""Initializer kernels on the GPU: the CPU backend's Philox4x32-10 counters, element for element.

The same names and signatures as ``fastnn.kernels.cpu.init``.  Element ``i``
of a tensor takes its value from slot ``s`` of Philox block ``j``, ``(j, s) =
rng_block(i, k)`` (``k`` = 4 values per block in float32, 2 in float64), so
a value depends on ``(seed, stream, i)`` and the dtype alone, on either
device.  One thread computes one block (a lane of a chunk of
``k * RNG_LANES`` elements) and stores its ``k`` values, each slot a
contiguous run of ``RNG_LANES`` elements: consecutive threads store
consecutive elements.  The generator, the transforms and the final
``a + b v`` (clamped for bounded distributions) are the CPU backend's own
``@njit`` functions compiled for the device; the key words and the float32
constants are computed on the host by the same functions.

Floating-point contraction: NVVM fuses ``a * b + c`` into one FMA by default
(numba-cuda passes ``-fma=1`` unless told otherwise, and 0.30 has no public
switch to turn it off: ``fastmath=False`` keeps the default, and
``opt=False`` emits unrounded ``mul``/``add`` that ptxas fuses in turn).  The
integer Philox words, and therefore the uniform grid values ``v``, are exact
on both devices; a symmetric uniform range (``a = 0``) and a zero mean leave
nothing to contract in ``a + b v``.  The normal and truncated-normal
transforms' polynomial steps may be contracted, which changes their last
bit; the test marked ``gpu`` in ``tests/test_cuda_kernels.py`` checks on a
real GPU that they stay within 2 ulp of the CPU.
"""

import numpy as np
from numba import cuda

from fastnn.kernels.cpu import init as _cpu
from fastnn.kernels.cuda import config
from fastnn.kernels.cuda.memory import fill
from fastnn.kernels.scalar import (
    RNG_LANES,
    RNG_NORMAL,
    RNG_TRUNCATED_NORMAL,
    RNG_UNIFORM,
    rng_values_f32,
    rng_values_f64,
)

__all__ = ["fill_uniform", "fill_normal", "fill_truncated_normal", "fill_constant"]

_block = _cpu._block
_finish = _cpu._finish


@cuda.jit
def _fill_f32_kernel(out, first_chunk, n_lanes, offset, c2, c3, k0, k1, dist, a, b, lo, hi):
    """Lanes of chunks ``first_chunk ...``: one Philox block each, 4 float32 values."""
    n = out.shape[0]
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for t in range(start, n_lanes, stride):
        chunk = first_chunk + t // RNG_LANES
        lane = t - (t // RNG_LANES) * RNG_LANES
        w0, w1, w2, w3 = _block(chunk * RNG_LANES + lane, c2, c3, k0, k1)
        vals = rng_values_f32(dist, w0, w1, w2, w3)
        first = chunk * (4 * RNG_LANES) + lane - offset
        for slot in range(4):
            i = first + slot * RNG_LANES
            if 0 <= i < n:
                out[i] = _finish(dist, vals[slot], a, b, lo, hi)


@cuda.jit
def _fill_f64_kernel(out, first_chunk, n_lanes, offset, c2, c3, k0, k1, dist, a, b, lo, hi):
    """Lanes of chunks ``first_chunk ...``: one Philox block each, 2 float64 values."""
    n = out.shape[0]
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for t in range(start, n_lanes, stride):
        chunk = first_chunk + t // RNG_LANES
        lane = t - (t // RNG_LANES) * RNG_LANES
        w0, w1, w2, w3 = _block(chunk * RNG_LANES + lane, c2, c3, k0, k1)
        vals = rng_values_f64(dist, w0, w1, w2, w3)
        first = chunk * (2 * RNG_LANES) + lane - offset
        for slot in range(2):
            i = first + slot * RNG_LANES
            if 0 <= i < n:
                out[i] = _finish(dist, vals[slot], a, b, lo, hi)


def _fill(out, seed, stream, offset, dist, a, b, lo, hi):
    """Host side of the random fills: the CPU's ``_fill`` with the chunk loop on the grid."""
    n = out.shape[0]
    if n == 0:
        return
    if seed < 0 or stream < 0 or offset < 0:
        raise ValueError(f"seed, stream and offset must be >= 0, got {seed}, {stream}, {offset}")
    k0, k1, c2, c3 = _cpu._key_and_stream(seed, stream)
    single = np.dtype(out.dtype) == np.float32
    span = (4 if single else 2) * RNG_LANES
    first = offset // span
    n_chunks = (offset + n - 1) // span - first + 1
    n_lanes = n_chunks * RNG_LANES
    kernel = _fill_f32_kernel if single else _fill_f64_kernel
    # a, b and the clamp bounds in out's dtype, the bounds rounded into [lo, hi]: the
    # CPU's own function, called on the host with an empty array of the dtype.
    consts = _cpu._parameters(
        np.empty(0, np.dtype(out.dtype)), np.float64(a), np.float64(b), np.float64(lo),
        np.float64(hi),
    )  # fmt: skip
    kernel[config.blocks_for(n_lanes), config.THREADS](
        out,
        np.int64(first),
        np.int64(n_lanes),
        np.int64(offset),
        np.uint64(c2),
        np.uint64(c3),
        np.uint64(k0),
        np.uint64(k1),
        np.int64(dist),
        *consts,
    )


def fill_uniform(out_flat, seed, stream, offset, low, high) -> None:
    """Fill the 1-D device array ``out_flat`` with uniform values on [low, high].

    Arguments and values as in ``fastnn.kernels.cpu.init.fill_uniform``.
    """
    mid = 0.5 * low + 0.5 * high
    half = 0.5 * high - 0.5 * low
    _fill(out_flat, seed, stream, offset, RNG_UNIFORM, mid, half, low, high)


def fill_normal(out_flat, seed, stream, offset, mean, std) -> None:
    """Fill ``out_flat`` with normal values ``mean + std * z`` (Box-Muller), as on the CPU."""
    _fill(out_flat, seed, stream, offset, RNG_NORMAL, mean, std, -np.inf, np.inf)


def fill_truncated_normal(out_flat, seed, stream, offset, mean, std) -> None:
    """Fill ``out_flat`` with ``mean + std * z``, ``z`` standard normal truncated to [-2, 2]."""
    low, high = mean - 2.0 * std, mean + 2.0 * std
    _fill(out_flat, seed, stream, offset, RNG_TRUNCATED_NORMAL, mean, std, low, high)


def fill_constant(out_flat, value) -> None:
    """Fill ``out_flat`` with ``value`` (rounded to its dtype)."""
    fill(out_flat, value)
