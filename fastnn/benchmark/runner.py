"""Running a benchmark: choosing the tasks (``select``), timing each side of each task
(``Result``) and gathering the machine, limits and startup figures into one JSON-able report
(``run``).

A task is one registry case (``fastnn.benchmark.cases``) at one shape and dtype.  Its
sides are timed one after the other with ``measure`` (or, for a case that asks with
``Impl.interleave``, in rounds of one sample each, so that the load of a shared machine
falls on all sides alike): fastnn, the NumPy
reference, PyTorch (only when it is already installed; its thread count is set
to Numba's) and the case's baselines.  A side that fails is a row with an error,
never an exception, so one broken op does not stop a run.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

import numpy as np

from fastnn.benchmark.cases import FAMILIES, REGISTRY, SIZES, Context, OpSpec
from fastnn.benchmark.limits import Limits
from fastnn.benchmark.machine import machine_info, startup_latency
from fastnn.benchmark.timing import SETTLE_S, Settings, Timing, interleaved, measure

__all__ = ["SCHEMA", "OPTIONAL_SIDES", "Task", "Result", "select", "run", "import_torch"]

#: The version of the JSON report's layout.
SCHEMA = "fastnn-bench/1"
#: Sides only some cases offer (the training step), each reported as ``<side>``,
#: ``<side>_status`` and ``speedup_vs_<side>`` beside the PyTorch eager columns.
OPTIONAL_SIDES = ("torch_compile", "jax")


@dataclass(frozen=True)
class Task:
    """One op at one shape and dtype."""

    spec: OpSpec
    size: str
    shape: tuple
    dtype: str

    @property
    def key(self) -> str:
        return f"{self.spec.name} | {self.spec.label(self.shape)} | {self.dtype}"


def select(
    families: Sequence[str] | None = None,
    sizes: Sequence[str] | None = None,
    dtypes: Sequence[str] = ("float32",),
    quick: bool = False,
) -> list[Task]:
    """The tasks to run, in registry order.

    ``quick`` keeps only the ops marked quick: at their quick shapes when
    ``sizes`` is None, otherwise at every shape of the given size classes.
    """
    families = FAMILIES if families is None else tuple(families)
    tasks = []
    for spec in REGISTRY:
        if spec.family not in families or (quick and not spec.quick):
            continue
        for size in SIZES:
            for shape in spec.shapes.get(size, ()):
                if sizes is None and quick and shape not in spec.quick:
                    continue
                if sizes is not None and size not in sizes:
                    continue
                tasks.extend(Task(spec, size, shape, dtype) for dtype in dtypes)
    return tasks


def _progress(stream: TextIO | None, text: str) -> None:
    if stream is None:
        return
    if stream.isatty():
        stream.write("\r\033[K" + text)
    else:
        stream.write(text + "\n")
    stream.flush()


@dataclass
class Result:
    """Timings of one task: fastnn, reference, PyTorch (``None`` when absent), baselines."""

    task: Task
    limit: str | None = None
    work: float = 0.0
    fastnn: Timing | None = None
    reference: Timing | None = None
    torch: Timing | None = None
    torch_status: str = "ok"  # "ok", "not installed", "skipped" (--no-torch), "n/a" (no twin)
    baselines: dict = field(default_factory=dict)
    error: str | None = None
    limit_name: str | None = None
    limit_rate: float | None = None
    #: Timings of the ``OPTIONAL_SIDES`` a case offers, and why the others are missing.
    optional: dict = field(default_factory=dict)
    optional_status: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        t = self.task
        entry = {
            "op": t.spec.name,
            "family": t.spec.family,
            "size": t.size,
            "shape": t.spec.label(t.shape),
            "dims": list(t.shape),
            "dtype": t.dtype,
            "limit": self.limit,
            "bytes": self.work if self.limit == "bandwidth" else None,
            "flops": self.work if self.limit == "gemm" else None,
            "fastnn": None if self.fastnn is None else self.fastnn.to_dict(),
            "reference": None if self.reference is None else self.reference.to_dict(),
            "torch": None if self.torch is None else self.torch.to_dict(),
            "torch_status": self.torch_status,
            "baselines": {name: timing.to_dict() for name, timing in self.baselines.items()},
            "speedup_vs_reference": self.speedup(self.reference),
            "speedup_vs_torch": self.speedup(self.torch),
            "error": self.error,
        }
        for side in OPTIONAL_SIDES:
            timing = self.optional.get(side)
            entry[side] = None if timing is None else timing.to_dict()
            entry[f"{side}_status"] = self.optional_status.get(side, "ok" if timing else "n/a")
            entry[f"speedup_vs_{side}"] = self.speedup(timing)
        entry.update(self.throughput())
        return entry

    def speedup(self, theirs: Timing | None) -> float | None:
        if self.fastnn is None or theirs is None:
            return None
        return theirs.median / self.fastnn.median

    def throughput(self) -> dict:
        """Achieved GB/s or GFLOP/s and the fraction of the limit it is compared with."""
        if self.fastnn is None or self.limit is None:
            return {
                "throughput": None,
                "throughput_unit": None,
                "limit_name": None,
                "limit_rate": None,
                "fraction_of_limit": None,
            }
        rate = self.work / self.fastnn.median / 1e9
        return {
            "throughput": rate,
            "throughput_unit": "GB/s" if self.limit == "bandwidth" else "GFLOP/s",
            "limit_name": self.limit_name,
            "limit_rate": self.limit_rate,
            "fraction_of_limit": rate / self.limit_rate if self.limit_rate else None,
        }


def _run_task(
    task: Task,
    settings: Settings,
    torch,
    torch_absent: str,
    limits: Limits,
    seed: int,
    progress,
    backend,
) -> Result:
    """Build one task and time its sides; ``torch_absent`` says why ``torch`` is None."""
    ctx = Context(np.dtype(task.dtype), np.random.default_rng(seed), torch, backend)
    result = Result(task)
    try:
        impl = task.spec.make(task.shape, ctx)
    except Exception as err:  # a family that has not landed, or a missing API
        result.error = f"setup failed: {type(err).__name__}: {err}"
        return result
    result.limit, result.work = impl.limit, impl.work
    if impl.limit == "bandwidth":
        result.limit_name, result.limit_rate = limits.for_bandwidth(impl.work, impl.array_bytes)
    elif impl.limit == "gemm":
        result.limit_name, result.limit_rate = limits.for_gemm(task.dtype)
    fastnn_side = impl.fastnn
    if backend.name != "cpu":
        # A GPU launch returns before the kernel has run: each timed call waits for it.
        result.limit_name = result.limit_rate = None

        def fastnn_side(run=impl.fastnn, wait=backend.synchronize):
            run()
            wait()

    sides = [("fastnn", fastnn_side), ("reference", impl.reference), ("torch", impl.torch)]
    sides += [(side, getattr(impl, side)) for side in OPTIONAL_SIDES]
    if backend.name == "cpu":  # the baselines are host code (np.dot in @njit)
        sides += [(f"baseline {name}", fn) for name, fn in impl.baselines.items()]
    timings = {}
    ready = {}
    for side, fn in sides:
        if fn is None:
            continue
        progress(side)
        try:
            if impl.interleave:
                fn()  # fails here rather than inside the rounds; compiles
                ready[side] = fn
            else:
                timings[side] = measure(fn, settings)
        except Exception as err:
            message = f"{side} failed: {type(err).__name__}: {err}"
            result.error = message if result.error is None else f"{result.error}; {message}"
    if ready:
        progress("all sides, interleaved")
        # The interleaved cases put sides with their own thread pools (NumPy's BLAS,
        # PyTorch, XLA) between fastnn's samples: let each pool go idle first.
        timings = interleaved(ready, settings, settle=SETTLE_S)
    for side, timing in timings.items():
        if side.startswith("baseline "):
            result.baselines[side.split(" ", 1)[1]] = timing
        elif side in OPTIONAL_SIDES:
            result.optional[side] = timing
        else:
            setattr(result, side, timing)
    result.optional_status.update(impl.unavailable)
    if torch is None:
        result.torch_status = torch_absent
        if impl.jax is not None or "jax" in impl.unavailable:  # a case with optional sides
            result.optional_status["torch_compile"] = torch_absent
    elif impl.torch is None:
        result.torch_status = "n/a"
    return result


def import_torch(threads: int):
    """PyTorch with ``threads`` intra-op threads, or None when it is not installed."""
    try:
        import torch
    except (ImportError, OSError):  # OSError: an installation whose libraries do not load
        return None
    torch.set_num_threads(threads)
    return torch


def run(
    tasks: Sequence[Task],
    settings: Settings,
    *,
    use_torch: bool = True,
    startup: bool = True,
    seed: int = 0,
    progress_stream: TextIO | None = sys.stderr,
    device: str = "cpu",
) -> dict:
    """Measure the limits, every task, and the startup figures; return the JSON-able report.

    ``device`` names the backend whose kernels the fastnn side calls
    (``fastnn.backend.get_backend``); the cases build their arrays on it.
    """
    import numba

    from fastnn.backend import get_backend

    backend = get_backend(device)
    if backend.name != "cpu":
        # The comparisons are made for the CPU: PyTorch on the CPU, the host's copy
        # bandwidth and GEMM rate, the CPU's startup path.  bench/gpu_check.sh compares a
        # GPU with PyTorch CUDA and with the GPU's own limits.
        use_torch = startup = False

    threads = numba.get_num_threads()
    torch = import_torch(threads) if use_torch else None
    torch_absent = "not installed" if use_torch else "skipped"
    n_steps = len(tasks) + 1 + int(startup)
    step = 0

    def announce(text: str) -> None:
        _progress(progress_stream, f"[{step}/{n_steps}] {text}")

    step += 1
    announce("measuring the copy bandwidth")
    limits = Limits(Settings(sample_time=0.02, repeats=7, budget=0.5))
    results = []
    for task in tasks:
        step += 1
        left = n_steps - step

        def progress(side: str, task=task, left=left) -> None:
            announce(f"{task.key}: {side} ({left} left)")

        results.append(
            _run_task(task, settings, torch, torch_absent, limits, seed, progress, backend)
        )
    startup_figures = None
    if startup:
        step += 1
        announce("startup latency: import, first training step (empty, then warm kernel cache)")
        startup_figures = startup_latency(import_runs=3)
    if progress_stream is not None and progress_stream.isatty():
        progress_stream.write("\r\033[K")
        progress_stream.flush()
    info = machine_info(torch)
    try:
        info["numba_threading_layer"] = numba.threading_layer()
    except ValueError:  # no parallel kernel ran
        info["numba_threading_layer"] = None
    return {
        "schema": SCHEMA,
        "device": backend.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "settings": {
            "sample_time_s": settings.sample_time,
            "repeats": settings.repeats,
            "budget_s": settings.budget,
            "seed": seed,
        },
        "machine": info,
        "limits": limits.to_dict(),
        "startup": startup_figures,
        "results": [r.to_dict() for r in results],
    }
