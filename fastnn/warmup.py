"""Compiling fastnn's CPU kernels: the notice on a first run, the time it took, and ``warmup``.

Responsibility: what the user sees and can do about Numba compilation.

- A listener on Numba's ``numba:compile`` event, registered when this module
  is imported (``fastnn.callbacks`` imports it, so ``import fastnn`` does):
  Numba fires the event only when it compiles, never when it loads a kernel
  from its cache, so detecting a cold cache costs nothing on a warm one.  On
  the first compilation of a fastnn kernel for a dtype, it prints one line to
  stderr saying so and how to compile ahead of time.
- ``compile_seconds()``: the wall time this process has spent compiling
  fastnn kernels, so that progress displays can leave it out of throughput.
- ``warmup(dtypes)``: compile every CPU kernel for the given dtypes into
  Numba's cache by calling each on tiny inputs with the argument types a
  ``Network`` and ``fastnn.functional`` pass (``fastnn warmup``).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence

from numba.core import event, types

__all__ = ["compile_seconds", "warmup", "KERNEL_CALLS", "NOTICE"]

#: The line printed on a dtype's first kernel compilation in a process.
NOTICE = (
    "fastnn: compiling kernels for {dtype} (first run only, about {seconds} s; "
    "`fastnn warmup` compiles them ahead of time)"
)
#: Rough compile time of one training network's kernels on a 2-core machine, for the notice.
_TYPICAL_SECONDS = 10

_KERNEL_PACKAGE = "fastnn.kernels"


class _CompileListener(event.Listener):
    """Times fastnn kernel compilations and announces the first one per dtype.

    Numba nests the event for the callees a kernel compiles; only the
    outermost fastnn compilation is timed, so nothing is counted twice.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.depth = 0
        self.started = 0.0
        self.seconds = 0.0
        self.announced: set[str] = set()
        self.quiet = 0  # > 0 while ``warmup`` runs: it prints its own progress

    @staticmethod
    def _is_fastnn(ev) -> bool:
        dispatcher = ev.data.get("dispatcher") if ev.data else None
        module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
        return module.startswith(_KERNEL_PACKAGE)

    @staticmethod
    def _dtype(ev) -> str:
        for arg in ev.data.get("args", ()):
            if isinstance(arg, types.Array):
                return str(arg.dtype)
        return "the CPU"

    def on_start(self, ev):
        if not self._is_fastnn(ev):
            return
        with self.lock:
            self.depth += 1
            if self.depth > 1:
                return
            self.started = time.perf_counter()
            dtype = self._dtype(ev)
            if dtype in self.announced or self.quiet:
                return
            self.announced.add(dtype)
        print(NOTICE.format(dtype=dtype, seconds=_TYPICAL_SECONDS), file=sys.stderr, flush=True)

    def on_end(self, ev):
        if not self._is_fastnn(ev):
            return
        with self.lock:
            self.depth -= 1
            if self.depth == 0:
                self.seconds += time.perf_counter() - self.started


_LISTENER = _CompileListener()
event.register("numba:compile", _LISTENER)


def compile_seconds() -> float:
    """Wall seconds this process has spent compiling fastnn kernels so far (0 on a warm cache)."""
    with _LISTENER.lock:
        if _LISTENER.depth:
            return _LISTENER.seconds + time.perf_counter() - _LISTENER.started
        return _LISTENER.seconds


# ------------------------------------------------------------------------ warmup


def _kernel_calls(dtype) -> list[tuple[str, Callable[[], None]]]:
    """``(name, call)`` pairs that compile every CPU kernel for ``dtype``.

    Arguments have the types the callers pass: C-contiguous arrays, Python
    floats, ints and bools, ``numpy.uint64`` seeds.  One call per kernel
    signature compiles every activation code (the codes are run-time ints).
    """
    import numpy as np

    from fastnn.kernels.cpu import (
        activations,
        batchnorm,
        dense,
        dropout,
        init,
        losses,
        memory,
        metrics,
        optimizers,
        reduce,
    )

    n, m, k = 4, 3, 2
    x = np.linspace(-1.0, 1.0, n * m).reshape(n, m).astype(dtype)

    def new(*shape):
        return np.zeros(shape, dtype)

    vec = np.linspace(0.5, 1.5, m).astype(dtype)
    work = reduce.reduction_workspace(n, m)
    loss_work = reduce.reduction_workspace(n, 1)
    labels = np.zeros(n, np.int64)
    targets = new(n, k)
    count = np.zeros(1, np.float64)
    seed, stream = np.uint64(1), np.uint64(0)
    slope = 0.2

    def batch_norm():
        a, y, mean, invstd = new(n, m), new(n, m), new(m), new(m)
        running_mean, running_var = new(m), np.ones(m, dtype)
        batchnorm.batch_norm_forward_train(
            x, vec, vec, running_mean, running_var, 0.99, 1e-3, 1, 0, slope, a, y, mean, invstd,
            work,
        )  # fmt: skip
        batchnorm.batch_norm_forward_infer(
            x, vec, vec, running_mean, running_var, 1e-3, 1, 0, slope, new(n, m), work
        )
        batchnorm.batch_norm_backward(
            x, a, y, vec, mean, invstd, 1, 0, slope, new(n, m), new(m), new(m), work
        )

    def dense_layer():
        W, b, y = new(m, k), new(k), new(n, k)
        dense.dense_forward(x, W, b, 1, slope, y)
        dy, dense_work = new(n, k), reduce.reduction_workspace(n, k)
        dense.dense_backward(
            dy, x, W, y, 1, slope, dy, new(n, m), new(m, k), new(k), dense_work, True
        )

    def activation():
        y = new(n, m)
        activations.activation_forward(x, 1, slope, y)
        activations.activation_backward(x, y, 1, slope, new(n, m))

    def loss():
        logits, grad = new(n, k), new(n, k)
        losses.softmax_cross_entropy(logits, labels, grad, count, loss_work)
        losses.binary_cross_entropy(logits, targets, grad, count, loss_work)
        losses.mean_squared_error(logits, targets, grad, count, loss_work)
        metrics.count_correct_classes(logits, labels, count)
        metrics.count_correct_binary(logits, targets, count)

    def optimizer():
        p, g, s1, s2 = new(m), new(m), new(m), new(m)
        optimizers.sgd_update(p, g, s1, 0.01, 0.9, False, 0.0)
        optimizers.adam_update(p, g, s1, s2, 1, 0.001, 0.9, 0.999, 1e-7, 0.0)
        optimizers.rmsprop_update(p, g, s1, s2, 0.001, 0.9, 0.0, 1e-7, 0.0)

    def initializer():
        flat = new(m)
        init.fill_uniform(flat, seed, stream, 0, -1.0, 1.0)
        init.fill_normal(flat, seed, stream, 0, 0.0, 1.0)
        init.fill_truncated_normal(flat, seed, stream, 0, 0.0, 1.0)
        init.fill_constant(flat, 0.0)

    def dropout_layer():
        # The argument types DropoutOp passes: numpy.uint64 key and stream, a Python int step.
        keep, y = np.empty((n, m), np.uint8), new(n, m)
        dropout.dropout_forward(x, np.uint64(1), np.uint64(2**63), 0, 0.5, keep, y)
        dropout.dropout_backward(y, keep, 0.5, y)

    def reductions():
        reduce.column_sums(x, work, np.zeros(m, np.float64))
        memory.all_finite(x)

    return [
        ("batchnorm", batch_norm),
        ("dense", dense_layer),
        ("activations", activation),
        ("losses", loss),
        ("optimizers", optimizer),
        ("init", initializer),
        ("dropout", dropout_layer),
        ("reduce", reductions),
    ]


#: The kernel groups ``warmup`` compiles, in order (names as its progress line shows them).
KERNEL_CALLS = (
    "batchnorm",
    "dense",
    "activations",
    "losses",
    "optimizers",
    "init",
    "dropout",
    "reduce",
)


def warmup(
    dtypes: Sequence[str] = ("float32", "float64"),
    groups: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> float:
    """Compile the CPU kernels for ``dtypes`` into Numba's cache; returns the compile seconds.

    Parameters
    ----------
    dtypes : sequence of str
        ``"float32"`` and/or ``"float64"``.
    groups : sequence of str, optional
        A subset of ``KERNEL_CALLS`` (default: all of them).
    progress : callable, optional
        Called with a short text before each group (``"float32: dense"``).
        The groups are named after the kernel modules (``losses`` includes
        ``metrics``, ``reduce`` includes ``memory``).

    Returns
    -------
    float
        Seconds spent compiling (about 0 when the cache was already warm:
        the kernels are then only loaded from it).

    Raises
    ------
    ValueError
        An unknown dtype or group name.
    """
    import numpy as np

    for dtype in dtypes:
        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtypes must be 'float32' and/or 'float64', got {dtype!r}")
    chosen = KERNEL_CALLS if groups is None else tuple(groups)
    unknown = [g for g in chosen if g not in KERNEL_CALLS]
    if unknown:
        raise ValueError(f"unknown kernel group(s) {unknown}; choose from {list(KERNEL_CALLS)}")
    before = compile_seconds()
    with _LISTENER.lock:
        _LISTENER.quiet += 1
    try:
        for dtype in dtypes:
            for name, call in _kernel_calls(np.dtype(dtype)):
                if name in chosen:
                    if progress is not None:
                        progress(f"{dtype}: {name}")
                    call()
    finally:
        with _LISTENER.lock:
            _LISTENER.quiet -= 1
    return compile_seconds() - before
