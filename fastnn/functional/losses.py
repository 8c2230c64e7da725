"""Validated losses: each returns the mean loss (a Python float) and its gradient.

Means follow Keras: the softmax cross-entropy is averaged over the batch, the
binary cross-entropy and the mean squared error over all elements.  The value
and the gradient come from one pass of the CPU backend's loss kernels.
"""

from __future__ import annotations

import numpy as np

from fastnn._validation import check_float_array
from fastnn.functional._backend import BACKEND

__all__ = ["softmax_cross_entropy", "binary_cross_entropy", "mean_squared_error"]


def _check_labels(labels, n_rows: int, n_classes: int) -> np.ndarray:
    """Return ``labels`` as C-contiguous int64 of shape ``(n_rows,)``, checked to be in range."""
    if not isinstance(labels, np.ndarray):
        raise TypeError(f"labels must be a numpy.ndarray, got {type(labels).__name__}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must have an integer dtype, got {labels.dtype}")
    if labels.shape != (n_rows,):
        raise ValueError(
            f"labels must have shape ({n_rows},) like logits' rows, got {labels.shape}"
        )
    bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
    if bad.size:
        i = bad[0]
        raise ValueError(f"labels must be in [0, {n_classes}), got labels[{i}] = {labels[i]}")
    return np.ascontiguousarray(labels, dtype=np.int64)


def _check_targets(targets, like: np.ndarray, *, probabilities: bool) -> np.ndarray:
    """Return ``targets`` checked to match ``like`` (and to lie in ``[0, 1]`` if asked)."""
    targets = check_float_array("targets", targets, shape=like.shape, dtype=like.dtype)
    if probabilities:
        bad = np.argwhere(~((targets >= 0) & (targets <= 1)))
        if bad.size:
            index = tuple(int(i) for i in bad[0])
            raise ValueError(
                f"targets must be in [0, 1], got targets{list(index)} = {targets[index]}"
            )
    return targets


def _call(kernel, values: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Allocate the gradient, loss and workspace for a loss kernel; run it on checked inputs."""
    grad = BACKEND.memory.empty(values.shape, values.dtype)
    loss_out = BACKEND.memory.empty((1,), np.float64)
    kernel(values, targets, grad, loss_out, BACKEND.workspace(len(values), 1))
    return BACKEND.memory.read_scalar(loss_out, 0), grad


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy over integer labels, mean over the batch, and its gradient.

    Parameters
    ----------
    logits : ndarray, shape (n, k), float32 or float64
        Unnormalised class scores (the softmax is applied here).
    labels : ndarray, shape (n,), integer dtype
        Class indices in ``[0, k)``.

    Returns
    -------
    loss : float
        The mean loss.
    dlogits : ndarray, shape (n, k), dtype of ``logits``
        The gradient of ``loss`` with respect to ``logits``.

    Raises
    ------
    TypeError
        ``logits`` not a float32/float64 ndarray; ``labels`` not an integer ndarray.
    ValueError
        ``logits`` not 2-D or empty; ``labels`` of the wrong shape, or a label
        outside ``[0, k)`` (the message names the first one).

    Notes
    -----
    .. math::

        L = \\frac{1}{n} \\sum_i \\left(\\log \\sum_j e^{z_{ij}} - z_{i, y_i}\\right),
        \\qquad
        \\frac{\\partial L}{\\partial z_{ij}}
            = \\frac{\\operatorname{softmax}(z_i)_j - [j = y_i]}{n}.

    The log-sum-exp is shifted by the row maximum, so logits of any finite size
    are safe.  Same as Keras ``SparseCategoricalCrossentropy(from_logits=True)``
    and PyTorch ``cross_entropy`` (both mean over the batch).
    """
    logits = check_float_array("logits", logits, ndim=2)
    labels = _check_labels(labels, *logits.shape)
    return _call(BACKEND.losses.softmax_cross_entropy, logits, labels)


def binary_cross_entropy(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Binary cross-entropy of ``sigmoid(logits)``, mean over all elements, and its gradient.

    Parameters
    ----------
    logits : ndarray, shape (n, k), float32 or float64
        Pre-sigmoid scores.
    targets : ndarray, shape (n, k), dtype of ``logits``
        Target probabilities in ``[0, 1]``.

    Returns
    -------
    loss : float
        The mean loss.
    dlogits : ndarray, shape (n, k), dtype of ``logits``
        The gradient of ``loss`` with respect to ``logits``.

    Raises
    ------
    TypeError
        Not float32/float64 ndarrays, or mixed dtypes.
    ValueError
        Not 2-D, empty, shapes differ, or a target outside ``[0, 1]`` (or NaN).

    Notes
    -----
    .. math::

        L = \\frac{1}{nk} \\sum_{ij} \\max(z_{ij}, 0) - z_{ij} t_{ij}
            + \\log\\left(1 + e^{-|z_{ij}|}\\right),
        \\qquad
        \\frac{\\partial L}{\\partial z_{ij}} = \\frac{\\sigma(z_{ij}) - t_{ij}}{nk}.

    Same as Keras ``BinaryCrossentropy(from_logits=True)`` and PyTorch
    ``binary_cross_entropy_with_logits``.
    """
    logits = check_float_array("logits", logits, ndim=2)
    targets = _check_targets(targets, logits, probabilities=True)
    return _call(BACKEND.losses.binary_cross_entropy, logits, targets)


def mean_squared_error(pred: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error over all elements, and its gradient.

    Parameters
    ----------
    pred : ndarray, shape (n, k), float32 or float64
    targets : ndarray, shape (n, k), dtype of ``pred``

    Returns
    -------
    loss : float
        The mean loss.
    dpred : ndarray, shape (n, k), dtype of ``pred``
        The gradient of ``loss`` with respect to ``pred``.

    Raises
    ------
    TypeError
        Not float32/float64 ndarrays, or mixed dtypes.
    ValueError
        Not 2-D, empty, or shapes differ.

    Notes
    -----
    .. math::

        L = \\frac{1}{nk} \\sum_{ij} (p_{ij} - t_{ij})^2, \\qquad
        \\frac{\\partial L}{\\partial p_{ij}} = \\frac{2 (p_{ij} - t_{ij})}{nk}.

    Same as Keras ``MeanSquaredError`` and PyTorch ``mse_loss``.
    """
    pred = check_float_array("pred", pred, ndim=2)
    targets = _check_targets(targets, pred, probabilities=False)
    return _call(BACKEND.losses.mean_squared_error, pred, targets)
