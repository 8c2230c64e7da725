"""Learning-rate schedules, accepted as ``learning_rate`` by the optimizers (Keras's formulas).

A schedule maps the optimizer's step count to a learning rate.  The
optimizer evaluates it on the host once per step, from its ``iterations``
before the step (0 for the first step, as Keras's optimizers call
``schedule(iterations)``), and passes the value to the update kernel as a
scalar: a few float operations in Python, no array and no allocation.
The value is computed in float64; Keras computes it in the dtype of
``initial_learning_rate`` (float32 for a Python float), so the two can
differ in the last bits of a float32.
"""

from __future__ import annotations

import math

from fastnn._validation import check_finite_scalar

__all__ = ["LearningRateSchedule", "ExponentialDecay", "CosineDecay", "SCHEDULES", "get_schedule"]


def _positive_steps(name: str, value) -> int | float:
    value_f = check_finite_scalar(name, value)
    if value_f <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


class LearningRateSchedule:
    """Base class: ``schedule(step) -> learning rate``; subclasses define ``__call__``.

    To save and load a network compiled with a schedule, a subclass also
    defines ``get_config`` (its constructor arguments) and is one of
    ``SCHEDULES``.
    """

    def __call__(self, step: int) -> float:
        raise NotImplementedError(f"{type(self).__name__} must define __call__(self, step)")

    def get_config(self) -> dict:
        """The constructor arguments (JSON-serializable)."""
        raise NotImplementedError(f"{type(self).__name__} must define get_config()")

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


class ExponentialDecay(LearningRateSchedule):
    r"""``initial_learning_rate * decay_rate ** (step / decay_steps)`` (Keras ``ExponentialDecay``).

    .. math::

        \eta(t) = \eta_0 \, r^{t / T} \quad\text{or, with staircase,}\quad
        \eta_0 \, r^{\lfloor t / T \rfloor}

    Parameters
    ----------
    initial_learning_rate : float
        :math:`\eta_0`, ``>= 0``.
    decay_steps : int or float
        :math:`T`, ``> 0``.
    decay_rate : float
        :math:`r`, ``>= 0``.
    staircase : bool
        Decay in whole steps of ``decay_steps``.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase: bool = False):
        self.initial_learning_rate = check_finite_scalar(
            "initial_learning_rate", initial_learning_rate, low=0.0
        )
        self.decay_steps = _positive_steps("decay_steps", decay_steps)
        self.decay_rate = check_finite_scalar("decay_rate", decay_rate, low=0.0)
        if not isinstance(staircase, bool):
            raise TypeError(f"staircase must be a bool, got {type(staircase).__name__}")
        self.staircase = staircase

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate**p

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
        }


class CosineDecay(LearningRateSchedule):
    r"""Cosine decay from ``initial_learning_rate`` to ``alpha`` times it (Keras ``CosineDecay``).

    .. math::

        \eta(t) = \eta_0 \Big((1 - \alpha)\,\tfrac12\big(1 + \cos(\pi \min(t, T) / T)\big)
        + \alpha\Big)

    With ``warmup_target`` the rate first rises linearly from
    ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps``,
    then decays from ``warmup_target`` as above with ``t - warmup_steps``.

    Parameters
    ----------
    initial_learning_rate : float
        :math:`\eta_0`, ``>= 0``.
    decay_steps : int or float
        :math:`T`, ``> 0``: steps to decay over; the rate stays at
        :math:`\alpha \eta_0` afterwards.
    alpha : float
        The final rate as a fraction of the decay's start.
    warmup_target : float, optional
        The rate at the end of the warm-up.
    warmup_steps : int
        Steps of the warm-up (used only with ``warmup_target``).

    References
    ----------
    I. Loshchilov and F. Hutter, "SGDR: Stochastic Gradient Descent with Warm
    Restarts", ICLR 2017, arXiv:1608.03983.
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        alpha=0.0,
        warmup_target=None,
        warmup_steps=0,
    ):
        self.initial_learning_rate = check_finite_scalar(
            "initial_learning_rate", initial_learning_rate, low=0.0
        )
        self.decay_steps = _positive_steps("decay_steps", decay_steps)
        self.alpha = check_finite_scalar("alpha", alpha, low=0.0)
        self.warmup_target = (
            None
            if warmup_target is None
            else check_finite_scalar("warmup_target", warmup_target, low=0.0)
        )
        self.warmup_steps = check_finite_scalar("warmup_steps", warmup_steps, low=0.0)

    def _decayed(self, step: float, start: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return start * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step: int) -> float:
        if self.warmup_target is None:
            return self._decayed(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return delta * (step / self.warmup_steps) + self.initial_learning_rate
        return self._decayed(step - self.warmup_steps, self.warmup_target)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


#: Schedules by class name, for saving and loading.
SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, CosineDecay)}


def get_schedule(config: dict) -> LearningRateSchedule:
    """A schedule from ``{"class_name": ..., "config": ...}`` (what the optimizers save)."""
    name = config.get("class_name") if isinstance(config, dict) else None
    if name not in SCHEDULES:
        raise ValueError(
            f"unknown learning-rate schedule {name!r}; expected one of {list(SCHEDULES)}"
        )
    return SCHEDULES[name](**config["config"])
