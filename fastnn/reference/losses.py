"""NumPy reference for the losses: the mean loss and its gradient.

Computed in float64 whatever the input dtype; the gradient is returned in the
input dtype.  Inputs are assumed valid (``fastnn.functional`` checks them).
Means follow Keras: cross-entropy over the batch, BCE and MSE over all elements.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

__all__ = ["softmax_cross_entropy", "binary_cross_entropy", "mean_squared_error"]


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy over integer labels, mean over the batch.

    Parameters
    ----------
    logits : ndarray, shape (n, k)
    labels : ndarray, shape (n,), integers in ``[0, k)``

    Returns
    -------
    loss : float
        ``mean_i(logsumexp(z_i) - z_{i, y_i})``.
    dlogits : ndarray, shape (n, k), dtype of ``logits``
        ``(softmax(z) - onehot(y)) / n``.
    """
    z = logits.astype(np.float64)
    n = z.shape[0]
    rows = np.arange(n)
    shift = z.max(axis=1, keepdims=True)
    log_sum_exp = shift + np.log(np.exp(z - shift).sum(axis=1, keepdims=True))
    loss = np.mean(log_sum_exp[:, 0] - z[rows, labels])
    grad = np.exp(z - log_sum_exp)
    grad[rows, labels] -= 1.0
    return float(loss), (grad / n).astype(logits.dtype)


def binary_cross_entropy(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Binary cross-entropy of ``sigmoid(logits)`` against ``targets``, mean over all elements.

    Parameters
    ----------
    logits : ndarray, shape (n, k)
    targets : ndarray, shape (n, k), values in ``[0, 1]``

    Returns
    -------
    loss : float
        ``mean(max(z, 0) - z t + log1p(exp(-|z|)))``.
    dlogits : ndarray, shape (n, k), dtype of ``logits``
        ``(sigmoid(z) - t) / (n k)``.
    """
    z = logits.astype(np.float64)
    t = targets.astype(np.float64)
    loss = np.mean(np.maximum(z, 0.0) - z * t + np.log1p(np.exp(-np.abs(z))))
    return float(loss), ((expit(z) - t) / z.size).astype(logits.dtype)


def mean_squared_error(pred: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error over all elements.

    Parameters
    ----------
    pred, targets : ndarray, shape (n, k)

    Returns
    -------
    loss : float
        ``mean((p - t)**2)``.
    dpred : ndarray, shape (n, k), dtype of ``pred``
        ``2 (p - t) / (n k)``.
    """
    diff = pred.astype(np.float64) - targets.astype(np.float64)
    return float(np.mean(diff**2)), (2.0 * diff / diff.size).astype(pred.dtype)
