"""Batch normalization over the batch axis, optionally fused with a pointwise activation.

Responsibility: the loops and the deterministic reductions of batch
normalization on the CPU.  The per-column constants and the per-element
affine step and its gradient are the ``batch_norm_*`` functions of
``fastnn.kernels.scalar``, shared with every backend.

One kernel family serves three layer placements, selected by two activation
codes from ``fastnn.kernels.scalar``:

- plain BN: ``pre_code = post_code = LINEAR``;
- BN then activation: ``post_code = act``, ``y = act(BN(x))``;
- activation then BN: ``pre_code = act``, ``a = act(x)``, ``y = BN(a)``.

Softmax is not pointwise and is never passed here.

Statistics are reduced in float64 over fixed blocks of ``BLOCK_ROWS`` rows:
each block is read once, summing the deviations from its first row and their
squares (shifted by one of its own values, so a large common offset does not
cancel); the blocks are then merged in block order with Chan's formula.
Block size and merge order do not depend on the thread count, so results are
bitwise identical for any ``NUMBA_NUM_THREADS``.

Large batches are memory-bound, so a training step makes two passes over
memory forward (statistics, normalize) and two backward (gradient sums,
``dx``); threads take whole row blocks, and every column loop runs over
contiguous rows.  Training arithmetic is float64; values are rounded to the
arrays' dtype only when stored.  The per-element passes use per-column
float64 constants (``y = a * scale + shift``; ``dx = f'(a) gamma s (g - a *
coef + offset)``), which costs ``eps64 * |mean| / std`` of relative
accuracy: nothing for float32 results, 1e-12 for float64 data whose mean is
1e4 standard deviations away from zero.  Float32 arithmetic in the training
passes was tried and measured faster (the dx pass at 1024x1024: 0.27 against
0.63 ms on one core), but its outputs differ from the float64 reference by a
few ulps, and the backward sums over thousands of rows amplify that beyond
the tests' tolerance (dgamma at 3001x700 with tanh: errors up to 4.4e-6 where it
allows 2.4e-6).
Inference has no backward: it computes ``(a - r_mu) scale + beta`` in the
data's dtype, where ``a - r_mu`` cancels exactly for values near the mean.

Speed comes from LLVM vectorizing the column loops, which it does only when
the activation code is a compile-time constant (otherwise the switch inside
``activate`` stays in the loop).  The ``_*_block`` functions therefore branch
on the code once and call an ``inline="always"`` loop with a literal code for
linear, relu and leaky relu.  Sigmoid and tanh call libm per element and do
not vectorize anyway; they share the generic loop.

Compile time: each block function holds every inlined variant, so it must be
compiled once per dtype only.  The kernels pass it the block number as int64
from both their serial loop and their ``prange`` loop (whose index Numba
types as uint64): with the index's own type each block function was compiled
twice, which was a third of the first call's compile time.  (Compiling the
row loops as separate functions, once per literal code, measured slower to
compile than inlining: every caller's LLVM module links and re-optimizes
its callees.)

References
----------
S. Ioffe, C. Szegedy, "Batch normalization: accelerating deep network
training by reducing internal covariate shift", ICML 2015.
"""

import numpy as np
from numba import njit, prange

from fastnn.kernels.cpu.reduce import BLOCK_ROWS, combine_blocks
from fastnn.kernels.scalar import (
    LEAKY_RELU,
    LINEAR,
    RELU,
    activate,
    activate_grad,
    batch_norm_affine,
    batch_norm_grad_columns,
    batch_norm_grad_input,
    batch_norm_infer,
    batch_norm_infer_scale,
    batch_norm_invstd,
    batch_norm_scale_shift,
    moving_average,
)

#: Below this many elements a pass runs on the calling thread.  Starting a
#: parallel region of Numba's workqueue layer (the one fastnn selects, see
#: ``fastnn/__init__.py``) measured 100-170 us on the 2-core VMs this was tuned
#: on (an empty ``prange`` loop: median 143 us, fastest 18 us), more than a
#: whole pass over 1024x256 float32 on one core (about 85-140 us): a
#: training-mode forward at that shape ran in 0.51 ms on two threads and in
#: 0.26 ms on one.  At 1024x1024 one thread still won (forward 0.77 ms
#: against 1.24 ms, backward 0.93 against 1.17 ms); at 4096x1024 two threads
#: won (2.46 against 3.90 ms).
PARALLEL_MIN_SIZE = 1 << 21


@njit(cache=True)
def _block_rows(n, b):
    """First row and end row of block ``b`` of an ``n``-row batch."""
    lo = b * BLOCK_ROWS
    return lo, min(n, lo + BLOCK_ROWS)


# ---------------------------------------------------------------------------
# Loops over the rows lo:hi of one block.  Inlined into the dispatchers below,
# so a literal code argument folds the activation switch away.
# ---------------------------------------------------------------------------


@njit(inline="always")
def _pre_activate_rows(x, a, lo, hi, code, negative_slope):
    m = x.shape[1]
    for i in range(lo, hi):
        x_row = x[i]
        a_row = a[i]
        for j in range(m):
            a_row[j] = activate(np.float64(x_row[j]), code, negative_slope)


@njit(inline="always")
def _moments_rows(a, lo, hi, block_sum, block_sq):
    """Per-column mean and M2 of rows ``lo:hi`` of ``a`` into ``block_sum`` and ``block_sq``.

    The rows are summed as deviations ``d = a - a[lo]`` from the block's first
    row, four rows per update of the float64 accumulators (which live in
    memory: one load and one store per column and update).  Updating them once
    per row made the pass bound by those stores: 327 us against 176 us for four
    rows per update at 1024x1024 float32 on one core (AMD EPYC Zen 4, where a
    512-bit store takes two cycles).  The grouping is fixed, so the sums do not
    depend on the thread count.
    """
    m = a.shape[1]
    shift = a[lo]
    for j in range(m):
        block_sum[j] = 0.0
        block_sq[j] = 0.0
    i = lo + 1
    while i + 4 <= hi:
        r0 = a[i]
        r1 = a[i + 1]
        r2 = a[i + 2]
        r3 = a[i + 3]
        for j in range(m):
            c = np.float64(shift[j])
            d0 = np.float64(r0[j]) - c
            d1 = np.float64(r1[j]) - c
            d2 = np.float64(r2[j]) - c
            d3 = np.float64(r3[j]) - c
            block_sum[j] += (d0 + d1) + (d2 + d3)
            block_sq[j] += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3)
        i += 4
    for k in range(i, hi):
        row = a[k]
        for j in range(m):
            d = np.float64(row[j]) - np.float64(shift[j])
            block_sum[j] += d
            block_sq[j] += d * d
    count = hi - lo
    for j in range(m):
        total = block_sum[j]
        block_sum[j] = np.float64(shift[j]) + total / count
        block_sq[j] = max(block_sq[j] - total * total / count, 0.0)


@njit(inline="always")
def _normalize_rows(a, lo, hi, scale, shift, code, negative_slope, y):
    m = a.shape[1]
    for i in range(lo, hi):
        a_row = a[i]
        y_row = y[i]
        for j in range(m):
            y_row[j] = activate(
                batch_norm_affine(a_row[j], scale[j], shift[j]), code, negative_slope
            )


@njit(inline="always")
def _infer_rows(x, lo, hi, running_mean, scale, beta, pre_code, post_code, negative_slope, y):
    m = x.shape[1]
    for i in range(lo, hi):
        x_row = x[i]
        y_row = y[i]
        for j in range(m):
            if pre_code == LINEAR:
                a = x_row[j]
            else:
                # a = f_pre(x) goes through y_row to be rounded as the training kernel stores it.
                y_row[j] = activate(np.float64(x_row[j]), pre_code, negative_slope)
                a = y_row[j]
            z = batch_norm_infer(a, running_mean[j], scale[j], beta[j])
            y_row[j] = activate(z, post_code, negative_slope)


@njit(inline="always")
def _gradient_sum_rows(dy, a, y, lo, hi, mean, code, negative_slope, sum_g, sum_gc):
    """Add the column sums of ``g = dy f'(y)`` and ``g (a - mean)`` over rows ``lo:hi``."""
    m = dy.shape[1]
    for i in range(lo, hi):
        dy_row = dy[i]
        a_row = a[i]
        y_row = y[i]
        for j in range(m):
            g = dy_row[j] * activate_grad(np.float64(y_row[j]), code, negative_slope)
            sum_g[j] += g
            sum_gc[j] += g * (np.float64(a_row[j]) - mean[j])


@njit(inline="always")
def _gradient_sum_rows_linear(dy, a, lo, hi, mean, sum_g, sum_gc):
    """``_gradient_sum_rows`` for no post activation (``g = dy``).

    Four rows per update of the float64 accumulators, as ``_moments_rows``:
    the backward pass at 1024x1024 float32 went from 1.03 to 0.81 ms on one
    core.  Only this variant is grouped: grouping every activation's loop
    added 6 s to the batchnorm kernels' compile time per dtype.
    """
    m = dy.shape[1]
    i = lo
    while i + 4 <= hi:
        g0, g1, g2, g3 = dy[i], dy[i + 1], dy[i + 2], dy[i + 3]
        a0, a1, a2, a3 = a[i], a[i + 1], a[i + 2], a[i + 3]
        for j in range(m):
            c = mean[j]
            sum_g[j] += (np.float64(g0[j]) + np.float64(g1[j])) + (
                np.float64(g2[j]) + np.float64(g3[j])
            )
            sum_gc[j] += (
                np.float64(g0[j]) * (np.float64(a0[j]) - c)
                + np.float64(g1[j]) * (np.float64(a1[j]) - c)
            ) + (
                np.float64(g2[j]) * (np.float64(a2[j]) - c)
                + np.float64(g3[j]) * (np.float64(a3[j]) - c)
            )
        i += 4
    _gradient_sum_rows(dy, a, a, i, hi, mean, LINEAR, 0.0, sum_g, sum_gc)


@njit(inline="always")
def _dx_rows(dy, a, y, lo, hi, columns, pre_code, post_code, negative_slope, dx):
    gamma, invstd, offset, coef = columns
    m = dy.shape[1]
    for i in range(lo, hi):
        dy_row = dy[i]
        a_row = a[i]
        y_row = y[i]
        dx_row = dx[i]
        for j in range(m):
            g = dy_row[j] * activate_grad(np.float64(y_row[j]), post_code, negative_slope)
            slope = activate_grad(np.float64(a_row[j]), pre_code, negative_slope)
            dx_row[j] = batch_norm_grad_input(
                g, a_row[j], coef[j], offset[j], gamma[j], invstd[j], slope
            )


# ---------------------------------------------------------------------------
# One block each: the kernels' loop bodies.  They branch on the activation
# codes once, outside the loops.
# ---------------------------------------------------------------------------


@njit(cache=True)
def _statistics_block(x, a, b, pre_code, negative_slope, work):
    """``a = f_pre(x)`` for block ``b``, then its per-column mean and M2 into ``work[:, b]``."""
    lo, hi = _block_rows(x.shape[0], b)
    if pre_code == RELU:
        _pre_activate_rows(x, a, lo, hi, RELU, negative_slope)
    elif pre_code == LEAKY_RELU:
        _pre_activate_rows(x, a, lo, hi, LEAKY_RELU, negative_slope)
    elif pre_code != LINEAR:
        _pre_activate_rows(x, a, lo, hi, pre_code, negative_slope)
    # One pass over the block, shifted by its first row: with d = a - a[lo],
    # mean = a[lo] + sum(d) / k and M2 = sum(d**2) - sum(d)**2 / k (k rows).
    # sum(d**2) = M2 + k (mean - a[lo])**2, and since a[lo] is one of the
    # block's values, (mean - a[lo])**2 <= M2: sum(d**2) <= (k + 1) M2 for any
    # offset, so the subtraction loses at most log10(65) < 2 of float64's
    # sixteen digits.  Measured against
    # a long-double two-pass variance at offsets 3, 1e4 and 1e8 (1024x256
    # float64), the error was at most that of the two-pass form this replaced
    # (which read the block twice: float32 forward 725 -> 614 us at
    # 1024x1024, 1.90 -> 1.61 ms at 4096x1024, same bits in float32).
    _moments_rows(a, lo, hi, work[0, b], work[1, b])


@njit(cache=True)
def _normalize_block(a, b, scale, shift, code, negative_slope, y):
    lo, hi = _block_rows(a.shape[0], b)
    if code == LINEAR:
        _normalize_rows(a, lo, hi, scale, shift, LINEAR, negative_slope, y)
    elif code == RELU:
        _normalize_rows(a, lo, hi, scale, shift, RELU, negative_slope, y)
    elif code == LEAKY_RELU:
        _normalize_rows(a, lo, hi, scale, shift, LEAKY_RELU, negative_slope, y)
    else:
        _normalize_rows(a, lo, hi, scale, shift, code, negative_slope, y)


@njit(cache=True)
def _infer_block(x, b, columns, pre_code, post_code, negative_slope, y):
    lo, hi = _block_rows(x.shape[0], b)
    rm, scale, beta = columns
    if pre_code == LINEAR and post_code == LINEAR:
        _infer_rows(x, lo, hi, rm, scale, beta, LINEAR, LINEAR, negative_slope, y)
    elif pre_code == LINEAR and post_code == RELU:
        _infer_rows(x, lo, hi, rm, scale, beta, LINEAR, RELU, negative_slope, y)
    elif pre_code == LINEAR and post_code == LEAKY_RELU:
        _infer_rows(x, lo, hi, rm, scale, beta, LINEAR, LEAKY_RELU, negative_slope, y)
    elif pre_code == RELU and post_code == LINEAR:
        _infer_rows(x, lo, hi, rm, scale, beta, RELU, LINEAR, negative_slope, y)
    elif pre_code == LEAKY_RELU and post_code == LINEAR:
        _infer_rows(x, lo, hi, rm, scale, beta, LEAKY_RELU, LINEAR, negative_slope, y)
    else:
        _infer_rows(x, lo, hi, rm, scale, beta, pre_code, post_code, negative_slope, y)


@njit(cache=True)
def _gradient_sum_block(dy, a, y, b, mean, code, negative_slope, work):
    """Per-column sums of ``g`` and ``g (a - mean)`` over block ``b`` into ``work[:, b]``."""
    lo, hi = _block_rows(dy.shape[0], b)
    sum_g = work[0, b]
    sum_gc = work[1, b]
    for j in range(dy.shape[1]):
        sum_g[j] = 0.0
        sum_gc[j] = 0.0
    if code == LINEAR:
        _gradient_sum_rows_linear(dy, a, lo, hi, mean, sum_g, sum_gc)
    elif code == RELU:
        _gradient_sum_rows(dy, a, y, lo, hi, mean, RELU, negative_slope, sum_g, sum_gc)
    elif code == LEAKY_RELU:
        _gradient_sum_rows(dy, a, y, lo, hi, mean, LEAKY_RELU, negative_slope, sum_g, sum_gc)
    else:
        _gradient_sum_rows(dy, a, y, lo, hi, mean, code, negative_slope, sum_g, sum_gc)


@njit(cache=True)
def _dx_block(dy, a, y, b, columns, pre_code, post_code, negative_slope, dx):
    lo, hi = _block_rows(dy.shape[0], b)
    if pre_code == LINEAR and post_code == LINEAR:
        _dx_rows(dy, a, y, lo, hi, columns, LINEAR, LINEAR, negative_slope, dx)
    elif pre_code == LINEAR and post_code == RELU:
        _dx_rows(dy, a, y, lo, hi, columns, LINEAR, RELU, negative_slope, dx)
    elif pre_code == LINEAR and post_code == LEAKY_RELU:
        _dx_rows(dy, a, y, lo, hi, columns, LINEAR, LEAKY_RELU, negative_slope, dx)
    elif pre_code == RELU and post_code == LINEAR:
        _dx_rows(dy, a, y, lo, hi, columns, RELU, LINEAR, negative_slope, dx)
    elif pre_code == LEAKY_RELU and post_code == LINEAR:
        _dx_rows(dy, a, y, lo, hi, columns, LEAKY_RELU, LINEAR, negative_slope, dx)
    else:
        _dx_rows(dy, a, y, lo, hi, columns, pre_code, post_code, negative_slope, dx)


@njit(cache=True)
def _combine_moments(work, n, nb):
    """Merge the per-block (mean, M2) rows of ``work`` into ``work[:, 0]``, in block order.

    Chan et al.'s pairwise update: with ``n_a`` rows merged so far and a block
    of ``n_b`` rows, ``delta = mean_b - mean_a``,
    ``mean = mean_a + delta n_b / (n_a + n_b)``,
    ``M2 = M2_a + M2_b + delta**2 n_a n_b / (n_a + n_b)``.
    """
    mean = work[0, 0]
    m2 = work[1, 0]
    for b in range(1, nb):
        n_a = b * BLOCK_ROWS
        n_b = min(n, n_a + BLOCK_ROWS) - n_a
        w_mean = n_b / (n_a + n_b)
        w_m2 = n_a * w_mean
        block_mean = work[0, b]
        block_m2 = work[1, b]
        for j in range(mean.shape[0]):
            delta = block_mean[j] - mean[j]
            mean[j] += delta * w_mean
            m2[j] += block_m2[j] + delta * delta * w_m2


# ---------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------


@njit(cache=True, parallel=True)
def batch_norm_forward_train(
    x,
    gamma,
    beta,
    running_mean,
    running_var,
    momentum,
    epsilon,
    pre_code,
    post_code,
    negative_slope,
    a,
    y,
    mean,
    invstd,
    work,
):
    r"""Training-mode batch normalization: batch statistics, normalize, update running stats.

    .. math::

        a = f_{pre}(x), \quad \mu_j = \frac{1}{N}\sum_i a_{ij}, \quad
        \sigma^2_j = \frac{1}{N}\sum_i (a_{ij} - \mu_j)^2, \quad
        s_j = \frac{1}{\sqrt{\sigma^2_j + \epsilon}}

        y_{ij} = f_{post}\big(\gamma_j (a_{ij} - \mu_j) s_j + \beta_j\big)

        r_\mu \leftarrow m \, r_\mu + (1 - m) \, \mu, \qquad
        r_{\sigma^2} \leftarrow m \, r_{\sigma^2} + (1 - m) \, \sigma^2

    (Keras convention: ``momentum`` weights the old value, and the biased
    variance feeds ``running_var``.)

    Parameters
    ----------
    x : (N, M) float array
        Input batch, ``N >= 2``.
    gamma, beta : (M,) float arrays
        Scale and shift.
    running_mean, running_var : (M,) float arrays
        Updated in place.
    momentum, epsilon : float
        ``0 <= momentum <= 1``, ``epsilon > 0``.
    pre_code, post_code : int
        Activation codes applied before / after the normalization (``LINEAR``
        for none; never ``SOFTMAX``).
    negative_slope : float
        Leaky-relu slope, ``>= 0``.
    a : (N, M) float array
        Output ``f_pre(x)``, written only when ``pre_code != LINEAR``; pass
        ``a = x`` otherwise.  The statistics and ``y`` use the stored values.
    y : (N, M) float array
        Output.
    mean, invstd : (M,) float arrays
        Outputs ``mu`` and ``s``, saved for the backward pass.
    work : float64 array
        ``reduction_workspace(N, M)``; overwritten.
    """
    n, m = x.shape
    nb = (n + BLOCK_ROWS - 1) // BLOCK_ROWS
    if n * m < PARALLEL_MIN_SIZE:
        for b in range(nb):
            _statistics_block(x, a, b, pre_code, negative_slope, work)
    else:
        for b in prange(nb):
            _statistics_block(x, a, np.int64(b), pre_code, negative_slope, work)
    _combine_moments(work, n, nb)
    # Block 0 of the workspace now holds the batch mean and M2; it is turned
    # into the float64 scale and shift of y = f_post(a * scale + shift).
    shift = work[0, 0]
    scale = work[1, 0]
    for j in range(m):
        batch_mean = shift[j]
        var = scale[j] / n
        s = batch_norm_invstd(var, epsilon)
        mean[j] = batch_mean
        invstd[j] = s
        running_mean[j] = moving_average(running_mean[j], batch_mean, momentum)
        running_var[j] = moving_average(running_var[j], var, momentum)
        scale[j], shift[j] = batch_norm_scale_shift(gamma[j], beta[j], batch_mean, s)
    if n * m < PARALLEL_MIN_SIZE:
        for b in range(nb):
            _normalize_block(a, b, scale, shift, post_code, negative_slope, y)
    else:
        for b in prange(nb):
            _normalize_block(a, np.int64(b), scale, shift, post_code, negative_slope, y)


@njit(cache=True, parallel=True)
def batch_norm_forward_infer(
    x,
    gamma,
    beta,
    running_mean,
    running_var,
    epsilon,
    pre_code,
    post_code,
    negative_slope,
    y,
    work,
):
    r"""Inference-mode batch normalization with the running statistics.

    .. math::

        y_{ij} = f_{post}\Big(\gamma_j \frac{f_{pre}(x_{ij}) - r_{\mu,j}}
                 {\sqrt{r_{\sigma^2,j} + \epsilon}} + \beta_j\Big)

    computed as ``f_post((a - r_mu) scale + beta)`` in the data's dtype, with
    the scale ``batch_norm_infer_scale`` rounded to it.  Arguments as in
    ``batch_norm_forward_train``; only ``y`` and ``work`` are written.

    Parameters
    ----------
    work : float64 array, shape (2, k, M) with k >= 1
        ``work[0, 0]`` receives the column scale (``reduction_workspace(1,
        M)`` is enough); overwritten.

    Notes
    -----
    The kernel had no workspace before: it kept the scale in each block's
    first output row, computed in float64 and visited the rows in a rotated
    order, which LLVM vectorized poorly: 455 us at 1024x1024 float32 on one
    core (AMD EPYC Zen 4) against 143-153 us for this form.
    """
    n, m = x.shape
    nb = (n + BLOCK_ROWS - 1) // BLOCK_ROWS
    scale = work[0, 0].view(y.dtype)
    for j in range(m):
        scale[j] = batch_norm_infer_scale(np.float64(gamma[j]), np.float64(running_var[j]), epsilon)
    columns = (running_mean, scale, beta)
    if n * m < PARALLEL_MIN_SIZE:
        for b in range(nb):
            _infer_block(x, b, columns, pre_code, post_code, negative_slope, y)
    else:
        for b in prange(nb):
            _infer_block(x, np.int64(b), columns, pre_code, post_code, negative_slope, y)


@njit(cache=True, parallel=True)
def batch_norm_backward(
    dy, a, y, gamma, mean, invstd, pre_code, post_code, negative_slope, dx, dgamma, dbeta, work
):
    r"""Gradients of training-mode batch normalization and its fused activations.

    With ``xhat = (a - mean) * invstd`` recomputed from the saved ``a``:

    .. math::

        g = dy \odot f_{post}'(y), \quad
        d\beta_j = \sum_i g_{ij}, \quad
        d\gamma_j = \sum_i g_{ij} \hat{x}_{ij}

        dx_{ij} = f_{pre}'(a_{ij}) \, \frac{\gamma_j s_j}{N}
                  \big(N g_{ij} - d\beta_j - \hat{x}_{ij} \, d\gamma_j\big)

    Derivatives come from the activations' outputs (``y`` after, ``a``
    before), so ``y`` is read only when ``post_code != LINEAR``.

    Parameters
    ----------
    dy : (N, M) float array
        Gradient of the loss with respect to ``y``.
    a, y : (N, M) float arrays
        Saved from the forward pass (``a = x`` when there is no pre activation).
    gamma, mean, invstd : (M,) float arrays
        ``gamma`` and the saved batch statistics.
    pre_code, post_code, negative_slope
        As in the forward pass.
    dx : (N, M) float array
        Output; may alias ``dy``.
    dgamma, dbeta : (M,) float arrays
        Outputs.
    work : float64 array
        ``reduction_workspace(N, M)``; overwritten.
    """
    n, m = dy.shape
    nb = (n + BLOCK_ROWS - 1) // BLOCK_ROWS
    if n * m < PARALLEL_MIN_SIZE:
        for b in range(nb):
            _gradient_sum_block(dy, a, y, b, mean, post_code, negative_slope, work)
    else:
        for b in prange(nb):
            _gradient_sum_block(dy, a, y, np.int64(b), mean, post_code, negative_slope, work)
    combine_blocks(work[0], nb, work[0, 0])
    combine_blocks(work[1], nb, work[1, 0])
    # Block 0 of the workspace now holds the sums; it is turned into the
    # float64 constants of dx = f'(a) gamma s (g - a * coef + offset), that is
    # coef = s dgamma / N and offset = mean * coef - dbeta / N.
    offset = work[0, 0]
    coef = work[1, 0]
    for j in range(m):
        s = np.float64(invstd[j])
        dbeta[j], dgamma[j], coef[j], offset[j] = batch_norm_grad_columns(
            offset[j], coef[j], mean[j], s, n
        )
    columns = (gamma, invstd, offset, coef)
    if n * m < PARALLEL_MIN_SIZE:
        for b in range(nb):
            _dx_block(dy, a, y, b, columns, pre_code, post_code, negative_slope, dx)
    else:
        for b in prange(nb):
            _dx_block(dy, a, y, np.int64(b), columns, pre_code, post_code, negative_slope, dx)
