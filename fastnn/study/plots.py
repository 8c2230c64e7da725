"""One figure per claim, drawn from an experiment's result with matplotlib (the ``plot`` extra).

``plot(number, result, path)`` writes claim ``number``'s figure to ``path``.
matplotlib is imported only here, when a figure is drawn; without it,
``require_matplotlib`` raises an ImportError that says how to install it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["require_matplotlib", "plot", "FIGURES"]


def require_matplotlib():
    """``matplotlib.pyplot`` with the non-interactive Agg backend, or a clear ImportError."""
    try:
        import matplotlib
    except ImportError as err:
        raise ImportError(
            "the study's figures need matplotlib: pip install 'fastnn[plot]' "
            "(the report is written without figures otherwise)"
        ) from err
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _bars(ax, labels, values, title, ylabel, chance=None):
    ax.bar(range(len(values)), values, color="tab:blue")
    ax.set_xticks(range(len(values)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    if chance is not None:
        ax.axhline(chance, color="k", ls=":", lw=1, label="chance")
        ax.legend(fontsize=8)


def _profiles(axes, profiles: dict, title: str):
    for name, p in profiles.items():
        layers = np.arange(1, len(p["activation_std"]) + 1)
        axes[0].semilogy(layers, p["activation_std"], "o-", label=name)
        axes[1].semilogy(layers, p["gradient_std"], "o-", label=name)
    axes[0].set(xlabel="hidden layer", ylabel="activation std", title=f"{title}: forward")
    axes[1].set(xlabel="hidden layer", ylabel="std of dL/d(output)", title=f"{title}: backward")
    for ax in axes:
        ax.legend(fontsize=8)
        ax.title.set_fontsize(10)


def _claim1(plt, r):
    fig, ax = plt.subplots(figsize=(6, 3.5))
    labels = [f"{a}: max |w| hidden" for a in ("relu", "tanh")] + ["relu: acc", "tanh: acc"]
    values = [r["relu"]["max_abs_hidden_weight"], r["tanh"]["max_abs_hidden_weight"]]
    values += [r["relu"]["final_accuracy"], r["tanh"]["final_accuracy"]]
    _bars(ax, labels, values, "Zero init: hidden weights stay 0, accuracy at chance", "value",
          r["chance"])  # fmt: skip
    return fig


def _claim2(plt, r):
    fig, ax = plt.subplots(figsize=(6, 3.5))
    labels = ["constant", "collapsed 1-unit", "1-unit from Xavier", "full width, Xavier"]
    values = [r["constant_accuracy"], r["collapsed_accuracy"], r["one_unit_trained_accuracy"],
              r["xavier_full_width_accuracy"]]  # fmt: skip
    title = f"Constant init: unit spread {r['max_unit_spread']:g}"
    _bars(ax, labels, values, title, "test accuracy", r["chance"])
    return fig


def _claim3(plt, r):
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    _profiles(axes, {a: r[a] for a in ("tanh", "sigmoid")}, f"N(0, {r['std']:g}^2)")
    return fig


def _claim4(plt, r):
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    _profiles(axes, {a: r[a] for a in ("relu", "tanh")}, f"N(0, {r['std']:g}^2)")
    layers = np.arange(1, len(r["relu"]["activation_std"]) + 1)
    first = r["relu"]["activation_std"][0]
    axes[0].semilogy(layers, first * r["predicted_factor"] ** (layers - 1), "k--", lw=1,
                     label="sqrt(n sigma^2/2)^l")  # fmt: skip
    axes[0].legend(fontsize=8)
    return fig


def _claim5(plt, r):
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    _profiles(axes[:2], r["profiles"], "at init")
    shapes = [str(tuple(f["shape"])) for f in r["formulas"]]
    x = np.arange(len(shapes))
    axes[2].bar(x - 0.2, [f["xavier_normal_measured"] for f in r["formulas"]], 0.4,
                label="xavier_normal: 2/(n_in+n_out)")  # fmt: skip
    axes[2].bar(x + 0.2, [f["lecun_normal_measured"] for f in r["formulas"]], 0.4,
                label="lecun_normal: 1/n_in")  # fmt: skip
    axes[2].set_xticks(x, shapes, fontsize=8)
    axes[2].set(ylabel="measured std", title="Glorot vs the 'N(0, 1/n_in)' of tutorials")
    axes[2].title.set_fontsize(10)
    axes[2].legend(fontsize=8)
    return fig


def _claim6(plt, r):
    fig, ax = plt.subplots(figsize=(8, 3.8))
    labels = list(r["schemes"])
    for i, label in enumerate(labels):
        accs = [run["accuracy"] for run in r["schemes"][label]["runs"]]
        ax.plot([i] * len(accs), accs, "o", color="tab:blue", alpha=0.7)
    ax.plot(range(len(labels)), [r["schemes"][k]["mean_accuracy"] for k in labels], "k_", ms=20)
    ax.axhline(r["chance"], color="k", ls=":", lw=1)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    ax.set(ylabel="test accuracy", title=f"{r['steps']} steps, one dot per seed")
    return fig


def _claim7(plt, r):
    fig, ax = plt.subplots(figsize=(7, 4))
    for arm, color in (("without", "tab:red"), ("with", "tab:blue")):
        for i, run in enumerate(r["runs"][arm]):
            ax.plot(run["steps"], run["test_accuracy"], color=color, alpha=0.8,
                    label=f"{arm} BN" if i == 0 else None)  # fmt: skip
    ax.set(xlabel="training step", ylabel="test accuracy", ylim=(0, 1),
           title="3x100 sigmoid MLP, batch 60 (Ioffe & Szegedy Fig. 1a)")  # fmt: skip
    ax.legend()
    return fig


def _claim8(plt, r):
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, arm in zip(axes, ("without", "with"), strict=True):
        curves = np.asarray(r[arm]["unit_percentiles"])
        for curve, p in zip(curves, r["percentiles"], strict=True):
            ax.plot(r[arm]["steps"], curve, label=f"{p}th")
        ax.set(xlabel="training step", title=f"{arm} BN: drift {r[arm]['median_drift']:.3f}")
        ax.legend(fontsize=8)
    axes[0].set_ylabel(f"input to sigmoid unit {r['unit']}")
    return fig


def _sweep(plt, r, xlabel, log):
    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [str(x["value"]) for x in r["without"]]
    x = [x["value"] for x in r["without"]] if log else list(range(len(labels)))
    for arm, color in (("without", "tab:red"), ("with", "tab:blue")):
        ax.plot(x, [e["accuracy"] for e in r[arm]], "o-", color=color, label=f"{arm} BN")
    if log:
        ax.set_xscale("log")
    else:
        ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    ax.axhline(r["chance"], color="k", ls=":", lw=1, label="chance")
    ax.set(xlabel=xlabel, ylabel="final test accuracy", ylim=(0, 1))
    ax.legend()
    return fig


def _claim11(plt, r):
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for arm in ("after", "before"):
        c = r["curves"][arm]
        axes[0].plot(c["steps"], c["accuracy"], "o-", label=f"BN {arm} ReLU")
    axes[0].set(xlabel="step", ylabel="test accuracy", title="seed 0")
    axes[0].legend()
    axes[1].plot(r["seeds"], r["differences"], "o")
    axes[1].axhline(0, color="k", lw=1)
    axes[1].set(xlabel="seed", ylabel="after - before", title="paired differences")
    return fig


def _claim12(plt, r):
    fig, ax = plt.subplots(figsize=(5, 3.5))
    _bars(ax, ["BN trainable", "BN non-trainable"], [r["bn_trainable"], r["bn_non_trainable"]],
          f"BatchNormalization on {r['units']} units (summary())", "parameters")  # fmt: skip
    return fig


def _claim13(plt, r):
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for i, arm in enumerate(("without", "with")):
        ax.plot([i - 0.1] * len(r[arm]["train_accuracy"]), r[arm]["train_accuracy"], "o",
                color="tab:green", label="train" if i == 0 else None)  # fmt: skip
        ax.plot([i + 0.1] * len(r[arm]["test_accuracy"]), r[arm]["test_accuracy"], "o",
                color="tab:purple", label="test" if i == 0 else None)  # fmt: skip
    ax.set_xticks([0, 1], ["no BN", "BN"])
    ax.set(ylabel="accuracy", title=f"{r['n_train']} training rows, {r['steps']} steps")
    ax.legend()
    return fig


def _claim14(plt, r):
    depths = r["depths"]
    fig, axes = plt.subplots(1, len(depths), figsize=(5 * len(depths), 3.8), sharey=True)
    for ax, depth in zip(np.atleast_1d(axes), depths, strict=True):
        for init, color in (("xavier_normal", "tab:red"), ("he_normal", "tab:blue")):
            for i, run in enumerate(r["runs"][f"{depth}/{init}"]):
                ax.plot(run["steps"], run["train_loss"], color=color, alpha=0.8,
                        label=init if i == 0 else None)  # fmt: skip
        ax.axhline(np.log(10), color="k", ls=":", lw=1)
        ax.set(xlabel="step", title=f"{depth}-layer ReLU MLP")
        ax.legend()
    np.atleast_1d(axes)[0].set_ylabel("training loss")
    return fig


FIGURES = {
    1: _claim1, 2: _claim2, 3: _claim3, 4: _claim4, 5: _claim5, 6: _claim6, 7: _claim7,
    8: _claim8, 9: lambda plt, r: _sweep(plt, r, "SGD learning rate", True),
    10: lambda plt, r: _sweep(plt, r, "initialization", False), 11: _claim11, 12: _claim12,
    13: _claim13, 14: _claim14,
}  # fmt: skip


def plot(number: int, result: dict, path) -> None:
    """Draw claim ``number``'s figure from its experiment's ``result`` into ``path`` (PNG)."""
    plt = require_matplotlib()
    fig = FIGURES[number](plt, result)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
