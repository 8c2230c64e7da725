"""Dense (fully connected) layer kernels on the GPU: ``y = act(x @ W + b)``, with our own GEMM.

The same names and signatures as ``fastnn.kernels.cpu.dense``; ``W`` is
``(n_in, n_out)`` as in Keras.  All three products run one tiled GEMM
kernel, ``C = op(A) @ op(B)``:

* a thread block computes a ``TILE_M x TILE_N`` tile of ``C`` (64 x 64);
  each of its ``16 x 16`` threads keeps a ``REG_M x REG_N`` (4 x 4) register
  block of outputs, rows ``ty + 16 r`` and columns ``tx + 16 q``, so the
  shared-memory reads of one step are broadcasts or consecutive words and the
  stores of ``C`` are coalesced;
* ``TILE_K``-deep slices of ``op(A)`` and ``op(B)`` are staged in shared
  memory (padded by one word against bank conflicts); a transposed operand
  (``x.T`` for ``dW``, ``W.T`` for ``dx``) is read by swapping the index
  arithmetic, never copied;
* loads outside the matrices read as zero and stores outside are skipped, so
  every ``M``, ``N``, ``K`` is exact; tiles and accumulators have ``C``'s
  dtype (float64 products stay float64);
* the forward epilogue adds the bias and applies the activation
  (``scalar.activate``) before the store.  Softmax, not pointwise, runs
  afterwards over the rows (``activations``).

Backward: one pass computes ``dz = dy * f'(y)`` (softmax: the row Jacobian
product) and, in the same sweep, the float64 column sums of ``dz`` over
fixed ``REDUCE_ROWS``-row blocks, combined in block order into ``db``; then
``dW = x.T @ dz`` and ``dx = dz @ W.T``.
"""

import numpy as np
from numba import cuda

from fastnn.kernels.cuda import config
from fastnn.kernels.cuda.activations import _launch_softmax, _launch_softmax_grad
from fastnn.kernels.cuda.reduce import (
    _check_workspace,
    _column_partials,
    _tree_sum_rows,
    combine_blocks,
)
from fastnn.kernels.scalar import LINEAR, SOFTMAX, activate, activate_grad

__all__ = ["dense_forward", "dense_backward"]

_TM = config.TILE_M
_TN = config.TILE_N
_TK = config.TILE_K
_RM = config.REG_M
_RN = config.REG_N
_THREADS_M = config.GEMM_THREADS_M
_THREADS_N = config.GEMM_THREADS_N
_N_THREADS = _THREADS_M * _THREADS_N
# Shared tiles are padded by one word per row against bank conflicts.
_A_TILE_SHAPE = (_TK, _TM + 1)
_B_TILE_SHAPE = (_TK, _TN + 1)
_A_LOADS = _TM * _TK // _N_THREADS
_B_LOADS = _TK * _TN // _N_THREADS
_ROW_THREADS = config.REDUCE_ROW_THREADS
_COLS = config.REDUCE_COLS


@cuda.jit
def _gemm_kernel(a, b, bias, trans_a, trans_b, use_bias, code, negative_slope, c):
    """``c = f(op(a) @ op(b) [+ bias])``, ``op`` a transpose when ``trans_a`` / ``trans_b``.

    ``c`` is ``(M, N)``; ``op(a)`` is ``(M, K)`` (``a`` stored ``(K, M)`` when
    transposed), ``op(b)`` is ``(K, N)`` (``b`` stored ``(N, K)`` when
    transposed).  Block ``(bx, by)`` computes rows ``by * TILE_M ...`` and
    columns ``bx * TILE_N ...`` of ``c``.
    """
    a_tile = cuda.shared.array(_A_TILE_SHAPE, dtype=c.dtype)
    b_tile = cuda.shared.array(_B_TILE_SHAPE, dtype=c.dtype)
    acc = cuda.local.array((_RM, _RN), dtype=c.dtype)
    a_reg = cuda.local.array(_RM, dtype=c.dtype)
    b_reg = cuda.local.array(_RN, dtype=c.dtype)
    m_total, n_total = c.shape
    k_total = a.shape[0] if trans_a else a.shape[1]
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    tid = ty * _THREADS_N + tx
    row0 = cuda.blockIdx.y * _TM
    col0 = cuda.blockIdx.x * _TN
    for r in range(_RM):
        for q in range(_RN):
            acc[r, q] = 0
    for k0 in range(0, k_total, _TK):
        # Stage op(a)[row0:row0+TM, k0:k0+TK] as a_tile[k, m]; consecutive
        # threads read consecutive addresses of a's storage either way.
        for load in range(_A_LOADS):
            e = tid + load * _N_THREADS
            if trans_a:
                mm = e % _TM
                kk = e // _TM
            else:
                kk = e % _TK
                mm = e // _TK
            gm = row0 + mm
            gk = k0 + kk
            if gm < m_total and gk < k_total:
                a_tile[kk, mm] = a[gk, gm] if trans_a else a[gm, gk]
            else:
                a_tile[kk, mm] = 0
        # Stage op(b)[k0:k0+TK, col0:col0+TN] as b_tile[k, n].
        for load in range(_B_LOADS):
            e = tid + load * _N_THREADS
            if trans_b:
                kk = e % _TK
                nn = e // _TK
            else:
                nn = e % _TN
                kk = e // _TN
            gn = col0 + nn
            gk = k0 + kk
            if gn < n_total and gk < k_total:
                b_tile[kk, nn] = b[gn, gk] if trans_b else b[gk, gn]
            else:
                b_tile[kk, nn] = 0
        cuda.syncthreads()
        for kk in range(_TK):
            for r in range(_RM):
                a_reg[r] = a_tile[kk, ty + r * _THREADS_M]
            for q in range(_RN):
                b_reg[q] = b_tile[kk, tx + q * _THREADS_N]
            for r in range(_RM):
                for q in range(_RN):
                    acc[r, q] += a_reg[r] * b_reg[q]
        cuda.syncthreads()
    for r in range(_RM):
        gm = row0 + ty + r * _THREADS_M
        if gm < m_total:
            for q in range(_RN):
                gn = col0 + tx + q * _THREADS_N
                if gn < n_total:
                    z = acc[r, q]
                    if use_bias:
                        z += bias[gn]
                    c[gm, gn] = activate(z, code, negative_slope)


@cuda.jit
def _grad_partials_kernel(dy, y, code, negative_slope, rows_per_block, dz, partials):
    """``dz = dy * f'(y)`` over row block ``blockIdx.y``; ``partials[b, j]`` = its column sums.

    ``dz`` may alias ``dy`` (each element is read, then written, by one thread).
    """
    shared = cuda.shared.array((_ROW_THREADS, _COLS), np.float64)
    n, m = y.shape
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    j = cuda.blockIdx.x * cuda.blockDim.x + tx
    blk = cuda.blockIdx.y
    lo = blk * rows_per_block
    hi = min(n, lo + rows_per_block)
    total = 0.0
    if j < m:
        for i in range(lo + ty, hi, cuda.blockDim.y):
            g = dy[i, j] * activate_grad(y[i, j], code, negative_slope)
            dz[i, j] = g
            total += np.float64(dz[i, j])  # the stored (rounded) value, as the CPU kernel sums
    shared[ty, tx] = total
    _tree_sum_rows(shared, tx, ty)
    if ty == 0 and j < m:
        partials[blk, j] = shared[0, tx]


def _gemm(a, b, bias, trans_a, trans_b, use_bias, code, negative_slope, c):
    m, n = c.shape
    grid, block = config.gemm_grid(m, n)
    _gemm_kernel[grid, block](
        a,
        b,
        bias,
        bool(trans_a),
        bool(trans_b),
        bool(use_bias),
        np.int64(code),
        np.float64(negative_slope),
        c,
    )


def dense_forward(x, W, b, code, negative_slope, y) -> None:
    """Dense layer forward pass: ``y = f(x @ W + b)``.

    Parameters
    ----------
    x : device array, shape (batch, n_in), float32 or float64, C-contiguous
        Input.
    W : device array, shape (n_in, n_out), same dtype
        Weights, stored as in Keras.
    b : device array, shape (n_out,), same dtype
        Bias (pass zeros for a layer without bias).
    code : int
        Activation code from ``fastnn.kernels.scalar.ACTIVATIONS``.
    negative_slope : float
        Leaky-relu negative slope, ``>= 0``.
    y : device array, shape (batch, n_out), same dtype
        Output, overwritten.  Must not alias ``x`` or ``W``.
    """
    code = int(code)
    if y.shape[0] == 0 or y.shape[1] == 0:
        return
    epilogue = LINEAR if code == SOFTMAX else code
    _gemm(x, W, b, False, False, True, epilogue, negative_slope, y)
    if code == SOFTMAX:
        _launch_softmax(y, y)


def dense_backward(dy, x, W, y, code, negative_slope, dz, dx, dW, db, work, need_dx) -> None:
    """Dense layer backward pass, from the forward output ``y``.

    Arguments as in ``fastnn.kernels.cpu.dense.dense_backward``, on the
    device: ``dz = dy * f'(y)`` (softmax: ``dz = y * (dy - sum_k dy[k] y[k])``
    per row; ``dz`` may alias ``dy``), ``db = sum_i dz[i]`` reduced in
    float64 over fixed row blocks combined in block order, ``dW = x.T @ dz``
    and, when ``need_dx``, ``dx = dz @ W.T``.  ``work`` is
    ``reduce.reduction_workspace(batch, n_out)``; its first plane is overwritten.
    """
    code = int(code)
    n, m = y.shape
    _check_workspace(work, n, m)
    partials = work[0]
    if code == SOFTMAX:
        _launch_softmax_grad(dy, y, dz)
        nb = _column_partials(dz, partials)
    else:
        grid, block = config.column_grid(n, m)
        _grad_partials_kernel[grid, block](
            dy,
            y,
            np.int64(code),
            np.float64(negative_slope),
            np.int64(config.REDUCE_ROWS),
            dz,
            partials,
        )
        nb = grid[1]
    combine_blocks(partials, nb, db)
    # dW (n_in, n_out) = x.T @ dz: op(a) = x.T, read from x (batch, n_in).
    _gemm(x, dz, db, True, False, False, LINEAR, 0.0, dW)
    if need_dx:
        # dx (batch, n_in) = dz @ W.T: op(b) = W.T, read from W (n_in, n_out).
        _gemm(dz, W, db, False, True, False, LINEAR, 0.0, dx)
