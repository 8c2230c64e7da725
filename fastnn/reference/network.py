"""Reference network in plain NumPy: the specification ``fastnn.Network`` is tested against.

It runs the same layers as ``fastnn.Network`` one by one on the reference
operations, with no fusion, no preallocated buffers and no flat parameter
array: every Dense is ``dense_forward`` with its own activation, every
BatchNormalization a plain ``batch_norm_forward``, every Activation an
``activation_forward``, every weight updated by its own optimizer call.  The
one shortcut it shares with ``fastnn.Network`` is mathematical: a final softmax
(with ``"cross_entropy"``) or sigmoid (with ``"binary_crossentropy"``) is left to
the loss, which takes logits.

API subset of ``fastnn.Network``: ``forward``, ``backward``, ``step``,
``train_on_batch``, ``predict``, ``get_weights``/``set_weights``.  Weights
start at zero (gamma and the moving variance at one): set them with
``set_weights``, typically from a ``fastnn.Network``'s ``get_weights()``.
"""

from __future__ import annotations

import numpy as np

from fastnn.kernels.scalar import NEGATIVE_SLOPE
from fastnn.layers import Activation, BatchNormalization, Dense
from fastnn.reference.activations import activation_backward, activation_forward
from fastnn.reference.batchnorm import batch_norm_backward, batch_norm_forward
from fastnn.reference.dense import dense_backward, dense_forward
from fastnn.reference.losses import (
    binary_cross_entropy,
    mean_squared_error,
    softmax_cross_entropy,
)
from fastnn.reference.optimizers import adam_update, rmsprop_update, sgd_update

__all__ = ["Network"]

LOSSES = {
    "cross_entropy": softmax_cross_entropy,
    "binary_crossentropy": binary_cross_entropy,
    "mse": mean_squared_error,
}

#: The output activation each loss takes care of itself (it works on logits).
LOSS_ACTIVATION = {"cross_entropy": "softmax", "binary_crossentropy": "sigmoid"}


def _params(activation: str) -> dict:
    return {"negative_slope": NEGATIVE_SLOPE} if activation == "leaky_relu" else {}


class Network:
    """A sequential network on the NumPy reference operations.

    Parameters
    ----------
    layers : list of fastnn.layers.Dense / BatchNormalization / Activation
        Only their configuration is read.
    input_dim : int
        Number of input features.
    loss : str
        ``"cross_entropy"``, ``"binary_crossentropy"`` or ``"mse"``.
    optimizer : fastnn.optimizers.SGD, Adam or RMSprop
        Only its hyperparameters are read; the state lives here.
    dtype : numpy dtype
        Dtype of the weights and the computation.
    """

    def __init__(self, layers, input_dim: int, loss: str, optimizer, dtype=np.float64):
        self.layers = list(layers)
        self.loss = loss
        self.optimizer_name = type(optimizer).__name__
        self.hyper = optimizer.get_config()
        self.hyper["weight_decay"] = self.hyper["weight_decay"] or 0.0
        self.dtype = np.dtype(dtype)
        self.iterations = 0
        # weights[i]: name -> array for layer i, in Keras order; trainable[i]: their names.
        self.weights, self.trainable = [], []
        width = input_dim
        for layer in self.layers:
            weights, names = {}, []
            for spec in layer.weight_specs(width):
                fill = 1.0 if spec.name in ("gamma", "moving_variance") else 0.0
                weights[spec.name] = np.full(spec.shape, fill, dtype=self.dtype)
                if spec.trainable:
                    names.append(spec.name)
            if isinstance(layer, BatchNormalization):
                weights.setdefault("gamma", np.ones(width, dtype=self.dtype))
                weights.setdefault("beta", np.zeros(width, dtype=self.dtype))
            self.weights.append(weights)
            self.trainable.append(names)
            width = layer.output_dim(width)
        self.state = [
            {name: [np.zeros_like(w[name]) for _ in range(2)] for name in names}
            for w, names in zip(self.weights, self.trainable, strict=True)
        ]
        self.absorbed_layer = self._absorbed_layer()

    def _absorbed_layer(self) -> int | None:
        """Index of the last layer whose activation the loss applies itself, if any."""
        activation = LOSS_ACTIVATION.get(self.loss)
        for index in reversed(range(len(self.layers))):
            layer = self.layers[index]
            if isinstance(layer, Activation) and layer.activation == "linear":
                continue
            if getattr(layer, "activation", None) == activation:
                return index
            return None
        return None

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights in Keras order (as ``fastnn.Network.get_weights``)."""
        return [
            w[spec.name].copy()
            for w, layer in zip(self.weights, self.layers, strict=True)
            for spec in layer.weight_specs(0)
        ]

    def set_weights(self, values) -> None:
        """Set all weights from a list in Keras order, cast to this network's dtype."""
        values = list(values)
        for w, layer in zip(self.weights, self.layers, strict=True):
            for spec in layer.weight_specs(0):
                w[spec.name][...] = values.pop(0)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Outputs for ``x``, output activation applied; ``training=True`` prepares ``backward``."""
        h = x
        self.caches = []
        for index, layer in enumerate(self.layers):
            w = self.weights[index]
            activation = getattr(layer, "activation", None)
            if index == self.absorbed_layer:
                activation = "linear"
            if isinstance(layer, Dense):
                h, cache = dense_forward(
                    h, w["kernel"], w.get("bias"), activation, **_params(activation)
                )
            elif isinstance(layer, BatchNormalization):
                h, cache = batch_norm_forward(
                    h,
                    w["gamma"],
                    w["beta"],
                    w["moving_mean"],
                    w["moving_variance"],
                    training=training,
                    momentum=layer.momentum,
                    epsilon=layer.epsilon,
                )
            else:
                h = activation_forward(h, activation, **_params(activation))
                cache = (h, activation)
            self.caches.append(cache)
        self.logits = h
        if self.absorbed_layer is None:
            return h
        activation = LOSS_ACTIVATION[self.loss]
        return activation_forward(h, activation)

    def backward(self, y: np.ndarray) -> float:
        """Loss of the last ``forward(x, training=True)`` against ``y``; stores ``self.grads``."""
        loss, dy = LOSSES[self.loss](self.logits, y)
        self.grads = [{} for _ in self.layers]
        for index in reversed(range(len(self.layers))):
            layer, cache, grads = self.layers[index], self.caches[index], self.grads[index]
            if isinstance(layer, Dense):
                dy, grads["kernel"], grads["bias"] = dense_backward(dy, cache, need_dx=index > 0)
            elif isinstance(layer, BatchNormalization):
                dy, grads["gamma"], grads["beta"] = batch_norm_backward(dy, cache)
            else:
                out, activation = cache
                dy = activation_backward(dy, out, activation, **_params(activation))
        return loss

    def step(self) -> None:
        """One optimizer update of every trainable weight, from ``self.grads``."""
        self.iterations += 1
        hyper = self.hyper
        layers = zip(self.weights, self.grads, self.trainable, self.state, strict=True)
        for w, grads, names, state in layers:
            for name in names:
                param, grad, (first, second) = w[name], grads[name], state[name]
                if self.optimizer_name == "SGD":
                    sgd_update(param, grad, first, **hyper)
                elif self.optimizer_name == "Adam":
                    adam_update(param, grad, first, second, self.iterations, **hyper)
                else:
                    rmsprop_update(param, grad, first, second, **hyper)

    def train_on_batch(self, x: np.ndarray, y: np.ndarray) -> float:
        """Forward in training mode, backward and one update; returns the loss."""
        self.forward(x, training=True)
        loss = self.backward(y)
        self.step()
        return loss

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Outputs in inference mode (moving statistics), output activation applied."""
        return self.forward(x, training=False)
