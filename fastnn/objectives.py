"""The losses and metrics a ``Network`` can be compiled with, and the targets each one accepts.

This module is the registry behind ``Network.compile(loss=..., metrics=...)``:
which loss names (Keras aliases included) exist, which backend loss kernel and
which accuracy kernel each one runs, which output activation the loss kernel
applies to the logits itself, and what a valid target array looks like
(``check_targets``).  Keras 1 called this module ``objectives``; the name keeps
it apart from ``fastnn.functional.losses``, the validated loss functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fastnn.kernels.scalar import LINEAR, SIGMOID, SOFTMAX

__all__ = [
    "Objective",
    "OBJECTIVES",
    "LOSSES",
    "LOSS_ACTIVATION",
    "METRICS",
    "resolve_loss",
    "resolve_metrics",
    "check_targets",
]


@dataclass(frozen=True)
class Objective:
    """One loss: the kernels it runs and the targets it takes.

    Attributes
    ----------
    name : str
        The canonical loss name (``Network.loss``).
    loss_kernel : str
        Name of its kernel in the backend's ``losses`` module; the kernel takes
        ``(logits, labels, dlogits, loss_out, work)``.
    absorbed_activation : int
        The output activation the loss kernel applies to the logits itself
        (``LINEAR`` when none); the network leaves it out of its own kernels.
    accuracy_kernel : str or None
        Name of its accuracy kernel in the backend's ``metrics`` module, or
        ``None`` when accuracy means nothing for this loss.
    integer_labels : bool
        Targets are int64 class indices of shape ``(n,)`` rather than values
        of shape ``(n, k)`` in the network's dtype.
    """

    name: str
    loss_kernel: str
    absorbed_activation: int
    accuracy_kernel: str | None
    integer_labels: bool


#: Each canonical loss name mapped to what it runs.
OBJECTIVES = {
    "cross_entropy": Objective(
        "cross_entropy", "softmax_cross_entropy", SOFTMAX, "count_correct_classes", True
    ),
    "binary_crossentropy": Objective(
        "binary_crossentropy", "binary_cross_entropy", SIGMOID, "count_correct_binary", False
    ),
    "mse": Objective("mse", "mean_squared_error", LINEAR, None, False),
}

#: Loss names (Keras aliases included) mapped to the loss each one is.
LOSSES = {
    "cross_entropy": "cross_entropy",
    "sparse_categorical_crossentropy": "cross_entropy",
    "binary_crossentropy": "binary_crossentropy",
    "mse": "mse",
    "mean_squared_error": "mse",
}

#: The output activation each loss kernel applies itself, to the logits.
LOSS_ACTIVATION = {
    name: objective.absorbed_activation
    for name, objective in OBJECTIVES.items()
    if objective.absorbed_activation != LINEAR
}

METRICS = ("accuracy",)


def resolve_loss(loss) -> str:
    """The canonical name of loss ``loss`` (a name or a Keras alias), or raise."""
    if not isinstance(loss, str):
        raise TypeError(f"loss must be one of {list(LOSSES)}, got {loss!r}")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {list(LOSSES)}, got {loss!r}")
    return LOSSES[loss]


def resolve_metrics(metrics, loss: str) -> list[str]:
    """Metric names (``"acc"`` read as ``"accuracy"``) checked against the canonical ``loss``."""
    metrics = [] if metrics is None else metrics
    if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)):
        raise TypeError(f"metrics must be a list of names, got {metrics!r}")
    normalized = []
    for metric in metrics:
        name = "accuracy" if metric == "acc" else metric
        if name not in METRICS:
            raise ValueError(f"metrics must be among {list(METRICS)}, got {metric!r}")
        if OBJECTIVES[loss].accuracy_kernel is None:
            raise ValueError(
                "metric 'accuracy' needs loss 'cross_entropy' or 'binary_crossentropy'"
            )
        normalized.append(name)
    return normalized


def check_targets(y, n: int, loss: str, output_dim: int, dtype, name: str = "y") -> np.ndarray:
    """Targets as the loss kernel reads them, on the host, or raise naming what was expected.

    Parameters
    ----------
    y : ndarray
        The user's targets.
    n : int
        Rows of the matching ``x``.
    loss : str
        A canonical loss name (a key of ``OBJECTIVES``).
    output_dim : int
        Units of the network's output layer (``k``).
    dtype : numpy dtype
        The network's dtype, for real-valued targets.
    name : str
        The argument's name in error messages.

    Returns
    -------
    ndarray
        cross_entropy: the class indices as a C-contiguous int64 ``(n,)``
        array.  Other losses: a C-contiguous ``(n, k)`` array of ``dtype``.

    Raises
    ------
    TypeError
        Not an ndarray, or the wrong kind of values (integers for
        cross_entropy, real numbers otherwise).
    ValueError
        The wrong shape, class indices outside ``[0, k)``, non-finite values,
        or binary_crossentropy targets outside ``[0, 1]``.
    """
    k = output_dim
    if not isinstance(y, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(y).__name__}")
    if OBJECTIVES[loss].integer_labels:
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(
                f"{name} must hold integer class indices for loss {loss!r}, got dtype {y.dtype}"
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
    y = np.ascontiguousarray(y, dtype=dtype)
    if not np.isfinite(y).all():
        raise ValueError(f"{name} must be finite")
    if loss == "binary_crossentropy" and (y.min() < 0 or y.max() > 1):
        raise ValueError(
            f"{name} must hold targets in [0, 1] for loss 'binary_crossentropy', "
            f"got values from {y.min()} to {y.max()}"
        )
    return y
