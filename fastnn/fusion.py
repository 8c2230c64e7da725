"""Fused ops: the layers of a ``Network`` turned into as few kernel calls as possible.

``fuse`` walks the layers and makes one op per kernel, folding activations
into their neighbours so that no activation needs a pass of its own when it
can ride on one:

- ``Dense(act)`` then ``BatchNormalization``: the dense kernel computes
  ``x @ W + b`` and the BN kernel applies ``act`` before normalizing
  (``pre``);
- ``Dense(activation=None)``, ``BatchNormalization``, ``Activation(act)``:
  the BN kernel applies ``act`` after normalizing (``post``);
- an ``Activation`` right after a linear ``Dense`` joins the dense epilogue;
- a final softmax with ``"cross_entropy"`` or ``"categorical_crossentropy"`` (or sigmoid with
  ``"binary_crossentropy"``) is left to the loss kernel, which works on the
  logits stably; ``predict`` applies it to return probabilities;
- ``Dropout`` is its own kernel in training and no call at all in inference
  (its output is then its input buffer); a rate of 0 is dropped.

Each op then binds its own kernel calls: ``bind_forward`` allocates its
output and returns the forward call with the buffers its backward reads
(a small named structure), and ``bind_backward`` returns the backward call
from those buffers.  The fusion rules live in the ops too (``attach``,
``absorb_activation``, ``hand_over_activation``), so nothing here asks an op
for its type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from fastnn.kernels.scalar import ACTIVATIONS, LINEAR, NEGATIVE_SLOPE, SOFTMAX
from fastnn.layers import Activation, BatchNormalization, Dense, Dropout
from fastnn.objectives import LOSS_ACTIVATION, OBJECTIVES

__all__ = [
    "Call",
    "Forward",
    "Backward",
    "DenseOp",
    "BatchNormOp",
    "ActivationOp",
    "DropoutOp",
    "RandomStream",
    "Fusion",
    "fuse",
]

_CODE_NAMES = {code: name for name, code in ACTIVATIONS.items()}


class Call(NamedTuple):
    """One bound kernel call: ``kernel(*args)``."""

    kernel: Any
    args: tuple


class Forward(NamedTuple):
    """What ``bind_forward`` returns: the call, the op's output buffer, and what backward reads.

    ``call`` is ``None`` for an op that does nothing in this mode (Dropout in
    inference), whose output is then its input.
    """

    call: Call
    output: Any
    saved: Any


class Backward(NamedTuple):
    """What ``bind_backward`` returns: the call and the buffer it writes the input gradient to.

    ``call`` is ``None`` when nothing needs computing (Dropout as the first op).
    """

    call: Call
    dx: Any


class DenseSaved(NamedTuple):
    """The buffers a Dense backward reads: its input and its (activated) output."""

    x: Any
    y: Any


class BatchNormSaved(NamedTuple):
    """The buffers a BatchNormalization backward reads, all written by its training forward.

    ``a`` is the pre-activated input (the input itself when ``pre`` is linear),
    ``y`` the output, ``mean``/``invstd`` the batch statistics and ``work``
    the reduction scratch.
    """

    a: Any
    y: Any
    mean: Any
    invstd: Any
    work: Any


class ActivationSaved(NamedTuple):
    """The buffer an activation backward reads: its output."""

    y: Any


class DropoutSaved(NamedTuple):
    """The buffer a Dropout backward reads: the uint8 keep mask its forward wrote."""

    keep: Any


class RandomStream(NamedTuple):
    """Where a Dropout op's masks come from: the Philox key and stream, and the step now.

    ``step`` is called each time the forward kernel runs (the network's
    optimizer step count), so a bound call draws a fresh mask every step.
    """

    seed: int
    stream: int
    step: Callable[[], int]


class _Op:
    """Base of the fused ops: the fusion rules an op answers for its neighbours."""

    def output_code(self) -> int:
        """The activation this op applies last."""
        raise NotImplementedError

    def strip_output(self) -> None:
        """Stop applying the last activation (the loss kernel applies it instead)."""
        raise NotImplementedError

    def is_identity(self) -> bool:
        """Whether the op does nothing (and can be dropped)."""
        return False

    def attach(self, ops: list) -> None:
        """Append this op to ``ops``, fused with the last one where the kernels allow."""
        ops.append(self)

    def absorb_activation(self, code: int) -> bool:
        """Apply activation ``code`` after this op's own output, if the kernel can; say whether."""
        return False

    def hand_over_activation(self) -> int:
        """Give a following BatchNormalization this op's last activation to apply (``pre``).

        Returns the activation handed over (``LINEAR`` for none).
        """
        return LINEAR

    def bind_forward(self, backend, x, training: bool) -> Forward:
        """Allocate this op's output for the input buffer ``x`` and bind its forward kernel.

        Parameters
        ----------
        backend : fastnn.backend.Backend
            Allocates the buffers (``backend.memory``) and provides the kernel.
        x : array, shape (n, n_in)
            The previous op's output (or the plan's input batch).
        training : bool
            Bind the training-mode kernel (BatchNormalization: batch statistics).

        Returns
        -------
        Forward
            The call, the output buffer, and the buffers ``bind_backward``
            reads (``None`` in inference mode where backward never runs).
        """
        raise NotImplementedError

    def bind_backward(self, backend, saved, dy, need_dx: bool) -> Backward:
        """Bind this op's backward kernel from the buffers its forward saved.

        Parameters
        ----------
        backend : fastnn.backend.Backend
        saved : NamedTuple
            What ``bind_forward`` returned as ``saved``.
        dy : array
            Gradient of the loss with respect to this op's output; the kernel
            may overwrite it.
        need_dx : bool
            Whether the gradient of the input is needed (False for the first
            op; a kernel may then skip computing it).

        Returns
        -------
        Backward
            The call and the buffer that receives the gradient of the input.
        """
        raise NotImplementedError


class DenseOp(_Op):
    """``y = act(x @ W + b)`` in one kernel; ``code`` is the activation fused into it."""

    def __init__(self, layer: Dense, weights: dict):
        self.W, self.b = weights["kernel"], weights["bias"]
        self.dW, self.db = weights["d_kernel"], weights["d_bias"]
        self.code = ACTIVATIONS[layer.activation]

    def output_code(self) -> int:
        return self.code

    def strip_output(self) -> None:
        self.code = LINEAR

    def absorb_activation(self, code: int) -> bool:
        if self.code != LINEAR:
            return False
        self.code = code
        return True

    def hand_over_activation(self) -> int:
        if self.code in (LINEAR, SOFTMAX):  # BN applies pointwise activations only
            return LINEAR
        code, self.code = self.code, LINEAR
        return code

    def bind_forward(self, backend, x, training: bool) -> Forward:
        y = backend.memory.empty((x.shape[0], self.W.shape[1]), x.dtype)
        call = Call(backend.dense.dense_forward, (x, self.W, self.b, self.code, NEGATIVE_SLOPE, y))
        return Forward(call, y, DenseSaved(x, y))

    def bind_backward(self, backend, saved: DenseSaved, dy, need_dx: bool) -> Backward:
        x, y = saved.x, saved.y
        dx = backend.memory.empty(x.shape, x.dtype)
        work = backend.reduce.reduction_workspace(x.shape[0], y.shape[1])
        # dy is not needed afterwards.  A linear layer's dz is dy itself (the kernel
        # then only sums dy's columns for db).  Any other activation gets a dz
        # buffer of its own: written over dy, the CPU epilogue loop fails LLVM's
        # run-time alias check and runs scalar (measured at 1024x256 -> 256, relu,
        # dW only: 2.19 ms in place against 0.89 ms, 0.67 ms of which is the GEMM).
        dz = dy if self.code == LINEAR else backend.memory.empty(y.shape, y.dtype)
        call = Call(
            backend.dense.dense_backward,
            (dy, x, self.W, y, self.code, NEGATIVE_SLOPE, dz, dx, self.dW, self.db, work, need_dx),
        )
        return Backward(call, dx)


class BatchNormOp(_Op):
    """Batch normalization with an activation fused before it (``pre``) and after it (``post``).

    References
    ----------
    S. Ioffe and C. Szegedy, "Batch Normalization: Accelerating Deep Network
    Training by Reducing Internal Covariate Shift", ICML 2015.
    """

    def __init__(self, layer: BatchNormalization, weights: dict):
        self.gamma, self.beta = weights["gamma"], weights["beta"]
        self.dgamma, self.dbeta = weights["d_gamma"], weights["d_beta"]
        self.running_mean = weights["moving_mean"]
        self.running_var = weights["moving_variance"]
        self.momentum, self.epsilon = layer.momentum, layer.epsilon
        self.pre, self.post = LINEAR, LINEAR

    def output_code(self) -> int:
        return self.post

    def strip_output(self) -> None:
        self.post = LINEAR

    def attach(self, ops: list) -> None:
        if ops:
            self.pre = ops[-1].hand_over_activation()
            if ops[-1].is_identity():
                ops.pop()
        ops.append(self)

    def absorb_activation(self, code: int) -> bool:
        if self.post != LINEAR or code == SOFTMAX:
            return False
        self.post = code
        return True

    def bind_forward(self, backend, x, training: bool) -> Forward:
        memory, dtype = backend.memory, x.dtype
        y = memory.empty(x.shape, dtype)
        if not training:
            call = Call(
                backend.batchnorm.batch_norm_forward_infer,
                (x, self.gamma, self.beta, self.running_mean, self.running_var, self.epsilon,
                 self.pre, self.post, NEGATIVE_SLOPE, y,
                 backend.reduce.reduction_workspace(1, x.shape[1])),
            )  # fmt: skip
            return Forward(call, y, None)
        n, width = x.shape
        a = x if self.pre == LINEAR else memory.empty(x.shape, dtype)
        mean = memory.empty((width,), dtype)
        invstd = memory.empty((width,), dtype)
        work = backend.reduce.reduction_workspace(n, width)
        call = Call(
            backend.batchnorm.batch_norm_forward_train,
            (x, self.gamma, self.beta, self.running_mean, self.running_var, self.momentum,
             self.epsilon, self.pre, self.post, NEGATIVE_SLOPE, a, y, mean, invstd, work),
        )  # fmt: skip
        return Forward(call, y, BatchNormSaved(a, y, mean, invstd, work))

    def bind_backward(self, backend, saved: BatchNormSaved, dy, need_dx: bool) -> Backward:
        dx = backend.memory.empty(saved.a.shape, saved.a.dtype)
        call = Call(
            backend.batchnorm.batch_norm_backward,
            (dy, saved.a, saved.y, self.gamma, saved.mean, saved.invstd, self.pre, self.post,
             NEGATIVE_SLOPE, dx, self.dgamma, self.dbeta, saved.work),
        )  # fmt: skip
        return Backward(call, dx)


class ActivationOp(_Op):
    """An activation that could not be fused into a neighbouring kernel."""

    def __init__(self, layer: Activation, weights: dict):
        self.code = ACTIVATIONS[layer.activation]

    def output_code(self) -> int:
        return self.code

    def strip_output(self) -> None:
        self.code = LINEAR

    def is_identity(self) -> bool:
        return self.code == LINEAR

    def attach(self, ops: list) -> None:
        if self.is_identity() or (ops and ops[-1].absorb_activation(self.code)):
            return
        ops.append(self)

    def hand_over_activation(self) -> int:
        if self.code == SOFTMAX:
            return LINEAR
        code, self.code = self.code, LINEAR  # now an identity, dropped by the BN op
        return code

    def bind_forward(self, backend, x, training: bool) -> Forward:
        y = backend.memory.empty(x.shape, x.dtype)
        call = Call(backend.activations.activation_forward, (x, self.code, NEGATIVE_SLOPE, y))
        return Forward(call, y, ActivationSaved(y))

    def bind_backward(self, backend, saved: ActivationSaved, dy, need_dx: bool) -> Backward:
        # In place: the kernel reads dy[i] before it writes dx[i].
        call = Call(
            backend.activations.activation_backward, (dy, saved.y, self.code, NEGATIVE_SLOPE, dy)
        )
        return Backward(call, dy)


class DropoutOp(_Op):
    """Inverted dropout in training (``fastnn.kernels.*.dropout``); nothing in inference.

    It fuses with nothing: it reports the activation of the op before it as
    its own output activation, so that a loss that would absorb that
    activation (a softmax before the Dropout) is refused rather than fed
    dropped-out probabilities as logits.
    """

    def __init__(self, layer: Dropout, weights: dict):
        self.rate = layer.rate
        self.random: RandomStream = weights["random"]
        # The key and stream as the kernel takes them, converted once: a Python int of
        # 2**63 or more (every dropout stream is) cost 45 us of Numba's argument typing per
        # call, the kernel 1 us at 1x1024.
        self._key = np.uint64(self.random.seed), np.uint64(self.random.stream)
        self.before = LINEAR

    def output_code(self) -> int:
        return self.before

    def strip_output(self) -> None:
        raise ValueError(
            f"a Dropout layer follows the output activation {_CODE_NAMES[self.before]!r}, which "
            "this loss applies to the logits itself; put the Dropout before the output layer"
        )

    def is_identity(self) -> bool:
        return self.rate == 0.0

    def attach(self, ops: list) -> None:
        if self.is_identity():
            return
        self.before = ops[-1].output_code() if ops else LINEAR
        ops.append(self)

    def bind_forward(self, backend, x, training: bool) -> Forward:
        if not training:
            return Forward(None, x, None)
        keep = backend.memory.empty(x.shape, np.uint8)
        y = backend.memory.empty(x.shape, x.dtype)
        call = Call(self._forward, (backend.dropout.dropout_forward, x, keep, y))
        return Forward(call, y, DropoutSaved(keep))

    def _forward(self, kernel, x, keep, y) -> None:
        """The forward kernel with the step read now, when the call runs, not when it was bound."""
        seed, stream = self._key
        kernel(x, seed, stream, self.random.step(), self.rate, keep, y)

    def bind_backward(self, backend, saved: DropoutSaved, dy, need_dx: bool) -> Backward:
        if not need_dx:
            return Backward(None, dy)
        # In place: each dx[i] depends on dy[i] alone.
        call = Call(backend.dropout.dropout_backward, (dy, saved.keep, self.rate, dy))
        return Backward(call, dy)


#: The op each layer class becomes.
OP_FOR_LAYER = {
    Dense: DenseOp,
    BatchNormalization: BatchNormOp,
    Activation: ActivationOp,
    Dropout: DropoutOp,
}


def _op_class(layer) -> type:
    """The op class of ``layer``'s class or of its nearest base class that has one."""
    for cls in type(layer).__mro__:
        if cls in OP_FOR_LAYER:
            return OP_FOR_LAYER[cls]
    raise TypeError(f"no fused op for layer class {type(layer).__name__}")


class Fusion(NamedTuple):
    """What ``fuse`` returns: the ops, and the output activation the loss kernel absorbed."""

    ops: list
    output_code: int


def fuse(layers: list, layer_weights: list, loss: str | None, output_dim: int) -> Fusion:
    """The layers as fused kernel ops, and the output activation that ``loss`` absorbs.

    Parameters
    ----------
    layers : list of Layer
        The network's layers, in order.
    layer_weights : list of dict
        Per layer, its weights and gradients by name (``"kernel"``,
        ``"d_kernel"``, ...), views into the network's flat arrays.
    loss : str or None
        The canonical loss name, or ``None`` for an uncompiled network.
    output_dim : int
        Units of the output layer.

    Returns
    -------
    Fusion
        With a cross-entropy loss the final softmax/sigmoid is removed from
        the ops (the loss kernel applies it to the logits) and returned as
        ``output_code`` for ``predict``; otherwise ``output_code`` is linear.

    Raises
    ------
    ValueError
        The last layer's activation does not fit ``loss``, or
        a class-index loss (``"cross_entropy"``, ``"categorical_crossentropy"``)
        has fewer than two output units.
    """
    ops: list = []
    for layer, weights in zip(layers, layer_weights, strict=True):
        _op_class(layer)(layer, weights).attach(ops)
    output_code = LINEAR
    absorbed = LOSS_ACTIVATION.get(loss)
    if absorbed is not None and ops:
        code = ops[-1].output_code()
        if code == absorbed:
            ops[-1].strip_output()
            if ops[-1].is_identity():
                ops.pop()
            output_code = absorbed
        elif code != LINEAR:
            raise ValueError(
                f"loss {loss!r} needs the last layer's activation to be "
                f"{_CODE_NAMES[absorbed]!r} or None (logits), got {_CODE_NAMES[code]!r}"
            )
    if loss is not None and OBJECTIVES[loss].integer_labels and output_dim < 2:
        raise ValueError(
            f"loss {loss!r} needs an output layer of at least 2 units (one per class); "
            "use 'binary_crossentropy' for one unit"
        )
    return Fusion(ops, output_code)
