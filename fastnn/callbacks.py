"""Callbacks for ``Network.fit(callbacks=[...])``, with Keras's hook names and behaviour.

``fit`` calls, on every callback in the list and then on its ``History``:
``on_train_begin(logs)``, per epoch ``on_epoch_begin(epoch, logs)``, per step
``on_train_batch_begin(batch, logs)`` and ``on_train_batch_end(batch,
logs)``, ``on_epoch_end(epoch, logs)``, and ``on_train_end(logs)``.  A
callback reaches the network as ``self.model`` and the fit's settings as
``self.params`` (``epochs``, ``steps``, ``batch_size``, ``verbose``); setting
``self.model.stop_training = True`` ends the fit after the current step.

The epoch logs hold ``loss``, the metrics, and ``val_loss``/``val_<metric>``
with validation data; the batch logs hold the running means of the epoch so
far.  Callbacks that change the learning rate add ``learning_rate`` to the
epoch logs, as Keras's do.  The batch hooks are called only when some
callback overrides them, so a fit without such a callback pays nothing.

Epoch numbers are the network's epoch count, the same numbers as
``History.epoch``: they start at 0 for a new network and continue over later
``fit`` calls (as Keras's do when ``initial_epoch`` is passed).
``EarlyStopping.start_from_epoch`` counts from the first epoch of each fit.
Test-time and predict-time hooks (``on_test_*``, ``on_predict_*``) are not
called.
"""

from __future__ import annotations

import inspect
import math
import os
import warnings

from fastnn._validation import check_finite_scalar
from fastnn.hooks import Callback, CallbackList, History
from fastnn.progress import Progress, format_logs  # noqa: F401 (importable from here, as before)

__all__ = [
    "Callback",
    "CallbackList",
    "History",
    "EarlyStopping",
    "ModelCheckpoint",
    "LearningRateScheduler",
    "ReduceLROnPlateau",
]

_POSITIONAL_ONLY = inspect.Parameter.POSITIONAL_ONLY
_POSITIONAL_OR_KEYWORD = inspect.Parameter.POSITIONAL_OR_KEYWORD


# ------------------------------------------------------------------ monitoring


def _maximizes(mode: str, monitor: str, name: str):
    """Whether a monitored quantity is to be maximized, from ``mode`` and its name.

    ``"auto"`` maximizes a quantity whose name contains ``"acc"`` (accuracy)
    and minimizes anything else (the losses), as Keras decides for the
    quantities fastnn logs.
    """
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{name} mode must be 'auto', 'min' or 'max', got {mode!r}")
    if not isinstance(monitor, str):
        raise TypeError(f"{name} monitor must be a log name such as 'val_loss', got {monitor!r}")
    return mode == "max" or (mode == "auto" and "acc" in monitor)


def _monitored(logs, monitor: str, who: str):
    """``logs[monitor]``, or ``None`` with a warning naming the keys there are (as Keras)."""
    value = (logs or {}).get(monitor)
    if value is None:
        warnings.warn(
            f"{who} monitors {monitor!r}, which is not in the logs; "
            f"available: {', '.join(logs or {})}",
            RuntimeWarning,
            stacklevel=3,
        )
    return value


def _non_negative_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return value


class EarlyStopping(Callback):
    """Stop training when a monitored quantity has stopped improving (Keras ``EarlyStopping``).

    Parameters
    ----------
    monitor : str
        The log to watch, default ``"val_loss"``.
    min_delta : float
        A change smaller than this (in absolute value) is no improvement.
    patience : int
        Epochs without improvement after which training stops.
    verbose : int
        1 prints a line when it stops and when it restores weights.
    mode : {"auto", "min", "max"}
        ``"auto"``: maximize names containing ``"acc"``, minimize the rest.
    baseline : float, optional
        Training stops after ``patience`` epochs unless the quantity beats it.
    restore_best_weights : bool
        At the end of training, set the weights (BatchNormalization
        statistics included) of the best epoch; the optimizer state is kept.
    start_from_epoch : int
        Epochs of each fit to run before monitoring starts.

    Notes
    -----
    Keras's rule, epoch by epoch: ``wait`` counts epochs since the best; an
    improvement (``value - min_delta`` better than the best) resets it only
    if it also beats ``baseline``; training stops when ``wait >= patience``,
    never on a fit's first epoch.  Unlike Keras, each fit starts from a fresh
    best, so an instance can be reused.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ):
        super().__init__()
        self.maximize = _maximizes(mode, monitor, "EarlyStopping")
        self.monitor, self.mode, self.verbose = monitor, mode, verbose
        self.min_delta = abs(check_finite_scalar("min_delta", min_delta))
        self.patience = _non_negative_int("patience", patience)
        self.start_from_epoch = _non_negative_int("start_from_epoch", start_from_epoch)
        self.baseline = None if baseline is None else check_finite_scalar("baseline", baseline)
        if not isinstance(restore_best_weights, bool):
            raise TypeError("restore_best_weights must be a bool")
        self.restore_best_weights = restore_best_weights
        self.on_train_begin()

    def _better(self, value: float, reference: float) -> bool:
        if self.maximize:
            return value - self.min_delta > reference
        return value + self.min_delta < reference

    def on_train_begin(self, logs=None) -> None:
        self.wait = 0
        self.stopped_epoch = None
        self.best = -math.inf if self.maximize else math.inf
        self.best_weights = None
        self.best_epoch = None
        self._first_epoch = None

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if self._first_epoch is None:
            self._first_epoch = epoch
        current = _monitored(logs, self.monitor, "EarlyStopping")
        if current is None or epoch - self._first_epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._better(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._better(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > self._first_epoch:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None) -> None:
        if self.stopped_epoch is not None and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring the weights from the end of epoch {self.best_epoch + 1}")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the network after epochs, atomically, as Keras's ``ModelCheckpoint``.

    Parameters
    ----------
    filepath : str or os.PathLike
        Ends with ``.npz`` (the one format ``Network.save`` writes); may hold
        ``{epoch}`` (1-based, as Keras) and log names, e.g.
        ``"ckpt-{epoch:02d}-{val_loss:.3f}.npz"``.
    monitor : str
        The log ``save_best_only`` compares, default ``"val_loss"``.
    verbose : int
        1 prints a line per save.
    save_best_only : bool
        Save only when the monitored quantity beats the best so far.
    save_weights_only : bool
        Only ``False``: a fastnn file always holds the whole network.
    mode : {"auto", "min", "max"}
        As ``EarlyStopping``.
    save_freq : "epoch"
        Saves happen at epoch ends only.
    initial_value_threshold : float, optional
        With ``save_best_only``, the value the first save must beat.

    Notes
    -----
    Each save goes through ``Network.save``: written under a temporary name
    and moved over the target, so an interrupted save never leaves a
    partial checkpoint.
    """

    def __init__(
        self,
        filepath,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq="epoch",
        initial_value_threshold: float | None = None,
    ):
        super().__init__()
        self.filepath = os.fspath(filepath)
        if not self.filepath.lower().endswith(".npz"):
            raise ValueError(
                f"filepath must end with .npz (fastnn saves networks as .npz), got {filepath!r}"
            )
        if save_weights_only:
            raise ValueError(
                "save_weights_only=True is not supported: a fastnn file holds the whole "
                "network (load it with Network.load and read get_weights())"
            )
        if save_freq != "epoch":
            raise ValueError(f"save_freq must be 'epoch', got {save_freq!r}")
        self.maximize = _maximizes(mode, monitor, "ModelCheckpoint")
        self.monitor, self.mode, self.verbose = monitor, mode, verbose
        self.save_best_only = bool(save_best_only)
        if initial_value_threshold is None:
            self.best = -math.inf if self.maximize else math.inf
        else:
            self.best = check_finite_scalar("initial_value_threshold", initial_value_threshold)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError) as err:
            raise ValueError(
                f"ModelCheckpoint filepath {self.filepath!r} names {err}, which is not among "
                f"epoch and the logs ({', '.join(logs)})"
            ) from err
        if self.save_best_only:
            current = _monitored(logs, self.monitor, "ModelCheckpoint")
            if current is None:
                return
            better = current > self.best if self.maximize else current < self.best
            if not better:
                return
            if self.verbose > 0:
                print(f"Epoch {epoch + 1}: {self.monitor} improved to {current:.5f}; saving {path}")
            self.best = current
        elif self.verbose > 0:
            print(f"Epoch {epoch + 1}: saving {path}")
        self.model.save(path)


def _current_learning_rate(model) -> float:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise ValueError("the network has no optimizer: compile it first")
    return float(optimizer.learning_rate)


class LearningRateScheduler(Callback):
    """Set the learning rate before each epoch from ``schedule(epoch, lr)`` (Keras's callback).

    Parameters
    ----------
    schedule : callable
        ``schedule(epoch, lr) -> float``, or ``schedule(epoch) -> float``;
        ``epoch`` as in ``History.epoch``, ``lr`` the current rate.
    verbose : int
        1 prints the rate it sets.

    Notes
    -----
    The optimizer must have been given a float learning rate, not a
    schedule (``fastnn.schedules``), which cannot be set.  The epoch logs
    gain ``"learning_rate"``.
    """

    def __init__(self, schedule, verbose: int = 0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"schedule must be callable, got {type(schedule).__name__}")
        self.schedule, self.verbose = schedule, verbose
        try:
            kinds = [p.kind for p in inspect.signature(schedule).parameters.values()]
            positional = sum(k in (_POSITIONAL_ONLY, _POSITIONAL_OR_KEYWORD) for k in kinds)
            self._takes_lr = positional >= 2 or inspect.Parameter.VAR_POSITIONAL in kinds
        except (TypeError, ValueError):  # a builtin without a signature: Keras's two arguments
            self._takes_lr = True

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        lr = _current_learning_rate(self.model)
        value = self.schedule(epoch, lr) if self._takes_lr else self.schedule(epoch)
        value = check_finite_scalar("the learning rate the schedule returned", value, low=0.0)
        self.model.optimizer.learning_rate = value
        if self.verbose > 0:
            print(f"Epoch {epoch + 1}: LearningRateScheduler sets the learning rate to {value}")

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if logs is not None:
            logs["learning_rate"] = _current_learning_rate(self.model)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when a quantity stops improving (Keras's callback).

    Parameters
    ----------
    monitor : str
        Default ``"val_loss"``.
    factor : float
        In ``(0, 1)``: ``new_lr = max(lr * factor, min_lr)``.
    patience : int
        Epochs without improvement before a reduction.
    verbose : int
        1 prints each reduction.
    mode : {"auto", "min", "max"}
        As ``EarlyStopping``.
    min_delta : float
        An improvement must beat the best by more than this.
    cooldown : int
        Epochs after a reduction during which no epoch counts as waiting.
    min_lr : float
        The rate is never reduced below this, nor when it is at most this.

    Notes
    -----
    Keras's rule per epoch: during a cooldown, count it down and reset the
    wait; an improvement resets the wait; otherwise, out of cooldown, the
    wait grows and at ``patience`` the rate is reduced and a cooldown starts.
    The epoch logs gain ``"learning_rate"`` (the rate of that epoch).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ):
        super().__init__()
        self.factor = check_finite_scalar("factor", factor, low=0.0, low_open=True)
        if self.factor >= 1.0:
            raise ValueError(f"factor must be < 1 (it multiplies the learning rate), got {factor}")
        self.maximize = _maximizes(mode, monitor, "ReduceLROnPlateau")
        self.monitor, self.mode, self.verbose = monitor, mode, verbose
        self.patience = _non_negative_int("patience", patience)
        self.cooldown = _non_negative_int("cooldown", cooldown)
        self.min_delta = check_finite_scalar("min_delta", min_delta)
        self.min_lr = check_finite_scalar("min_lr", min_lr, low=0.0)
        self.on_train_begin()

    def on_train_begin(self, logs=None) -> None:
        self.best = -math.inf if self.maximize else math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def _better(self, value: float) -> bool:
        if self.maximize:
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        lr = _current_learning_rate(self.model)
        if logs is not None:
            logs["learning_rate"] = lr
        current = _monitored(logs, self.monitor, "ReduceLROnPlateau")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._better(current):
            self.best, self.wait = current, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience and lr > self.min_lr:
                new_lr = max(lr * self.factor, self.min_lr)
                self.model.optimizer.learning_rate = new_lr
                if self.verbose > 0:
                    print(
                        f"Epoch {epoch + 1}: ReduceLROnPlateau lowers the learning rate to {new_lr}"
                    )
                self.cooldown_counter, self.wait = self.cooldown, 0
