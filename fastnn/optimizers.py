"""Optimizers: hyperparameters and state, updating all parameters in one kernel call.

A ``Network`` keeps every trainable parameter in one flat array and every
gradient in another, so an optimizer's state is flat too and one step is one
call of the backend's update kernel (``sgd_update``, ``adam_update`` or
``rmsprop_update``).  Formulas and defaults are Keras 3's; ``weight_decay`` is
decoupled as in Keras: ``p -= learning_rate * weight_decay * p`` before the
update.

``learning_rate`` is a float or a schedule from ``fastnn.schedules``
(``ExponentialDecay``, ``CosineDecay``): a schedule is evaluated on the host
once per step, from ``iterations`` before the step, and reaches the kernel
as a scalar like a fixed rate.

An optimizer touches arrays only through the backend it was built for: its
state is allocated by the backend's ``memory`` module and updated by the
backend's ``optimizers`` kernels, so the same optimizer runs on every device.
"""

from __future__ import annotations

import math

from fastnn._validation import check_finite_scalar
from fastnn.schedules import LearningRateSchedule, get_schedule

__all__ = ["Optimizer", "SGD", "Adam", "RMSprop", "get"]


class Optimizer:
    """Base class: a learning rate, optional weight decay, a step counter and flat state.

    Subclasses name their state arrays in ``state_names`` and call their
    kernel in ``_update``.
    """

    #: Names of the flat state arrays, each the size of the parameter array.
    state_names: tuple = ()

    def __init__(self, learning_rate, weight_decay: float | None = None):
        if isinstance(learning_rate, dict):  # a saved schedule (get_config)
            learning_rate = get_schedule(learning_rate)
        if isinstance(learning_rate, LearningRateSchedule):
            self._schedule = learning_rate
            self._learning_rate = None
        else:
            self._schedule = None
            self._learning_rate = check_finite_scalar("learning_rate", learning_rate, low=0.0)
        self.weight_decay = (
            None
            if weight_decay is None
            else check_finite_scalar("weight_decay", weight_decay, low=0.0)
        )
        self.iterations = 0
        #: Flat state arrays by name, buffers of the backend given to ``build``.
        self.state: dict = {}
        #: Buffers the checked update writes the new state into; swapped with ``state``
        #: after a step that stands (``apply_checked``).
        self._spare: dict = {}
        self._kernels = None
        self._memory = None

    @property
    def learning_rate(self) -> float:
        """The rate of the next step: the fixed rate, or the schedule at ``iterations``.

        Setting it (as ``LearningRateScheduler`` and ``ReduceLROnPlateau``
        do) is refused when the optimizer was given a schedule, as in Keras.
        """
        if self._schedule is not None:
            return self._scheduled_rate()
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if self._schedule is not None:
            raise TypeError(
                f"this optimizer's learning rate is the schedule {self._schedule!r}; it cannot "
                "be set (give the optimizer a float learning_rate to change it during fit)"
            )
        self._learning_rate = check_finite_scalar("learning_rate", value, low=0.0)

    @property
    def schedule(self) -> LearningRateSchedule | None:
        """The learning-rate schedule, or ``None`` for a fixed rate."""
        return self._schedule

    def _scheduled_rate(self) -> float:
        value = self._schedule(self.iterations)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            value = float(value)  # a NumPy scalar from a user's schedule
        if not (math.isfinite(value) and value >= 0.0):
            raise ValueError(
                f"the learning-rate schedule {self._schedule!r} gave {value} at step "
                f"{self.iterations}; a learning rate must be finite and >= 0"
            )
        return value

    def build(self, size: int, dtype, backend) -> None:
        """Allocate zeroed state for ``size`` parameters on ``backend`` and reset the step counter.

        Parameters
        ----------
        size : int
            Number of parameters (the length of the network's flat array).
        dtype : numpy dtype
            The parameters' dtype.
        backend : fastnn.backend.Backend
            Where the state lives and whose update kernels ``apply`` calls.
        """
        self.state = {name: backend.memory.zeros((size,), dtype) for name in self.state_names}
        self._spare = {}
        self.iterations = 0
        self._kernels = backend.optimizers
        self._memory = backend.memory

    def apply(self, params, grads) -> None:
        """One update of the flat ``params`` from the flat ``grads``, in place (backend buffers)."""
        learning_rate = self.learning_rate  # the schedule at the step count before this step
        self.iterations += 1
        self._update(params, grads, learning_rate)

    def apply_checked(self, params, grads, saved) -> bool:
        """One update that stands only if every new parameter is finite; returns whether it stood.

        The backend's checked kernel updates ``params`` in place, copies the
        old parameters into ``saved`` (a buffer like ``params``) and writes
        the new state into spare buffers, in one pass.  When the new
        parameters are finite the spare buffers become the state and the
        step counter advances; otherwise ``params`` is copied back from
        ``saved``, and the state and the counter are as before the call.
        """
        learning_rate = self.learning_rate
        spare = self._spare_state()
        if self._update_checked(params, grads, spare, saved, learning_rate, self.iterations + 1):
            self.iterations += 1
            for name in self._written_state():
                self.state[name], spare[name] = spare[name], self.state[name]
            return True
        self._memory.copy(saved, params)
        return False

    def _spare_state(self) -> dict:
        """The spare state buffers, allocated on the first checked update (like the state)."""
        spare = self._spare
        if set(spare) != set(self.state) or any(
            spare[k].shape != a.shape or spare[k].dtype != a.dtype for k, a in self.state.items()
        ):
            spare = {k: self._memory.zeros(a.shape, a.dtype) for k, a in self.state.items()}
            self._spare = spare
        return spare

    def _written_state(self) -> tuple:
        """Names of the state arrays an update writes (all unless a subclass says otherwise)."""
        return self.state_names

    def _update(self, params, grads, learning_rate: float) -> None:
        raise NotImplementedError

    def _update_checked(self, params, grads, spare: dict, saved, learning_rate, step) -> bool:
        raise NotImplementedError

    def _decay(self) -> float:
        return 0.0 if self.weight_decay is None else self.weight_decay

    def get_config(self) -> dict:
        """Hyperparameters, enough to rebuild the optimizer (JSON-serializable)."""
        if self._schedule is None:
            rate = self._learning_rate
        else:
            config = self._schedule.get_config()
            rate = {"class_name": type(self._schedule).__name__, "config": config}
        return {"learning_rate": rate, "weight_decay": self.weight_decay}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent, plain or with (Nesterov) momentum (Keras ``SGD``).

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule
        Step size, default 0.01; a schedule is evaluated once per step.
    momentum : float
        In ``[0, 1]``, default 0 (plain SGD).
    nesterov : bool
        Nesterov momentum, default False.
    weight_decay : float, optional
        Decoupled weight decay.

    Notes
    -----
    ``v = momentum * v - lr * g; p += v`` (Nesterov: ``p += momentum * v - lr * g``);
    with ``momentum = 0``, ``p -= lr * g``.
    """

    state_names = ("velocity",)

    def __init__(
        self,
        learning_rate: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float | None = None,
    ):
        super().__init__(learning_rate, weight_decay)
        self.momentum = check_finite_scalar("momentum", momentum, low=0.0, high=1.0)
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov must be a bool, got {type(nesterov).__name__}")
        self.nesterov = nesterov

    def _update(self, params, grads, learning_rate: float) -> None:
        self._kernels.sgd_update(
            params,
            grads,
            self.state["velocity"],
            learning_rate,
            self.momentum,
            self.nesterov,
            self._decay(),
        )

    def _update_checked(self, params, grads, spare, saved, learning_rate, step) -> bool:
        return self._kernels.sgd_update_checked(
            params, grads, self.state["velocity"], spare["velocity"], saved, learning_rate,
            self.momentum, self.nesterov, self._decay(),
        )  # fmt: skip

    def _written_state(self) -> tuple:
        return ("velocity",) if self.momentum != 0 else ()

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with Keras's defaults and bias correction.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule
        Default 0.001; a schedule is evaluated once per step.
    beta_1, beta_2 : float
        Decay rates of the moment estimates, in ``[0, 1)``; defaults 0.9 and 0.999.
    epsilon : float
        Added to ``sqrt(v)``, default 1e-7 (Keras).
    weight_decay : float, optional
        Decoupled weight decay (AdamW when set).

    Notes
    -----
    With ``t`` the 1-based step: ``m += (1 - beta_1)(g - m)``,
    ``v += (1 - beta_2)(g**2 - v)``,
    ``p -= lr sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + epsilon)``.

    References
    ----------
    D. P. Kingma and J. Ba, "Adam: A Method for Stochastic Optimization",
    ICLR 2015, arXiv:1412.6980.
    """

    state_names = ("m", "v")

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
    ):
        super().__init__(learning_rate, weight_decay)
        self.beta_1 = check_finite_scalar("beta_1", beta_1, low=0.0)
        self.beta_2 = check_finite_scalar("beta_2", beta_2, low=0.0)
        for name, value in (("beta_1", self.beta_1), ("beta_2", self.beta_2)):
            if value >= 1.0:
                raise ValueError(f"{name} must be < 1, got {value}")
        self.epsilon = check_finite_scalar("epsilon", epsilon, low=0.0, low_open=True)

    def _update(self, params, grads, learning_rate: float) -> None:
        self._kernels.adam_update(
            params,
            grads,
            self.state["m"],
            self.state["v"],
            self.iterations,
            learning_rate,
            self.beta_1,
            self.beta_2,
            self.epsilon,
            self._decay(),
        )

    def _update_checked(self, params, grads, spare, saved, learning_rate, step) -> bool:
        return self._kernels.adam_update_checked(
            params, grads, self.state["m"], self.state["v"], spare["m"], spare["v"], saved, step,
            learning_rate, self.beta_1, self.beta_2, self.epsilon, self._decay(),
        )  # fmt: skip

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


class RMSprop(Optimizer):
    """RMSprop (uncentered), optionally with momentum (Keras ``RMSprop``).

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule
        Default 0.001; a schedule is evaluated once per step.
    rho : float
        Decay of the moving average of ``g**2``, in ``[0, 1]``, default 0.9.
    momentum : float
        In ``[0, 1]``, default 0.
    epsilon : float
        Added to the average before the square root, default 1e-7.
    weight_decay : float, optional
        Decoupled weight decay.

    Notes
    -----
    ``v = rho v + (1 - rho) g**2``, ``delta = lr g / sqrt(v + epsilon)``;
    ``p -= delta``, or with momentum ``b = momentum b + delta; p -= b``.
    """

    state_names = ("velocity", "momentum_buffer")

    def __init__(
        self,
        learning_rate: float = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
    ):
        super().__init__(learning_rate, weight_decay)
        self.rho = check_finite_scalar("rho", rho, low=0.0, high=1.0)
        self.momentum = check_finite_scalar("momentum", momentum, low=0.0, high=1.0)
        self.epsilon = check_finite_scalar("epsilon", epsilon, low=0.0, low_open=True)

    def _update(self, params, grads, learning_rate: float) -> None:
        self._kernels.rmsprop_update(
            params,
            grads,
            self.state["velocity"],
            self.state["momentum_buffer"],
            learning_rate,
            self.rho,
            self.momentum,
            self.epsilon,
            self._decay(),
        )

    def _update_checked(self, params, grads, spare, saved, learning_rate, step) -> bool:
        state = self.state
        return self._kernels.rmsprop_update_checked(
            params, grads, state["velocity"], state["momentum_buffer"], spare["velocity"],
            spare["momentum_buffer"], saved, learning_rate, self.rho, self.momentum, self.epsilon,
            self._decay(),
        )  # fmt: skip

    def _written_state(self) -> tuple:
        return ("velocity", "momentum_buffer") if self.momentum != 0 else ("velocity",)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
        }


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def get(identifier) -> Optimizer:
    """An optimizer from an instance (returned as is) or a name with Keras defaults.

    Names (case-insensitive): ``"sgd"``, ``"adam"``, ``"rmsprop"``.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if not isinstance(identifier, str):
        raise TypeError(
            f"optimizer must be an Optimizer or one of {list(OPTIMIZERS)}, "
            f"got {type(identifier).__name__}"
        )
    key = identifier.lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {identifier!r}")
    return OPTIMIZERS[key]()
