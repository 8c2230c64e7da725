"""Dropout kernels: a keep mask from Philox4x32-10 counters, and inverted-dropout scaling.

Responsibility: the loops of dropout on the CPU.  Which elements are kept is
``fastnn.kernels.scalar``'s business (``dropout_block``, ``dropout_threshold``):
element ``i`` of the flattened batch takes one 32-bit word of a Philox block
of ``(seed, stream, step)`` and is kept when that word is at least
``floor(rate * 2**32)``.  The mask is therefore a function of ``(seed,
stream, step, i)`` alone: bitwise the same for any thread count, on any
device, in float32 and float64.

Forward stores the keep decisions as a uint8 mask (1 kept, 0 dropped) beside
``y = keep ? x / (1 - rate) : 0``; backward reads the mask back,
``dx = keep ? dy / (1 - rate) : 0``.  Storing the mask, rather than drawing
the Philox words again in backward, costs one byte per element (a quarter of
a float32 activation) and saves backward the ten Philox rounds per four
elements that dominate forward's cost; a byte rather than the float factor
keeps that memory traffic small.  Dropped elements are set to 0 by a select,
not multiplied by 0, so an infinite or NaN input that is dropped gives 0, as
Keras's ``where`` does.

Work is split over chunks of ``4 * RNG_LANES`` elements (one Philox block
per lane, one word per element) with ``prange`` once the batch has at least
``PARALLEL_MIN_ELEMENTS`` elements.
"""

import numpy as np
from numba import njit, prange

from fastnn.kernels.scalar import (
    RNG_LANES,
    dropout_block,
    dropout_scale,
    dropout_threshold,
)

__all__ = ["dropout_forward", "dropout_backward"]

#: Smallest element count for which a pass is split over threads.
PARALLEL_MIN_ELEMENTS = 1 << 15

#: Elements per chunk: four words per Philox block, ``RNG_LANES`` blocks.
_CHUNK = 4 * RNG_LANES


@njit(cache=True, forceinline=True, error_model="numpy")
def _chunk(xf, keepf, yf, c, step, seed, stream, threshold, scale):
    """Elements ``c * _CHUNK ...`` of the flat views: draw, store the mask and ``y``."""
    n = xf.size
    base = c * _CHUNK
    for lane in range(RNG_LANES):
        words = dropout_block(c * RNG_LANES + lane, step, seed, stream)
        for slot in range(4):
            i = base + slot * RNG_LANES + lane
            if i < n:
                kept = words[slot] >= threshold
                keepf[i] = 1 if kept else 0
                yf[i] = np.float64(xf[i]) * scale if kept else 0.0


@njit(cache=True, parallel=True, error_model="numpy")
def dropout_forward(x, seed, stream, step, rate, keep, y):
    """Inverted dropout in training: ``y = x / (1 - rate)`` where kept, else 0.

    Parameters
    ----------
    x : ndarray, shape (batch, features), float32 or float64, C-contiguous
        Input.
    seed, stream : int
        In [0, 2**64): the Philox key and the layer's stream (counter words 2-3).
    step : int
        >= 0; its low 32 bits are counter word 1, so each step draws a fresh mask.
    rate : float
        Fraction dropped, ``0 <= rate < 1``.
    keep : ndarray, same shape, uint8, C-contiguous
        Overwritten with the mask: 1 where kept, 0 where dropped.
    y : ndarray, same shape and dtype as ``x``
        Output, overwritten.  Must not alias ``x``.

    Notes
    -----
    Element ``i`` (C order) is kept when word ``slot`` of block ``j`` is at
    least ``floor(rate * 2**32)``, ``(j, slot) = rng_block(i, 4)``; the batch
    must have fewer than ``2**34`` elements (``j < 2**32``).  ``y`` is
    ``x * (1 / (1 - rate))`` computed in float64 and rounded once.
    """
    xf = x.reshape(x.size)
    keepf = keep.reshape(keep.size)
    yf = y.reshape(y.size)
    threshold = dropout_threshold(rate)
    scale = dropout_scale(rate)
    n_chunks = (x.size + _CHUNK - 1) // _CHUNK
    if x.size < PARALLEL_MIN_ELEMENTS:
        for c in range(n_chunks):
            _chunk(xf, keepf, yf, c, step, seed, stream, threshold, scale)
    else:
        for c in prange(n_chunks):
            _chunk(xf, keepf, yf, c, step, seed, stream, threshold, scale)


@njit(cache=True, parallel=True, error_model="numpy")
def dropout_backward(dy, keep, rate, dx):
    """Gradient through dropout: ``dx = dy / (1 - rate)`` where kept, else 0.

    Parameters
    ----------
    dy : ndarray, shape (batch, features), float32 or float64, C-contiguous
        Gradient of the loss with respect to the forward output.
    keep : ndarray, same shape, uint8
        The mask ``dropout_forward`` wrote.
    rate : float
        The forward's rate.
    dx : ndarray, same shape and dtype as ``dy``
        Overwritten.  May alias ``dy``.
    """
    dyf = dy.reshape(dy.size)
    keepf = keep.reshape(keep.size)
    dxf = dx.reshape(dx.size)
    scale = dropout_scale(rate)
    n = dy.size
    if n < PARALLEL_MIN_ELEMENTS:
        for i in range(n):
            dxf[i] = np.float64(dyf[i]) * scale if keepf[i] != 0 else 0.0
    else:
        for i in prange(n):
            dxf[i] = np.float64(dyf[i]) * scale if keepf[i] != 0 else 0.0
