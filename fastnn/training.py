"""The loops behind ``Network.fit``, ``train_on_batch``, ``evaluate`` and ``predict``.

Each function takes the network and does one public method's work: check
the inputs (``check_inputs``; targets through ``fastnn.objectives``), fetch
the plan for the batch size (``fastnn.plan``), copy the batch in and run the
plan's bound calls.  What the inputs may be (array-likes of any real dtype,
converted to the network's dtype) is ``fastnn.inputs``'s business.  One
training step, top to bottom, is ``train_step``::

    memory.copy(state -> backup)          BatchNormalization statistics, for the guard
    plan.run(plan.forward)                one kernel per fused op
    plan.run(plan.loss)                   the loss and the gradient of the logits
    memory.read_scalar(plan.loss_value)   the one device-to-host crossing
    plan.run(plan.backward)               one kernel per fused op, in reverse
    optimizer.apply(params, grads)        one update kernel for every parameter

``fit`` calls its callbacks (``fastnn.callbacks``) around epochs and, when
one asks for them, around steps.

Each public entry point runs with the BLAS thread count ``fastnn.blas``
pins, when one is pinned (the reproducibility guarantees are there).

Every array operation goes through the backend's ``memory`` and ``metrics``
modules, so the same loop runs on every device.  NumPy appears only on the
user's host arrays, to check them and to draw the shuffling order.

The non-finite guard: when the loss of a step is NaN or Inf, the step stops
before the backward pass, the BatchNormalization running statistics are
restored from the backup, and the caller raises ``FloatingPointError``
naming where; the network is exactly as it was before that step.  With a
finite loss, ``fastnn.guards`` still checks what the step writes (the
running statistics after the forward pass, the parameters after the update)
and undoes the step, raising ``FloatingPointError``, when either is not
finite; its docstring gives the cost per step.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from fastnn import device_arrays, guards
from fastnn.blas import pinned
from fastnn.hooks import CallbackList, History
from fastnn.inputs import check_inputs, check_validation_split, validation_split_index
from fastnn.layers import BatchNormalization
from fastnn.objectives import check_targets
from fastnn.plan import Plan, run
from fastnn.progress import Progress, StepProgress, format_logs
from fastnn.staging import TrainingData

__all__ = [
    "check_inputs",
    "check_batch_size",
    "train_step",
    "fit",
    "train_on_batch",
    "evaluate",
    "predict",
    "forward",
    "backward",
    "step",
]


# ------------------------------------------------------------------------ checks


def _blas_pinned(function):
    """Run a public entry point with ``fastnn.blas``'s pinned BLAS thread count, if any."""

    @functools.wraps(function)
    def call(*args, **kwargs):
        with pinned():
            return function(*args, **kwargs)

    return call


def require_compiled(network) -> None:
    """Raise unless ``network.compile`` has chosen an optimizer and a loss."""
    if network.optimizer is None:
        raise ValueError("the network is not compiled: call compile(optimizer=..., loss=...) first")


def _check_finite(network, x, name: str) -> None:
    """Raise naming ``name`` when the checked inputs ``x`` (host or device) hold NaN or Inf."""
    if device_arrays.is_device_array(x):
        device_arrays.check_device_finite(network, x, name)
    else:
        guards.check_finite_host(x, name)


def _check_targets(network, y, n: int, name: str = "y") -> np.ndarray:
    if device_arrays.is_device_array(y):  # GPU targets: the same checks, no copy
        return device_arrays.check_device_targets(network, y, n, name)
    return check_targets(y, n, network.loss, network.output_dim, network.dtype, name)


def check_batch_size(batch_size) -> int:
    """``batch_size`` as an int >= 1, or raise."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be an int, got {type(batch_size).__name__}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return int(batch_size)


def check_verbose(verbose) -> int:
    """``verbose`` as 0, 1 or 2 (Keras's ``"auto"`` is 1), or raise."""
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


def _check_training_batch(network, n: int, what: str) -> None:
    if n == 1 and any(isinstance(layer, BatchNormalization) for layer in network.layers):
        raise ValueError(
            f"x has 1 row for {what}: BatchNormalization cannot train on one row "
            "(its batch variance is 0); fit trains on such a last batch as Keras does"
        )


def _non_finite_loss(loss: float, where: str) -> FloatingPointError:
    return FloatingPointError(
        f"the loss is {loss} at {where}; training stopped before that step's update, "
        "so the weights and BatchNormalization statistics are those from before it "
        "(lower the learning rate or check the data for NaN/Inf)"
    )


# -------------------------------------------------------------------------- steps


def train_step(network, plan: Plan) -> float:
    """Forward, loss, backward and update on ``plan``'s loaded batch; returns the loss.

    With a non-finite loss it stops before the backward pass and the update
    and restores the BatchNormalization running statistics, so the network
    is exactly as it was before the step; the caller raises.
    """
    memory = network._backend.memory
    memory.copy(network._state, network._state_backup)
    run(plan.forward)
    run(plan.loss)
    loss = memory.read_scalar(plan.loss_value, 0)
    if not math.isfinite(loss):
        memory.copy(network._state_backup, network._state)
        return loss
    if not guards.statistics_finite_or_restore(network):
        raise guards.undone("a BatchNormalization running statistic would become NaN or Inf")
    run(plan.backward)
    if not guards.guarded_update(network):
        memory.copy(network._state_backup, network._state)
        raise guards.undone("the update would write NaN or Inf into the parameters")
    return loss


def _count_correct(memory, plan: Plan) -> float:
    """Correct predictions in the plan's batch, from its logits, by the accuracy kernel."""
    run(plan.accuracy)
    return memory.read_scalar(plan.correct_count, 0)


def _run_forward(network, x: np.ndarray, training: bool) -> Plan:
    """Copy the host batch ``x`` into its plan; run the forward calls and the output activation."""
    plan = network._plans.get(x.shape[0], training)
    network._backend.memory.copy(x, plan.x)
    run(plan.forward)
    run(plan.output_calls)
    return plan


# ----------------------------------------------------------------------- training


@_blas_pinned
def fit(
    network,
    x,
    y,
    epochs: int = 1,
    batch_size: int = 32,
    validation_data=None,
    validation_split: float = 0.0,
    shuffle: bool = True,
    verbose: int = 1,
    callbacks=None,
) -> History:
    """``Network.fit``: the arguments are checked, then the epochs run (see there)."""
    require_compiled(network)
    x = check_inputs(network, x)
    y = _check_targets(network, y, x.shape[0])
    batch_size = check_batch_size(batch_size)
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
    verbose = check_verbose(verbose)
    if check_validation_split(validation_split) > 0.0:
        if validation_data is not None:
            raise ValueError("give validation_data or validation_split, not both")
        split_at = validation_split_index(x.shape[0], validation_split)
        validation_data = (x[split_at:], y[split_at:])
        x, y = x[:split_at], y[:split_at]
    elif validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data must be a tuple (x_val, y_val)")
        x_val = check_inputs(network, validation_data[0], "validation_data[0]")
        _check_finite(network, x_val, "validation_data[0]")
        y_val = _check_targets(network, validation_data[1], x_val.shape[0], "validation_data[1]")
        validation_data = (x_val, y_val)
    _check_finite(network, x, "x")
    shuffle = guards.check_bool("shuffle", shuffle)
    n = x.shape[0]
    steps = -(-n // batch_size)
    params = {"epochs": epochs, "steps": steps, "batch_size": batch_size, "verbose": verbose}
    history = History()
    callbacks = CallbackList(callbacks, network, params)
    callbacks.append(history)
    _run_epochs(network, x, y, epochs, batch_size, validation_data, shuffle, verbose, callbacks)
    return history


def _run_epochs(
    network, x, y, epochs, batch_size, validation_data, shuffle, verbose, callbacks
) -> None:
    """The epoch loop of ``fit`` on checked host arrays.

    A last batch of one row trains like any other, as in Keras: a
    BatchNormalization layer normalizes it to ``beta`` (its batch variance
    is 0), passes no gradient to the layers below it, and moves its moving
    variance towards 0 by ``1 - momentum``.
    """
    n = x.shape[0]
    steps = -(-n // batch_size)
    last = network._plans.get(n - (steps - 1) * batch_size, True)
    plans = [network._plans.get(min(batch_size, n), True)] * (steps - 1) + [last]
    # The data go to the device once (or in chunks); each step gathers its rows there.
    data = TrainingData(network._backend, x, y, batch_size)
    network.stop_training = False
    callbacks.on_train_begin()
    logs = {}
    for epoch_index in range(epochs):
        epoch = network._epochs_seen
        callbacks.on_epoch_begin(epoch)
        if shuffle:
            order = np.random.default_rng([network.seed, epoch]).permutation(n)
        else:
            order = np.arange(n, dtype=np.int64)
        data.begin_epoch(order)
        progress = Progress(epoch_index + 1, epochs, steps, n, verbose)
        where = f"epoch {epoch_index + 1}/{epochs}"
        logs = _train_epoch(network, plans, data, progress, callbacks, where)
        network._epochs_seen += 1
        if validation_data is not None:
            values = _evaluate(network, *validation_data, batch_size)
            for name, value in zip(["loss", *network.metrics], values, strict=True):
                logs["val_" + name] = value
        callbacks.on_epoch_end(epoch, logs)
        progress.end(logs)
        if network.stop_training:
            break
    network._has_gradients = False
    callbacks.on_train_end(logs)


def _train_epoch(network, plans, data, progress, callbacks, where: str) -> dict:
    """One pass over ``data`` (``fastnn.staging.TrainingData``) in its epoch's row order.

    Step ``i`` trains on ``plans[i]``, whose rows ``data.load`` gathers on
    the device; returns the epoch's logs.  It stops early when a callback
    sets ``network.stop_training``; the logs are then the means over the rows
    seen.
    """
    memory, metrics = network._backend.memory, network.metrics
    seen, total_loss, total_correct = 0, 0.0, 0.0
    for step_index, plan in enumerate(plans):
        if callbacks.batch_hooks:
            callbacks.on_train_batch_begin(step_index)
        data.load(seen, plan)
        loss = train_step(network, plan)
        if not math.isfinite(loss):
            raise _non_finite_loss(loss, f"{where}, step {step_index + 1}/{len(plans)}")
        seen += plan.n
        total_loss += loss * plan.n
        if metrics:
            total_correct += _count_correct(memory, plan)
        progress.update(step_index + 1, seen, total_loss, total_correct, metrics)
        if callbacks.batch_hooks:
            callbacks.on_train_batch_end(
                step_index, _means(metrics, total_loss, total_correct, seen)
            )
        if network.stop_training:
            break
    return _means(metrics, total_loss, total_correct, seen)


def _means(metrics, total_loss: float, total_correct: float, seen: int) -> dict:
    """The logs of ``seen`` samples: the mean loss and each metric's mean."""
    logs = {"loss": total_loss / seen}
    for metric in metrics:
        logs[metric] = total_correct / seen
    return logs


@_blas_pinned
def train_on_batch(network, x, y):
    """``Network.train_on_batch``: one checked training step on one batch (see there)."""
    require_compiled(network)
    x = check_inputs(network, x)
    y = _check_targets(network, y, x.shape[0])
    _check_training_batch(network, x.shape[0], "train_on_batch")
    memory = network._backend.memory
    plan = network._plans.get(x.shape[0], True)
    # The calls read the user's batch in place when the backend can (the CPU, for a
    # C-contiguous array of the network's dtype), else a copy in plan.x; afterwards
    # they read plan.x again, so the plan keeps no reference to the user's array.
    plan.bind_input(memory.stage_input(x, plan.x))
    memory.copy(y, plan.labels)
    try:
        loss = train_step(network, plan)
    finally:
        plan.bind_input(plan.x)
    if not math.isfinite(loss):
        where = f"train_on_batch (optimizer step {network.optimizer.iterations + 1})"
        raise _non_finite_loss(loss, where)
    network._has_gradients = False
    if not network.metrics:
        return loss
    return [loss] + [_count_correct(memory, plan) / plan.n for _ in network.metrics]


# ---------------------------------------------------------------------- inference


@_blas_pinned
def evaluate(network, x, y, batch_size: int = 32, verbose: int = 0):
    """``Network.evaluate``: mean loss (and metrics) in inference mode (see there)."""
    require_compiled(network)
    x = check_inputs(network, x)
    y = _check_targets(network, y, x.shape[0])
    values = _evaluate(network, x, y, check_batch_size(batch_size))
    if check_verbose(verbose):
        print(format_logs(dict(zip(["loss"] + network.metrics, values, strict=True))))
    return values[0] if not network.metrics else values


def _evaluate(network, x: np.ndarray, y: np.ndarray, batch_size: int) -> list:
    memory = network._backend.memory
    n = x.shape[0]
    total_loss = 0.0
    total_correct = 0.0
    for lo in range(0, n, batch_size):
        hi = min(n, lo + batch_size)
        plan = _run_forward(network, x[lo:hi], training=False)
        memory.copy(y[lo:hi], plan.labels)
        run(plan.loss)
        total_loss += memory.read_scalar(plan.loss_value, 0) * (hi - lo)
        if network.metrics:
            total_correct += _count_correct(memory, plan)
    return [total_loss / n] + [total_correct / n for _ in network.metrics]


@_blas_pinned
def predict(network, x, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
    """``Network.predict``: outputs in inference mode, batch by batch, as a host array."""
    x = check_inputs(network, x)
    batch_size = check_batch_size(batch_size)
    verbose = check_verbose(verbose)
    memory = network._backend.memory
    n = x.shape[0]
    steps = -(-n // batch_size)
    progress = StepProgress("predict", steps, n, verbose)
    parts = []
    for step_index, lo in enumerate(range(0, n, batch_size)):
        plan = _run_forward(network, x[lo : min(n, lo + batch_size)], training=False)
        parts.append(memory.to_host(plan.output))
        progress.update(step_index + 1, min(n, lo + batch_size))
    progress.end()
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


# ----------------------------------------------------- forward / backward / step


@_blas_pinned
def forward(network, x, training: bool = False) -> np.ndarray:
    """``Network.forward``: one pass; in training mode it prepares ``backward``."""
    x = check_inputs(network, x)
    training = guards.check_bool("training", training)
    if training:
        _check_training_batch(network, x.shape[0], "forward(training=True)")
        _check_finite(network, x, "x")
        network._backend.memory.copy(network._state, network._state_backup)
    plan = _run_forward(network, x, training)
    if training and not guards.statistics_finite_or_restore(network):
        raise ValueError("x gives BatchNormalization running statistics beyond the dtype's range")
    network._last_forward = plan if training else None
    network._has_gradients = False
    return network._backend.memory.to_host(plan.output)


@_blas_pinned
def backward(network, y) -> float:
    """``Network.backward``: loss of the last training forward, and all gradients."""
    require_compiled(network)
    plan = network._last_forward
    if plan is None:
        raise ValueError("backward needs a preceding forward(x, training=True)")
    memory = network._backend.memory
    memory.copy(_check_targets(network, y, plan.n), plan.labels)
    run(plan.loss)
    loss = memory.read_scalar(plan.loss_value, 0)
    if not math.isfinite(loss):
        raise FloatingPointError(f"the loss is {loss}; no gradient was computed")
    run(plan.backward)
    network._has_gradients = True
    return loss


def step(network) -> None:
    """``Network.step``: apply the optimizer once to the last ``backward``'s gradients."""
    require_compiled(network)
    if not network._has_gradients:
        raise ValueError("step needs gradients: call forward(x, training=True) and backward(y)")
    if not guards.guarded_update(network):
        raise guards.undone("the update would write NaN or Inf into the parameters")
    network._has_gradients = False
