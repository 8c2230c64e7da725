"""``fastnn check``: every CPU kernel once against the NumPy reference.

Each check calls ``fastnn.functional`` (validation, then the CPU kernels) and
``fastnn.reference`` on the same small random inputs and reports, over every
output of the op, the largest absolute error and the largest *normwise*
relative error ``max|got - want| / max|want|`` of any one output array.  An op
passes when that relative error is within the dtype's tolerance:

- float32: ``1e-4``, about 800 units in the last place at 1.  The kernels and
  the reference round differently (fused passes, float64 accumulation in
  different places, reductions over up to ~100 terms), which costs tens of
  ulps; a wrong formula costs O(1).
- float64: ``1e-10``, by the same argument at float64 precision.

Optimizers are compared on the *change* they make to the parameter and on
their new state, so a wrong update is not hidden by the size of the parameter.
Initializers draw from different generators (Philox in fastnn, NumPy's in the
reference), so they are compared by their moments, in units of the reference's
standard deviation: means, standard deviations and kurtoses / 5 of ``n`` draws
must agree within 6 standard errors of a difference of two samples,
``6 sqrt(2 / n)`` (the row's error is then absolute).  The network row trains
a small ``Network`` (fused Dense-relu-BN and BN-tanh placements) for two SGD
steps beside ``fastnn.reference.Network`` from the same weights and compares
the losses, all weights as one vector, and the predictions.

The shapes are small and odd (67 rows: two reduction blocks of 64 and a
remainder; 19 and 13 columns), so every block path runs.
"""

from __future__ import annotations

import math
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

import numpy as np

__all__ = ["CheckResult", "TOLERANCES", "run_checks", "run_check", "format_results"]

#: Normwise relative tolerance per dtype (see the module docstring).
TOLERANCES = {"float32": 1e-4, "float64": 1e-10}

N_ROWS, N_IN, N_OUT = 67, 19, 13
LEAKY_SLOPE = 0.2
POINTWISE = ("linear", "relu", "leaky_relu", "sigmoid", "tanh")
ALL_ACTIVATIONS = (*POINTWISE, "softmax")
INIT_SHAPE = (512, 256)


@dataclass
class CheckResult:
    """The outcome of one op: errors, the output that was worst, and the verdict."""

    op: str
    dtype: str
    max_abs: float
    max_rel: float
    worst: str
    tolerance: float
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and self.max_rel <= self.tolerance


def _params(name: str) -> dict:
    return {"negative_slope": LEAKY_SLOPE} if name == "leaky_relu" else {}


def compare_outputs(got: dict, want: dict, absolute: bool = False) -> tuple[float, float, str]:
    """Largest absolute and normwise relative error over named outputs, and the worst name.

    With ``absolute`` the "relative" error is the absolute one (for outputs that
    are already in units of their own scale, such as moments over a standard deviation).
    """
    max_abs, max_rel, worst = 0.0, 0.0, "-"
    for name, expected in want.items():
        actual = got[name]
        if expected is None and actual is None:
            continue
        actual = np.asarray(actual, dtype=np.float64)
        expected = np.asarray(expected, dtype=np.float64)
        if actual.shape != expected.shape:
            raise AssertionError(f"{name}: shape {actual.shape}, expected {expected.shape}")
        if not np.all(np.isfinite(actual)):
            raise AssertionError(f"{name}: non-finite values")
        err = float(np.max(np.abs(actual - expected))) if actual.size else 0.0
        scale = float(np.max(np.abs(expected))) if expected.size else 0.0
        rel = err / scale if scale > 0 and not absolute else err
        max_abs = max(max_abs, err)
        if rel > max_rel or worst == "-":
            max_rel, worst = rel, name
    return max_abs, max_rel, worst


def _moments(a: np.ndarray, sigma: float) -> dict:
    """Mean and std in units of ``sigma``, and the kurtosis / 5 (which tells the distributions
    apart: normal 3, truncated normal 2.4, uniform 1.8).

    The standard error of the sample kurtosis of a normal is ``sqrt(24 / n)``, about 5x that
    of the standardized mean, so dividing it by 5 puts all three under the same tolerance.
    """
    a = a.astype(np.float64)
    centered = a - a.mean()
    variance = float(np.mean(centered**2))
    kurtosis = float(np.mean(centered**4)) / variance**2 if variance > 0 else 0.0
    return {
        "mean / std": a.mean() / sigma,
        "std / std": a.std() / sigma,
        "kurtosis / 5": kurtosis / 5,
    }


class _Checker:
    """Builds the inputs of each check and records the results."""

    def __init__(self, dtype: str, seed: int):
        self.dtype = np.dtype(dtype)
        self.rng = np.random.default_rng(seed)
        self.results: list[CheckResult] = []

    def normal(self, shape, scale=1.0, loc=0.0) -> np.ndarray:
        return (self.rng.standard_normal(shape) * scale + loc).astype(self.dtype)

    def record(
        self, op: str, run: Callable[[], tuple[dict, dict]], tolerance=None, absolute=False
    ) -> None:
        """Run one check; ``absolute``: judge the absolute error (outputs already in units)."""
        tol = TOLERANCES[self.dtype.name] if tolerance is None else tolerance
        try:
            got, want = run()
            max_abs, max_rel, worst = compare_outputs(got, want, absolute=absolute)
        except Exception as err:  # report every failure as a row, never stop the check
            last = traceback.extract_tb(err.__traceback__)[-1]
            where = f" ({last.filename.rsplit('/', 1)[-1]}:{last.lineno})"
            self.results.append(
                CheckResult(op, self.dtype.name, math.nan, math.nan, "-", tol,
                            f"{type(err).__name__}: {err}{where}")
            )  # fmt: skip
            return
        self.results.append(CheckResult(op, self.dtype.name, max_abs, max_rel, worst, tol))

    # dense and activations ----------------------------------------------

    def dense(self) -> None:
        from fastnn import functional as fn
        from fastnn import reference as ref

        x = self.normal((N_ROWS, N_IN))
        W = self.normal((N_IN, N_OUT), scale=1 / math.sqrt(N_IN))
        b = self.normal((N_OUT,), scale=0.1)
        dy = self.normal((N_ROWS, N_OUT))
        for name in ALL_ACTIVATIONS:

            def run(name=name):
                y, cache = fn.dense_forward(x, W, b, name, **_params(name))
                dx, dW, db = fn.dense_backward(dy, cache)
                y_r, cache_r = ref.dense_forward(x, W, b, name, **_params(name))
                dx_r, dW_r, db_r = ref.dense_backward(dy, cache_r)
                got = {"y": y, "dx": dx, "dW": dW, "db": db}
                return got, {"y": y_r, "dx": dx_r, "dW": dW_r, "db": db_r}

            self.record(f"dense {name} forward+backward", run)

    def activations(self) -> None:
        from fastnn import functional as fn
        from fastnn import reference as ref

        x = self.normal((N_ROWS, N_OUT), scale=3.0)
        dy = self.normal((N_ROWS, N_OUT))
        for name in ALL_ACTIVATIONS:

            def run(name=name):
                y = fn.activation_forward(x, name, **_params(name))
                y_r = ref.activation_forward(x, name, **_params(name))
                # Both backward passes take the reference's y, so each is checked on its own.
                dx = fn.activation_backward(dy, y_r, name, **_params(name))
                dx_r = ref.activation_backward(dy, y_r, name, **_params(name))
                return {"y": y, "dx": dx}, {"y": y_r, "dx": dx_r}

            self.record(f"activation {name} forward+backward", run)

    # batch normalization --------------------------------------------------

    def _bn_inputs(self):
        x = self.normal((N_ROWS, N_OUT), scale=2.0, loc=0.5)
        gamma = self.normal((N_OUT,), scale=0.2, loc=1.0)
        beta = self.normal((N_OUT,), scale=0.2)
        running_mean = self.normal((N_OUT,), scale=0.1)
        running_var = np.abs(self.normal((N_OUT,), scale=0.1, loc=1.0))
        dy = self.normal((N_ROWS, N_OUT))
        return x, gamma, beta, running_mean, running_var, dy

    def _bn_pair(self, forward, backward, extra: dict) -> tuple[dict, dict]:
        x, gamma, beta, running_mean, running_var, dy = self._bn_inputs()
        outputs = []
        for module_fwd, module_bwd in zip(forward, backward, strict=True):
            rm, rv = running_mean.copy(), running_var.copy()
            y, cache = module_fwd(x, gamma, beta, rm, rv, training=True, **extra)
            dx, dgamma, dbeta = module_bwd(dy, cache)
            # Inference mode with the updated running statistics.
            y_infer, _ = module_fwd(x, gamma, beta, rm, rv, training=False, **extra)
            outputs.append(
                {"y": y, "dx": dx, "dgamma": dgamma, "dbeta": dbeta, "running_mean": rm,
                 "running_var": rv, "y (inference)": y_infer}
            )  # fmt: skip
        return outputs[0], outputs[1]

    def batchnorm(self) -> None:
        from fastnn import functional as fn
        from fastnn import reference as ref

        self.record(
            "batch_norm forward (train, inference)+backward",
            lambda: self._bn_pair(
                (fn.batch_norm_forward, ref.batch_norm_forward),
                (fn.batch_norm_backward, ref.batch_norm_backward),
                {},
            ),
        )
        for name in POINTWISE:
            extra = {"activation": name, **_params(name)}
            self.record(
                f"batch_norm -> {name} forward+backward",
                lambda extra=extra: self._bn_pair(
                    (fn.batch_norm_act_forward, ref.batch_norm_act_forward),
                    (fn.batch_norm_act_backward, ref.batch_norm_act_backward),
                    extra,
                ),
            )
            self.record(
                f"{name} -> batch_norm forward+backward",
                lambda extra=extra: self._bn_pair(
                    (fn.act_batch_norm_forward, ref.act_batch_norm_forward),
                    (fn.act_batch_norm_backward, ref.act_batch_norm_backward),
                    extra,
                ),
            )

    # losses ---------------------------------------------------------------

    def losses(self) -> None:
        from fastnn import functional as fn
        from fastnn import reference as ref

        logits = self.normal((N_ROWS, N_OUT), scale=3.0)
        targets = {
            "softmax_cross_entropy": self.rng.integers(0, N_OUT, size=N_ROWS).astype(np.int64),
            "binary_cross_entropy": self.rng.uniform(0, 1, (N_ROWS, N_OUT)).astype(self.dtype),
            "mean_squared_error": self.normal((N_ROWS, N_OUT)),
        }
        for name, target in targets.items():

            def run(name=name, target=target):
                loss, grad = getattr(fn, name)(logits, target)
                loss_r, grad_r = getattr(ref, name)(logits, target)
                return {"loss": loss, "gradient": grad}, {"loss": loss_r, "gradient": grad_r}

            self.record(f"{name} value+gradient", run)

    # optimizers -----------------------------------------------------------

    def _optimizer_run(self, name: str, n_state: int, kwargs: dict, steps: int = 3):
        from fastnn import functional as fn
        from fastnn import reference as ref

        size = N_ROWS * N_OUT
        param = self.normal(size, scale=0.5)
        grads = [self.normal(size, scale=0.1) for _ in range(steps)]
        outputs = []
        for module in (fn, ref):
            p = param.copy()
            state = [np.zeros(size, dtype=self.dtype) for _ in range(n_state)]
            for step, g in enumerate(grads, start=1):
                args = (p, g, *state, step) if name == "adam_update" else (p, g, *state)
                getattr(module, name)(*args, **kwargs)
            change = p.astype(np.float64) - param.astype(np.float64)
            outputs.append(
                {"param change": change, **{f"state {i}": s for i, s in enumerate(state)}}
            )
        return outputs[0], outputs[1]

    def optimizers(self) -> None:
        cases = [
            ("sgd", "sgd_update", 1, {}),
            ("sgd momentum", "sgd_update", 1, {"momentum": 0.9}),
            ("sgd nesterov", "sgd_update", 1, {"momentum": 0.9, "nesterov": True}),
            ("adam", "adam_update", 2, {}),
            ("adam weight_decay", "adam_update", 2, {"weight_decay": 0.01}),
            ("rmsprop", "rmsprop_update", 2, {}),
            ("rmsprop momentum", "rmsprop_update", 2, {"momentum": 0.9}),
        ]
        for label, name, n_state, kwargs in cases:
            self.record(
                f"{label} update (3 steps)",
                lambda name=name, n_state=n_state, kwargs=kwargs: self._optimizer_run(
                    name, n_state, kwargs
                ),
            )

    # initializers ---------------------------------------------------------

    def initializers(self) -> None:
        from fastnn import init
        from fastnn.reference import init as ref_init

        n = INIT_SHAPE[0] * INIT_SHAPE[1]
        # Six standard errors of a difference of two independent sample moments.
        tol = 6 * math.sqrt(2.0 / n)
        params = {
            "constant": {"value": 0.5},
            "normal": {"std": 0.05, "mean": 0.1},
            "truncated_normal": {"std": 0.05, "mean": -0.1},
            "uniform": {"low": -0.2, "high": 0.3},
            "variance_scaling": {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform"},
        }
        for name in init.INITIALIZERS:

            def run(name=name):
                kwargs = {"dtype": self.dtype, **params.get(name, {})}
                got = init.get(name)(INIT_SHAPE, seed=1, **kwargs)
                want = getattr(ref_init, name)(INIT_SHAPE, seed=2, **kwargs)
                if got.dtype != want.dtype:
                    raise AssertionError(f"dtype {got.dtype}, expected {want.dtype}")
                sigma = float(want.std()) or 1.0
                return _moments(got, sigma), _moments(want, sigma)

            self.record(
                f"init {name} moments ({INIT_SHAPE[0]}x{INIT_SHAPE[1]})",
                run,
                tolerance=tol,
                absolute=True,
            )

    # network ----------------------------------------------------------------

    def network(self) -> None:
        import fastnn
        from fastnn import reference as ref
        from fastnn.optimizers import SGD

        x = self.normal((N_ROWS, N_IN))
        labels = self.rng.integers(0, N_OUT, size=N_ROWS).astype(np.int64)

        def run():
            # Dense(relu) -> BN runs as one fused pre-activation BN kernel, BN -> Activation as
            # a post-activation one; the reference runs every layer on its own.
            layers = [
                fastnn.Dense(17, activation="relu", input_dim=N_IN),
                fastnn.BatchNormalization(),
                fastnn.Dense(11),
                fastnn.BatchNormalization(),
                fastnn.Activation("tanh"),
                fastnn.Dense(N_OUT),
            ]
            net = fastnn.Network(layers, seed=0, dtype=self.dtype)
            # SGD, not Adam: Adam's first steps are about sign(gradient), which turns rounding
            # differences of near-zero gradients into full-size steps.
            net.compile(optimizer=SGD(learning_rate=0.1, momentum=0.9), loss="cross_entropy")
            ref_net = ref.Network(
                net.layers, input_dim=N_IN, loss="cross_entropy", optimizer=net.optimizer,
                dtype=self.dtype,
            )  # fmt: skip
            ref_net.set_weights(net.get_weights())
            got = {"loss": np.array([net.train_on_batch(x, labels) for _ in range(2)])}
            want = {"loss": np.array([ref_net.train_on_batch(x, labels) for _ in range(2)])}
            # All weights as one vector, normwise: a bias whose gradient is zero (it feeds BN)
            # stays near zero and would make its own relative error meaningless.
            got["weights"] = np.concatenate([w.ravel() for w in net.get_weights()])
            want["weights"] = np.concatenate([w.ravel() for w in ref_net.get_weights()])
            got["predict"], want["predict"] = net.predict(x), ref_net.predict(x)
            return got, want

        self.record("network train step (2 SGD steps) + predict", run)


FAMILY_CHECKS = (
    "dense", "activations", "batchnorm", "losses", "optimizers", "initializers", "network",
)  # fmt: skip


def run_checks(dtypes: Sequence[str] = ("float32",), seed: int = 0) -> list[CheckResult]:
    """Run every family's checks for each dtype; failures are rows, never exceptions."""
    results = []
    for dtype in dtypes:
        checker = _Checker(dtype, seed)
        for family in FAMILY_CHECKS:
            try:
                getattr(checker, family)()
            except Exception as err:  # a family that cannot even be set up (import error)
                checker.results.append(
                    CheckResult(family, dtype, math.nan, math.nan, "-", TOLERANCES[dtype],
                                f"{type(err).__name__}: {err}")
                )  # fmt: skip
        results.extend(checker.results)
    return results


def format_results(results: Sequence[CheckResult]) -> str:
    header = ("op", "dtype", "max abs err", "max rel err", "worst output", "tolerance", "result")
    rows = [
        (r.op, r.dtype, f"{r.max_abs:.2e}", f"{r.max_rel:.2e}", r.worst, f"{r.tolerance:.1e}",
         "ok" if r.passed else "FAIL")
        for r in results
    ]  # fmt: skip
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in results:
        if r.error:
            lines.append(f"{r.op} [{r.dtype}]: {r.error}")
    return "\n".join(lines)


def run_check(
    dtypes: Sequence[str] = ("float32",), seed: int = 0, stream: TextIO = sys.stdout
) -> bool:
    """Print the check table and a verdict; True when every op is within tolerance."""
    start = time.perf_counter()
    results = run_checks(dtypes, seed)
    elapsed = time.perf_counter() - start
    print(format_results(results), file=stream)
    failed = [r for r in results if not r.passed]
    print(
        f"\nrelative error = max|fastnn - reference| / max|reference| per output, worst output "
        f"shown; {len(results) - len(failed)} of {len(results)} ops within tolerance "
        f"({elapsed:.1f} s, compilation or cache loading included)",
        file=stream,
    )
    if failed:
        print(f"FAILED: {', '.join(f'{r.op} [{r.dtype}]' for r in failed)}", file=stream)
    else:
        print("all kernels agree with the reference", file=stream)
    return not failed
