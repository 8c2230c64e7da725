"""Launch configuration of the CUDA kernels: every block and grid size, chosen in one place.

The launchers in ``fastnn.kernels.cuda`` never take a block size from their
caller; they ask the functions here, which read the module constants at call
time.  Tests shrink ``THREADS``, ``REDUCE_ROWS`` and ``MAX_BLOCKS`` (see
``shrunk``) so that small inputs still cross several blocks and the edge
paths run.

``REDUCE_ROWS`` is part of the results' definition: the per-feature
reductions (BatchNorm statistics, bias gradients, loss sums) add fixed blocks
of that many rows and then combine the blocks in order, so two launches with
the same configuration give the same bits, and a different ``REDUCE_ROWS``
changes the last bits.

The GEMM tile (``TILE_M x TILE_N`` outputs per thread block, ``TILE_K`` deep,
``REG_M x REG_N`` outputs per thread) sizes shared arrays, which must be
compile-time constants, so it is fixed at import.

``data_budget`` says how much device memory ``Network.fit`` may fill with the
training data before it streams the data in chunks instead.
"""

from __future__ import annotations

import contextlib
import math
import os

#: Threads per block of the one-dimensional (grid-stride) kernels.
THREADS = 256
#: Shared-memory slots of the one-dimensional block trees (a compile-time size):
#: ``THREADS`` must be a power of two no larger than this.
TREE_SIZE = 256
#: Upper bound on the grid of a grid-stride kernel; each thread then loops.
MAX_BLOCKS = 4096

#: Rows per reduction block (the CPU backend's ``reduce.BLOCK_ROWS`` is also 64).
REDUCE_ROWS = 64
#: Columns per thread block of a column reduction (one warp wide: coalesced rows).
REDUCE_COLS = 32
#: Threads along the rows of a column-reduction block; ``REDUCE_COLS * REDUCE_ROW_THREADS``
#: threads in all.  A power of two: the shared-memory tree halves it.
REDUCE_ROW_THREADS = 8

#: GEMM tile: outputs per thread block, depth of one shared-memory step, outputs per thread.
TILE_M = 64
TILE_N = 64
TILE_K = 16
REG_M = 4
REG_N = 4

#: ``FASTNN_CUDA_SMALL_BLOCKS=1`` (read at import) makes the GEMM tile 16 x 16 x 8 (16
#: threads) and the column-reduction block 8 x 4 (32 threads).  For the CUDA simulator,
#: which runs every thread of a block as a Python thread: the same kernels then cost a
#: tenth as much there, and small shapes cross more tiles.  The PTX compile test and a
#: real GPU use the sizes above.
SMALL_BLOCKS = os.environ.get("FASTNN_CUDA_SMALL_BLOCKS") == "1"
if SMALL_BLOCKS:
    TILE_M = TILE_N = 16
    TILE_K = 8
    REDUCE_COLS = 8
    REDUCE_ROW_THREADS = 4

#: Threads of a GEMM block along N (x) and M (y): each computes REG_M x REG_N outputs.
GEMM_THREADS_N = TILE_N // REG_N
GEMM_THREADS_M = TILE_M // REG_M


def blocks_for(n_items: int, threads: int | None = None) -> int:
    """Grid size of a grid-stride kernel over ``n_items`` items (at least 1 block)."""
    threads = THREADS if threads is None else threads
    return max(1, min(MAX_BLOCKS, -(-n_items // threads)))


def n_row_blocks(n_rows: int) -> int:
    """Number of ``REDUCE_ROWS``-row reduction blocks covering ``n_rows`` rows (at least 1)."""
    return max(1, -(-n_rows // REDUCE_ROWS))


def column_grid(n_rows: int, n_cols: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(grid, block)`` of a column-reduction kernel: x over column groups, y over row blocks."""
    grid = (max(1, -(-n_cols // REDUCE_COLS)), n_row_blocks(n_rows))
    return grid, (REDUCE_COLS, REDUCE_ROW_THREADS)


def gemm_grid(m: int, n: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(grid, block)`` of a GEMM producing an ``(m, n)`` result."""
    grid = (max(1, -(-n // TILE_N)), max(1, -(-m // TILE_M)))
    return grid, (GEMM_THREADS_N, GEMM_THREADS_M)


@contextlib.contextmanager
def shrunk(threads: int = 32, reduce_rows: int = 8, max_blocks: int = 4):
    """Temporarily smaller launch sizes, so that small test inputs cross several blocks.

    ``threads`` must be a power of two (the block-level trees halve it).
    """
    global THREADS, REDUCE_ROWS, MAX_BLOCKS
    if threads > TREE_SIZE or threads & (threads - 1):
        raise ValueError(f"threads must be a power of two <= {TREE_SIZE}, got {threads}")
    saved = THREADS, REDUCE_ROWS, MAX_BLOCKS
    THREADS, REDUCE_ROWS, MAX_BLOCKS = threads, reduce_rows, max_blocks
    try:
        yield
    finally:
        THREADS, REDUCE_ROWS, MAX_BLOCKS = saved


#: Share of the free device memory that ``Network.fit`` lets the training data
#: take; the rest stays for the plans' buffers and for other programs.
DATA_MEMORY_FRACTION = 0.5
#: When set, the training-data budget in bytes instead of the measured one
#: (tests set it to make ``fit`` stream its data in chunks).
DATA_BUDGET_BYTES: int | None = None


def data_budget() -> int | None:
    """Bytes of device memory the training data of ``fit`` may take; ``None`` for no limit.

    ``DATA_MEMORY_FRACTION`` of the current device's free memory, or
    ``DATA_BUDGET_BYTES`` when set.  The simulator reports unlimited memory.
    """
    if DATA_BUDGET_BYTES is not None:
        return int(DATA_BUDGET_BYTES)
    from numba import cuda

    free, _total = cuda.current_context().get_memory_info()
    if not math.isfinite(free):
        return None
    return int(free * DATA_MEMORY_FRACTION)
