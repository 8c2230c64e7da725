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
``PARALLEL_MIN_ELEMENTS`` elements.  A whole chunk is written by straight-line
code with unsigned indices and no bounds test (``_full_chunk``), the form in
which LLVM vectorizes the lane loop in every caller; only the last, partial
chunk is tested element by element (``_partial_chunk``).
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

#: Smallest element count for which a pass is split over threads.  A parallel
#: region of the workqueue layer costs 100-170 us to start here (see
#: ``batchnorm.PARALLEL_MIN_SIZE``).  Measured on the 2-core AVX-512 machine,
#: float32, medians, each call after 2 ms idle: the forward on one thread took
#: 50 us at 256x256, 227 us at 1024x256 and 798 us at 1024x1024, against 152,
#: 328 and 621 us on two; at 4096x1024, 3.49 ms against 2.74 ms.
PARALLEL_MIN_ELEMENTS = 1 << 20

#: Elements per chunk: four words per Philox block, ``RNG_LANES`` blocks.
_CHUNK = 4 * RNG_LANES
_LANES = np.uint64(RNG_LANES)
_LANES2 = np.uint64(2 * RNG_LANES)
_LANES3 = np.uint64(3 * RNG_LANES)


@njit(cache=True, forceinline=True, error_model="numpy")
def _keep_element(xf, keepf, yf, i, word, threshold, scale):
    """Element ``i``: kept when its Philox ``word`` is at least ``threshold``."""
    kept = word >= threshold
    keepf[i] = 1 if kept else 0
    yf[i] = np.float64(xf[i]) * scale if kept else 0.0


@njit(cache=True, forceinline=True, error_model="numpy")
def _full_chunk(xf, keepf, yf, c, step, seed, stream, threshold, scale):
    """Elements ``c * _CHUNK ...`` of the flat views, all inside them: draw, store mask and ``y``.

    Slot ``s`` of lane ``lane`` is element ``c * _CHUNK + s * RNG_LANES + lane``,
    stored one statement per slot with unsigned indices.  The earlier form, a
    loop over the slots with signed indices and a bounds test, vectorized in
    one caller and not in another: the ``prange`` path then ran 8x slower per
    thread than the serial one (4096x1024 float32: 18.8 ms on two threads
    against 3.5 ms on one).
    """
    start = np.uint64(c) * np.uint64(_CHUNK)
    for lane in range(RNG_LANES):
        w0, w1, w2, w3 = dropout_block(c * RNG_LANES + lane, step, seed, stream)
        i = start + np.uint64(lane)
        _keep_element(xf, keepf, yf, i, w0, threshold, scale)
        _keep_element(xf, keepf, yf, i + _LANES, w1, threshold, scale)
        _keep_element(xf, keepf, yf, i + _LANES2, w2, threshold, scale)
        _keep_element(xf, keepf, yf, i + _LANES3, w3, threshold, scale)


@njit(cache=True, error_model="numpy")
def _partial_chunk(xf, keepf, yf, c, step, seed, stream, threshold, scale):
    """The elements of chunk ``c`` that fall inside the flat views (the last chunk).

    The same words and arithmetic as ``_full_chunk``, so the same bits.
    """
    n = xf.size
    base = c * _CHUNK
    for lane in range(RNG_LANES):
        words = dropout_block(c * RNG_LANES + lane, step, seed, stream)
        for slot in range(4):
            i = base + slot * RNG_LANES + lane
            if i < n:
                _keep_element(xf, keepf, yf, i, words[slot], threshold, scale)


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
    n_full = x.size // _CHUNK
    if x.size < PARALLEL_MIN_ELEMENTS:
        for c in range(n_full):
            _full_chunk(xf, keepf, yf, c, step, seed, stream, threshold, scale)
    else:
        for c in prange(n_full):
            _full_chunk(xf, keepf, yf, np.int64(c), step, seed, stream, threshold, scale)
    if n_full * _CHUNK < x.size:
        _partial_chunk(xf, keepf, yf, n_full, step, seed, stream, threshold, scale)


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
