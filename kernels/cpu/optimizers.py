"""Optimizer update kernels: one fused, in-place pass per parameter array.

Responsibility: looping the per-element updates of
``fastnn.kernels.scalar`` (``sgd_element``, ``adam_element``, ...) over a
parameter array, serially or split over threads; the formulas themselves are
written there, once for every backend.

Every kernel takes 1-D views (``a.reshape(-1)``) of the parameter, its gradient
and its state, all of one dtype and length, and updates the parameter and the
state in place.  The formulas and defaults are those of Keras 3
(``keras.optimizers.SGD``, ``Adam``, ``RMSprop``), weight decay included:
Keras applies it, decoupled, *before* the update,

.. math:: p \\leftarrow p - \\eta\\,\\lambda\\,p,

with ``weight_decay`` ``lambda`` (``0`` means none) and learning rate ``eta``.

Each element is widened to float64 (``np.float64(x)``; Numba's ``float(x)``
keeps float32), updated, and rounded once when stored, whatever the array
dtype.  Element updates are independent, so the result does not depend on the
thread count.

Every function is compiled with ``error_model="numpy"``: a division by zero
gives inf/nan as in NumPy instead of raising, which takes a branch out of each
loop and lets LLVM vectorize it (about 5x faster for the Adam loop).
"""

from numba import njit, prange

from fastnn.kernels.scalar import (
    adam_element,
    adam_step_size,
    rmsprop_element,
    rmsprop_momentum_element,
    sgd_element,
    sgd_momentum_element,
)

#: Below this many elements the update runs on one thread.  One core updates
#: 32768 elements in ~15-30 us; a parallel region costs a few microseconds to
#: start and join, and far more on a loaded machine, so smaller arrays gain little.
PARALLEL_MIN_SIZE = 32768


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
    decay = learning_rate * weight_decay
    if momentum == 0:
        if n < PARALLEL_MIN_SIZE:
            for i in range(n):
                param[i] = sgd_element(param[i], grad[i], learning_rate, decay)
        else:
            for i in prange(n):
                param[i] = sgd_element(param[i], grad[i], learning_rate, decay)
        return
    if n < PARALLEL_MIN_SIZE:
        for i in range(n):
            param[i], velocity[i] = sgd_momentum_element(
                param[i], grad[i], velocity[i], learning_rate, momentum, nesterov, decay
            )
    else:
        for i in prange(n):
            param[i], velocity[i] = sgd_momentum_element(
                param[i], grad[i], velocity[i], learning_rate, momentum, nesterov, decay
            )


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

    ``alpha`` is ``scalar.adam_step_size``; ``epsilon`` is added outside the
    square root, as in Keras.

    References
    ----------
    D. P. Kingma, J. Ba, "Adam: A method for stochastic optimization",
    ICLR 2015.
    """
    n = param.shape[0]
    decay = learning_rate * weight_decay
    step_size = adam_step_size(learning_rate, beta_1, beta_2, step)
    if n < PARALLEL_MIN_SIZE:
        for i in range(n):
            param[i], m[i], v[i] = adam_element(
                param[i], grad[i], m[i], v[i], step_size, beta_1, beta_2, epsilon, decay
            )
    else:
        for i in prange(n):
            param[i], m[i], v[i] = adam_element(
                param[i], grad[i], m[i], v[i], step_size, beta_1, beta_2, epsilon, decay
            )


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
    decay = learning_rate * weight_decay
    if momentum == 0:
        if n < PARALLEL_MIN_SIZE:
            for i in range(n):
                param[i], velocity[i] = rmsprop_element(
                    param[i], grad[i], velocity[i], learning_rate, rho, epsilon, decay
                )
        else:
            for i in prange(n):
                param[i], velocity[i] = rmsprop_element(
                    param[i], grad[i], velocity[i], learning_rate, rho, epsilon, decay
                )
        return
    if n < PARALLEL_MIN_SIZE:
        for i in range(n):
            param[i], velocity[i], momentum_buffer[i] = rmsprop_momentum_element(
                param[i],
                grad[i],
                velocity[i],
                momentum_buffer[i],
                learning_rate,
                rho,
                momentum,
                epsilon,
                decay,
            )
    else:
        for i in prange(n):
            param[i], velocity[i], momentum_buffer[i] = rmsprop_momentum_element(
                param[i],
                grad[i],
                velocity[i],
                momentum_buffer[i],
                learning_rate,
                rho,
                momentum,
                epsilon,
                decay,
            )
