"""Validated optimizer updates (Keras 3 formulas and defaults), in place.

Each function updates ``param`` and its state arrays in place and returns
``None``.  ``param`` and the state arrays must not share memory with each
other or with ``grad`` (checked); ``grad`` may have any layout and may be
read-only.  The state arrays start at zero and belong to the caller, who keeps
them between steps.  Because the updates are in place, ``param`` and every
state array must be C-contiguous and writeable: a copy would be updated and
lost, so nothing is copied.

Weight decay is decoupled and applied before the update, as in Keras 3:
``p -= learning_rate * weight_decay * p`` (``0`` means none).
"""

from __future__ import annotations

import numpy as np

from fastnn._validation import (
    check_bool,
    check_finite_scalar,
    check_float_array,
    check_out,
    check_separate,
)
from fastnn.functional._backend import BACKEND

__all__ = ["sgd_update", "adam_update", "rmsprop_update", "MAX_STEP"]

#: Adam's step counter must stay below this: up to 2**53 the count is exact as
#: the float64 exponent of ``beta**step``, and far inside the kernel's int64.
MAX_STEP = 2**53


def check_step(name: str, step) -> int:
    """``step`` as an int in ``[1, MAX_STEP)``, or raise naming ``name``."""
    if isinstance(step, (bool, np.bool_)) or not isinstance(step, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(step).__name__}")
    if not 1 <= step < MAX_STEP:
        raise ValueError(f"{name} must be in [1, 2**53) (the 1-based update count), got {step}")
    return int(step)


def _check_param(param) -> np.ndarray:
    """``param`` must be a non-empty float32/float64 ndarray that can be updated in place."""
    check_float_array("param", param)  # type, dtype and size; its copy is not used
    return check_out("param", param, param.shape, param.dtype)


def _check_state(name: str, state, param: np.ndarray) -> np.ndarray:
    """A state array must match ``param`` and be updatable in place."""
    return check_out(name, state, param.shape, param.dtype)


def _check_separate(grad: np.ndarray, **arrays: np.ndarray) -> None:
    """The arrays updated by one call must not overlap each other or ``grad``.

    An overlap at any offset would make one element's update read a value
    another has already written.  ``grad`` is only read, so it is compared
    with each updated array (as the caller passed it, before any copy).
    """
    check_separate(**arrays)
    for name, array in arrays.items():
        if array is not None and np.may_share_memory(grad, array) and np.shares_memory(grad, array):
            raise ValueError(f"grad and {name} must not share memory")


def _check_fraction(name: str, value, *, below_one: bool = False) -> float:
    """A finite float in ``[0, 1]`` (``[0, 1)`` with ``below_one``)."""
    value = check_finite_scalar(name, value, low=0.0, high=1.0)
    if below_one and value == 1.0:
        raise ValueError(f"{name} must be < 1, got {value}")
    return value


def sgd_update(
    param: np.ndarray,
    grad: np.ndarray,
    velocity: np.ndarray | None = None,
    *,
    learning_rate: float = 0.01,
    momentum: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
) -> None:
    """Stochastic gradient descent, plain or with (Nesterov) momentum, in place.

    Parameters
    ----------
    param : ndarray, float32 or float64
        Updated in place.
    grad : ndarray, shape and dtype of ``param``
    velocity : ndarray or None
        Momentum state (zeros before the first step), updated in place;
        required when ``momentum > 0``, ignored otherwise.
    learning_rate : float, default 0.01
        ``>= 0``.
    momentum : float, default 0.0
        In ``[0, 1]``.
    nesterov : bool, default False
    weight_decay : float, default 0.0
        ``>= 0``; decoupled, as in Keras.

    Raises
    ------
    TypeError
        An argument of the wrong type or dtype.
    ValueError
        Shapes differ; ``param`` or ``velocity`` not C-contiguous, not
        writeable, or overlapping; a hyperparameter out of range; no
        ``velocity`` with ``momentum > 0``.

    Notes
    -----
    Keras 3 ``SGD`` (same defaults).  After the weight decay
    :math:`p \\leftarrow p - \\eta \\lambda p`:

    .. math::

        v \\leftarrow \\mu v - \\eta g, \\qquad
        p \\leftarrow p + v \\quad\\text{or, Nesterov,}\\quad
        p \\leftarrow p + \\mu v - \\eta g,

    and :math:`p \\leftarrow p - \\eta g` when :math:`\\mu = 0`.

    PyTorch's ``SGD`` keeps ``b = mu b + g`` and steps ``p -= lr b``
    (Nesterov: ``p -= lr (g + mu b)``): the same trajectory for a constant
    learning rate, with ``v = -lr b``.  Its ``weight_decay`` is an L2 term
    added to the gradient, not decoupled.
    """
    param = _check_param(param)
    grad_in = grad
    grad = check_float_array("grad", grad, shape=param.shape, dtype=param.dtype)
    learning_rate = check_finite_scalar("learning_rate", learning_rate, low=0.0)
    momentum = _check_fraction("momentum", momentum)
    nesterov = check_bool("nesterov", nesterov)
    weight_decay = check_finite_scalar("weight_decay", weight_decay, low=0.0)
    if momentum == 0:
        state = BACKEND.memory.empty((0,), param.dtype)  # not read by the kernel
        _check_separate(grad_in, param=param)
    elif velocity is None:
        raise ValueError(f"velocity is required when momentum > 0 (momentum={momentum})")
    else:
        state = _check_state("velocity", velocity, param)
        _check_separate(grad_in, param=param, velocity=state)
    BACKEND.optimizers.sgd_update(
        param.reshape(-1),
        grad.reshape(-1),
        state.reshape(-1),
        learning_rate,
        momentum,
        bool(nesterov),
        weight_decay,
    )


def adam_update(
    param: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    step: int,
    *,
    learning_rate: float = 0.001,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
    weight_decay: float = 0.0,
) -> None:
    """Adam (bias-corrected, optional decoupled weight decay), in place.

    Parameters
    ----------
    param : ndarray, float32 or float64
        Updated in place.
    grad : ndarray, shape and dtype of ``param``
    m, v : ndarray, shape and dtype of ``param``
        First and second moment estimates (zeros before the first step),
        updated in place.
    step : int
        The 1-based number of this update: 1 on the first call, then 2, ...;
        below ``MAX_STEP = 2**53``.
    learning_rate : float, default 0.001
        ``>= 0``.
    beta_1, beta_2 : float, defaults 0.9 and 0.999
        In ``[0, 1)``.
    epsilon : float, default 1e-7
        ``> 0``.
    weight_decay : float, default 0.0
        ``>= 0``; decoupled (``weight_decay > 0`` gives Keras ``AdamW``).

    Raises
    ------
    TypeError
        An argument of the wrong type or dtype (``step`` must be an int).
    ValueError
        Shapes differ; ``param``, ``m`` or ``v`` not C-contiguous, not
        writeable, or overlapping (each other or ``grad``); ``step`` outside
        ``[1, 2**53)``; a hyperparameter out of range.

    Notes
    -----
    Keras 3 ``Adam`` (same defaults).  After the weight decay
    :math:`p \\leftarrow p - \\eta \\lambda p`, with :math:`t` = ``step``:

    .. math::

        \\alpha = \\eta \\frac{\\sqrt{1 - \\beta_2^t}}{1 - \\beta_1^t}, \\quad
        m \\leftarrow m + (1 - \\beta_1)(g - m), \\quad
        v \\leftarrow v + (1 - \\beta_2)(g^2 - v), \\quad
        p \\leftarrow p - \\alpha \\frac{m}{\\sqrt{v} + \\epsilon}.

    PyTorch's ``Adam`` adds ``eps`` (default ``1e-8``) to the *bias-corrected*
    ``sqrt(v / (1 - beta_2**t))`` instead, so the two differ slightly where
    ``sqrt(v)`` is near ``eps``.  Its ``weight_decay`` is an L2 term added to
    the gradient; PyTorch ``AdamW`` decouples it as here (default ``1e-2``).

    References
    ----------
    D. P. Kingma, J. Ba, "Adam: A method for stochastic optimization",
    ICLR 2015.
    """
    param = _check_param(param)
    grad_in = grad
    grad = check_float_array("grad", grad, shape=param.shape, dtype=param.dtype)
    m = _check_state("m", m, param)
    v = _check_state("v", v, param)
    _check_separate(grad_in, param=param, m=m, v=v)
    step = check_step("step", step)
    learning_rate = check_finite_scalar("learning_rate", learning_rate, low=0.0)
    beta_1 = _check_fraction("beta_1", beta_1, below_one=True)
    beta_2 = _check_fraction("beta_2", beta_2, below_one=True)
    epsilon = check_finite_scalar("epsilon", epsilon, low=0.0, low_open=True)
    weight_decay = check_finite_scalar("weight_decay", weight_decay, low=0.0)
    BACKEND.optimizers.adam_update(
        param.reshape(-1),
        grad.reshape(-1),
        m.reshape(-1),
        v.reshape(-1),
        step,
        learning_rate,
        beta_1,
        beta_2,
        epsilon,
        weight_decay,
    )


def rmsprop_update(
    param: np.ndarray,
    grad: np.ndarray,
    velocity: np.ndarray,
    momentum_buffer: np.ndarray | None = None,
    *,
    learning_rate: float = 0.001,
    rho: float = 0.9,
    momentum: float = 0.0,
    epsilon: float = 1e-7,
    weight_decay: float = 0.0,
) -> None:
    """RMSprop (uncentered), with optional momentum, in place.

    Parameters
    ----------
    param : ndarray, float32 or float64
        Updated in place.
    grad : ndarray, shape and dtype of ``param``
    velocity : ndarray, shape and dtype of ``param``
        Moving average of ``grad**2`` (zeros before the first step), updated
        in place.
    momentum_buffer : ndarray or None
        Momentum state (zeros before the first step), updated in place;
        required when ``momentum > 0``, ignored otherwise.
    learning_rate : float, default 0.001
        ``>= 0``.
    rho : float, default 0.9
        In ``[0, 1]``.
    momentum : float, default 0.0
        In ``[0, 1]``.
    epsilon : float, default 1e-7
        ``> 0``.
    weight_decay : float, default 0.0
        ``>= 0``; decoupled, as in Keras.

    Raises
    ------
    TypeError
        An argument of the wrong type or dtype.
    ValueError
        Shapes differ; ``param`` or a state array not C-contiguous, not
        writeable, or overlapping; a hyperparameter out of range; no
        ``momentum_buffer`` with ``momentum > 0``.

    Notes
    -----
    Keras 3 ``RMSprop`` with ``centered=False`` (same defaults).  After the
    weight decay :math:`p \\leftarrow p - \\eta \\lambda p`:

    .. math::

        v \\leftarrow \\rho v + (1 - \\rho) g^2, \\quad
        \\Delta = \\frac{\\eta g}{\\sqrt{v + \\epsilon}}, \\quad
        p \\leftarrow p - \\Delta \\text{ if } \\mu = 0, \\text{ else }
        b \\leftarrow \\mu b + \\Delta, \\; p \\leftarrow p - b.

    PyTorch's ``RMSprop`` divides by ``sqrt(v) + eps`` (eps outside the root,
    default ``1e-8``), defaults to ``lr=0.01`` and ``alpha`` (our ``rho``)
    ``0.99``, keeps its momentum buffer without the learning rate
    (``b = mu b + g / (sqrt(v) + eps)``, ``p -= lr b``), and adds
    ``weight_decay`` to the gradient as an L2 term.
    """
    param = _check_param(param)
    grad_in = grad
    grad = check_float_array("grad", grad, shape=param.shape, dtype=param.dtype)
    velocity = _check_state("velocity", velocity, param)
    learning_rate = check_finite_scalar("learning_rate", learning_rate, low=0.0)
    rho = _check_fraction("rho", rho)
    momentum = _check_fraction("momentum", momentum)
    epsilon = check_finite_scalar("epsilon", epsilon, low=0.0, low_open=True)
    weight_decay = check_finite_scalar("weight_decay", weight_decay, low=0.0)
    if momentum == 0:
        buffer = BACKEND.memory.empty((0,), param.dtype)  # not read by the kernel
        _check_separate(grad_in, param=param, velocity=velocity)
    elif momentum_buffer is None:
        raise ValueError(f"momentum_buffer is required when momentum > 0 (momentum={momentum})")
    else:
        buffer = _check_state("momentum_buffer", momentum_buffer, param)
        _check_separate(grad_in, param=param, velocity=velocity, momentum_buffer=buffer)
    BACKEND.optimizers.rmsprop_update(
        param.reshape(-1),
        grad.reshape(-1),
        velocity.reshape(-1),
        buffer.reshape(-1),
        learning_rate,
        rho,
        momentum,
        epsilon,
        weight_decay,
    )
