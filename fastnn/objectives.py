"""The losses and metrics a ``Network`` can be compiled with, and the targets each one accepts.

This module is the registry behind ``Network.compile(loss=..., metrics=...)``:
which loss names (Keras aliases included) exist, which backend loss kernel and
which accuracy kernel each one runs, which output activation the loss kernel
applies to the logits itself, and what a valid target array looks like
(``check_targets``).  Targets are array-likes (lists, any real dtype), as
Keras takes them; they are checked and converted once per call, on the host.
Keras 1 called this module ``objectives``; the name keeps
it apart from ``fastnn.functional.losses``, the validated loss functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fastnn.inputs import as_host_array
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
        The kernel reads int64 class indices of shape ``(n,)`` rather than
        values of shape ``(n, k)`` in the network's dtype.
    one_hot : bool
        The user gives one-hot rows of shape ``(n, k)``; ``check_targets``
        turns them into class indices for the kernel, once per call.
    """

    name: str
    loss_kernel: str
    absorbed_activation: int
    accuracy_kernel: str | None
    integer_labels: bool
    one_hot: bool = False


#: Each canonical loss name mapped to what it runs.
OBJECTIVES = {
    "cross_entropy": Objective(
        "cross_entropy", "softmax_cross_entropy", SOFTMAX, "count_correct_classes", True
    ),
    # Keras's categorical_crossentropy with one-hot targets is the same softmax
    # cross-entropy on the class indices of the ones.
    "categorical_crossentropy": Objective(
        "categorical_crossentropy",
        "softmax_cross_entropy",
        SOFTMAX,
        "count_correct_classes",
        True,
        one_hot=True,
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
    "categorical_crossentropy": "categorical_crossentropy",
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
                "metric 'accuracy' needs loss 'cross_entropy', 'categorical_crossentropy' "
                "or 'binary_crossentropy'"
            )
        normalized.append(name)
    return normalized


def check_targets(y, n: int, loss: str, output_dim: int, dtype, name: str = "y") -> np.ndarray:
    """Targets as the loss kernel reads them, on the host, or raise naming what was expected.

    Parameters
    ----------
    y : array_like
        The user's targets: a NumPy array, a list, anything ``numpy.asarray``
        reads (a CUDA device array is refused, see ``fastnn.inputs``).
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
        cross_entropy and categorical_crossentropy: the class indices as a
        C-contiguous int64 ``(n,)`` array.  Other losses: a C-contiguous
        ``(n, k)`` array of ``dtype``.

    Raises
    ------
    TypeError
        Not array-like, or the wrong kind of values (class indices for
        cross_entropy, real numbers otherwise).
    ValueError
        The wrong shape, class indices outside ``[0, k)`` or not whole
        numbers, rows that are not one-hot for categorical_crossentropy,
        non-finite values, or binary_crossentropy targets outside ``[0, 1]``.

    Notes
    -----
    Class indices (``cross_entropy``, alias ``sparse_categorical_crossentropy``)
    may be integers or whole-valued floats, as Keras accepts (Keras casts
    floats to int, truncating ``1.7`` to ``1``; fastnn refuses a fraction
    instead of guessing).  ``categorical_crossentropy`` takes one-hot rows
    and gives the kernel the index of each row's one (one ``argmax`` per
    call, on the host).  Soft labels (rows of probabilities, label
    smoothing), which Keras's loss accepts, are refused: the softmax
    cross-entropy kernel takes class indices.
    """
    k = output_dim
    y = as_host_array(y, name)
    objective = OBJECTIVES[loss]
    if objective.one_hot:
        return _one_hot_indices(y, n, k, name)
    if objective.integer_labels:
        return _class_indices(y, n, k, loss, name)
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


def _class_indices(y: np.ndarray, n: int, k: int, loss: str, name: str) -> np.ndarray:
    """Integer or whole-valued float class indices as int64 ``(n,)``, or raise."""
    if y.shape not in ((n,), (n, 1)):
        hint = (
            "; for one-hot rows use loss='categorical_crossentropy'"
            if y.shape == (n, k) and k > 1
            else ""
        )
        raise ValueError(f"{name} must have shape ({n},) to match x, got {y.shape}{hint}")
    y = y.reshape(n)
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or not (y == np.floor(y)).all():
            raise ValueError(
                f"{name} must hold whole-number class indices for loss {loss!r}; "
                "a float array may only hold values like 0.0, 1.0, 2.0"
            )
    elif y.dtype.kind not in "iu":
        raise TypeError(
            f"{name} must hold integer class indices for loss {loss!r}, got dtype {y.dtype}"
        )
    low, high = y.min(), y.max()
    if low < 0 or high >= k:
        raise ValueError(
            f"{name} must hold class indices in [0, {k}) for the {k}-unit output layer, "
            f"got values from {low} to {high}"
        )
    return np.ascontiguousarray(y, dtype=np.int64)


def _one_hot_indices(y: np.ndarray, n: int, k: int, name: str) -> np.ndarray:
    """The index of the one in each one-hot row of ``y``, as int64 ``(n,)``, or raise."""
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold one-hot rows of numbers, got dtype {y.dtype}")
    if y.shape != (n, k):
        hint = (
            "; for class indices use loss='sparse_categorical_crossentropy'"
            if y.shape in ((n,), (n, 1))
            else ""
        )
        raise ValueError(
            f"{name} must have shape ({n}, {k}) (one-hot rows, one column per output unit) "
            f"for loss 'categorical_crossentropy', got {y.shape}{hint}"
        )
    ones = y == 1
    one_hot_rows = (ones | (y == 0)).all(axis=1) & (ones.sum(axis=1) == 1)
    if not one_hot_rows.all():
        row = int(np.argmin(one_hot_rows))
        raise ValueError(
            f"{name} must hold one-hot rows (a single 1, the rest 0) for loss "
            f"'categorical_crossentropy'; row {row} is {y[row].tolist()}. Soft labels "
            "(probability rows, label smoothing) are not supported: the softmax "
            "cross-entropy kernel takes class indices"
        )
    return np.ascontiguousarray(np.argmax(ones, axis=1), dtype=np.int64)
