"""Dropout kernels on the GPU: the CPU backend's Philox keep mask, element for element.

The same names and signatures as ``fastnn.kernels.cpu.dropout``.  Element
``i`` of the flattened batch is kept when word ``slot`` of Philox block
``j`` is at least ``floor(rate * 2**32)``, ``(j, slot) = rng_block(i, 4)``,
so the mask is a function of ``(seed, stream, step, i)`` on either device.
One thread computes one block (block ``j`` is thread ``j`` of the grid
stride) and decides its four elements, each slot a contiguous run of
``RNG_LANES`` elements, so consecutive threads store consecutive elements.
The decision is integer arithmetic only (``fastnn.kernels.scalar``'s
``dropout_block`` and ``dropout_threshold``, compiled for the device), so the
GPU's mask is bitwise the CPU's; ``y = x * (1 / (1 - rate))`` is one float64
product rounded once on both (widened explicitly: the simulator's NumPy
scalars would otherwise multiply a float32 in float32).
"""

import numpy as np
from numba import cuda

from fastnn.kernels.cuda import config
from fastnn.kernels.scalar import RNG_LANES, dropout_block, dropout_scale, dropout_threshold

__all__ = ["dropout_forward", "dropout_backward"]


@cuda.jit
def _dropout_forward_kernel(x, seed, stream, step, rate, keep, y):
    """One Philox block per thread: the mask and ``y`` of its four elements."""
    n, m = x.shape
    size = n * m
    n_blocks = (size + 4 * RNG_LANES - 1) // (4 * RNG_LANES) * RNG_LANES
    threshold = dropout_threshold(rate)
    scale = dropout_scale(rate)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for j in range(start, n_blocks, stride):
        words = dropout_block(j, step, seed, stream)
        chunk = j // RNG_LANES
        first = chunk * (4 * RNG_LANES) + (j - chunk * RNG_LANES)
        for slot in range(4):
            e = first + slot * RNG_LANES
            if e < size:
                r = e // m
                c = e - r * m
                kept = words[slot] >= threshold
                keep[r, c] = 1 if kept else 0
                y[r, c] = np.float64(x[r, c]) * scale if kept else 0.0


@cuda.jit
def _dropout_backward_kernel(dy, keep, rate, dx):
    """``dx = dy / (1 - rate)`` where kept, else 0, element by element; ``dx`` may alias ``dy``."""
    n, m = dy.shape
    scale = dropout_scale(rate)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for e in range(start, n * m, stride):
        r = e // m
        c = e - r * m
        dx[r, c] = np.float64(dy[r, c]) * scale if keep[r, c] != 0 else 0.0


def dropout_forward(x, seed, stream, step, rate, keep, y) -> None:
    """Inverted dropout in training: ``y = x / (1 - rate)`` where kept, else 0.

    Arguments as in ``fastnn.kernels.cpu.dropout.dropout_forward``, on device
    arrays (``keep`` uint8).
    """
    size = x.shape[0] * x.shape[1]
    if size:
        n_blocks = -(-size // (4 * RNG_LANES)) * RNG_LANES
        _dropout_forward_kernel[config.blocks_for(n_blocks), config.THREADS](
            x, np.uint64(seed), np.uint64(stream), np.int64(step), np.float64(rate), keep, y
        )


def dropout_backward(dy, keep, rate, dx) -> None:
    """Gradient through dropout: ``dx = dy / (1 - rate)`` where kept, else 0.

    Arguments as in ``fastnn.kernels.cpu.dropout.dropout_backward``; ``dx`` may alias ``dy``.
    """
    size = dy.shape[0] * dy.shape[1]
    if size:
        _dropout_backward_kernel[config.blocks_for(size), config.THREADS](
            dy, keep, np.float64(rate), dx
        )
