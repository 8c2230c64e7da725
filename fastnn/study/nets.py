"""Building blocks the experiments share: MLPs, a seeded training loop, layer-by-layer probes.

Everything goes through fastnn's public API: networks are ``fastnn.Network``
objects trained with ``train_on_batch`` and scored with ``evaluate``; the
per-layer statistics are recomputed outside the network with
``fastnn.functional`` from ``Network.get_weights()`` and the layers'
configuration, so nothing here depends on how ``Network`` stores its buffers.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from fastnn import Activation, BatchNormalization, Dense, Network
from fastnn import functional as F
from fastnn import init as initializers
from fastnn.optimizers import SGD

__all__ = [
    "mlp",
    "initializer",
    "train",
    "forward_layers",
    "layer_statistics",
    "geometric_factor",
    "data_chance",
    "INIT_SCHEMES",
    "PLAIN_NORMALS",
]

#: The initialization schemes the study compares, by the label used in tables.
INIT_SCHEMES = {
    "zeros": ("zeros", {}),
    "constant": ("constant", {"value": 0.05}),
    "small N(0, 0.01^2)": ("normal", {"std": 0.01}),
    "large N(0, 1)": ("normal", {"std": 1.0}),
    "xavier_normal": ("xavier_normal", {}),
    "xavier_uniform": ("xavier_uniform", {}),
    "he_normal": ("he_normal", {}),
    "he_uniform": ("he_uniform", {}),
    "lecun_normal": ("lecun_normal", {}),
}


#: The study replicates papers whose normal initializers are plain normals (He et
#: al. 2015, LeCun et al. 1998), and its results were measured with them.  Since
#: ``fastnn.init``'s ``he_normal`` and ``lecun_normal`` follow Keras (truncated
#: normals), ``mlp`` reads the study's ``"he_normal"``/``"lecun_normal"`` as these
#: plain ones: PyTorch's ``kaiming_normal`` and the untruncated LeCun normal.
PLAIN_NORMALS = {
    "he_normal": "kaiming_normal",
    "lecun_normal": initializers.get(
        "variance_scaling", scale=1.0, mode="fan_in", distribution="untruncated_normal"
    ),
}


def initializer(name: str, **params):
    """A ``Dense(init=...)`` value: a ``fastnn.init`` name, bound to ``params`` if any."""
    return initializers.get(name, **params) if params else name


def mlp(
    n_in: int,
    widths,
    n_out: int,
    activation: str,
    init="he_normal",
    *,
    batch_norm: str | None = None,
    seed: int = 0,
) -> Network:
    """A multilayer perceptron with a softmax output, built and ready to compile.

    Parameters
    ----------
    n_in, n_out : int
        Input features and classes.
    widths : sequence of int
        Hidden layer widths.
    activation : str
        Hidden activation.
    init : str or callable
        Kernel initializer of every Dense layer (the output layer included).
    batch_norm : {None, "after", "before"}
        ``"after"``: Dense(act) -> BN (BN normalizes the activation's output);
        ``"before"``: Dense -> BN -> Activation(act) (Ioffe & Szegedy's placement).
    seed : int
        The network's seed (its weights and nothing else).
    """
    if batch_norm not in (None, "after", "before"):
        raise ValueError(f"batch_norm must be None, 'after' or 'before', got {batch_norm!r}")
    if isinstance(init, str):
        init = PLAIN_NORMALS.get(init, init)
    layers = []
    for index, width in enumerate(widths):
        first = {"input_dim": n_in} if index == 0 else {}
        if batch_norm == "before":
            layers += [Dense(width, None, init, **first), BatchNormalization()]
            layers.append(Activation(activation))
        else:
            layers.append(Dense(width, activation, init, **first))
            if batch_norm == "after":
                layers.append(BatchNormalization())
    layers.append(Dense(n_out, "softmax", init, input_dim=None if widths else n_in))
    return Network(layers, seed=seed)


def train(
    model: Network,
    data,
    *,
    steps: int,
    batch_size: int = 60,
    learning_rate: float = 0.1,
    momentum: float = 0.0,
    optimizer=None,
    eval_every: int | None = None,
    seed: int = 0,
    on_eval: Callable[[int, Network], None] | None = None,
) -> dict:
    """Train ``model`` on ``data`` for ``steps`` mini-batch steps; record the test curve.

    Batches are drawn without replacement from a fresh permutation each epoch
    (``numpy.random.default_rng(seed)``), so a run is reproducible bit for bit.
    A NaN or Inf loss ends the run (``diverged=True``); accuracy then counts
    as what the last finite evaluation gave, or chance if there was none.

    Returns
    -------
    dict
        ``steps`` (evaluation points), ``test_accuracy``, ``test_loss``,
        ``train_loss`` (mean over the batches since the last evaluation),
        ``final_accuracy``, ``final_loss``, ``train_accuracy`` (the whole
        training set at the end) and ``diverged``.
    """
    model.compile(
        optimizer if optimizer is not None else SGD(learning_rate, momentum=momentum),
        "cross_entropy",
        ["accuracy"],
    )
    rng = np.random.default_rng(seed)
    n = data.x_train.shape[0]
    eval_every = eval_every or steps
    curve = {"steps": [], "test_accuracy": [], "test_loss": [], "train_loss": []}
    diverged, order, position, running = False, rng.permutation(n), 0, []

    def evaluate(step: int) -> None:
        loss, accuracy = model.evaluate(data.x_test, data.y_test, batch_size=1000)
        if not math.isfinite(loss):
            loss, accuracy = math.inf, data_chance(data)
        curve["steps"].append(step)
        curve["test_accuracy"].append(float(accuracy))
        curve["test_loss"].append(float(loss))
        curve["train_loss"].append(float(np.mean(running)) if running else math.nan)
        running.clear()
        if on_eval is not None:
            on_eval(step, model)

    evaluate(0)
    for step in range(1, steps + 1):
        if position + batch_size > n:
            order, position = rng.permutation(n), 0
        rows = order[position : position + batch_size]
        position += batch_size
        try:
            loss, _ = model.train_on_batch(data.x_train[rows], data.y_train[rows])
        except FloatingPointError:
            diverged = True
            break
        running.append(loss)
        if step % eval_every == 0 or step == steps:
            evaluate(step)
    result = {key: np.asarray(value) for key, value in curve.items()}
    result["diverged"] = diverged
    result["final_accuracy"] = data_chance(data) if diverged else float(curve["test_accuracy"][-1])
    result["final_loss"] = math.inf if diverged else float(curve["test_loss"][-1])
    if diverged:
        result["train_accuracy"] = data_chance(data)
    else:
        train_loss, train_accuracy = model.evaluate(data.x_train, data.y_train, batch_size=1000)
        result["train_accuracy"] = float(train_accuracy)
        result["train_final_loss"] = float(train_loss)
    return result


def data_chance(data) -> float:
    """Accuracy of the most frequent test class (what a network that learned nothing scores)."""
    return float(np.bincount(data.y_test).max() / data.y_test.size)


def _weights_by_layer(model: Network) -> list[dict]:
    """``model.get_weights()`` regrouped per layer, by the names of each layer's weights."""
    weights = iter(model.get_weights())
    grouped, width = [], model.input_dim
    for layer in model.layers:
        names = [spec.name for spec in layer.weight_specs(width)]
        grouped.append({name: next(weights) for name in names})
        width = layer.output_dim(width)
    return grouped


def forward_layers(model: Network, x: np.ndarray, *, batch_statistics: bool = True) -> list:
    """Run ``model`` layer by layer on ``x`` with ``fastnn.functional``; return every step.

    Parameters
    ----------
    model : Network
        A built network of Dense, BatchNormalization and Activation layers.
    x : ndarray
        A batch in the network's dtype.
    batch_statistics : bool
        BatchNormalization normalizes with the batch's own statistics (what
        a layer sees in training) or with its moving ones (inference).

    Returns
    -------
    list of dict
        One per layer: ``layer`` (the object), ``pre`` (a Dense layer's
        ``x @ W + b`` before its activation, else None), ``out`` (its output),
        ``cache`` and ``kind`` for ``backward_layers``.
    """
    steps, h = [], np.ascontiguousarray(x, dtype=model.dtype)
    last = len(model.layers) - 1
    for index, (layer, w) in enumerate(zip(model.layers, _weights_by_layer(model), strict=True)):
        if isinstance(layer, Dense):
            activation = "linear" if index == last else layer.activation  # logits
            pre, _ = F.dense_forward(h, w["kernel"], w.get("bias"), "linear")
            out, cache = F.dense_forward(h, w["kernel"], w.get("bias"), activation)
            steps.append({"layer": layer, "pre": pre, "out": out, "cache": cache, "kind": "dense"})
        elif isinstance(layer, BatchNormalization):
            width = h.shape[1]
            gamma = w.get("gamma", np.ones(width, h.dtype))
            beta = w.get("beta", np.zeros(width, h.dtype))
            out, cache = F.batch_norm_forward(
                h,
                gamma,
                beta,
                w["moving_mean"].copy(),
                w["moving_variance"].copy(),
                training=batch_statistics,
                epsilon=layer.epsilon,
            )
            steps.append({"layer": layer, "pre": None, "out": out, "cache": cache, "kind": "bn"})
        else:
            out = F.activation_forward(h, layer.activation)
            steps.append(
                {"layer": layer, "pre": h, "out": out, "cache": layer.activation, "kind": "act"}
            )
        h = out
    return steps


def layer_statistics(model: Network, x: np.ndarray, y: np.ndarray) -> dict:
    """Per-Dense-layer forward and backward statistics of ``model`` on one batch.

    The loss is the mean softmax cross-entropy of the last layer's logits
    against ``y``; its gradient is propagated back layer by layer.

    Returns
    -------
    dict of ndarray, one entry per hidden Dense layer (the output layer excluded)
        ``activation_std``: std of the layer's output over batch and units;
        ``preactivation_std``: std of ``x @ W + b``;
        ``gradient_std``: std of the loss gradient with respect to that
        output (the backpropagated signal);
        ``weight_gradient_norm``: Frobenius norm of ``dL/dW``;
        ``saturated``: fraction of outputs with ``|h| > 0.99`` (tanh) or
        outside ``[0.01, 0.99]`` (sigmoid), else 0;
        ``loss``: the loss (a float).
    """
    steps = forward_layers(model, x)
    loss, grad = F.softmax_cross_entropy(steps[-1]["out"], y)
    grads = [None] * len(steps)
    weight_grads = [None] * len(steps)
    for index in reversed(range(len(steps))):
        grads[index] = grad
        step = steps[index]
        if step["kind"] == "dense":
            grad, weight_grads[index], _ = F.dense_backward(grad, step["cache"])
        elif step["kind"] == "bn":
            grad, _, _ = F.batch_norm_backward(grad, step["cache"])
        else:
            grad = F.activation_backward(grad, step["out"], step["cache"])
    rows = {k: [] for k in ("activation_std", "preactivation_std", "gradient_std")}
    rows["weight_gradient_norm"], rows["saturated"] = [], []
    dense = [i for i, s in enumerate(steps) if s["kind"] == "dense"][:-1]
    for index in dense:
        step, act = steps[index], steps[index]["layer"].activation
        out = step["out"]
        rows["activation_std"].append(float(out.std(dtype=np.float64)))
        rows["preactivation_std"].append(float(step["pre"].std(dtype=np.float64)))
        rows["gradient_std"].append(float(grads[index].std(dtype=np.float64)))
        rows["weight_gradient_norm"].append(float(np.linalg.norm(weight_grads[index])))
        if act == "tanh":
            rows["saturated"].append(float(np.mean(np.abs(out) > 0.99)))
        elif act == "sigmoid":
            rows["saturated"].append(float(np.mean((out < 0.01) | (out > 0.99))))
        else:
            rows["saturated"].append(0.0)
    result = {key: np.asarray(value) for key, value in rows.items()}
    result["loss"] = float(loss)
    return result


def geometric_factor(values) -> float:
    """Per-layer growth factor of a positive sequence: ``exp`` of the mean step of its log."""
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2 or not np.all(values > 0):
        return math.nan
    return float(np.exp(np.mean(np.diff(np.log(values)))))
