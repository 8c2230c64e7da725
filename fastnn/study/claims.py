"""The fourteen claims: their statements, run scales, verdict rules and report tables.

Each ``Claim`` ties an experiment function to the text it tests, the keyword
arguments of the quick and full runs, a ``verdict`` rule (the result ->
``(holds, reason)``) and a ``table`` (the result -> Markdown).  The rules are
stated in the report beside each verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from fastnn.study import batchnorm_experiments as bn
from fastnn.study import init_experiments as ini

__all__ = ["Claim", "CLAIMS", "run_kwargs"]


@dataclass(frozen=True)
class Claim:
    """One claim: number, group, title, statement, experiment, scales, verdict and table."""

    number: int
    group: str  # "init" or "batchnorm"
    title: str
    statement: str
    experiment: Callable
    verdict: Callable[[dict], tuple[bool, str]]
    table: Callable[[dict], str]
    standardized: bool = False  # run on standardized features
    quick: dict = field(default_factory=dict)
    full: dict = field(default_factory=dict)
    multi_seed: bool = False  # honours --seeds


def run_kwargs(claim: Claim, mode: str, seeds: int | None) -> dict:
    """The experiment's keyword arguments for ``mode`` ("quick"/"full") and ``--seeds``."""
    kwargs = dict(claim.quick if mode == "quick" else claim.full)
    if claim.multi_seed and seeds is not None:
        kwargs["seeds"] = tuple(range(seeds))
    return kwargs


def _f(value, digits=3) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isinf(value) or math.isnan(value):
            return str(value)
        return f"{value:.{digits}g}" if abs(value) < 1e-2 or abs(value) >= 1e4 else f"{value:.3f}"
    return str(value)


def _table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(_f(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --- 1-6, 14: initialization ----------------------------------------------------------------


def _v1(r):
    ok = all(
        r[a]["max_abs_hidden_weight"] == 0.0
        and r[a]["initial_hidden_gradient_norm"] == 0.0
        and r[a]["final_accuracy"] <= r["chance"] + 0.01
        for a in ("relu", "tanh")
    )
    return ok, "hidden gradients and weights exactly 0, accuracy within 0.01 of chance"


def _t1(r):
    rows = [
        (a, r[a]["initial_hidden_gradient_norm"], r[a]["max_abs_hidden_weight"],
         r[a]["final_accuracy"], r["chance"])
        for a in ("relu", "tanh")
    ]  # fmt: skip
    return _table(
        ["net", "max hidden dW at init", "max hidden abs(w) after", "accuracy", "chance"], rows
    )


def _v2(r):
    ok = (
        r["max_unit_spread"] <= r["unit_spread_bound"]
        and r["collapsed_accuracy"] == r["constant_accuracy"]
        and r["constant_accuracy"] < r["xavier_full_width_accuracy"] - 0.2
    )
    return ok, (
        "units identical up to rounding (at most 4 ulps per step apart), the one-unit network"
        " built from the weights scores the same,"
        " and at least 0.2 below the same width from Xavier"
    )


def _t2(r):
    rows = [
        ("max difference between units' weight vectors", r["max_unit_spread"]),
        ("its rounding bound, 4 steps eps max abs(w)", r["unit_spread_bound"]),
        ("max difference between units' weight vectors, Xavier", r["xavier_unit_spread"]),
        ("accuracy, constant init", r["constant_accuracy"]),
        ("accuracy, its collapsed one-unit network", r["collapsed_accuracy"]),
        ("max abs(probability difference), wide vs collapsed",
         r["collapsed_max_probability_difference"]),
        ("accuracy, one-unit network trained from Xavier", r["one_unit_trained_accuracy"]),
        ("accuracy, full width from Xavier", r["xavier_full_width_accuracy"]),
        ("chance", r["chance"]),
    ]  # fmt: skip
    return _table(["quantity", "value"], rows)


def _v3(r):
    t = r["tanh"]
    ok = (
        t["activation_ratio"] < 0.1
        and t["gradient_ratio"] < 0.1
        and r["small_final_accuracy"] <= r["chance"] + 0.05
        and r["xavier_final_accuracy"] > r["chance"] + 0.3
    )
    return ok, (
        "last/first layer activation std and first/last gradient std below 0.1, training at chance"
        " (+0.05) while Xavier gains 0.3"
    )


def _profile_rows(profiles: dict) -> list:
    return [
        (name, p["activation_factor"], p["activation_ratio"], p["gradient_factor"],
         p["gradient_ratio"], max(p["saturated"]))
        for name, p in profiles.items()
    ]  # fmt: skip


_PROFILE_HEADER = [
    "net",
    "activation std factor / layer",
    "last/first activation std",
    "gradient std factor / layer (backward)",
    "first/last gradient std",
    "max saturated fraction",
]


def _t3(r):
    table = _table(_PROFILE_HEADER, _profile_rows({a: r[a] for a in ("tanh", "sigmoid")}))
    return table + "\n\n" + _table(
        ["predicted tanh factor sqrt(n) * std", "accuracy, small init", "accuracy, Xavier",
         "chance"],
        [(r["predicted_factor"], r["small_final_accuracy"], r["xavier_final_accuracy"],
          r["chance"])],
    )  # fmt: skip


def _v4(r):
    relu, tanh = r["relu"], r["tanh"]
    ok = (
        abs(relu["activation_factor"] / r["predicted_factor"] - 1) < 0.3
        and relu["activation_ratio"] > 10
        and (relu["diverged"] or relu["final_accuracy"] <= r["chance"] + 0.05)
        and min(tanh["saturated"][1:]) > 0.5
    )
    return ok, (
        "ReLU factor within 30% of sqrt(n sigma^2 / 2), std grows >10x, ReLU training diverges or"
        " stays at chance, and over half the tanh units are saturated"
    )


def _t4(r):
    table = _table(_PROFILE_HEADER, _profile_rows({a: r[a] for a in ("relu", "tanh")}))
    rows = [(a, r[a]["diverged"], r[a]["final_accuracy"]) for a in ("relu", "tanh")]
    return (
        f"Predicted ReLU factor sqrt(n * sigma^2 / 2) = {_f(r['predicted_factor'])} per layer.\n\n"
        + table
        + "\n\n"
        + _table(["net trained", "diverged", "accuracy"], rows)
    )


def _v5(r):
    p = r["profiles"]
    factors = {k: v["activation_variance_factor"] for k, v in p.items()}
    ok = (
        0.7 <= factors["relu+he_normal"] <= 1.4
        and 0.35 <= factors["relu+xavier_normal"] <= 0.65
        and 0.7 <= factors["tanh+xavier_normal"] <= 1.3
    )
    for f in r["formulas"]:
        ok &= abs(f["xavier_normal_measured"] / f["glorot_std"] - 1) < 0.05
        ok &= abs(f["lecun_normal_measured"] / f["lecun_std"] - 1) < 0.05
    return ok, (
        "per-layer variance factor: He+ReLU in [0.7, 1.4], Xavier+ReLU in [0.35, 0.65] (halving),"
        " Xavier+tanh in [0.7, 1.3]; each draw's std within 5% of its formula"
    )


def _t5(r):
    rows = [
        (name, p["activation_variance_factor"], p["activation_ratio"] ** 2,
         p["gradient_variance_factor"], p["gradient_ratio"] ** 2)
        for name, p in r["profiles"].items()
    ]  # fmt: skip
    table = _table(
        ["net", "activation variance factor / layer", "last/first activation variance",
         "gradient variance factor / layer", "first/last gradient variance"],
        rows,
    )  # fmt: skip
    rows = [
        (f"{f['shape']}", f["glorot_std"], f["xavier_normal_measured"], f["lecun_std"],
         f["lecun_normal_measured"])
        for f in r["formulas"]
    ]  # fmt: skip
    return table + "\n\n" + _table(
        ["shape (n_in, n_out)", "Glorot sqrt(2/(n_in+n_out))", "xavier_normal measured",
         "LeCun sqrt(1/n_in)", "lecun_normal measured"],
        rows,
    )  # fmt: skip


_DEGENERATE = ("zeros", "constant", "small N(0, 0.01^2)", "large N(0, 1)")


def _v6(r):
    s = r["schemes"]
    good = [k for k in s if k not in _DEGENERATE]
    bad = [k for k in s if k in _DEGENERATE]
    ok = min(s[k]["min_accuracy"] for k in good) > max(s[k]["max_accuracy"] for k in bad) + 0.1
    return ok, (
        "the worst seed of every Xavier/He/LeCun run beats the best seed of zero, constant, small"
        " and large by at least 0.1"
    )


def _t6(r):
    rows = [
        (k, v["mean_accuracy"], v["min_accuracy"], v["max_accuracy"], v["mean_loss"],
         sum(run["diverged"] for run in v["runs"]))
        for k, v in r["schemes"].items()
    ]  # fmt: skip
    return (
        f"{r['activation']} MLP {r['widths']}, {r['steps']} steps, seeds {r['seeds']}, "
        f"chance {_f(r['chance'])}.\n\n"
        + _table(["init", "mean acc", "min acc", "max acc", "mean loss", "diverged runs"], rows)
    )


def _v14(r):
    runs = r["runs"]
    shallow, deep = min(r["depths"]), max(r["depths"])

    def escaped(key):
        return [row["escape_step"] is not None for row in runs[key]]

    stalled = [not e for e in escaped(f"{deep}/xavier_normal")]
    ok = (
        all(escaped(f"{shallow}/xavier_normal"))
        and all(escaped(f"{shallow}/he_normal"))
        and all(escaped(f"{deep}/he_normal"))
        and sum(stalled) > len(stalled) / 2
    )
    return ok, (
        f"within {r['steps']} steps the training loss falls below {r['escape_loss']} for both"
        f" inits at {shallow} layers and for He at {deep}; Xavier at {deep} never does on most"
        " seeds"
    )


def _t14(r):
    rows = []
    for key, runs in r["runs"].items():
        depth, init = key.split("/")
        rows.append(
            (depth, init, ", ".join(_f(x["escape_step"]) for x in runs),
             ", ".join(_f(x["final_train_loss"]) for x in runs),
             ", ".join(_f(x["final_accuracy"]) for x in runs))
        )  # fmt: skip
    return (
        f"ReLU MLPs of width {r['width']}, SGD lr {r['learning_rate']} momentum {r['momentum']},"
        f" batch {r['batch_size']}, {r['steps']} steps; one value per seed.\n\n"
        + _table(
            ["layers", "init", f"step loss < {r['escape_loss']}", "final train loss",
             "test accuracy"],
            rows,
        )
    )  # fmt: skip


# --- 7-13: BatchNorm ---------------------------------------------------------------------


def _v7(r):
    faster = all(
        s["with_steps_to_target"] is not None
        and (s["without_steps_to_target"] is None
             or s["with_steps_to_target"] < s["without_steps_to_target"])
        for s in r["summary"]
    )  # fmt: skip
    higher = all(s["with_final_accuracy"] > s["without_final_accuracy"] for s in r["summary"])
    return faster and higher, (
        f"on every seed BN reaches {r['target_fraction']:.0%} of the no-BN final accuracy in fewer"
        f" steps ({'yes' if faster else 'no'}) and ends higher ({'yes' if higher else 'no'})"
    )


def _t7(r):
    rows = [
        (s["seed"], s["target_accuracy"], s["without_steps_to_target"], s["with_steps_to_target"],
         s["without_final_accuracy"], s["with_final_accuracy"])
        for s in r["summary"]
    ]  # fmt: skip
    return (
        f"784-{'-'.join(map(str, r['widths']))}-10 sigmoid (BN before each sigmoid), SGD lr"
        f" {r['learning_rate']}, batch {r['batch_size']}, {r['steps']} steps.\n\n"
        + _table(
            ["seed", "target acc", "steps to target, no BN", "steps to target, BN",
             "final acc, no BN", "final acc, BN"],
            rows,
        )
    )  # fmt: skip


def _v8(r):
    ok = r["with"]["median_drift"] < 0.5 * r["without"]["median_drift"]
    return ok, "the median unit's 50th-percentile drift with BN is under half of that without"


def _t8(r):
    rows = [
        (arm, r[arm]["median_drift"], r[arm]["median_spread_ratio"], r[arm]["unit0_drift"])
        for arm in ("without", "with")
    ]
    return (
        "Drift: range over training of a unit's median input divided by its mean 15-85 spread;"
        " spread ratio: largest over smallest 15-85 spread (median over the last hidden layer's"
        " units).\n\n" + _table(["BN", "median drift", "median spread ratio", "unit 0 drift"], rows)
    )


def _sweep_table(r, label):
    rows = []
    for without, with_bn in zip(r["without"], r["with"], strict=True):
        rows.append(
            (_f(without["value"]), without["accuracy"], without["trains"], with_bn["accuracy"],
             with_bn["trains"])
        )  # fmt: skip
    return _table([label, "acc, no BN", "trains", "acc, BN", "trains"], rows) + (
        f'\n\n"Trains": no divergence and at least halfway from chance ({_f(r["chance"])}) to'
        f" the sweep's best ({_f(r['best'])})."
    )


def _v9(r):
    a, b = r["largest_rate_with"], r["largest_rate_without"]
    ok = a is not None and (b is None or a >= 3 * b)
    return ok, "the largest rate that trains is at least 3x higher with BN"


def _t9(r):
    return (
        f"Largest rate that trains: {_f(r['largest_rate_without'])} without BN,"
        f" {_f(r['largest_rate_with'])} with BN ({r['steps']} steps).\n\n"
        + _sweep_table(r, "learning rate")
    )


def _v10(r):
    ok = r["n_trains_with"] > r["n_trains_without"]
    return ok, "more initializations train with BN than without"


def _t10(r):
    return (
        f"Initializations that train: {r['n_trains_without']} without BN, {r['n_trains_with']}"
        f" with BN ({r['steps']} steps).\n\n" + _sweep_table(r, "init")
    )


def _v11(r):
    mean, se = r["mean_difference"], r["standard_error"]
    ok = not math.isnan(se) and mean + 2 * se >= 0
    sign = "better" if mean > 0 else "worse"
    significant = not math.isnan(se) and abs(mean) > 2 * se
    return ok, (
        f"Dense->Act->BN is {'' if significant else 'not significantly '}{sign} than"
        f" Dense->BN->Act (mean {mean:+.4f}, 2 SE {2 * se:.4f}); 'holds' = not significantly worse"
    )


def _t11(r):
    rows = list(
        zip(r["seeds"], r["after_accuracy"], r["before_accuracy"], r["differences"], strict=True)
    )
    return (
        f"ReLU MLP, {r['steps']} steps; paired by seed.\n\n"
        + _table(["seed", "Dense->ReLU->BN", "Dense->BN->ReLU", "difference"], rows)
        + f"\n\nMean difference {r['mean_difference']:+.4f}, standard error"
        f" {_f(r['standard_error'])}."
    )


def _v12(r):
    ok = r["bn_trainable"] == r["expected"] and r["bn_non_trainable"] == r["expected"]
    return ok, "summary() shows 2n trainable and 2n non-trainable parameters for BN on n units"


def _t12(r):
    rows = [(x["name"], x["type"], x["trainable"], x["non_trainable"]) for x in r["rows"]]
    return _table(["layer", "type", "trainable", "non-trainable"], rows)


def _v13(r):
    gap_with, gap_without = r["with"]["accuracy_gap"], r["without"]["accuracy_gap"]
    ok = gap_with < gap_without - 0.01 and (
        r["with"]["mean_test_accuracy"] >= r["without"]["mean_test_accuracy"]
    )
    return (
        ok,
        "the mean train-test accuracy gap is at least 0.01 smaller with BN, test accuracy not"
        " lower",
    )


def _t13(r):
    rows = [
        (arm, r[arm]["mean_test_accuracy"], r[arm]["accuracy_gap"], r[arm]["loss_gap"])
        for arm in ("without", "with")
    ]
    return f"{r['n_train']} training rows, {r['steps']} steps, seeds {r['seeds']}.\n\n" + _table(
        ["BN", "test acc", "train - test acc", "test - train loss"], rows
    )


CLAIMS = (
    Claim(1, "init", "Zero initialization never breaks symmetry",
          "In ReLU and tanh MLPs with all weights zero, the hidden weights receive zero gradient"
          " and stay zero; the network stays at chance accuracy.",
          ini.claim_1_zero_init, _v1, _t1, True, {"steps": 200}, {"steps": 600}),
    Claim(2, "init", "Constant initialization is still symmetric",
          "All units of a hidden layer receive identical updates and stay identical, so the layer"
          " behaves as one unit.",
          ini.claim_2_constant_init, _v2, _t2, True, {"steps": 200}, {"steps": 600}),
    Claim(3, "init", "Very small weights vanish",
          "With N(0, 0.01^2) in a 10-layer tanh (or sigmoid) net, activation std and gradients"
          " shrink geometrically with depth, and training stalls.",
          ini.claim_3_small_init, _v3, _t3, True, {"steps": 300}, {"steps": 1000}),
    Claim(4, "init", "Very large weights explode",
          "With N(0, 1) in a deep ReLU net, activations and gradients grow geometrically (by about"
          " sqrt(n_in sigma^2 / 2) per layer); training diverges, and tanh saturates.",
          ini.claim_4_large_init, _v4, _t4, True, {"steps": 200}, {"steps": 500}),
    Claim(5, "init", "Xavier suits tanh, He suits ReLU; 'Xavier normal N(0, 1/n_in)' is LeCun",
          "Per-layer variance at initialization stays steady for Xavier+tanh and He+ReLU and halves"
          " per layer for Xavier+ReLU; N(0, 1/n_in) is LeCun normal, not Glorot's"
          " N(0, 2/(n_in + n_out)).",
          ini.claim_5_variance_preserving, _v5, _t5, True),
    Claim(6, "init", "Symmetry breaking and convergence speed",
          "After a fixed budget, Xavier, He and LeCun reach a far lower loss and higher accuracy"
          " than zero, constant, small or large initialization, on every seed.",
          ini.claim_6_init_comparison, _v6, _t6, True,
          {"steps": 600, "seeds": (0,)}, {"steps": 2000, "seeds": (0, 1, 2)}, True),
    Claim(7, "batchnorm", "BatchNorm trains faster and reaches a higher accuracy",
          "Ioffe & Szegedy (2015) section 4.1, Fig. 1a: a 3x100 sigmoid MLP with batch 60 reaches a"
          " given test accuracy in fewer steps with BN, and a higher one in a fixed budget.",
          bn.claim_7_bn_speed, _v7, _t7, False,
          {"steps": 1000, "seeds": (0,)}, {"steps": 8000, "seeds": (0, 1, 2)}, True),
    Claim(8, "batchnorm", "BatchNorm stabilizes a layer's input distribution",
          "Fig. 1b/c: the 15th/50th/85th percentiles of a sigmoid unit's input drift over training"
          " without BN and stay put with BN.",
          bn.claim_8_input_distribution, _v8, _t8, False),
    Claim(9, "batchnorm", "BatchNorm allows much higher learning rates",
          "In a learning-rate sweep with plain SGD, the largest rate that still trains is much"
          " higher with BN.",
          bn.claim_9_learning_rates, _v9, _t9, False,
          {"rates": (1e-3, 1e-2, 0.1, 1.0, 10.0), "steps": 400, "seeds": (0,)},
          {"steps": 1500, "seeds": (0, 1, 2)}, True),
    Claim(10, "batchnorm", "BatchNorm reduces sensitivity to initialization",
          "In an init-scale sweep (sigma from 1e-3 to 10, zero and constant), more initializations"
          " train with BN than without.",
          bn.claim_10_init_sensitivity, _v10, _t10, False,
          {"steps": 300, "seeds": (0,)}, {"steps": 1500, "seeds": (0, 1, 2)}, True),
    Claim(11, "batchnorm", "Placement: Dense->Activation->BN vs Dense->BN->Activation",
          "The recommended Dense->Activation->BN is at least as good as Dense->BN->Activation in"
          " the same budget (reported whichever way it falls).",
          bn.claim_11_placement, _v11, _t11, False,
          {"steps": 600, "seeds": (0, 1, 2)}, {"steps": 2000, "seeds": (0, 1, 2, 3, 4, 5, 6, 7)},
          True),
    Claim(12, "batchnorm", "BatchNorm parameters: 2n learnable + 2n non-learnable",
          "A BN layer on n units has 2n learnable (gamma, beta) and 2n non-learnable (moving mean,"
          " variance) parameters: 3 units -> 6 + 6, as summary() shows.",
          lambda data, **kw: bn.claim_12_parameters(), _v12, _t12, False),
    Claim(13, "batchnorm", "BatchNorm regularizes mildly",
          "With BN the gap between training and test accuracy is smaller.",
          bn.claim_13_regularization, _v13, _t13, False,
          {"steps": 600, "seeds": (0,)}, {"steps": 4000, "seeds": (0, 1, 2)}, True),
    Claim(14, "init", "He et al. (2015) Fig. 3: deep ReLU nets, Xavier vs He",
          "A 30-layer ReLU network (no BN) trained from Xavier stalls while He converges; at 22"
          " layers both converge.  Scaled down: MLPs of width 64 on the study's data, not"
          " ImageNet conv nets; steps instead of epochs.",
          ini.claim_14_deep_relu, _v14, _t14, True,
          {"steps": 600, "seeds": (0,)}, {"steps": 1000, "seeds": (0, 1, 2)}, True),
)  # fmt: skip
