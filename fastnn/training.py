"""The loops behind ``Network.fit``, ``train_on_batch``, ``evaluate`` and ``predict``.

Each function takes the network and does one public method's work: check
the inputs (``check_inputs``; targets through ``fastnn.objectives``), fetch
the plan for the batch size (``fastnn.plan``), copy the batch in and run the
plan's bound calls.  One training step, top to bottom, is ``train_step``::

    memory.copy(state -> backup)          BatchNormalization statistics, for the guard
    plan.run(plan.forward)                one kernel per fused op
    plan.run(plan.loss)                   the loss and the gradient of the logits
    memory.read_scalar(plan.loss_value)   the one device-to-host crossing
    plan.run(plan.backward)               one kernel per fused op, in reverse
    optimizer.apply(params, grads)        one update kernel for every parameter

Every array operation goes through the backend's ``memory`` and ``metrics``
modules, so the same loop runs on every device.  NumPy appears only on the
user's host arrays, to check them and to draw the shuffling order.

The non-finite guard: when the loss of a step is NaN or Inf, the step stops
before the backward pass, the BatchNormalization running statistics are
restored from the backup, and the caller raises ``FloatingPointError``
naming where; the network is exactly as it was before that step.
"""

from __future__ import annotations

import math

import numpy as np

from fastnn import device_arrays
from fastnn.callbacks import History, Progress, format_logs
from fastnn.layers import BatchNormalization
from fastnn.objectives import check_targets
from fastnn.plan import Plan, run
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


def require_compiled(network) -> None:
    """Raise unless ``network.compile`` has chosen an optimizer and a loss."""
    if network.optimizer is None:
        raise ValueError("the network is not compiled: call compile(optimizer=..., loss=...) first")


def check_inputs(network, x, name: str = "x") -> np.ndarray:
    """``x`` as a C-contiguous ``(n, input_dim)`` host array of the network's dtype, or raise.

    An unbuilt network is built here for ``x.shape[1]`` input features.
    """
    if device_arrays.is_device_array(x):  # GPU inputs: the same checks, no copy
        return device_arrays.check_device_inputs(network, x, name)
    dtype = network.dtype
    want = f"(n, {network.input_dim if network.built else 'n_features'})"
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"{name} must be a numpy.ndarray of shape {want} and dtype {dtype}, "
            f"got {type(x).__name__}"
        )
    if x.dtype != dtype:
        raise TypeError(
            f"{name} must have dtype {dtype} (the network's dtype), got {x.dtype}; "
            f"convert it with {name}.astype(np.{dtype})"
        )
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must have shape {want} with n >= 1, got {x.shape}")
    if not network.built:
        network.build(int(x.shape[1]))
        want = f"(n, {network.input_dim})"
    if x.shape[1] != network.input_dim:
        raise ValueError(f"{name} must have shape {want}, got {x.shape}")
    return np.ascontiguousarray(x)


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


def _check_training_batch(network, n: int, what: str) -> None:
    if n == 1 and any(isinstance(layer, BatchNormalization) for layer in network.layers):
        raise ValueError(
            f"{what} has a batch of 1 row: BatchNormalization cannot train on one row "
            "(its batch variance is 0)"
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
    run(plan.backward)
    network.optimizer.apply(network._params, network._grads)
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
) -> History:
    """``Network.fit``: the arguments are checked, then the epochs run (see there)."""
    require_compiled(network)
    x = check_inputs(network, x)
    y = _check_targets(network, y, x.shape[0])
    batch_size = check_batch_size(batch_size)
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    split = float(validation_split)
    if not 0.0 <= split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
    if split > 0.0:
        if validation_data is not None:
            raise ValueError("give validation_data or validation_split, not both")
        n_train = x.shape[0] - int(x.shape[0] * split)
        if n_train < 1 or n_train == x.shape[0]:
            raise ValueError(f"validation_split={split} leaves no training or no validation rows")
        validation_data = (x[n_train:], y[n_train:])
        x, y = x[:n_train], y[:n_train]
    elif validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data must be a tuple (x_val, y_val)")
        x_val = check_inputs(network, validation_data[0], "validation_data[0]")
        y_val = _check_targets(network, validation_data[1], x_val.shape[0], "validation_data[1]")
        validation_data = (x_val, y_val)
    if device_arrays.is_device_array(x):
        device_arrays.check_device_finite(network, x)
    elif not np.isfinite(x).all():
        row = int(np.argwhere(~np.isfinite(x))[0, 0])
        raise ValueError(f"x must be finite; row {row} holds NaN or Inf")
    n = x.shape[0]
    steps = -(-n // batch_size)
    last = n - (steps - 1) * batch_size
    _check_training_batch(
        network, last, f"the last step of each epoch (n={n}, batch_size={batch_size})"
    )
    return _run_epochs(network, x, y, epochs, batch_size, validation_data, shuffle, verbose)


def _run_epochs(network, x, y, epochs, batch_size, validation_data, shuffle, verbose) -> History:
    """The epoch loop of ``fit`` on checked host arrays."""
    memory = network._backend.memory
    n = x.shape[0]
    steps = -(-n // batch_size)
    full_plan = network._plans.get(min(batch_size, n), True)
    last_plan = network._plans.get(n - (steps - 1) * batch_size, True)
    # The data go to the device once (or in chunks); each step gathers its rows there.
    data = TrainingData(network._backend, x, y, batch_size)
    metrics = network.metrics
    history = History({"epochs": epochs, "steps": steps, "batch_size": batch_size})
    for epoch_index in range(epochs):
        epoch = network._epochs_seen
        if shuffle:
            order = np.random.default_rng([network.seed, epoch]).permutation(n)
        else:
            order = np.arange(n, dtype=np.int64)
        data.begin_epoch(order)
        progress = Progress(epoch_index + 1, epochs, steps, n, verbose)
        total_loss = 0.0
        total_correct = 0.0
        for step_index in range(steps):
            lo = step_index * batch_size
            plan = full_plan if step_index < steps - 1 else last_plan
            data.load(lo, plan)
            loss = train_step(network, plan)
            if not math.isfinite(loss):
                where = f"epoch {epoch_index + 1}/{epochs}, step {step_index + 1}/{steps}"
                raise _non_finite_loss(loss, where)
            total_loss += loss * plan.n
            if metrics:
                total_correct += _count_correct(memory, plan)
            progress.update(step_index + 1, lo + plan.n, total_loss, total_correct, metrics)
        network._epochs_seen += 1
        logs = {"loss": total_loss / n}
        for metric in metrics:
            logs[metric] = total_correct / n
        if validation_data is not None:
            values = _evaluate(network, *validation_data, batch_size)
            logs["val_loss"] = values[0]
            for metric, value in zip(metrics, values[1:], strict=True):
                logs["val_" + metric] = value
        history.append(epoch, logs)
        progress.end(logs)
    network._has_gradients = False
    return history


def train_on_batch(network, x, y):
    """``Network.train_on_batch``: one checked training step on one batch (see there)."""
    require_compiled(network)
    x = check_inputs(network, x)
    y = _check_targets(network, y, x.shape[0])
    _check_training_batch(network, x.shape[0], "train_on_batch")
    memory = network._backend.memory
    plan = network._plans.get(x.shape[0], True)
    memory.copy(x, plan.x)
    memory.copy(y, plan.labels)
    loss = train_step(network, plan)
    if not math.isfinite(loss):
        where = f"train_on_batch (optimizer step {network.optimizer.iterations + 1})"
        raise _non_finite_loss(loss, where)
    network._has_gradients = False
    if not network.metrics:
        return loss
    return [loss] + [_count_correct(memory, plan) / plan.n for _ in network.metrics]


# ---------------------------------------------------------------------- inference


def evaluate(network, x, y, batch_size: int = 32, verbose: int = 0):
    """``Network.evaluate``: mean loss (and metrics) in inference mode (see there)."""
    require_compiled(network)
    x = check_inputs(network, x)
    y = _check_targets(network, y, x.shape[0])
    values = _evaluate(network, x, y, check_batch_size(batch_size))
    if verbose:
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


def predict(network, x, batch_size: int = 32) -> np.ndarray:
    """``Network.predict``: outputs in inference mode, batch by batch, as a host array."""
    x = check_inputs(network, x)
    batch_size = check_batch_size(batch_size)
    memory = network._backend.memory
    n = x.shape[0]
    parts = []
    for lo in range(0, n, batch_size):
        plan = _run_forward(network, x[lo : min(n, lo + batch_size)], training=False)
        parts.append(memory.to_host(plan.output))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


# ----------------------------------------------------- forward / backward / step


def forward(network, x, training: bool = False) -> np.ndarray:
    """``Network.forward``: one pass; in training mode it prepares ``backward``."""
    x = check_inputs(network, x)
    if not isinstance(training, bool):
        raise TypeError(f"training must be a bool, got {type(training).__name__}")
    if training:
        _check_training_batch(network, x.shape[0], "forward(training=True)")
    plan = _run_forward(network, x, training)
    network._last_forward = plan if training else None
    network._has_gradients = False
    return network._backend.memory.to_host(plan.output)


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
    network.optimizer.apply(network._params, network._grads)
    network._has_gradients = False
