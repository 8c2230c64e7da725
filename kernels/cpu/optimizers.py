"""Optimizer update kernels: one fused, in-place pass per parameter array.

Responsibility: looping the per-element updates of
``fastnn.kernels.scalar`` (``sgd_element_native``, ``adam_element_native``,
...) over a parameter array, in fixed chunks split over threads; the formulas
themselves are written there, once for every backend.

Every kernel takes 1-D views (``a.reshape(-1)``) of the parameter, its gradient
and its state, all of one dtype and length, and updates the parameter and the
state in place.  The formulas and defaults are those of Keras 3
(``keras.optimizers.SGD``, ``Adam``, ``RMSprop``), weight decay included:
Keras applies it, decoupled, *before* the update,

.. math:: p \\leftarrow p - \\eta\\,\\lambda\\,p,

with ``weight_decay`` ``lambda`` (``0`` means none) and learning rate ``eta``.

The arithmetic is in the arrays' dtype, as PyTorch's and Keras's optimizers
compute: each kernel casts its hyperparameters to that dtype once
(``param.dtype.type(x)``; Adam's bias-corrected step size is computed in
float64 first, then cast), so a float32 update runs as packed float32
instructions (``vsqrtps``/``vdivps``), twice as many lanes as float64 and
with no conversions.  The arrays are split into chunks of ``CHUNK`` elements
run by ``prange``; element updates are independent, so the result does not
depend on the thread count or the split.

Each update also has a *checked* twin (``adam_update_checked``, ...), the
one a ``Network``'s guarded step calls: it updates the parameter in place as
well, but writes the new state into separate ``*_out`` arrays (the old state
stays as it was), copies the old parameter into ``param_saved`` in the same
pass, and returns whether every new parameter is finite.  A step that would
write NaN or Inf is then undone exactly by copying ``param_saved`` back and
keeping the old state, at the cost of one extra store per parameter instead
of separate backup copies and a finiteness pass.  The checked and in-place
loops are separate functions: passing the same array as input and output
would defeat LLVM's alias checks and leave the in-place loop scalar (twice
slower, measured).

Every function is compiled with ``error_model="numpy"``: a division by zero
gives inf/nan as in NumPy instead of raising, which takes a branch out of each
loop and lets LLVM vectorize it.
"""

import numpy as np
from numba import njit, prange

from fastnn.kernels.scalar import (
    adam_element_native,
    adam_step_size,
    rmsprop_element_native,
    rmsprop_momentum_element_native,
    sgd_element_native,
    sgd_momentum_element_native,
)

#: Elements per chunk of the parallel loop: 16384 float32 elements are 64 KiB per array,
#: so a chunk of every array an update touches (up to seven, checked) stays in the 2 MiB L2
#: while it is updated, and an array at PARALLEL_MIN_SIZE makes 64 chunks to balance.
CHUNK = 16384
#: Below this many elements the update runs on one thread: starting a parallel
#: region of the workqueue layer measured 100-170 us here (``batchnorm``'s
#: note), about what one core needs for 270k Adam elements in cache, so the
#: benchmarked network's update (270k parameters) is faster on one thread.
PARALLEL_MIN_SIZE = 1 << 20


@njit(cache=True, error_model="numpy")
def _sgd_chunk(param, grad, learning_rate, decay):
    for i in range(param.shape[0]):
        param[i] = sgd_element_native(param[i], grad[i], learning_rate, decay)


@njit(cache=True, error_model="numpy")
def _sgd_momentum_chunk(param, grad, velocity, learning_rate, momentum, nesterov, decay):
    for i in range(param.shape[0]):
        param[i], velocity[i] = sgd_momentum_element_native(
            param[i], grad[i], velocity[i], learning_rate, momentum, nesterov, decay
        )


@njit(cache=True, error_model="numpy")
def _adam_chunk(param, grad, m, v, step_size, one_minus_beta_1, one_minus_beta_2, epsilon, decay):
    for i in range(param.shape[0]):
        param[i], m[i], v[i] = adam_element_native(
            param[i], grad[i], m[i], v[i], step_size, one_minus_beta_1, one_minus_beta_2,
            epsilon, decay,
        )  # fmt: skip


@njit(cache=True, error_model="numpy")
def _rmsprop_chunk(param, grad, velocity, learning_rate, rho, one_minus_rho, epsilon, decay):
    for i in range(param.shape[0]):
        param[i], velocity[i] = rmsprop_element_native(
            param[i], grad[i], velocity[i], learning_rate, rho, one_minus_rho, epsilon, decay
        )


@njit(cache=True, error_model="numpy")
def _rmsprop_momentum_chunk(
    param, grad, velocity, buffer, learning_rate, rho, one_minus_rho, momentum, epsilon, decay
):
    for i in range(param.shape[0]):
        param[i], velocity[i], buffer[i] = rmsprop_momentum_element_native(
            param[i], grad[i], velocity[i], buffer[i], learning_rate, rho, one_minus_rho,
            momentum, epsilon, decay,
        )  # fmt: skip


# ---------------------------------------------------------- hyperparameters in the dtype
# One place for each optimizer's constants, so the in-place and the checked kernels round
# them alike and give the same bits.


@njit(cache=True, forceinline=True, error_model="numpy")
def _sgd_constants(param, learning_rate, momentum, weight_decay):
    """``(lr, mu, decay)`` in ``param``'s dtype."""
    t = param.dtype.type
    return t(learning_rate), t(momentum), t(learning_rate * weight_decay)


@njit(cache=True, forceinline=True, error_model="numpy")
def _adam_constants(param, step, learning_rate, beta_1, beta_2, epsilon, weight_decay):
    """``(step_size, 1 - beta_1, 1 - beta_2, epsilon, decay)`` in ``param``'s dtype."""
    t = param.dtype.type
    step_size = t(adam_step_size(learning_rate, beta_1, beta_2, step))
    return step_size, t(1.0 - beta_1), t(1.0 - beta_2), t(epsilon), t(learning_rate * weight_decay)


@njit(cache=True, forceinline=True, error_model="numpy")
def _rmsprop_constants(param, learning_rate, rho, momentum, epsilon, weight_decay):
    """``(lr, rho, 1 - rho, mu, epsilon, decay)`` in ``param``'s dtype."""
    t = param.dtype.type
    return (
        t(learning_rate), t(rho), t(1.0 - rho), t(momentum), t(epsilon),
        t(learning_rate * weight_decay),
    )  # fmt: skip


# ------------------------------------------------------------------ checked chunk loops
# Each returns the number of new parameters that are not finite; new state goes to the
# ``*_out`` arrays and the old parameter to ``saved``, so the inputs can be restored.


@njit(cache=True, error_model="numpy")
def _sgd_checked_chunk(param, grad, saved, learning_rate, decay):
    bad = 0
    for i in range(param.shape[0]):
        p = param[i]
        saved[i] = p
        p = sgd_element_native(p, grad[i], learning_rate, decay)
        param[i] = p
        bad += not np.isfinite(p)
    return bad


@njit(cache=True, error_model="numpy")
def _sgd_momentum_checked_chunk(
    param, grad, velocity, velocity_out, saved, learning_rate, momentum, nesterov, decay
):
    bad = 0
    for i in range(param.shape[0]):
        p = param[i]
        saved[i] = p
        p, velocity_out[i] = sgd_momentum_element_native(
            p, grad[i], velocity[i], learning_rate, momentum, nesterov, decay
        )
        param[i] = p
        bad += not np.isfinite(p)
    return bad


@njit(cache=True, error_model="numpy")
def _adam_checked_chunk(
    param, grad, m, v, m_out, v_out, saved, step_size, one_minus_beta_1, one_minus_beta_2,
    epsilon, decay,
):  # fmt: skip
    bad = 0
    for i in range(param.shape[0]):
        p = param[i]
        saved[i] = p
        p, m_out[i], v_out[i] = adam_element_native(
            p, grad[i], m[i], v[i], step_size, one_minus_beta_1, one_minus_beta_2, epsilon, decay
        )
        param[i] = p
        bad += not np.isfinite(p)
    return bad


@njit(cache=True, error_model="numpy")
def _rmsprop_checked_chunk(
    param, grad, velocity, velocity_out, saved, learning_rate, rho, one_minus_rho, epsilon, decay
):
    bad = 0
    for i in range(param.shape[0]):
        p = param[i]
        saved[i] = p
        p, velocity_out[i] = rmsprop_element_native(
            p, grad[i], velocity[i], learning_rate, rho, one_minus_rho, epsilon, decay
        )
        param[i] = p
        bad += not np.isfinite(p)
    return bad


@njit(cache=True, error_model="numpy")
def _rmsprop_momentum_checked_chunk(
    param, grad, velocity, buffer, velocity_out, buffer_out, saved, learning_rate, rho,
    one_minus_rho, momentum, epsilon, decay,
):  # fmt: skip
    bad = 0
    for i in range(param.shape[0]):
        p = param[i]
        saved[i] = p
        p, velocity_out[i], buffer_out[i] = rmsprop_momentum_element_native(
            p, grad[i], velocity[i], buffer[i], learning_rate, rho, one_minus_rho, momentum,
            epsilon, decay,
        )  # fmt: skip
        param[i] = p
        bad += not np.isfinite(p)
    return bad


@njit(cache=True, parallel=True, error_model="numpy")
def sgd_update(param, grad, velocity, learning_rate, momentum, nesterov, weight_decay):
    """Keras SGD, plain or with (Nesterov) momentum, in place.

    Parameters
    ----------
    param, grad : ndarray, shape (n,), float32 or float64
        ``param`` is updated in place.
    velocity : ndarray, shape (n,), dtype of ``param``
        Momentum state, updated in place; untouched (may be empty) when
        ``momentum == 0``.
    learning_rate, momentum, weight_decay : float
        Keras defaults ``0.01``, ``0.0``, none.
    nesterov : bool
        Keras default ``False``.

    Notes
    -----
    With ``eta = learning_rate`` and ``mu = momentum``, after the weight decay:

    - ``mu == 0``: :math:`p \\leftarrow p - \\eta g`
    - otherwise :math:`v \\leftarrow \\mu v - \\eta g`, then
      :math:`p \\leftarrow p + v`, or with Nesterov
      :math:`p \\leftarrow p + \\mu v - \\eta g`.
    """
    n = param.shape[0]
    lr, mu, decay = _sgd_constants(param, learning_rate, momentum, weight_decay)
    n_chunks = (n + CHUNK - 1) // CHUNK
    if momentum == 0:
        if n < PARALLEL_MIN_SIZE:
            _sgd_chunk(param, grad, lr, decay)
        else:
            for c in prange(n_chunks):
                lo, hi = c * CHUNK, min(n, (c + 1) * CHUNK)
                _sgd_chunk(param[lo:hi], grad[lo:hi], lr, decay)
        return
    if n < PARALLEL_MIN_SIZE:
        _sgd_momentum_chunk(param, grad, velocity, lr, mu, nesterov, decay)
    else:
        for c in prange(n_chunks):
            lo, hi = c * CHUNK, min(n, (c + 1) * CHUNK)
            _sgd_momentum_chunk(param[lo:hi], grad[lo:hi], velocity[lo:hi], lr, mu, nesterov,
                                decay)  # fmt: skip


@njit(cache=True, parallel=True, error_model="numpy")
def adam_update(param, grad, m, v, step, learning_rate, beta_1, beta_2, epsilon, weight_decay):
    """Keras Adam, in place.

    Parameters
    ----------
    param, grad : ndarray, shape (n,), float32 or float64
        ``param`` is updated in place.
    m, v : ndarray, shape (n,), dtype of ``param``
        First and second moment estimates (start at zero), updated in place.
    step : int
        The 1-based number of this update (``1`` on the first call).
    learning_rate, beta_1, beta_2, epsilon, weight_decay : float
        Keras defaults ``0.001``, ``0.9``, ``0.999``, ``1e-7``, none.

    Notes
    -----
    After the weight decay, with ``t = step``:

    .. math::

        \\alpha = \\eta \\frac{\\sqrt{1 - \\beta_2^t}}{1 - \\beta_1^t}, \\quad
        m \\leftarrow m + (1 - \\beta_1)(g - m), \\quad
        v \\leftarrow v + (1 - \\beta_2)(g^2 - v), \\quad
        p \\leftarrow p - \\alpha \\frac{m}{\\sqrt{v} + \\epsilon}.

    ``alpha`` is ``scalar.adam_step_size`` (in float64, then rounded to the
    arrays' dtype); ``epsilon`` is added outside the square root, as in Keras.

    References
    ----------
    D. P. Kingma, J. Ba, "Adam: A method for stochastic optimization",
    ICLR 2015.
    """
    n = param.shape[0]
    step_size, c1, c2, eps, decay = _adam_constants(
        param, step, learning_rate, beta_1, beta_2, epsilon, weight_decay
    )
    if n < PARALLEL_MIN_SIZE:
        _adam_chunk(param, grad, m, v, step_size, c1, c2, eps, decay)
        return
    for c in prange((n + CHUNK - 1) // CHUNK):
        lo, hi = c * CHUNK, min(n, (c + 1) * CHUNK)
        _adam_chunk(param[lo:hi], grad[lo:hi], m[lo:hi], v[lo:hi], step_size, c1, c2, eps, decay)


@njit(cache=True, parallel=True, error_model="numpy")
def rmsprop_update(
    param, grad, velocity, momentum_buffer, learning_rate, rho, momentum, epsilon, weight_decay
):
    """Keras RMSprop (uncentered), with optional momentum, in place.

    Parameters
    ----------
    param, grad : ndarray, shape (n,), float32 or float64
        ``param`` is updated in place.
    velocity : ndarray, shape (n,), dtype of ``param``
        Moving average of ``g**2`` (starts at zero), updated in place.
    momentum_buffer : ndarray, shape (n,), dtype of ``param``
        Momentum state, updated in place; untouched (may be empty) when
        ``momentum == 0``.
    learning_rate, rho, momentum, epsilon, weight_decay : float
        Keras defaults ``0.001``, ``0.9``, ``0.0``, ``1e-7``, none.

    Notes
    -----
    After the weight decay:

    .. math::

        v \\leftarrow \\rho v + (1 - \\rho) g^2, \\quad
        \\Delta = \\frac{\\eta g}{\\sqrt{v + \\epsilon}}, \\quad
        p \\leftarrow p - \\Delta \\text{ if } \\mu = 0, \\text{ else }
        b \\leftarrow \\mu b + \\Delta, \\; p \\leftarrow p - b.
    """
    n = param.shape[0]
    lr, r, one_minus_rho, mu, eps, decay = _rmsprop_constants(
        param, learning_rate, rho, momentum, epsilon, weight_decay
    )
    n_chunks = (n + CHUNK - 1) // CHUNK
    if momentum == 0:
        if n < PARALLEL_MIN_SIZE:
            _rmsprop_chunk(param, grad, velocity, lr, r, one_minus_rho, eps, decay)
        else:
            for c in prange(n_chunks):
                lo, hi = c * CHUNK, min(n, (c + 1) * CHUNK)
                _rmsprop_chunk(param[lo:hi], grad[lo:hi], velocity[lo:hi], lr, r, one_minus_rho,
                               eps, decay)  # fmt: skip
        return
    if n < PARALLEL_MIN_SIZE:
        _rmsprop_momentum_chunk(param, grad, velocity, momentum_buffer, lr, r, one_minus_rho, mu,
                                eps, decay)  # fmt: skip
    else:
        for c in prange(n_chunks):
            lo, hi = c * CHUNK, min(n, (c + 1) * CHUNK)
            _rmsprop_momentum_chunk(param[lo:hi], grad[lo:hi], velocity[lo:hi],
                                    momentum_buffer[lo:hi], lr, r, one_minus_rho, mu, eps,
                                    decay)  # fmt: skip


# ----------------------------------------------------------------------- checked updates


@njit(cache=True, parallel=True, error_model="numpy")
def sgd_update_checked(
    param, grad, velocity, velocity_out, param_saved, learning_rate, momentum, nesterov,
    weight_decay,
):  # fmt: skip
    """``sgd_update`` that keeps what it needs to be undone; returns whether it left ``param``
    finite.

    Parameters
    ----------
    param, grad : ndarray, shape (n,), float32 or float64
        ``param`` is updated in place.
    velocity, velocity_out : ndarray, shape (n,), dtype of ``param``
        The momentum state before and after the step (distinct arrays);
        ``velocity`` is only read.  Both untouched (may be empty) when
        ``momentum == 0``.
    param_saved : ndarray, shape (n,), dtype of ``param``
        Receives ``param`` as it was before the step.
    learning_rate, momentum, nesterov, weight_decay
        As ``sgd_update``.

    Returns
    -------
    bool
        ``True`` when every updated element of ``param`` is finite.
    """
    n = param.shape[0]
    lr, mu, decay = _sgd_constants(param, learning_rate, momentum, weight_decay)
    n_chunks = (n + CHUNK - 1) // CHUNK
    bad = 0
    if momentum == 0:
        if n < PARALLEL_MIN_SIZE:
            bad = _sgd_checked_chunk(param, grad, param_saved, lr, decay)
        else:
            for c in prange(n_chunks):
                lo, hi = c * CHUNK, min(n, (c + 1) * CHUNK)
                bad += _sgd_checked_chunk(param[lo:hi], grad[lo:hi], param_saved[lo:hi], lr,
                                          decay)  # fmt: skip
        return bad == 0
    if n < PARALLEL_MIN_SIZE:
        bad = _sgd_momentum_checked_chunk(param, grad, velocity, velocity_out, param_saved, lr, mu,
                                          nesterov, decay)  # fmt: skip
    else:
        for c in prange(n_chunks):
            lo, hi = c * CHUNK, min(n, (c + 1) * CHUNK)
            bad += _sgd_momentum_checked_chunk(
                param[lo:hi], grad[lo:hi], velocity[lo:hi], velocity_out[lo:hi],
                param_saved[lo:hi], lr, mu, nesterov, decay,
            )  # fmt: skip
    return bad == 0


@njit(cache=True, parallel=True, error_model="numpy")
def adam_update_checked(
    param, grad, m, v, m_out, v_out, param_saved, step, learning_rate, beta_1, beta_2, epsilon,
    weight_decay,
):  # fmt: skip
    """``adam_update`` that keeps what it needs to be undone; returns whether it left ``param``
    finite.

    Parameters
    ----------
    param, grad : ndarray, shape (n,), float32 or float64
        ``param`` is updated in place.
    m, v : ndarray, shape (n,), dtype of ``param``
        The moments before the step; only read.
    m_out, v_out : ndarray, shape (n,), dtype of ``param``
        Receive the moments after the step (distinct from ``m`` and ``v``).
    param_saved : ndarray, shape (n,), dtype of ``param``
        Receives ``param`` as it was before the step.
    step, learning_rate, beta_1, beta_2, epsilon, weight_decay
        As ``adam_update``.

    Returns
    -------
    bool
        ``True`` when every updated element of ``param`` is finite.
    """
    n = param.shape[0]
    step_size, c1, c2, eps, decay = _adam_constants(
        param, step, learning_rate, beta_1, beta_2, epsilon, weight_decay
    )
    if n < PARALLEL_MIN_SIZE:
        bad = _adam_checked_chunk(param, grad, m, v, m_out, v_out, param_saved, step_size, c1, c2,
                                  eps, decay)  # fmt: skip
        return bad == 0
    bad = 0
    for c in prange((n + CHUNK - 1) // CHUNK):
        lo, hi = c * CHUNK, min(n, (c + 1) * CHUNK)
        bad += _adam_checked_chunk(
            param[lo:hi], grad[lo:hi], m[lo:hi], v[lo:hi], m_out[lo:hi], v_out[lo:hi],
            param_saved[lo:hi], step_size, c1, c2, eps, decay,
        )  # fmt: skip
    return bad == 0


@njit(cache=True, parallel=True, error_model="numpy")
def rmsprop_update_checked(
    param, grad, velocity, momentum_buffer, velocity_out, momentum_buffer_out, param_saved,
    learning_rate, rho, momentum, epsilon, weight_decay,
):  # fmt: skip
    """``rmsprop_update`` that keeps what it needs to be undone; returns whether it left
    ``param`` finite.

    Parameters
    ----------
    param, grad : ndarray, shape (n,), float32 or float64
        ``param`` is updated in place.
    velocity, momentum_buffer : ndarray, shape (n,), dtype of ``param``
        The state before the step; only read (``momentum_buffer`` untouched,
        may be empty, when ``momentum == 0``).
    velocity_out, momentum_buffer_out : ndarray, shape (n,), dtype of ``param``
        Receive the state after the step (distinct arrays; the buffer only
        when ``momentum != 0``).
    param_saved : ndarray, shape (n,), dtype of ``param``
        Receives ``param`` as it was before the step.
    learning_rate, rho, momentum, epsilon, weight_decay
        As ``rmsprop_update``.

    Returns
    -------
    bool
        ``True`` when every updated element of ``param`` is finite.
    """
    n = param.shape[0]
    lr, r, one_minus_rho, mu, eps, decay = _rmsprop_constants(
        param, learning_rate, rho, momentum, epsilon, weight_decay
    )
    n_chunks = (n + CHUNK - 1) // CHUNK
    bad = 0
    if momentum == 0:
        if n < PARALLEL_MIN_SIZE:
            bad = _rmsprop_checked_chunk(param, grad, velocity, velocity_out, param_saved, lr, r,
                                         one_minus_rho, eps, decay)  # fmt: skip
        else:
            for c in prange(n_chunks):
                lo, hi = c * CHUNK, min(n, (c + 1) * CHUNK)
                bad += _rmsprop_checked_chunk(
                    param[lo:hi], grad[lo:hi], velocity[lo:hi], velocity_out[lo:hi],
                    param_saved[lo:hi], lr, r, one_minus_rho, eps, decay,
                )  # fmt: skip
        return bad == 0
    if n < PARALLEL_MIN_SIZE:
        bad = _rmsprop_momentum_checked_chunk(
            param, grad, velocity, momentum_buffer, velocity_out, momentum_buffer_out, param_saved,
            lr, r, one_minus_rho, mu, eps, decay,
        )  # fmt: skip
    else:
        for c in prange(n_chunks):
            lo, hi = c * CHUNK, min(n, (c + 1) * CHUNK)
            bad += _rmsprop_momentum_checked_chunk(
                param[lo:hi], grad[lo:hi], velocity[lo:hi], momentum_buffer[lo:hi],
                velocity_out[lo:hi], momentum_buffer_out[lo:hi], param_saved[lo:hi], lr, r,
                one_minus_rho, mu, eps, decay,
            )  # fmt: skip
    return bad == 0
