"""Reference dropout in plain NumPy: the keep mask drawn bit for bit as the kernels draw it.

Philox4x32-10 is written again here from Salmon et al., "Parallel random
numbers: as easy as 1, 2, 3" (SC'11), vectorized over NumPy uint64 arrays,
and so is the element -> block layout; nothing is shared with the kernels
but the conventions: element ``i`` (C order) of a batch at step ``t`` of
stream ``s`` under seed ``k`` takes word ``slot`` of the block with counter
``(j, t mod 2**32, s mod 2**32, s >> 32)`` and key ``(k mod 2**32, k >> 32)``,
where ``j = (i // 1024) * 256 + i % 256`` and ``slot = (i % 1024) // 256``; it
is kept when that word is at least ``floor(rate * 2**32)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["philox4x32_10", "dropout_mask", "dropout_forward", "dropout_backward"]

_MASK = np.uint64(0xFFFFFFFF)
_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)  # multipliers
_W0, _W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)  # Weyl key increments
#: Blocks per chunk and words per block of the element layout.
LANES, WORDS = 256, 4


def philox4x32_10(counter, key):
    """Philox4x32 with 10 rounds on arrays: ``counter`` 4 word arrays, ``key`` 2 words.

    Words are uint64 arrays holding 32-bit values; returns the 4 output word arrays.
    """
    x0, x1, x2, x3 = (np.asarray(c, dtype=np.uint64) & _MASK for c in counter)
    k0, k1 = (np.uint64(k) & _MASK for k in key)
    for r in range(10):
        if r:
            k0, k1 = (k0 + _W0) & _MASK, (k1 + _W1) & _MASK
        p0, p1 = _M0 * x0, _M1 * x2  # exact: both factors < 2**32
        x0, x1, x2, x3 = (p1 >> 32) ^ x1 ^ k0, p1 & _MASK, (p0 >> 32) ^ x3 ^ k1, p0 & _MASK
    return x0, x1, x2, x3


def dropout_mask(shape, rate, *, seed, stream, step) -> np.ndarray:
    """The boolean keep mask of a batch of ``shape``, as the module docstring says."""
    size = int(np.prod(shape))
    i = np.arange(size, dtype=np.uint64)
    chunk, rest = i // (LANES * WORDS), i % (LANES * WORDS)
    j, slot = chunk * LANES + rest % LANES, rest // LANES
    words = philox4x32_10(
        (j, np.full_like(j, step), np.full_like(j, stream), np.full_like(j, stream >> 32)),
        (seed, seed >> 32),
    )
    word = np.choose(slot.astype(np.int64), words)
    threshold = int(rate * 2**32)  # floor: rate * 2**32 is exact in float64
    return (word >= threshold).reshape(shape)


def dropout_forward(x, rate, *, seed, stream, step):
    """``(y, keep)``: ``y = x / (1 - rate)`` where ``keep``, else 0 (in ``x``'s dtype).

    The product ``x * (1 / (1 - rate))`` is taken in float64 and rounded once.
    """
    keep = dropout_mask(x.shape, rate, seed=seed, stream=stream, step=step)
    scaled = (x.astype(np.float64) * (1.0 / (1.0 - rate))).astype(x.dtype)
    return np.where(keep, scaled, 0).astype(x.dtype), keep


def dropout_backward(dy, keep, rate):
    """``dx = dy / (1 - rate)`` where ``keep``, else 0."""
    scaled = (dy.astype(np.float64) * (1.0 / (1.0 - rate))).astype(dy.dtype)
    return np.where(keep, scaled, 0).astype(dy.dtype)
