"""``fastnn check``: every kernel once against the NumPy reference.

The rows are the registry's check rows (``fastnn.benchmark.cases.CHECKS``):
each builds a benchmark case at a small, odd shape (67 rows: two reduction
blocks of 64 and a remainder; 19 and 13 columns, so every block path runs) and
runs it through ``fastnn.functional`` (validation, then the kernels) and
``fastnn.reference`` on the same random inputs.  Each row reports, over every
output of the op, the largest absolute error and the largest *normwise*
relative error ``max|got - want| / max|want|`` of any one output array, and
passes when that relative error is within the dtype's tolerance (``TOLERANCES``).

Optimizers are compared on the *change* they make to the parameter and on
their new state, so a wrong update is not hidden by the size of the parameter.
Initializers draw from different generators (Philox in fastnn, NumPy's in the
reference), so they are compared by their moments with a tolerance of their own
(see ``fastnn.benchmark.cases.init``; the row's error is then absolute).  The
network row trains a small ``Network`` (fused Dense-relu-BN and BN-tanh
placements) for two SGD steps beside ``fastnn.reference.Network`` from the same
weights and compares the losses, all weights as one vector, and the predictions.

On another device (``fastnn check --device cuda``) the same rows run that
device's kernels: ``fastnn.functional`` is pointed, for the duration of the
check, at a host-facing view of the device backend (``HostFacing``) whose
kernels copy their NumPy arguments to the device, launch the device kernel,
and copy every array back, so each output compared is the device kernel's,
read back to the host.  Initializers fill device arrays through
``fastnn.init(..., device=...)`` and the network row trains a
``Network(device=...)``.  This works under the CUDA simulator too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import math
import sys
import time
import traceback
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

import numpy as np

__all__ = ["CheckResult", "TOLERANCES", "run_checks", "run_check", "format_results"]

#: Normwise relative tolerance per dtype.  The longest reduction in a check runs over the 67
#: rows of a batch, and summing n terms in another order differs by up to about n * eps of
#: the sum of magnitudes: 67 * eps is 8e-6 in float32 (eps 1.2e-7) and 1.5e-14 in float64
#: (eps 2.2e-16) for one reduced output.  The kernels accumulate in float64 in different
#: places than the reference and fuse passes, and BatchNorm chains three reductions (mean,
#: variance, the backward sums) whose cancellations can grow that further.
#:
#: - float32: 1e-4, about 12 x 67 eps (800 units in the last place at 1): room for those
#:   chains, while a wrong formula, a missing term or a skipped row costs O(1e-2) or more;
#: - float64: 1e-10, about 7000 x 67 eps: room for the cancellations at float64 precision,
#:   yet a thousand times below the 1e-7 that one float32 rounding anywhere in a float64
#:   path (a lost dtype) costs, so such a slip fails.
TOLERANCES = {"float32": 1e-4, "float64": 1e-10}


@dataclass
class CheckResult:
    """The outcome of one op: errors, the output that was worst, and the verdict (``family``:
    the registry family the row checks)."""

    op: str
    dtype: str
    max_abs: float
    max_rel: float
    worst: str
    tolerance: float
    error: str | None = None
    family: str = "-"

    @property
    def passed(self) -> bool:
        return self.error is None and self.max_rel <= self.tolerance


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


#: The ``fastnn.functional`` modules that call kernels through their ``BACKEND``.
FUNCTIONAL_MODULES = ("activations", "batchnorm", "dense", "losses", "optimizers")


def _host_facing_kernel(kernel, memory):
    """``kernel`` (a device launcher) callable with NumPy arrays: copied over, run, copied back.

    Arrays that are the same host object stay one device array, so in-place
    and aliased arguments (``dx`` over ``dy``) behave as on the host.
    Non-NumPy arguments (scalars, device workspaces) pass unchanged.
    """

    def run(*args):
        device = {}
        for a in args:
            if isinstance(a, np.ndarray) and id(a) not in device:
                device[id(a)] = (a, memory.from_host(a))
        kernel(*(device[id(a)][1] if isinstance(a, np.ndarray) else a for a in args))
        for host, on_device in device.values():
            host[...] = memory.to_host(on_device)

    return run


def host_facing(backend):
    """``backend``'s kernels behind NumPy in, NumPy out, for ``fastnn.functional``.

    Buffers come from the CPU backend's ``memory`` (host arrays); every
    kernel family's public functions become ``_host_facing_kernel`` wrappers;
    the reduction workspace is ``backend``'s own (its layout is the backend's).
    """
    from fastnn.backend import KERNEL_MODULES, get_backend

    families = {}
    for family in KERNEL_MODULES:
        if family in ("memory", "reduce"):
            continue
        module = getattr(backend, family)
        wrapped = types.ModuleType(f"host_facing_{family}")
        for name in getattr(module, "__all__", ()):
            wrapped.__dict__[name] = _host_facing_kernel(getattr(module, name), backend.memory)
        families[family] = wrapped
    return dataclasses.replace(
        backend, memory=get_backend("cpu").memory, reduce=backend.reduce, **families
    )


@contextlib.contextmanager
def functional_on(backend):
    """Run ``fastnn.functional`` on ``backend`` (through ``host_facing``) inside the block."""
    if backend.name == "cpu":
        yield
        return
    facing = host_facing(backend)
    modules = [importlib.import_module(f"fastnn.functional.{m}") for m in FUNCTIONAL_MODULES]
    saved = [module.BACKEND for module in modules]
    for module in modules:
        module.BACKEND = facing
    try:
        yield
    finally:
        for module, value in zip(modules, saved, strict=True):
            module.BACKEND = value


class _Checker:
    """Runs the registry's check rows for one dtype on one backend and records the results."""

    def __init__(self, dtype: str, seed: int, device: str = "cpu"):
        from fastnn.backend import get_backend

        self.dtype = np.dtype(dtype)
        self.seed = seed
        self.backend = get_backend(device)
        self.results: list[CheckResult] = []

    def context(self):
        """A fresh build context: each row draws its inputs from the seed on its own, so a row
        does not change when another is added before it."""
        from fastnn.benchmark.cases import Context

        return Context(self.dtype, np.random.default_rng(self.seed), None, self.backend)

    def record(
        self,
        op: str,
        run: Callable[[], tuple[dict, dict]],
        tolerance=None,
        absolute=False,
        family: str = "-",
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
                            f"{type(err).__name__}: {err}{where}", family)
            )  # fmt: skip
            return
        self.results.append(
            CheckResult(op, self.dtype.name, max_abs, max_rel, worst, tol, family=family)
        )

    def family(self, family: str) -> None:
        """Every check row of one family of the registry (``fastnn.benchmark.cases.CHECKS``)."""
        from fastnn.benchmark.cases import CHECKS

        for row in CHECKS:
            if row.family == family:
                self.record(
                    row.op, lambda row=row: row.run(self.context()), row.tolerance,
                    row.absolute, family,
                )  # fmt: skip


def run_checks(
    dtypes: Sequence[str] = ("float32",), seed: int = 0, device: str = "cpu"
) -> list[CheckResult]:
    """Run every family's checks for each dtype; failures are rows, never exceptions."""
    results = []
    for dtype in dtypes:
        try:
            from fastnn.benchmark.cases import FAMILIES

            checker = _Checker(dtype, seed, device)
        except Exception as err:  # the cases or the backend cannot even be set up
            results.append(
                CheckResult("setup", dtype, math.nan, math.nan, "-", TOLERANCES[dtype],
                            f"{type(err).__name__}: {err}")
            )  # fmt: skip
            continue
        with functional_on(checker.backend):
            for family in FAMILIES:
                checker.family(family)
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
    dtypes: Sequence[str] = ("float32",),
    seed: int = 0,
    stream: TextIO = sys.stdout,
    device: str = "cpu",
) -> bool:
    """Print the check table and a verdict; True when every op is within tolerance."""
    start = time.perf_counter()
    results = run_checks(dtypes, seed, device)
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
