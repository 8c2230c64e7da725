"""The BatchNorm claims (7-13) as experiments returning plain data.

Each ``claim_N`` function takes a ``fastnn.study.data.Dataset`` (raw features,
as Ioffe & Szegedy trained on raw MNIST pixels) and keyword arguments setting
its scale; it trains seeded fastnn networks with and without
``BatchNormalization`` and returns dicts of floats, lists and arrays.  The
defaults are the full run's scale.  ``tick`` is called once per training run.
"""

from __future__ import annotations

import math

import numpy as np

from fastnn import BatchNormalization, Dense, Network
from fastnn.study.nets import data_chance, forward_layers, initializer, mlp, train

__all__ = [
    "claim_7_bn_speed",
    "claim_8_input_distribution",
    "claim_9_learning_rates",
    "claim_10_init_sensitivity",
    "claim_11_placement",
    "claim_12_parameters",
    "claim_13_regularization",
    "trains",
]

#: Rows of the test set on which claim 8 follows the sigmoid inputs.
PROBE_ROWS = 1000
#: Percentiles of claim 8 (the paper's Fig. 1b/c).
PERCENTILES = (15, 50, 85)


def _noop() -> None:
    pass


def _sigmoid_inputs(model: Network, x: np.ndarray) -> np.ndarray:
    """Inputs of the last sigmoid layer on ``x`` (BatchNorm with the batch's statistics)."""
    steps = forward_layers(model, x, batch_statistics=True)
    inputs = [s["pre"] for s in steps if getattr(s["layer"], "activation", None) == "sigmoid"]
    return inputs[-1]


def claim_7_bn_speed(
    data,
    *,
    widths=(100, 100, 100),
    steps=5000,
    batch_size=60,
    learning_rate=0.5,
    eval_every=100,
    seeds=(0, 1, 2),
    target_fraction=0.95,
    tick=None,
):
    """Ioffe & Szegedy (2015) section 4.1: a sigmoid MLP with and without BN, accuracy vs steps.

    BN sits between each Dense and its sigmoid, as in the paper; plain SGD,
    the same rate for both.  Per seed: the test-accuracy curve, the final
    accuracy, and the first step at which each net reaches
    ``target_fraction`` of the no-BN net's final accuracy.  Each run also
    records the 15th/50th/85th percentiles of every unit's input to the last
    sigmoid layer at every evaluation (claim 8 reads them).
    """
    tick = tick or _noop
    probe = data.x_test[:PROBE_ROWS]
    runs = {"without": [], "with": []}
    for seed in seeds:
        for arm, placement in (("without", None), ("with", "before")):
            model = mlp(
                data.n_features,
                list(widths),
                data.n_classes,
                "sigmoid",
                "xavier_uniform",
                batch_norm=placement,
                seed=seed,
            )
            percentiles = []
            run = train(
                model,
                data,
                steps=steps,
                batch_size=batch_size,
                learning_rate=learning_rate,
                eval_every=eval_every,
                seed=seed,
                on_eval=lambda _step, m, out=percentiles: out.append(
                    np.percentile(_sigmoid_inputs(m, probe), PERCENTILES, axis=0)
                ),
            )
            tick()
            run["percentiles"] = np.stack(percentiles)  # (evaluations, 3, units)
            run["seed"] = seed
            runs[arm].append(run)
    summary = []
    for without, with_bn in zip(runs["without"], runs["with"], strict=True):
        target = target_fraction * without["final_accuracy"]
        row = {"seed": without["seed"], "target_accuracy": target}
        for arm, run in (("without", without), ("with", with_bn)):
            reached = np.flatnonzero(run["test_accuracy"] >= target)
            row[f"{arm}_final_accuracy"] = run["final_accuracy"]
            row[f"{arm}_steps_to_target"] = int(run["steps"][reached[0]]) if reached.size else None
        summary.append(row)
    return {
        "widths": list(widths),
        "steps": steps,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "target_fraction": target_fraction,
        "runs": runs,
        "summary": summary,
    }


def _drift(percentiles: np.ndarray) -> dict:
    """How far the percentiles of each unit wander over training, per unit then the median.

    ``median_drift``: range over time of the 50th percentile divided by the
    mean 15-85 spread; ``spread_ratio``: largest over smallest 15-85 spread.
    """
    p15, p50, p85 = percentiles[:, 0], percentiles[:, 1], percentiles[:, 2]
    spread = p85 - p15
    drift = (p50.max(axis=0) - p50.min(axis=0)) / spread.mean(axis=0)
    ratio = spread.max(axis=0) / np.maximum(spread.min(axis=0), 1e-12)
    return {
        "median_drift": float(np.median(drift)),
        "median_spread_ratio": float(np.median(ratio)),
        "unit0_drift": float(drift[0]),
    }


def claim_8_input_distribution(data, *, result7=None, unit=0, tick=None, **kwargs):
    """The paper's Fig. 1b/c: a sigmoid unit's input distribution over training, +/- BN.

    Reads the percentiles recorded by ``claim_7_bn_speed`` (pass its result
    as ``result7``, or the keyword arguments to run it, one seed by default).
    Returns, for each arm, the curves of ``unit`` and the drift statistics
    over all units of the last hidden layer (seed of the first run).
    """
    if result7 is None:
        kwargs.setdefault("seeds", (0,))
        result7 = claim_7_bn_speed(data, tick=tick, **kwargs)
    out = {"unit": unit, "percentiles": list(PERCENTILES)}
    for arm in ("without", "with"):
        run = result7["runs"][arm][0]
        out[arm] = {
            "steps": run["steps"].tolist(),
            "unit_percentiles": run["percentiles"][:, :, unit].T.tolist(),  # 3 x evaluations
            **_drift(run["percentiles"]),
        }
    return out


def trains(accuracy: float, diverged: bool, best: float, chance: float) -> bool:
    """A run "trains" when it did not diverge and closed half the gap from chance to ``best``."""
    return (not diverged) and accuracy >= chance + 0.5 * (best - chance)


def _sweep(data, values, make, fit, seeds, tick) -> dict:
    """Run ``fit(make(value, bn, seed), seed)`` for each value, with and without BN."""
    results = {"without": [], "with": []}
    for arm, bn in (("without", False), ("with", True)):
        for value in values:
            accs, diverged = [], []
            for seed in seeds:
                run = fit(make(value, bn, seed), value, seed)
                tick()
                accs.append(run["final_accuracy"])
                diverged.append(run["diverged"])
            results[arm].append(
                {
                    "value": value,
                    "accuracy": float(np.mean(accs)),
                    "accuracies": accs,
                    "diverged": bool(all(diverged)),
                }
            )
    chance = data_chance(data)
    best = max(r["accuracy"] for arm in results.values() for r in arm)
    for arm in results.values():
        for r in arm:
            r["trains"] = trains(r["accuracy"], r["diverged"], best, chance)
    results["best"], results["chance"] = best, chance
    return results


def claim_9_learning_rates(
    data,
    *,
    rates=(1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0),
    widths=(100, 100, 100),
    steps=1000,
    batch_size=60,
    seeds=(0,),
    tick=None,
):
    """Plain SGD at each learning rate, a ReLU MLP with and without BN (Dense(relu) -> BN).

    Returns per arm and rate the final test accuracy (mean over ``seeds``),
    whether it diverged and whether it "trains" (see ``trains``), and the
    largest rate that trains in each arm.
    """
    tick = tick or _noop

    def make(_rate, bn, seed):
        placement = "after" if bn else None
        return mlp(
            data.n_features,
            list(widths),
            data.n_classes,
            "relu",
            "he_normal",
            batch_norm=placement,
            seed=seed,
        )

    def fit(model, rate, seed):
        return train(model, data, steps=steps, batch_size=batch_size, learning_rate=rate, seed=seed)

    result = _sweep(data, list(rates), make, fit, seeds, tick)
    for arm in ("without", "with"):
        ok = [r["value"] for r in result[arm] if r["trains"]]
        result[f"largest_rate_{arm}"] = max(ok) if ok else None
    result["steps"] = steps
    return result


#: Claim 10's initializations: ``(label, fastnn.init name, parameters)``.
INIT_SCALES = (
    ("zeros", "zeros", {}),
    ("constant 0.05", "constant", {"value": 0.05}),
    *((f"N(0, {s:g}^2)", "normal", {"std": s}) for s in (1e-3, 1e-2, 1e-1, 1.0, 10.0)),
)


def claim_10_init_sensitivity(
    data,
    *,
    scales=INIT_SCALES,
    widths=(100, 100, 100),
    steps=1000,
    batch_size=60,
    learning_rate=0.01,
    momentum=0.9,
    seeds=(0,),
    tick=None,
):
    """Final accuracy for each initialization scale, a ReLU MLP with and without BN.

    Every Dense kernel (the output layer's too) is drawn from the scheme;
    SGD with momentum.  Same "trains" criterion as claim 9.
    """
    tick = tick or _noop
    table = {label: (name, params) for label, name, params in scales}

    def make(label, bn, seed):
        name, params = table[label]
        return mlp(
            data.n_features,
            list(widths),
            data.n_classes,
            "relu",
            initializer(name, **params),
            batch_norm="after" if bn else None,
            seed=seed,
        )

    def fit(model, _label, seed):
        return train(
            model,
            data,
            steps=steps,
            batch_size=batch_size,
            learning_rate=learning_rate,
            momentum=momentum,
            seed=seed,
        )

    result = _sweep(data, list(table), make, fit, seeds, tick)
    for arm in ("without", "with"):
        result[f"n_trains_{arm}"] = sum(r["trains"] for r in result[arm])
    result["steps"] = steps
    return result


def _paired(data, arms, *, widths, steps, batch_size, learning_rate, momentum, seeds, tick):
    """Train each ``arm -> (activation, batch_norm)`` on every seed; return per-seed results."""
    out = {}
    for arm, (activation, placement, subset) in arms.items():
        rows = []
        for seed in seeds:
            model = mlp(
                data.n_features,
                list(widths),
                data.n_classes,
                activation,
                "he_normal" if activation == "relu" else "xavier_uniform",
                batch_norm=placement,
                seed=seed,
            )
            run = train(
                model,
                subset,
                steps=steps,
                batch_size=batch_size,
                learning_rate=learning_rate,
                momentum=momentum,
                seed=seed,
            )
            tick()
            rows.append(run)
        out[arm] = rows
    return out


def claim_11_placement(
    data,
    *,
    widths=(100, 100, 100),
    steps=1500,
    batch_size=60,
    learning_rate=0.01,
    momentum=0.9,
    seeds=(0, 1, 2, 3, 4),
    tick=None,
):
    """Dense -> ReLU -> BN against Dense -> BN -> ReLU: same budget, paired by seed.

    Returns the final test accuracy of each placement per seed, the paired
    differences (after minus before), their mean and standard error.
    """
    tick = tick or _noop
    arms = {"after": ("relu", "after", data), "before": ("relu", "before", data)}
    runs = _paired(
        data,
        arms,
        widths=widths,
        steps=steps,
        batch_size=batch_size,
        learning_rate=learning_rate,
        momentum=momentum,
        seeds=seeds,
        tick=tick or _noop,
    )
    after = np.array([r["final_accuracy"] for r in runs["after"]])
    before = np.array([r["final_accuracy"] for r in runs["before"]])
    diff = after - before
    se = float(diff.std(ddof=1) / math.sqrt(diff.size)) if diff.size > 1 else math.nan
    return {
        "seeds": list(seeds),
        "steps": steps,
        "after_accuracy": after.tolist(),
        "before_accuracy": before.tolist(),
        "differences": diff.tolist(),
        "mean_difference": float(diff.mean()),
        "standard_error": se,
        "curves": {
            arm: {
                "steps": runs[arm][0]["steps"].tolist(),
                "accuracy": runs[arm][0]["test_accuracy"].tolist(),
            }
            for arm in runs
        },
    }


def claim_12_parameters(units: int = 3, n_in: int = 4) -> dict:
    """Dense(units) then BatchNormalization: ``summary()``'s counts for the BN row.

    Expected: ``2 * units`` trainable (gamma, beta) and ``2 * units``
    non-trainable (moving mean, moving variance).
    """
    model = Network([Dense(units, "relu", input_dim=n_in), BatchNormalization()], seed=0)
    summary = model.summary(print_fn=lambda _line: None)
    row = next(r for r in summary["rows"] if r["type"] == "BatchNormalization")
    return {
        "units": units,
        "bn_trainable": row["trainable"],
        "bn_non_trainable": row["non_trainable"],
        "expected": 2 * units,
        "rows": summary["rows"],
        "total": summary["total"],
    }


def claim_13_regularization(
    data,
    *,
    n_train=1000,
    widths=(100, 100, 100),
    steps=4000,
    batch_size=60,
    learning_rate=0.01,
    momentum=0.9,
    seeds=(0, 1, 2),
    tick=None,
):
    """Train/test gap with and without BN on a small training set trained long (overfitting).

    ``n_train`` rows, ``steps`` steps (``steps * batch_size / n_train``
    epochs).  Per arm: train and test accuracy and loss per seed, the gaps
    (train minus test accuracy; test minus train loss) and their means.
    """
    tick = tick or _noop
    small = data.subset(n_train=n_train)
    arms = {"without": ("relu", None, small), "with": ("relu", "after", small)}
    runs = _paired(
        data,
        arms,
        widths=widths,
        steps=steps,
        batch_size=batch_size,
        learning_rate=learning_rate,
        momentum=momentum,
        seeds=seeds,
        tick=tick,
    )
    out = {"n_train": small.x_train.shape[0], "steps": steps, "seeds": list(seeds)}
    for arm, rows in runs.items():
        train_acc = np.array([r["train_accuracy"] for r in rows])
        test_acc = np.array([r["final_accuracy"] for r in rows])
        train_loss = np.array([r.get("train_final_loss", math.inf) for r in rows])
        test_loss = np.array([r["final_loss"] for r in rows])
        out[arm] = {
            "train_accuracy": train_acc.tolist(),
            "test_accuracy": test_acc.tolist(),
            "accuracy_gap": float(np.mean(train_acc - test_acc)),
            "loss_gap": float(np.mean(test_loss - train_loss)),
            "mean_test_accuracy": float(test_acc.mean()),
        }
    return out
