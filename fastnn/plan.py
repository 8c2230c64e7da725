"""Plans: the buffers and bound kernel calls of one batch size and mode, and the loop running them.

The first time a ``Network`` sees a batch size (in training or in inference
mode), ``make_plan`` allocates every activation, gradient, statistic and
workspace buffer that batch needs and binds every kernel call to them: the
fused ops (``fastnn.fusion``) bind the forward and backward calls, the loss
registry (``fastnn.objectives``) names the loss and accuracy kernels.  A step
is then ``run(plan.forward)``, ``run(plan.loss)``, ``run(plan.backward)``:
lists of calls on buffers that already exist, so nothing allocates.
``PlanCache`` keeps the plans of the batch sizes in use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fastnn.fusion import Call, Fusion
from fastnn.kernels.scalar import LINEAR, NEGATIVE_SLOPE
from fastnn.objectives import OBJECTIVES

__all__ = ["Plan", "PlanCache", "make_plan", "run", "MAX_PLANS"]

#: Plans (per batch size and mode) kept at most; the oldest is dropped beyond.
MAX_PLANS = 16


def run(calls: list[Call]) -> None:
    """Run bound kernel calls in order: ``kernel(*args)`` for each."""
    for kernel, args in calls:
        kernel(*args)


@dataclass(eq=False)
class Plan:
    """The buffers and bound kernel calls of one batch size ``n`` and mode.

    Every array is a buffer of the network's backend.  The call lists may be
    empty (an uncompiled network has no loss, inference has no backward).

    Attributes
    ----------
    n : int
        Rows per batch.
    training : bool
        BatchNormalization uses (and updates) batch statistics.
    x : array, shape (n, input_dim)
        The batch, copied in before ``forward`` runs.
    logits : array, shape (n, output_dim)
        The last op's output, which the loss kernel reads.
    output : array, shape (n, output_dim)
        What ``predict`` returns: ``logits`` with the activation the loss
        absorbed applied (``logits`` itself when there is none).
    forward, output_calls, loss, accuracy, backward : list of Call
        The ops' forward calls; the absorbed output activation; the loss
        kernel; the accuracy kernel; the ops' backward calls in reverse.
    labels : array or None
        The batch's targets: int64 ``(n,)`` class indices or ``(n, k)`` values.
    dlogits : array or None
        The loss kernel's gradient of the logits, where backward starts.
    loss_value, correct_count : float64 arrays of shape (1,), or None
        The mean loss of the batch, and its number of correct predictions.
    loss_work : array or None
        The loss kernel's reduction scratch.
    """

    n: int
    training: bool
    x: Any
    logits: Any = None
    output: Any = None
    forward: list[Call] = field(default_factory=list)
    output_calls: list[Call] = field(default_factory=list)
    loss: list[Call] = field(default_factory=list)
    accuracy: list[Call] = field(default_factory=list)
    backward: list[Call] = field(default_factory=list)
    labels: Any = None
    dlogits: Any = None
    loss_value: Any = None
    loss_work: Any = None
    correct_count: Any = None
    #: The array the calls read as the batch (``x`` unless ``bind_input`` changed it), and
    #: where those calls are: ``(call list, index)`` pairs, found on first use.
    bound_input: Any = None
    _input_slots: list | None = field(default=None, repr=False)

    def bind_input(self, a) -> None:
        """Make every bound call that reads the batch read ``a`` instead (``x`` to go back).

        ``a`` must have ``x``'s shape and dtype on the same device (the backend's
        ``memory.stage_input`` decides which array that is); no kernel writes it.
        """
        current = self.x if self.bound_input is None else self.bound_input
        if a is current:
            return
        if self._input_slots is None:
            lists = (self.forward, self.output_calls, self.loss, self.accuracy, self.backward)
            self._input_slots = [
                (calls, i)
                for calls in lists
                for i, (_, args) in enumerate(calls)
                if any(arg is current for arg in args)
            ]
        for calls, i in self._input_slots:
            kernel, args = calls[i]
            calls[i] = Call(kernel, tuple(a if arg is current else arg for arg in args))
        self.bound_input = a


def make_plan(
    backend, fusion: Fusion, loss: str | None, n: int, input_dim: int, dtype, training: bool
) -> Plan:
    """Allocate every buffer for batch size ``n`` and bind every kernel call to them.

    Parameters
    ----------
    backend : fastnn.backend.Backend
        Where the buffers live and whose kernels the calls run.
    fusion : Fusion
        The network's fused ops and the output activation its loss absorbed.
    loss : str or None
        The canonical loss name; ``None`` binds no loss, accuracy or backward.
    n, input_dim : int
        Rows and input features of a batch.
    dtype : numpy dtype
        The network's dtype.
    training : bool
        Bind training-mode BatchNormalization and the backward calls.
    """
    memory = backend.memory
    plan = Plan(n=n, training=training, x=memory.empty((n, input_dim), dtype))
    saved = []
    h = plan.x
    for op in fusion.ops:
        forward = op.bind_forward(backend, h, training)
        if forward.call is not None:  # None: the op does nothing in this mode
            plan.forward.append(forward.call)
        saved.append(forward.saved)
        h = forward.output
    plan.logits = plan.output = h
    if fusion.output_code != LINEAR:
        plan.output = memory.empty(h.shape, dtype)
        plan.output_calls.append(
            Call(
                backend.activations.activation_forward,
                (h, fusion.output_code, NEGATIVE_SLOPE, plan.output),
            )
        )
    if loss is None:
        return plan
    objective = OBJECTIVES[loss]
    k = h.shape[1]
    plan.labels = (
        memory.empty((n,), np.int64) if objective.integer_labels else memory.empty((n, k), dtype)
    )
    plan.dlogits = memory.empty((n, k), dtype)
    plan.loss_value = memory.zeros((1,), np.float64)
    plan.loss_work = backend.reduce.reduction_workspace(n, 1)
    plan.loss.append(
        Call(
            getattr(backend.losses, objective.loss_kernel),
            (plan.logits, plan.labels, plan.dlogits, plan.loss_value, plan.loss_work),
        )
    )
    if objective.accuracy_kernel is not None:
        plan.correct_count = memory.zeros((1,), np.float64)
        plan.accuracy.append(
            Call(
                getattr(backend.metrics, objective.accuracy_kernel),
                (plan.logits, plan.labels, plan.correct_count),
            )
        )
    if training:
        dy = plan.dlogits
        for index in reversed(range(len(fusion.ops))):
            backward = fusion.ops[index].bind_backward(backend, saved[index], dy, index > 0)
            if backward.call is not None:
                plan.backward.append(backward.call)
            dy = backward.dx
    return plan


class PlanCache:
    """The plans of one built network, made on first use per ``(n, training)``.

    The layers are fused on the first request, so a network compiled with a
    loss that does not fit its last layer fails there with the fusion's error.
    At most ``MAX_PLANS`` plans are kept; the oldest is dropped beyond.

    Parameters
    ----------
    backend : fastnn.backend.Backend
    fuse_layers : callable
        Returns the network's ``Fusion`` for ``loss`` (``fastnn.fusion.fuse``
        bound to its layers and weights).
    loss : str or None
        The canonical loss name.
    input_dim : int
    dtype : numpy dtype
    """

    def __init__(self, backend, fuse_layers: Callable[[], Fusion], loss, input_dim, dtype):
        self.backend = backend
        self.fuse_layers = fuse_layers
        self.loss = loss
        self.input_dim = input_dim
        self.dtype = dtype
        self.fusion: Fusion | None = None
        self._plans: dict[tuple[int, bool], Plan] = {}

    def get(self, n: int, training: bool) -> Plan:
        """The plan for batches of ``n`` rows in the given mode."""
        key = (n, training)
        plan = self._plans.get(key)
        if plan is None:
            if self.fusion is None:
                self.fusion = self.fuse_layers()
            plan = make_plan(
                self.backend, self.fusion, self.loss, n, self.input_dim, self.dtype, training
            )
            if len(self._plans) >= MAX_PLANS:
                self._plans.pop(next(iter(self._plans)))
            self._plans[key] = plan
        return plan
