"""Deterministic reductions on the GPU: fixed row blocks, shared-memory trees, block-order combine.

A column reduction over the batch runs in two launches.  The first gives
every ``REDUCE_ROWS``-row block of the input (``config.REDUCE_ROWS``) a
thread block of ``REDUCE_COLS x REDUCE_ROW_THREADS`` threads: thread
``(tx, ty)`` adds, in float64 and in row order, the rows ``ty, ty +
REDUCE_ROW_THREADS, ...`` of column ``tx`` of the block; a shared-memory tree
then halves the ``ty`` partials in a fixed pattern, and the block's sum goes
to one row of a workspace.  The second launch adds the block rows in block
order, one thread per column.  Nothing depends on timing or on atomics, so
two launches give the same bits.  (The simulator has no warp shuffles, and
the trees use shared memory only.)

``reduction_workspace`` allocates the float64 scratch on the device, with
the shape the CUDA kernels need: ``(2, n_row_blocks(n_rows), n_cols)``.
"""

import numpy as np
from numba import cuda

from fastnn.kernels.cuda import config

__all__ = ["n_row_blocks", "reduction_workspace", "column_sums", "combine_blocks"]

_ROW_THREADS = config.REDUCE_ROW_THREADS
_COLS = config.REDUCE_COLS


def n_row_blocks(n_rows: int) -> int:
    """Number of ``config.REDUCE_ROWS``-row blocks that cover ``n_rows`` rows (at least 1)."""
    return config.n_row_blocks(n_rows)


def reduction_workspace(n_rows: int, n_cols: int):
    """Float64 device scratch of shape ``(2, n_row_blocks(n_rows), n_cols)``, zero-filled.

    Two planes, so a kernel can reduce two quantities (a mean and a sum of
    squared deviations, or two gradient sums) in one pass.
    """
    from fastnn.kernels.cuda.memory import zeros

    return zeros((2, n_row_blocks(n_rows), n_cols), np.float64)


def _check_workspace(work, n_rows: int, n_cols: int, name: str = "work") -> None:
    """Raise ``ValueError`` unless ``work`` is a float64 workspace big enough for the input."""
    nb = n_row_blocks(n_rows)
    shape = tuple(work.shape)
    if (
        np.dtype(work.dtype) != np.float64
        or len(shape) != 3
        or shape[0] < 2
        or shape[1] < nb
        or shape[2] < n_cols
    ):
        raise ValueError(
            f"{name} must be a float64 reduction_workspace({n_rows}, {n_cols}) of shape "
            f"(2, >= {nb}, >= {n_cols}), got {np.dtype(work.dtype)} {shape}"
        )


@cuda.jit(device=True)
def _tree_sum_rows(shared, tx, ty):
    """Sum ``shared[:, tx]`` over the block's ``ty`` threads into ``shared[0, tx]``.

    Halving tree over a power-of-two ``blockDim.y``: a fixed order.  Every
    thread of the block must call it (it synchronizes).
    """
    cuda.syncthreads()
    step = cuda.blockDim.y // 2
    while step > 0:
        if ty < step:
            shared[ty, tx] += shared[ty + step, tx]
        cuda.syncthreads()
        step //= 2


@cuda.jit(device=True)
def _tree_sum(shared, t):
    """Sum ``shared[:blockDim.x]`` into ``shared[0]`` by a halving tree (power-of-two block)."""
    cuda.syncthreads()
    step = cuda.blockDim.x // 2
    while step > 0:
        if t < step:
            shared[t] += shared[t + step]
        cuda.syncthreads()
        step //= 2


@cuda.jit
def _column_partials_kernel(a, rows_per_block, partials):
    """``partials[b, j]`` = float64 sum of rows ``b*R .. (b+1)*R - 1`` of column ``j`` of ``a``."""
    shared = cuda.shared.array((_ROW_THREADS, _COLS), np.float64)
    n, m = a.shape
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    j = cuda.blockIdx.x * cuda.blockDim.x + tx
    b = cuda.blockIdx.y
    lo = b * rows_per_block
    hi = min(n, lo + rows_per_block)
    total = 0.0
    if j < m:
        for i in range(lo + ty, hi, cuda.blockDim.y):
            total += np.float64(a[i, j])
    shared[ty, tx] = total
    _tree_sum_rows(shared, tx, ty)
    if ty == 0 and j < m:
        partials[b, j] = shared[0, tx]


@cuda.jit
def _combine_blocks_kernel(partials, nb, out):
    """``out[j] = sum_{b < nb} partials[b, j]``, added in block order."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for j in range(start, out.shape[0], stride):
        total = partials[0, j]
        for b in range(1, nb):
            total += partials[b, j]
        out[j] = total


def combine_blocks(partials, nb: int, out) -> None:
    """``out[j] = sum_{b < nb} partials[b, j]``, added in block order (``partials`` float64)."""
    m = out.shape[0]
    _combine_blocks_kernel[config.blocks_for(m), config.THREADS](partials, np.int64(nb), out)


def _column_partials(a, partials) -> int:
    """Launch the block sums of ``a``'s columns into ``partials``; returns the block count."""
    n, m = a.shape
    grid, block = config.column_grid(n, m)
    _column_partials_kernel[grid, block](a, np.int64(config.REDUCE_ROWS), partials)
    return grid[1]


def column_sums(a, work, out) -> None:
    """``out[j] = sum_i a[i, j]``, reduced in fixed row blocks, in float64.

    ``work`` is a ``reduction_workspace``; its first plane is overwritten.
    """
    n, m = a.shape
    _check_workspace(work, n, m)
    nb = _column_partials(a, work[0])
    combine_blocks(work[0], nb, out)
