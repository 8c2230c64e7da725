"""The initialization claims (1-6 and 14) as experiments returning plain data.

Each ``claim_N`` function takes a ``fastnn.study.data.Dataset`` (already
standardized where the claim is about variance propagation) and keyword
arguments setting its scale, runs seeded fastnn networks and returns a dict of
floats, lists and arrays.  The defaults are the full run's scale; the report
and the tests pass smaller ones.  ``tick`` (optional) is called once per
training run, for a progress bar.
"""

from __future__ import annotations

import math

import numpy as np

from fastnn import Network
from fastnn import init as initializers
from fastnn.study.nets import (
    INIT_SCHEMES,
    PLAIN_NORMALS,
    data_chance,
    geometric_factor,
    initializer,
    layer_statistics,
    mlp,
    train,
)

__all__ = [
    "claim_1_zero_init",
    "claim_2_constant_init",
    "claim_3_small_init",
    "claim_4_large_init",
    "claim_5_variance_preserving",
    "claim_6_init_comparison",
    "claim_14_deep_relu",
]

#: Rows of the probe batch used for statistics at initialization.
PROBE_ROWS = 500


def _noop() -> None:
    pass


def _probe(data):
    return data.x_train[:PROBE_ROWS], data.y_train[:PROBE_ROWS]


def _hidden_kernels(model: Network) -> list[np.ndarray]:
    """Kernels of the hidden Dense layers (the output layer excluded), from ``get_weights``."""
    kernels = [w for w in model.get_weights() if w.ndim == 2]
    return kernels[:-1]


def _unit_spreads(kernels: list[np.ndarray]) -> list[float]:
    """Per kernel, the largest difference between a unit's incoming weights and the first unit's."""
    return [float(np.abs(k - k[:, :1]).max()) for k in kernels]


def claim_1_zero_init(data, *, width=64, depth=3, steps=400, learning_rate=0.1, seed=0, tick=None):
    """Zero initialization: hidden weights get zero gradient, stay zero; chance accuracy.

    Returns, per activation (``"relu"``, ``"tanh"``): the largest hidden weight
    gradient at initialization, the largest ``|w|`` of any hidden kernel after
    ``steps`` SGD steps, and the final test accuracy beside ``chance``.
    """
    tick = tick or _noop
    results = {"chance": data_chance(data), "steps": steps}
    for activation in ("relu", "tanh"):
        model = mlp(
            data.n_features, [width] * depth, data.n_classes, activation, "zeros", seed=seed
        )
        stats = layer_statistics(model, *_probe(data))
        run = train(model, data, steps=steps, learning_rate=learning_rate, seed=seed)
        tick()
        results[activation] = {
            "initial_hidden_gradient_norm": float(stats["weight_gradient_norm"].max()),
            "max_abs_hidden_weight": float(max(np.abs(w).max() for w in _hidden_kernels(model))),
            "final_accuracy": run["final_accuracy"],
            "final_loss": run["final_loss"],
        }
    return results


def _collapse(model: Network) -> list[np.ndarray]:
    """Weights of the one-unit-wide network equivalent to ``model`` if its units are identical.

    Layer 1 keeps one column of its kernel; a later hidden layer's single
    weight is the sum of the (identical) incoming weights; the output layer's
    row is the sum of its rows.
    """
    weights = model.get_weights()
    kernels, biases = weights[0::2], weights[1::2]
    out = [kernels[0][:, :1].copy(), biases[0][:1].copy()]
    for kernel, bias in zip(kernels[1:-1], biases[1:-1], strict=True):
        out += [kernel[:, :1].sum(axis=0, keepdims=True), bias[:1].copy()]
    out += [kernels[-1].sum(axis=0, keepdims=True), biases[-1].copy()]
    return out


def claim_2_constant_init(
    data, *, value=0.05, width=64, depth=3, steps=400, learning_rate=0.1, seed=0, tick=None
):
    """Constant initialization: every hidden unit stays identical; the layer acts as one unit.

    Returns the largest difference between any two units' incoming weight
    vectors per hidden layer (0 means bit for bit) with the rounding bound it
    must stay within and the same spread for the Xavier-initialized network,
    the accuracy of the trained network, of the one-unit network built from
    its weights (which must predict the same), of a one-unit network trained
    from Xavier, and of the full-width network trained from Xavier.

    In exact arithmetic the units stay identical.  In floating point a BLAS
    may sum identical columns of a product in different orders (an edge tile
    of its kernel, one thread's share): with OpenBLAS's Haswell SGEMM kernel
    the units ended 3e-8 apart after 150 steps at width 32, with its AVX-512
    kernel 0.  Such rounding enters each weight at a few ulps per step, so the
    bound is ``4 * steps * eps * max |w|``; a broken symmetry would grow to the
    size of the weights, as the Xavier network's spread shows.
    """
    tick = tick or _noop
    n_in, n_out, widths = data.n_features, data.n_classes, [width] * depth
    init = initializer("constant", value=value)
    model = mlp(n_in, widths, n_out, "tanh", init, seed=seed)
    run = train(model, data, steps=steps, learning_rate=learning_rate, seed=seed)
    tick()
    kernels = _hidden_kernels(model)
    spreads = _unit_spreads(kernels)
    eps = float(np.finfo(model.dtype).eps)
    spread_bound = 4 * steps * eps * max(float(np.abs(k).max()) for k in kernels)
    narrow = mlp(n_in, [1] * depth, n_out, "tanh", "xavier_normal", seed=seed)
    narrow.set_weights(_collapse(model))
    probabilities = model.predict(data.x_test, batch_size=1000)
    collapsed = narrow.predict(data.x_test, batch_size=1000)
    collapsed_accuracy = float(np.mean(collapsed.argmax(axis=1) == data.y_test))
    one_unit = train(
        mlp(n_in, [1] * depth, n_out, "tanh", "xavier_normal", seed=seed),
        data,
        steps=steps,
        learning_rate=learning_rate,
        seed=seed,
    )
    tick()
    full_model = mlp(n_in, widths, n_out, "tanh", "xavier_normal", seed=seed)
    full = train(full_model, data, steps=steps, learning_rate=learning_rate, seed=seed)
    tick()
    return {
        "value": value,
        "unit_spread_per_layer": spreads,
        "max_unit_spread": max(spreads),
        "unit_spread_bound": spread_bound,
        "xavier_unit_spread": max(_unit_spreads(_hidden_kernels(full_model))),
        "constant_accuracy": run["final_accuracy"],
        "collapsed_accuracy": collapsed_accuracy,
        "collapsed_max_probability_difference": float(np.abs(probabilities - collapsed).max()),
        "one_unit_trained_accuracy": one_unit["final_accuracy"],
        "xavier_full_width_accuracy": full["final_accuracy"],
        "chance": data_chance(data),
    }


def _depth_profile(data, activation, init, width, depth, seed) -> dict:
    model = mlp(data.n_features, [width] * depth, data.n_classes, activation, init, seed=seed)
    stats = layer_statistics(model, *_probe(data))
    return {
        "activation_std": stats["activation_std"].tolist(),
        "preactivation_std": stats["preactivation_std"].tolist(),
        "gradient_std": stats["gradient_std"].tolist(),
        "weight_gradient_norm": stats["weight_gradient_norm"].tolist(),
        "saturated": stats["saturated"].tolist(),
        "activation_factor": geometric_factor(stats["activation_std"]),
        "preactivation_factor": geometric_factor(stats["preactivation_std"]),
        "gradient_factor": geometric_factor(stats["gradient_std"][::-1]),  # growth going back
        "activation_ratio": float(stats["activation_std"][-1] / stats["activation_std"][0]),
        "gradient_ratio": float(stats["gradient_std"][0] / stats["gradient_std"][-1]),
    }


def claim_3_small_init(
    data, *, std=0.01, width=100, depth=10, steps=600, learning_rate=0.1, seed=0, tick=None
):
    """Small weights N(0, std^2): per-layer activation std and gradient shrink geometrically.

    Profiles at initialization for tanh and sigmoid nets (per hidden layer:
    activation std, backpropagated gradient std, weight-gradient norm, and
    the per-layer factors), then a tanh net trained ``steps`` steps, against
    the same net with Xavier.  For tanh the predicted factor is about
    ``sqrt(width) * std`` per layer.
    """
    tick = tick or _noop
    init = initializer("normal", std=std)
    result = {
        "std": std,
        "width": width,
        "depth": depth,
        "predicted_factor": math.sqrt(width) * std,
    }
    for activation in ("tanh", "sigmoid"):
        result[activation] = _depth_profile(data, activation, init, width, depth, seed)
    for label, scheme in (("small", init), ("xavier", "xavier_normal")):
        model = mlp(data.n_features, [width] * depth, data.n_classes, "tanh", scheme, seed=seed)
        run = train(model, data, steps=steps, learning_rate=learning_rate, seed=seed)
        tick()
        result[f"{label}_final_accuracy"] = run["final_accuracy"]
        result[f"{label}_final_loss"] = run["final_loss"]
    result["chance"] = data_chance(data)
    return result


def claim_4_large_init(
    data, *, std=1.0, width=100, depth=10, steps=300, learning_rate=0.01, seed=0, tick=None
):
    """Large weights N(0, std^2): ReLU activations and gradients grow geometrically.

    The predicted ReLU factor per layer is ``sqrt(width * std**2 / 2)`` (a ReLU
    keeps half the second moment).  Also a tanh profile (saturation), and both
    nets trained: the ReLU net diverges or is stuck, the tanh net saturates.
    """
    tick = tick or _noop
    init = initializer("normal", std=std)
    result = {
        "std": std,
        "width": width,
        "depth": depth,
        "predicted_factor": math.sqrt(width * std**2 / 2.0),
    }
    for activation in ("relu", "tanh"):
        result[activation] = _depth_profile(data, activation, init, width, depth, seed)
        model = mlp(data.n_features, [width] * depth, data.n_classes, activation, init, seed=seed)
        run = train(model, data, steps=steps, learning_rate=learning_rate, seed=seed)
        tick()
        result[activation]["diverged"] = run["diverged"]
        result[activation]["final_accuracy"] = run["final_accuracy"]
        result[activation]["final_loss"] = run["final_loss"]
    result["chance"] = data_chance(data)
    return result


#: Weight shapes of the Glorot-vs-LeCun comparison: n_in > n_out, equal, n_in < n_out.
FORMULA_SHAPES = ((784, 100), (100, 100), (100, 10), (64, 256))


def claim_5_variance_preserving(data, *, width=100, depth=10, seed=0, tick=None):
    """Xavier keeps tanh's variance steady, He keeps ReLU's; Xavier with ReLU halves it.

    Per-layer activation and gradient variance at initialization for every
    pairing of {tanh, relu} with {xavier_normal, he_normal}, with the
    per-layer variance factor.  Also the "Xavier normal N(0, 1/n_in)" of
    tutorials against Glorot's N(0, 2/(n_in+n_out)): the measured std of
    ``fastnn.init.xavier_normal`` and ``lecun_normal`` draws for several
    shapes beside both formulas.
    """
    tick = tick or _noop
    profiles = {}
    for activation in ("tanh", "relu"):
        for init in ("xavier_normal", "he_normal"):
            profile = _depth_profile(data, activation, init, width, depth, seed)
            profile["activation_variance_factor"] = profile["activation_factor"] ** 2
            profile["gradient_variance_factor"] = profile["gradient_factor"] ** 2
            profiles[f"{activation}+{init}"] = profile
    formulas = []
    for stream, (n_in, n_out) in enumerate(FORMULA_SHAPES):
        xavier = initializers.xavier_normal((n_in, n_out), seed=seed, stream=stream)
        lecun = PLAIN_NORMALS["lecun_normal"]((n_in, n_out), seed=seed, stream=stream)
        formulas.append(
            {
                "shape": (n_in, n_out),
                "glorot_std": math.sqrt(2.0 / (n_in + n_out)),
                "lecun_std": math.sqrt(1.0 / n_in),
                "xavier_normal_measured": float(xavier.std(dtype=np.float64)),
                "lecun_normal_measured": float(lecun.std(dtype=np.float64)),
            }
        )
    tick()
    return {"width": width, "depth": depth, "profiles": profiles, "formulas": formulas}


def claim_6_init_comparison(
    data,
    *,
    activation="relu",
    widths=(100, 100, 100),
    steps=1500,
    learning_rate=0.05,
    momentum=0.9,
    seeds=(0, 1, 2),
    schemes=None,
    tick=None,
):
    """Final test loss and accuracy after a fixed budget for each initialization scheme.

    SGD with momentum, the same data order for every scheme under one seed.
    A run whose loss turns NaN or Inf counts as diverged (chance accuracy).
    """
    tick = tick or _noop
    schemes = list(INIT_SCHEMES) if schemes is None else list(schemes)
    table = {}
    for label in schemes:
        name, params = INIT_SCHEMES[label]
        rows = []
        for seed in seeds:
            model = mlp(
                data.n_features,
                list(widths),
                data.n_classes,
                activation,
                initializer(name, **params),
                seed=seed,
            )
            run = train(
                model,
                data,
                steps=steps,
                learning_rate=learning_rate,
                momentum=momentum,
                seed=seed,
            )
            tick()
            rows.append(
                {
                    "seed": seed,
                    "accuracy": run["final_accuracy"],
                    "loss": run["final_loss"],
                    "diverged": run["diverged"],
                }
            )
        accuracies = np.array([r["accuracy"] for r in rows])
        table[label] = {
            "runs": rows,
            "mean_accuracy": float(accuracies.mean()),
            "min_accuracy": float(accuracies.min()),
            "max_accuracy": float(accuracies.max()),
            "mean_loss": float(np.mean([r["loss"] for r in rows])),
        }
    return {
        "activation": activation,
        "widths": list(widths),
        "steps": steps,
        "seeds": list(seeds),
        "schemes": table,
        "chance": data_chance(data),
    }


def claim_14_deep_relu(
    data,
    *,
    depths=(22, 30),
    width=64,
    steps=800,
    learning_rate=0.01,
    momentum=0.9,
    batch_size=64,
    eval_every=50,
    seeds=(0, 1, 2),
    escape_loss=2.0,
    tick=None,
):
    """He et al. (2015) Fig. 3 scaled down: deep ReLU MLPs, "Xavier" against He.

    He et al.'s "Xavier" is ``N(0, 1/n)``; with equal widths that equals
    ``xavier_normal`` (``2/(n_in+n_out)``), used here.  ``depths`` counts
    weight layers (``depth - 1`` hidden layers of ``width`` units, then the
    output).  Per run: the training-loss curve (mean over each ``eval_every``
    steps), the first step at which it falls below ``escape_loss`` (None:
    stalled for the whole budget; ``ln 10 = 2.30`` is the loss of a uniform
    guess over ten classes) and the final test accuracy.
    """
    tick = tick or _noop
    runs = {}
    for depth in depths:
        for init in ("xavier_normal", "he_normal"):
            rows = []
            for seed in seeds:
                model = mlp(
                    data.n_features, [width] * (depth - 1), data.n_classes, "relu", init, seed=seed
                )
                run = train(
                    model,
                    data,
                    steps=steps,
                    learning_rate=learning_rate,
                    momentum=momentum,
                    batch_size=batch_size,
                    eval_every=eval_every,
                    seed=seed,
                )
                tick()
                losses = run["train_loss"][1:]
                below = np.flatnonzero(losses < escape_loss)
                rows.append(
                    {
                        "seed": seed,
                        "steps": run["steps"][1:].tolist(),
                        "train_loss": losses.tolist(),
                        "escape_step": int(run["steps"][1:][below[0]]) if below.size else None,
                        "final_train_loss": float(losses[-1]) if losses.size else math.inf,
                        "final_accuracy": run["final_accuracy"],
                        "diverged": run["diverged"],
                    }
                )
            runs[f"{depth}/{init}"] = rows
    return {
        "depths": list(depths),
        "width": width,
        "steps": steps,
        "learning_rate": learning_rate,
        "momentum": momentum,
        "batch_size": batch_size,
        "escape_loss": escape_loss,
        "runs": runs,
        "chance": data_chance(data),
    }
