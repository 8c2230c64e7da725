"""``Network``: a Keras-style sequential model of Dense, BatchNormalization and Activation layers.

The network is thin.  It owns the parameters and the buffers; every step of
training and inference is a fixed list of kernel calls on a backend
(``fastnn.backend``).

Memory.  All trainable parameters are views into one flat array and their
gradients views into another, so an optimizer step is one kernel call.  The
BatchNormalization running statistics live in a third flat array.  The first
time a batch size is seen, a *plan* is made for it: every activation,
gradient, statistic and workspace buffer is allocated once and every kernel
call is bound to its arguments.  A training step then runs the plan's calls
in order and allocates nothing.

Fusion.  The layer list is turned into kernel calls so that no activation
needs a pass of its own when it can ride on a neighbour:

- ``Dense(act)`` then ``BatchNormalization``: the dense kernel computes
  ``x @ W + b`` and the BN kernel applies ``act`` before normalizing
  (``pre_code``);
- ``Dense(activation=None)``, ``BatchNormalization``, ``Activation(act)``: the
  BN kernel applies ``act`` after normalizing (``post_code``);
- an ``Activation`` right after a linear ``Dense`` joins the dense epilogue;
- a final softmax with ``"cross_entropy"`` (or sigmoid with
  ``"binary_crossentropy"``) is left to the loss kernel, which works on the
  logits stably; ``predict`` applies the activation to return probabilities.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import tempfile
import time
import zipfile
import zlib

import numpy as np

from fastnn import optimizers as optimizers_module
from fastnn.backend import get_backend
from fastnn.kernels.scalar import ACTIVATIONS, LINEAR, SIGMOID, SOFTMAX
from fastnn.layers import (
    NEGATIVE_SLOPE,
    BatchNormalization,
    Dense,
    Layer,
    from_config,
    initialize,
)

__all__ = ["Network", "History"]

#: Written into every saved file; ``Network.load`` refuses anything else.
FILE_FORMAT = "fastnn.Network"
FILE_VERSION = 1

#: Loss names (Keras aliases included) mapped to the loss each one is.
LOSSES = {
    "cross_entropy": "cross_entropy",
    "sparse_categorical_crossentropy": "cross_entropy",
    "binary_crossentropy": "binary_crossentropy",
    "mse": "mse",
    "mean_squared_error": "mse",
}

#: The output activation each loss kernel applies itself, to the logits.
LOSS_ACTIVATION = {"cross_entropy": SOFTMAX, "binary_crossentropy": SIGMOID}

METRICS = ("accuracy",)

#: Plans (per batch size and mode) kept at most; the oldest is dropped beyond.
MAX_PLANS = 16

_CODE_NAMES = {code: name for name, code in ACTIVATIONS.items()}


class History:
    """What ``fit`` returns: per-epoch logs, as Keras's ``History``.

    Attributes
    ----------
    history : dict[str, list[float]]
        ``"loss"`` and each metric, plus ``"val_loss"`` and ``"val_<metric>"``
        with validation data, one value per epoch.
    epoch : list[int]
        The epoch indices (0-based, counted over every ``fit`` of the network).
    params : dict
        ``epochs``, ``steps`` and ``batch_size`` of the ``fit`` call.
    """

    def __init__(self, params: dict):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params = params

    def append(self, epoch: int, logs: dict) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


class _DenseOp:
    """Kernel arguments of one Dense layer; ``code`` is the activation fused into it."""

    def __init__(self, weights: dict, code: int):
        self.W, self.b = weights["kernel"], weights["bias"]
        self.dW, self.db = weights["d_kernel"], weights["d_bias"]
        self.code = code

    def output_code(self) -> int:
        return self.code

    def strip_output(self) -> None:
        self.code = LINEAR


class _BatchNormOp:
    """Kernel arguments of one BatchNormalization layer with its fused activations."""

    def __init__(self, weights: dict, layer: BatchNormalization, pre: int):
        self.gamma, self.beta = weights["gamma"], weights["beta"]
        self.dgamma, self.dbeta = weights["d_gamma"], weights["d_beta"]
        self.running_mean = weights["moving_mean"]
        self.running_var = weights["moving_variance"]
        self.momentum, self.epsilon = layer.momentum, layer.epsilon
        self.pre, self.post = pre, LINEAR

    def output_code(self) -> int:
        return self.post

    def strip_output(self) -> None:
        self.post = LINEAR


class _ActivationOp:
    """An activation that could not be fused into a neighbouring kernel."""

    def __init__(self, code: int):
        self.code = code

    def output_code(self) -> int:
        return self.code


class _Plan:
    """Buffers and bound kernel calls for one batch size and mode (training or inference).

    ``forward``/``backward`` are lists of ``(kernel, args)``; ``loss_call`` and
    ``output_call`` (the output activation applied for ``predict``) are single
    calls or ``None``.
    """

    def __init__(self, n: int):
        self.n = n
        self.forward: list = []
        self.backward: list = []
        self.loss_call = None
        self.output_call = None


class Network:
    """A sequential network of ``Dense``, ``BatchNormalization`` and ``Activation`` layers.

    Parameters
    ----------
    layers : list of Layer, optional
        Layers to add, in order (``Network([...])``); more can follow with ``add``.
    seed : int
        Seed of every random choice: each weight tensor is drawn from its own
        Philox stream under this seed, and ``fit`` shuffles with a generator
        seeded by it and the epoch number.  Same seed, data and thread
        settings: the same trained weights, bit for bit.
    device : str
        ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when it can run, else CPU).
    dtype : numpy dtype
        ``float32`` (default) or ``float64``, for parameters and computation.

    Examples
    --------
    >>> model = Network(seed=0)
    >>> model.add(Dense(3, activation="relu", input_dim=2))
    >>> model.add(BatchNormalization())
    >>> model.add(Dense(1, activation="sigmoid"))
    >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    """

    def __init__(self, layers=None, seed: int = 0, device: str = "cpu", dtype=np.float32):
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise TypeError(f"seed must be a non-negative int, got {seed!r}")
        try:
            self.dtype = np.dtype(dtype)
        except TypeError as err:
            raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from err
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        self.seed = int(seed)
        self._backend = get_backend(device)
        self.device = self._backend.name  # "auto" resolved to the device it chose
        self.layers: list[Layer] = []
        self.input_dim: int | None = None
        self.built = False
        self.optimizer = None
        self.loss: str | None = None
        self.metrics: list[str] = []
        self._epochs_seen = 0
        self._output_code = LINEAR
        self._reset_plans()
        for layer in layers or []:
            self.add(layer)

    # ------------------------------------------------------------------ building

    def add(self, layer: Layer) -> None:
        """Append a layer (its name defaults to ``dense``, ``dense_1``, ...).

        Adding to a built network rebuilds it, keeping the existing weights and
        resetting the optimizer state.
        """
        if not isinstance(layer, Layer):
            raise TypeError(
                "layer must be a Dense, BatchNormalization or Activation, "
                f"got {type(layer).__name__}"
            )
        if any(layer is other for other in self.layers):
            raise ValueError("this layer object is already in the network; create a new one")
        names = {other.name for other in self.layers}
        if layer.name is None:
            count = sum(type(other) is type(layer) for other in self.layers)
            name = layer.base_name if count == 0 else f"{layer.base_name}_{count}"
            while name in names:
                count += 1
                name = f"{layer.base_name}_{count}"
            layer.name = name
        elif layer.name in names:
            raise ValueError(f"a layer named {layer.name!r} is already in the network")
        self.layers.append(layer)
        if self.built:
            kept = self.get_weights()
            self.built = False
            self._build(self.input_dim)
            for view, value in zip(self._weight_views, kept, strict=False):  # new ones last
                np.copyto(view, value)
        elif len(self.layers) == 1 and isinstance(layer, Dense) and layer.input_dim is not None:
            self._build(layer.input_dim)

    def build(self, input_dim: int) -> None:
        """Allocate and initialize the weights for ``input_dim`` input features.

        Called by ``add`` when the first layer gives ``input_dim``, otherwise
        by the first ``fit``/``predict``/``train_on_batch`` from the data.
        """
        if isinstance(input_dim, bool) or not isinstance(input_dim, (int, np.integer)):
            raise TypeError(f"input_dim must be an int, got {type(input_dim).__name__}")
        if input_dim < 1:
            raise ValueError(f"input_dim must be >= 1, got {input_dim}")
        if self.built:
            if input_dim != self.input_dim:
                raise ValueError(
                    f"the network is built for {self.input_dim} inputs, not {input_dim}"
                )
            return
        self._build(int(input_dim))

    def _build(self, input_dim: int) -> None:
        if not self.layers:
            raise ValueError("the network has no layers; add some first")
        first = self.layers[0]
        if getattr(first, "input_dim", None) not in (None, input_dim):
            raise ValueError(
                f"the first layer expects input_dim={first.input_dim}, got {input_dim} features"
            )
        backend, dtype = self._backend, self.dtype
        specs, width = [], input_dim
        for layer in self.layers:
            if getattr(layer, "input_dim", None) not in (None, width) and layer is not first:
                raise ValueError(
                    f"layer {layer.name!r} expects input_dim={layer.input_dim}, "
                    f"but the previous layer gives {width} features"
                )
            specs.append(layer.weight_specs(width))
            width = layer.output_dim(width)
        n_trainable = sum(
            math.prod(s.shape) for layer_specs in specs for s in layer_specs if s.trainable
        )
        n_state = sum(
            math.prod(s.shape) for layer_specs in specs for s in layer_specs if not s.trainable
        )
        self._params = backend.zeros((n_trainable,), dtype)
        self._grads = backend.zeros((n_trainable,), dtype)
        self._state = backend.zeros((n_state,), dtype)
        self._state_backup = backend.zeros((n_state,), dtype)
        self._weight_views, self._weight_names, self._layer_weights = [], [], []
        self._grad_views = []
        offsets = {True: 0, False: 0}
        stream = 0
        for layer, layer_specs in zip(self.layers, specs, strict=True):
            weights = {}
            for spec in layer_specs:
                flat = self._params if spec.trainable else self._state
                start = offsets[spec.trainable]
                stop = start + math.prod(spec.shape)
                offsets[spec.trainable] = stop
                view = flat[start:stop].reshape(spec.shape)
                initialize(spec.initializer, view, seed=self.seed, stream=stream)
                stream += 1
                weights[spec.name] = view
                if spec.trainable:
                    weights["d_" + spec.name] = self._grads[start:stop].reshape(spec.shape)
                    self._grad_views.append(weights["d_" + spec.name])
                setattr(layer, spec.name, view)
                self._weight_views.append(view)
                self._weight_names.append(f"{layer.name}/{spec.name}")
            self._add_constants(layer, weights)
            self._layer_weights.append(weights)
        self.input_dim = input_dim
        self.output_dim = width
        self.built = True
        self._reset_plans()
        if self.optimizer is not None:
            self.optimizer.build(n_trainable, dtype, backend)

    def _add_constants(self, layer: Layer, weights: dict) -> None:
        """Fixed arrays for disabled weights (no bias, no gamma, no beta) and scratch gradients.

        The kernels always take a bias, gamma and beta; a disabled one is a
        constant (zeros or ones) whose gradient goes to a scratch array.
        """
        backend, dtype = self._backend, self.dtype
        if isinstance(layer, Dense) and not layer.use_bias:
            weights["bias"] = backend.zeros((layer.units,), dtype)
            weights["d_bias"] = backend.zeros((layer.units,), dtype)
        if isinstance(layer, BatchNormalization):
            width = weights["moving_mean"].shape[0]
            for name, fill in (("gamma", 1.0), ("beta", 0.0)):
                if name not in weights:
                    weights[name] = backend.zeros((width,), dtype) + fill
                    weights["d_" + name] = backend.zeros((width,), dtype)

    def _require_built(self) -> None:
        if not self.built:
            raise ValueError(
                "the network is not built: give input_dim to the first layer, call "
                "build(input_dim), or call fit/predict on data first"
            )

    # ----------------------------------------------------------------- compiling

    def compile(self, optimizer="rmsprop", loss=None, metrics=None) -> None:
        """Choose the optimizer, the loss and the metrics, as Keras's ``compile``.

        Parameters
        ----------
        optimizer : str or Optimizer
            ``"sgd"``, ``"adam"``, ``"rmsprop"`` (Keras defaults) or an instance
            from ``fastnn.optimizers``.
        loss : str
            ``"cross_entropy"`` (alias ``"sparse_categorical_crossentropy"``;
            integer labels; the last layer's activation must be softmax or
            None, then the outputs are logits), ``"binary_crossentropy"``
            (targets in [0, 1]; last activation sigmoid or None) or ``"mse"``
            (alias ``"mean_squared_error"``).
        metrics : list of str, optional
            ``["accuracy"]`` (with a cross-entropy loss) or nothing.

        Raises
        ------
        TypeError, ValueError
            An unknown optimizer, loss or metric, or a loss that does not fit
            the last layer's activation.
        """
        if not isinstance(loss, str):
            raise TypeError(f"loss must be one of {list(LOSSES)}, got {loss!r}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {list(LOSSES)}, got {loss!r}")
        metrics = [] if metrics is None else metrics
        if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)):
            raise TypeError(f"metrics must be a list of names, got {metrics!r}")
        normalized = []
        for metric in metrics:
            name = "accuracy" if metric == "acc" else metric
            if name not in METRICS:
                raise ValueError(f"metrics must be among {list(METRICS)}, got {metric!r}")
            if LOSSES[loss] == "mse":
                raise ValueError(
                    "metric 'accuracy' needs loss 'cross_entropy' or 'binary_crossentropy'"
                )
            normalized.append(name)
        optimizer = optimizers_module.get(optimizer)
        if self.built:
            self._make_ops(LOSSES[loss])  # a loss that does not fit the network raises here
            optimizer.build(self._params.shape[0], self.dtype, self._backend)
        self.optimizer = optimizer
        self.loss = LOSSES[loss]
        self.metrics = normalized
        self._reset_plans()

    def _require_compiled(self) -> None:
        if self.optimizer is None:
            raise ValueError(
                "the network is not compiled: call compile(optimizer=..., loss=...) first"
            )

    def _reset_plans(self) -> None:
        """Forget the ops and plans; they are made again, from the current layers and loss."""
        self._ops = None
        self._plans = {}
        self._last_forward = None
        self._has_gradients = False

    def _make_ops(self, loss: str | None) -> tuple[list, int]:
        """The layers as fused kernel ops, and the output activation that ``loss`` absorbs.

        Returns ``(ops, output_code)``: with a cross-entropy loss the final
        softmax/sigmoid is removed from the ops (the loss kernel applies it to
        the logits) and returned as ``output_code`` for ``predict``.
        """
        ops = []
        for layer, weights in zip(self.layers, self._layer_weights, strict=True):
            last = ops[-1] if ops else None
            if isinstance(layer, Dense):
                ops.append(_DenseOp(weights, ACTIVATIONS[layer.activation]))
            elif isinstance(layer, BatchNormalization):
                pre = LINEAR
                if isinstance(last, _DenseOp) and last.code not in (LINEAR, SOFTMAX):
                    pre, last.code = last.code, LINEAR
                elif isinstance(last, _ActivationOp) and last.code != SOFTMAX:
                    pre = last.code
                    ops.pop()
                ops.append(_BatchNormOp(weights, layer, pre))
            else:
                code = ACTIVATIONS[layer.activation]
                if code == LINEAR:
                    continue
                if isinstance(last, _DenseOp) and last.code == LINEAR:
                    last.code = code
                elif isinstance(last, _BatchNormOp) and last.post == LINEAR and code != SOFTMAX:
                    last.post = code
                else:
                    ops.append(_ActivationOp(code))
        output_code = LINEAR
        absorbed = LOSS_ACTIVATION.get(loss)
        if absorbed is not None and ops:
            code = ops[-1].output_code()
            if code == absorbed:
                if isinstance(ops[-1], _ActivationOp):
                    ops.pop()
                else:
                    ops[-1].strip_output()
                output_code = absorbed
            elif code != LINEAR:
                raise ValueError(
                    f"loss {loss!r} needs the last layer's activation to be "
                    f"{_CODE_NAMES[absorbed]!r} or None (logits), got {_CODE_NAMES[code]!r}"
                )
        if loss == "cross_entropy" and self.output_dim < 2:
            raise ValueError(
                "loss 'cross_entropy' needs an output layer of at least 2 units (one per class); "
                "use 'binary_crossentropy' for one unit"
            )
        return ops, output_code

    # --------------------------------------------------------------------- plans

    def _plan(self, n: int, training: bool) -> _Plan:
        key = (n, training)
        plan = self._plans.get(key)
        if plan is None:
            if self._ops is None:
                self._ops, self._output_code = self._make_ops(self.loss)
            plan = self._make_plan(n, training)
            if len(self._plans) >= MAX_PLANS:
                self._plans.pop(next(iter(self._plans)))
            self._plans[key] = plan
        return plan

    def _make_plan(self, n: int, training: bool) -> _Plan:
        """Allocate every buffer for batch size ``n`` and bind every kernel call to them."""
        backend, dtype = self._backend, self.dtype
        dense, bn, act = backend.dense, backend.batchnorm, backend.activations
        plan = _Plan(n)
        plan.x = backend.empty((n, self.input_dim), dtype)
        saved = []
        h = plan.x
        for op in self._ops:
            if isinstance(op, _DenseOp):
                y = backend.empty((n, op.W.shape[1]), dtype)
                plan.forward.append(
                    (dense.dense_forward, (h, op.W, op.b, op.code, NEGATIVE_SLOPE, y))
                )
                saved.append((h, y))
            elif isinstance(op, _BatchNormOp):
                y = backend.empty(h.shape, dtype)
                if training:
                    a = h if op.pre == LINEAR else backend.empty(h.shape, dtype)
                    width = h.shape[1]
                    mean = backend.empty((width,), dtype)
                    invstd = backend.empty((width,), dtype)
                    work = backend.workspace(n, width)
                    call = (
                        bn.batch_norm_forward_train,
                        (h, op.gamma, op.beta, op.running_mean, op.running_var, op.momentum,
                         op.epsilon, op.pre, op.post, NEGATIVE_SLOPE, a, y, mean, invstd, work),
                    )  # fmt: skip
                    saved.append((h, a, y, mean, invstd, work))
                else:
                    call = (
                        bn.batch_norm_forward_infer,
                        (h, op.gamma, op.beta, op.running_mean, op.running_var, op.epsilon,
                         op.pre, op.post, NEGATIVE_SLOPE, y),
                    )  # fmt: skip
                    saved.append(None)
                plan.forward.append(call)
            else:
                y = backend.empty(h.shape, dtype)
                plan.forward.append((act.activation_forward, (h, op.code, NEGATIVE_SLOPE, y)))
                saved.append(y)
            h = y
        plan.logits = h
        plan.output = h
        if self._output_code != LINEAR:
            plan.output = backend.empty(h.shape, dtype)
            plan.output_call = (
                act.activation_forward,
                (h, self._output_code, NEGATIVE_SLOPE, plan.output),
            )
        if self.loss is not None:
            self._bind_loss(plan)
            if training:
                self._bind_backward(plan, saved)
        return plan

    def _bind_loss(self, plan: _Plan) -> None:
        backend, dtype, n, k = self._backend, self.dtype, plan.n, self.output_dim
        losses = backend.losses
        plan.dlogits = backend.empty((n, k), dtype)
        plan.loss_out = np.zeros(1, dtype=np.float64)
        plan.loss_work = backend.workspace(n, 1)
        if self.loss == "cross_entropy":
            plan.labels = backend.empty((n,), np.int64)
            kernel = losses.softmax_cross_entropy
            plan.predicted = np.empty(n, dtype=np.intp)
            plan.correct = np.empty(n, dtype=bool)
        else:
            plan.labels = backend.empty((n, k), dtype)
            kernel = (
                losses.binary_cross_entropy
                if self.loss == "binary_crossentropy"
                else losses.mean_squared_error
            )
            plan.predicted = np.empty((n, k), dtype=bool)
            plan.correct = np.empty((n, k), dtype=bool)
        plan.loss_call = (
            kernel,
            (plan.logits, plan.labels, plan.dlogits, plan.loss_out, plan.loss_work),
        )

    def _bind_backward(self, plan: _Plan, saved: list) -> None:
        backend, dtype = self._backend, self.dtype
        dense, bn, act = backend.dense, backend.batchnorm, backend.activations
        dy = plan.dlogits
        for index in reversed(range(len(self._ops))):
            op = self._ops[index]
            if isinstance(op, _DenseOp):
                h, y = saved[index]
                dx = backend.empty(h.shape, dtype)
                work = backend.workspace(plan.n, y.shape[1])
                need_dx = index > 0
                call = (
                    dense.dense_backward,
                    (dy, h, op.W, y, op.code, NEGATIVE_SLOPE, dy, dx, op.dW, op.db, work, need_dx),
                )  # dz overwrites dy in place: dy is not needed afterwards
            elif isinstance(op, _BatchNormOp):
                h, a, y, mean, invstd, work = saved[index]
                dx = backend.empty(h.shape, dtype)
                call = (
                    bn.batch_norm_backward,
                    (dy, a, y, op.gamma, mean, invstd, op.pre, op.post, NEGATIVE_SLOPE,
                     dx, op.dgamma, op.dbeta, work),
                )  # fmt: skip
            else:
                dx = dy
                call = (act.activation_backward, (dy, saved[index], op.code, NEGATIVE_SLOPE, dx))
            plan.backward.append(call)
            dy = dx

    # ------------------------------------------------------------------ checking

    def _check_x(self, x, name: str = "x") -> np.ndarray:
        """``x`` as a C-contiguous ``(n, input_dim)`` array of the network's dtype, or raise."""
        want = f"(n, {self.input_dim if self.built else 'n_features'})"
        if not isinstance(x, np.ndarray):
            raise TypeError(
                f"{name} must be a numpy.ndarray of shape {want} and dtype {self.dtype}, "
                f"got {type(x).__name__}"
            )
        if x.dtype != self.dtype:
            raise TypeError(
                f"{name} must have dtype {self.dtype} (the network's dtype), got {x.dtype}; "
                f"convert it with {name}.astype(np.{self.dtype})"
            )
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"{name} must have shape {want} with n >= 1, got {x.shape}")
        if not self.built:
            self._build(x.shape[1])
            want = f"(n, {self.input_dim})"
        if x.shape[1] != self.input_dim:
            raise ValueError(f"{name} must have shape {want}, got {x.shape}")
        return np.ascontiguousarray(x)

    def _check_y(self, y, n: int, name: str = "y") -> np.ndarray:
        """Targets as the loss kernel reads them, or raise naming what was expected.

        cross_entropy: integer class indices, shape ``(n,)`` (or ``(n, 1)``),
        in ``[0, k)``, returned as int64.  Other losses: real values of shape
        ``(n, k)`` (or ``(n,)`` when ``k == 1``), returned in the network's
        dtype; binary_crossentropy also needs values in ``[0, 1]``.
        """
        k = self.output_dim
        if not isinstance(y, np.ndarray):
            raise TypeError(f"{name} must be a numpy.ndarray, got {type(y).__name__}")
        if self.loss == "cross_entropy":
            if not np.issubdtype(y.dtype, np.integer):
                raise TypeError(
                    f"{name} must hold integer class indices for loss 'cross_entropy', "
                    f"got dtype {y.dtype}"
                )
            if y.shape not in ((n,), (n, 1)):
                raise ValueError(f"{name} must have shape ({n},) to match x, got {y.shape}")
            low, high = int(y.min()), int(y.max())
            if low < 0 or high >= k:
                raise ValueError(
                    f"{name} must hold class indices in [0, {k}) for the {k}-unit output layer, "
                    f"got values from {low} to {high}"
                )
            return np.ascontiguousarray(y.reshape(n), dtype=np.int64)
        if y.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold real numbers, got dtype {y.dtype}")
        if y.shape == (n,) and k == 1:
            y = y.reshape(n, 1)
        if y.shape != (n, k):
            want = f"({n}, {k})" + (f" or ({n},)" if k == 1 else "")
            raise ValueError(
                f"{name} must have shape {want} to match x and the output layer, got {y.shape}"
            )
        y = np.ascontiguousarray(y, dtype=self.dtype)
        if not np.isfinite(y).all():
            raise ValueError(f"{name} must be finite")
        if self.loss == "binary_crossentropy" and (y.min() < 0 or y.max() > 1):
            raise ValueError(
                f"{name} must hold targets in [0, 1] for loss 'binary_crossentropy', "
                f"got values from {y.min()} to {y.max()}"
            )
        return y

    def _check_batch_size(self, batch_size) -> int:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"batch_size must be an int, got {type(batch_size).__name__}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        return int(batch_size)

    def _check_training_batch(self, n: int, what: str) -> None:
        if n == 1 and any(isinstance(layer, BatchNormalization) for layer in self.layers):
            raise ValueError(
                f"{what} has a batch of 1 row: BatchNormalization cannot train on one row "
                "(its batch variance is 0)"
            )

    # ------------------------------------------------------------------ training

    def _train_step(self, plan: _Plan) -> float:
        """Forward, loss, backward and update on ``plan``'s loaded batch; returns the loss.

        With a non-finite loss it stops before the backward pass and the
        update and restores the BatchNormalization running statistics, so the
        network is exactly as it was before the step; the caller raises.
        """
        np.copyto(self._state_backup, self._state)
        for kernel, args in plan.forward:
            kernel(*args)
        kernel, args = plan.loss_call
        kernel(*args)
        loss = float(plan.loss_out[0])
        if not math.isfinite(loss):
            np.copyto(self._state, self._state_backup)
            return loss
        for kernel, args in plan.backward:
            kernel(*args)
        self.optimizer.apply(self._params, self._grads)
        return loss

    def _count_correct(self, plan: _Plan) -> float:
        """Correct predictions in the plan's batch, from its logits (no allocation)."""
        if self.loss == "cross_entropy":
            np.argmax(plan.logits, axis=1, out=plan.predicted)
            np.equal(plan.predicted, plan.labels, out=plan.correct)
            return float(np.count_nonzero(plan.correct))
        # Logits > 0 is sigmoid > 0.5; Keras compares with the 0/1 targets.
        np.greater(plan.logits, 0, out=plan.predicted)
        np.greater(plan.labels, 0.5, out=plan.correct)
        np.equal(plan.predicted, plan.correct, out=plan.correct)
        return float(np.count_nonzero(plan.correct)) / plan.correct.shape[1]

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        epochs: int = 1,
        batch_size: int = 32,
        validation_data: tuple | None = None,
        validation_split: float = 0.0,
        shuffle: bool = True,
        verbose: int = 1,
    ) -> History:
        """Train for ``epochs`` passes over ``(x, y)`` in mini-batches, as Keras's ``fit``.

        Parameters
        ----------
        x : ndarray, shape (n, input_dim), the network's dtype
        y : ndarray
            Targets, see ``compile`` for each loss.
        epochs : int
            Passes over the data.
        batch_size : int
            Rows per step; the last step of an epoch takes the remainder.
        validation_data : (x_val, y_val), optional
            Evaluated after every epoch (``val_loss``, ``val_<metric>``).
        validation_split : float
            Fraction of the data, taken from the end before shuffling, held out
            for validation instead of ``validation_data``.
        shuffle : bool
            Shuffle the rows every epoch, with a generator seeded by the
            network's seed and the epoch count.
        verbose : int
            0 silent; 1 a progress bar on an interactive terminal and one line
            per epoch otherwise; 2 one line per epoch.

        Returns
        -------
        History
            ``history.history["loss"]`` etc., one value per epoch (the loss is
            the mean over the epoch's samples, in training mode).

        Raises
        ------
        TypeError, ValueError
            Inputs whose type, dtype, shape or label range do not fit the network.
        FloatingPointError
            The loss became NaN or Inf; the message names the epoch and step,
            and the network is left as it was before that step.
        """
        self._require_compiled()
        x = self._check_x(x)
        y = self._check_y(y, x.shape[0])
        batch_size = self._check_batch_size(batch_size)
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
                raise ValueError(
                    f"validation_split={split} leaves no training or no validation rows"
                )
            validation_data = (x[n_train:], y[n_train:])
            x, y = x[:n_train], y[:n_train]
        elif validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be a tuple (x_val, y_val)")
            x_val = self._check_x(validation_data[0], "validation_data[0]")
            validation_data = (
                x_val,
                self._check_y(validation_data[1], x_val.shape[0], "validation_data[1]"),
            )
        if not np.isfinite(x).all():
            row = int(np.argwhere(~np.isfinite(x))[0, 0])
            raise ValueError(f"x must be finite; row {row} holds NaN or Inf")
        n = x.shape[0]
        steps = -(-n // batch_size)
        last = n - (steps - 1) * batch_size
        self._check_training_batch(
            last, f"the last step of each epoch (n={n}, batch_size={batch_size})"
        )
        full_plan = self._plan(min(batch_size, n), True)
        last_plan = self._plan(last, True)
        history = History({"epochs": epochs, "steps": steps, "batch_size": batch_size})
        for epoch_index in range(epochs):
            epoch = self._epochs_seen
            if shuffle:
                order = np.random.default_rng([self.seed, epoch]).permutation(n)
            else:
                order = np.arange(n)
            progress = _Progress(epoch_index + 1, epochs, steps, n, verbose)
            total_loss = 0.0
            total_correct = 0.0
            for step in range(steps):
                lo = step * batch_size
                plan = full_plan if step < steps - 1 else last_plan
                rows = order[lo : lo + plan.n]
                np.take(x, rows, axis=0, out=plan.x, mode="clip")
                np.take(y, rows, axis=0, out=plan.labels, mode="clip")
                loss = self._train_step(plan)
                if not math.isfinite(loss):
                    where = f"epoch {epoch_index + 1}/{epochs}, step {step + 1}/{steps}"
                    raise _non_finite_loss(loss, where)
                total_loss += loss * plan.n
                if self.metrics:
                    total_correct += self._count_correct(plan)
                progress.update(step + 1, lo + plan.n, total_loss, total_correct, self.metrics)
            self._epochs_seen += 1
            logs = {"loss": total_loss / n}
            for metric in self.metrics:
                logs[metric] = total_correct / n
            if validation_data is not None:
                values = self._evaluate(*validation_data, batch_size)
                logs["val_loss"] = values[0]
                for metric, value in zip(self.metrics, values[1:], strict=True):
                    logs["val_" + metric] = value
            history.append(epoch, logs)
            progress.end(logs)
        self._has_gradients = False
        return history

    def train_on_batch(self, x: np.ndarray, y: np.ndarray):
        """One training step on one batch, as Keras's ``train_on_batch``.

        Returns
        -------
        float or list of float
            The loss before the update; ``[loss, metric, ...]`` when the
            network was compiled with metrics.

        Raises
        ------
        FloatingPointError
            The loss is NaN or Inf; nothing was updated.
        """
        self._require_compiled()
        x = self._check_x(x)
        y = self._check_y(y, x.shape[0])
        self._check_training_batch(x.shape[0], "train_on_batch")
        plan = self._plan(x.shape[0], True)
        np.copyto(plan.x, x)
        np.copyto(plan.labels, y)
        loss = self._train_step(plan)
        if not math.isfinite(loss):
            where = f"train_on_batch (optimizer step {self.optimizer.iterations + 1})"
            raise _non_finite_loss(loss, where)
        self._has_gradients = False
        if not self.metrics:
            return loss
        return [loss] + [self._count_correct(plan) / plan.n for _ in self.metrics]

    # ----------------------------------------------------------------- inference

    def _run_forward(self, x: np.ndarray, training: bool) -> _Plan:
        plan = self._plan(x.shape[0], training)
        np.copyto(plan.x, x)
        for kernel, args in plan.forward:
            kernel(*args)
        if plan.output_call is not None:
            kernel, args = plan.output_call
            kernel(*args)
        return plan

    def predict(self, x: np.ndarray, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
        """Outputs for ``x`` in inference mode (BatchNormalization uses its moving statistics).

        A final softmax or sigmoid is applied, so a classifier returns
        probabilities even when its loss works on logits.

        Returns
        -------
        ndarray, shape (n, output_dim), the network's dtype
        """
        x = self._check_x(x)
        batch_size = self._check_batch_size(batch_size)
        n = x.shape[0]
        out = np.empty((n, self.output_dim), dtype=self.dtype)
        for lo in range(0, n, batch_size):
            hi = min(n, lo + batch_size)
            plan = self._run_forward(x[lo:hi], training=False)
            out[lo:hi] = plan.output
        return out

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        """``predict`` on one batch: all of ``x`` in one pass."""
        return self(x)

    def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Outputs for ``x`` in one pass.

        With ``training=True`` BatchNormalization uses the batch statistics
        and updates its moving statistics, as a Keras layer called in training
        mode does.
        """
        return self.forward(x, training=training)

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 32, verbose: int = 0):
        """Loss (and metrics) over ``(x, y)`` in inference mode, as Keras's ``evaluate``.

        Returns
        -------
        float or list of float
            The mean loss over all samples; ``[loss, metric, ...]`` with metrics.
        """
        self._require_compiled()
        x = self._check_x(x)
        y = self._check_y(y, x.shape[0])
        values = self._evaluate(x, y, self._check_batch_size(batch_size))
        if verbose:
            print(_format_logs(dict(zip(["loss"] + self.metrics, values, strict=True))))
        return values[0] if not self.metrics else values

    def _evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int) -> list:
        n = x.shape[0]
        total_loss = 0.0
        total_correct = 0.0
        for lo in range(0, n, batch_size):
            hi = min(n, lo + batch_size)
            plan = self._run_forward(x[lo:hi], training=False)
            np.copyto(plan.labels, y[lo:hi])
            kernel, args = plan.loss_call
            kernel(*args)
            total_loss += float(plan.loss_out[0]) * (hi - lo)
            if self.metrics:
                total_correct += self._count_correct(plan)
        return [total_loss / n] + [total_correct / n for _ in self.metrics]

    # ---------------------------------------------- forward / backward / step

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Outputs for ``x`` in one pass; with ``training=True`` it prepares ``backward``.

        Returns a new array (the output activation applied, as ``predict``).
        """
        x = self._check_x(x)
        if not isinstance(training, bool):
            raise TypeError(f"training must be a bool, got {type(training).__name__}")
        if training:
            self._check_training_batch(x.shape[0], "forward(training=True)")
        plan = self._run_forward(x, training)
        self._last_forward = plan if training else None
        self._has_gradients = False
        return plan.output.copy()

    def backward(self, y: np.ndarray) -> float:
        """Loss of the last ``forward(x, training=True)`` against ``y``, and all gradients.

        Returns
        -------
        float
            The loss.  The gradients are then ready for ``step``.

        Raises
        ------
        FloatingPointError
            The loss is NaN or Inf (no gradient is computed).
        """
        self._require_compiled()
        plan = self._last_forward
        if plan is None:
            raise ValueError("backward needs a preceding forward(x, training=True)")
        np.copyto(plan.labels, self._check_y(y, plan.n))
        kernel, args = plan.loss_call
        kernel(*args)
        loss = float(plan.loss_out[0])
        if not math.isfinite(loss):
            raise FloatingPointError(f"the loss is {loss}; no gradient was computed")
        for kernel, args in plan.backward:
            kernel(*args)
        self._has_gradients = True
        return loss

    def step(self) -> None:
        """Apply the optimizer once to the gradients of the last ``backward``."""
        self._require_compiled()
        if not self._has_gradients:
            raise ValueError("step needs gradients: call forward(x, training=True) and backward(y)")
        self.optimizer.apply(self._params, self._grads)
        self._has_gradients = False

    def get_gradients(self) -> list[np.ndarray]:
        """Copies of the last ``backward``'s gradients, one per trainable weight, in Keras order."""
        self._require_built()
        return [view.copy() for view in self._grad_views]

    # ------------------------------------------------------------------- weights

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every weight in Keras order.

        Per Dense: kernel ``(n_in, n_out)``, bias; per BatchNormalization:
        gamma, beta, moving mean, moving variance (each only when present).
        """
        self._require_built()
        return [view.copy() for view in self._weight_views]

    def set_weights(self, weights) -> None:
        """Set every weight from a list in ``get_weights`` order (cast to the network's dtype)."""
        self._require_built()
        if not isinstance(weights, (list, tuple)):
            raise TypeError(f"weights must be a list of arrays, got {type(weights).__name__}")
        if len(weights) != len(self._weight_views):
            raise ValueError(
                f"expected {len(self._weight_views)} weight arrays, got {len(weights)}"
            )
        checked = []
        for name, view, value in zip(self._weight_names, self._weight_views, weights, strict=True):
            value = np.asarray(value)
            if value.dtype.kind not in "iuf":
                raise TypeError(f"weight {name} must hold real numbers, got dtype {value.dtype}")
            if value.shape != view.shape:
                raise ValueError(f"weight {name} must have shape {view.shape}, got {value.shape}")
            if not np.isfinite(value).all():
                raise ValueError(f"weight {name} must be finite")
            checked.append(value)
        for view, value in zip(self._weight_views, checked, strict=True):
            np.copyto(view, value, casting="unsafe")

    def count_params(self) -> int:
        """Number of weights, trainable and not."""
        self._require_built()
        return int(self._params.size + self._state.size)

    def summary(self, print_fn=print) -> dict:
        """Print one row per layer and the totals; return them.

        Returns
        -------
        dict
            ``rows`` (per layer: ``name``, ``type``, ``output_shape``,
            ``activation``, ``initializer``, ``trainable``, ``non_trainable``),
            ``trainable``, ``non_trainable`` and ``total``.
        """
        self._require_built()
        rows, width = [], self.input_dim
        for layer in self.layers:
            counts = {True: 0, False: 0}
            for spec in layer.weight_specs(width):
                counts[spec.trainable] += math.prod(spec.shape)
            width = layer.output_dim(width)
            rows.append(
                {
                    "name": layer.name,
                    "type": type(layer).__name__,
                    "output_shape": (None, width),
                    "activation": getattr(layer, "activation", None),
                    "initializer": layer.initializer_names(),
                    "trainable": counts[True],
                    "non_trainable": counts[False],
                }
            )
        totals = {
            "trainable": int(self._params.size),
            "non_trainable": int(self._state.size),
            "total": int(self._params.size + self._state.size),
        }
        table = [
            (
                "Layer (type)",
                "Output shape",
                "Activation",
                "Initializer",
                "Trainable",
                "Non-trainable",
            )
        ]
        for r in rows:
            table.append(
                (
                    f"{r['name']} ({r['type']})",
                    str(r["output_shape"]),
                    r["activation"] or "-",
                    r["initializer"],
                    str(r["trainable"]),
                    str(r["non_trainable"]),
                )
            )
        widths = [max(len(line[i]) for line in table) for i in range(6)]
        lines = [
            "  ".join(
                [c.ljust(w) for c, w in zip(line[:4], widths, strict=False)]
                + [c.rjust(w) for c, w in zip(line[4:], widths[4:], strict=True)]
            )
            for line in table
        ]
        rule = "-" * len(lines[0])
        print_fn(
            f"Network (input_dim={self.input_dim}, dtype={self.dtype}, "
            f"device={self._backend.name}, seed={self.seed})"
        )
        for line in [rule, lines[0], rule, *lines[1:], rule]:
            print_fn(line)
        print_fn(
            f"Total params: {totals['total']}  Trainable: {totals['trainable']}  "
            f"Non-trainable: {totals['non_trainable']}"
        )
        return {"rows": rows, **totals}

    # ----------------------------------------------------------------- save/load

    def get_config(self) -> dict:
        """Architecture, seed, dtype and device (JSON-serializable)."""
        return {
            "seed": self.seed,
            "dtype": str(self.dtype),
            "device": self.device,
            "input_dim": self.input_dim,
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()}
                for layer in self.layers
            ],
        }

    def save(self, path) -> None:
        """Write architecture, weights, optimizer state and seed to one ``.npz`` file, atomically.

        The file is written under a temporary name in the same directory and
        moved over ``path`` only once complete, so a crash mid-save never
        leaves a partial file at ``path`` (an existing file stays intact).
        """
        self._require_built()
        path = os.fspath(path)
        meta = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "network": self.get_config(),
            "epochs_seen": self._epochs_seen,
            "compile": None,
        }
        arrays = {f"weight_{i}": w for i, w in enumerate(self.get_weights())}
        if self.optimizer is not None:
            meta["compile"] = {
                "loss": self.loss,
                "metrics": self.metrics,
                "optimizer": type(self.optimizer).__name__,
                "optimizer_config": self.optimizer.get_config(),
                "iterations": self.optimizer.iterations,
            }
            for name, array in self.optimizer.state.items():
                arrays[f"optimizer_{name}"] = array
        arrays["meta"] = np.array(json.dumps(meta))
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(
            dir=directory, prefix="." + os.path.basename(path), suffix=".tmp"
        )
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
            # mkstemp creates the file private (0600); give it a new file's usual mode.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path, device: str | None = None) -> Network:
        """Read a network written by ``save``; ``device`` overrides the saved one.

        Raises
        ------
        FileNotFoundError
            No file at ``path``.
        ValueError
            The file is not a fastnn network file, is truncated or corrupt, or
            its arrays do not fit its architecture.
        """
        path = os.fspath(path)
        with open(path, "rb") as file:
            try:
                data = np.load(file, allow_pickle=False)
                if isinstance(data, np.lib.npyio.NpzFile):
                    with data:
                        files = set(data.files)
                        meta = json.loads(str(data["meta"])) if "meta" in files else None
                        arrays = {name: data[name] for name in files - {"meta"}}
            except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
                raise ValueError(
                    f"{path} is not a readable fastnn network file (a .npz from Network.save); "
                    f"it may be truncated or of another format: {err}"
                ) from err
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError(f"{path} is not a fastnn network file (a .npz from Network.save)")
        if meta is None:
            raise ValueError(f"{path} is not a fastnn network file: it has no 'meta' entry")
        if not isinstance(meta, dict) or meta.get("format") != FILE_FORMAT:
            raise ValueError(
                f"{path} is not a fastnn network file: its format is not {FILE_FORMAT!r}"
            )
        if meta.get("version") != FILE_VERSION:
            raise ValueError(
                f"{path} has file version {meta.get('version')}; this fastnn reads {FILE_VERSION}"
            )
        try:
            config = meta["network"]
            layers = [from_config(item["class_name"], item["config"]) for item in config["layers"]]
            network = cls(
                layers,
                seed=config["seed"],
                device=config["device"] if device is None else device,
                dtype=np.dtype(config["dtype"]),
            )
        except (KeyError, TypeError) as err:
            raise ValueError(f"{path} has a malformed architecture entry: {err!r}") from err
        if config["input_dim"] is not None:
            network.build(config["input_dim"])
        n_weights = len(network._weight_views) if network.built else 0
        weights = [arrays.get(f"weight_{i}") for i in range(n_weights)]
        if any(w is None for w in weights) or f"weight_{n_weights}" in arrays:
            raise ValueError(
                f"{path} does not hold the {n_weights} weight arrays its architecture needs"
            )
        if network.built:
            network.set_weights(weights)
        network._epochs_seen = int(meta["epochs_seen"])
        compiled = meta["compile"]
        if compiled is not None:
            optimizer_class = optimizers_module.OPTIMIZERS[compiled["optimizer"].lower()]
            network.compile(
                optimizer=optimizer_class(**compiled["optimizer_config"]),
                loss=compiled["loss"],
                metrics=compiled["metrics"],
            )
            if network.built:
                for name, array in network.optimizer.state.items():
                    saved = arrays.get(f"optimizer_{name}")
                    if saved is None or saved.shape != array.shape:
                        raise ValueError(f"{path} has no valid optimizer state {name!r}")
                    np.copyto(array, saved, casting="unsafe")
                network.optimizer.iterations = int(compiled["iterations"])
        return network


class _Progress:
    """Per-epoch progress: a bar on an interactive terminal, else one line per epoch.

    The bar is redrawn at most every 0.1 s, so it costs nothing per step.
    """

    def __init__(self, epoch: int, epochs: int, steps: int, n: int, verbose: int):
        self.stream = sys.stdout
        self.verbose = verbose
        self.bar = verbose == 1 and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.epoch, self.epochs, self.steps, self.n = epoch, epochs, steps, n
        self.start = time.perf_counter()
        self.last_draw = 0.0
        if self.bar:
            self.stream.write(f"Epoch {epoch}/{epochs}\n")

    def _draw(self, step: int, seen: int, logs: dict, end: str) -> None:
        seconds = time.perf_counter() - self.start
        done = 30 * step // self.steps
        bar = "=" * done + "." * (30 - done)
        width = len(str(self.steps))
        rate = seen / max(seconds, 1e-9)
        # "\x1b[K" clears what a longer previous drawing left on the line.
        self.stream.write(
            f"\r{step:>{width}}/{self.steps} [{bar}] - {seconds:.2f}s - {rate:,.0f} samples/s"
            f" - {_format_logs(logs)}\x1b[K{end}"
        )
        self.stream.flush()

    def update(
        self, step: int, seen: int, total_loss: float, total_correct: float, metrics
    ) -> None:
        if not self.bar or time.perf_counter() - self.last_draw < 0.1:
            return
        self.last_draw = time.perf_counter()
        logs = {"loss": total_loss / seen}
        for metric in metrics:
            logs[metric] = total_correct / seen
        self._draw(step, seen, logs, "")

    def end(self, logs: dict) -> None:
        if self.verbose == 0:
            return
        if self.bar:
            self._draw(self.steps, self.n, logs, "\n")
            return
        seconds = time.perf_counter() - self.start
        self.stream.write(
            f"Epoch {self.epoch}/{self.epochs} - {self.steps} steps - {seconds:.2f}s - "
            f"{self.n / max(seconds, 1e-9):,.0f} samples/s - {_format_logs(logs)}\n"
        )
        self.stream.flush()


def _non_finite_loss(loss: float, where: str) -> FloatingPointError:
    return FloatingPointError(
        f"the loss is {loss} at {where}; training stopped before that step's update, "
        "so the weights and BatchNormalization statistics are those from before it "
        "(lower the learning rate or check the data for NaN/Inf)"
    )


def _format_logs(logs: dict) -> str:
    return " - ".join(f"{key}: {value:.4f}" for key, value in logs.items())
