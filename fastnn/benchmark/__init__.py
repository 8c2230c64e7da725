"""``fastnn bench``: timing every kernel family against the NumPy reference, PyTorch and the
machine's limits.

The package is split by responsibility:

- ``cases``: every benchmarked operation, written once (inputs for a backend,
  the fastnn, functional, reference and PyTorch sides), and ``REGISTRY``;
  ``fastnn check`` and the ``bench/`` suites draw on the same cases;
- ``timing``: ``Settings``, ``Timing`` and ``measure``;
- ``limits``: copy bandwidth, last-level cache size, GEMM rate (``Limits``);
- ``machine``: CPU model, library versions, startup latency;
- ``runner``: ``select`` the tasks, ``run`` them into a JSON-able report;
- ``report``: the text table, comparisons of two runs, plots and JSON files.

What the sides are: **fastnn** is the backend's kernels writing into outputs
preallocated once, which is how a ``Network`` calls them and the fair figure
for the kernel (the validated, allocating ``fastnn.functional`` wrappers add a
few microseconds of argument checks and allocation per call).  Two exceptions:
initializers run ``fastnn.init`` with ``out=`` (its checks cost microseconds
against milliseconds of drawing), and the training step is
``Network.train_on_batch``.  **reference** is ``fastnn.reference``, the plain
NumPy oracle, as a user calls it.  **torch** is the PyTorch CPU equivalent
through its public API (``torch.nn.functional`` + autograd, ``torch.nn.init``,
``torch.optim``, ``torch.nn`` modules), only when PyTorch is already
installed: it is never a dependency.  **Baselines** where one says something: a
dense layer's GEMMs alone.
"""

from fastnn.benchmark.cases import FAMILIES, REGISTRY, SIZES, Context, Impl, OpSpec
from fastnn.benchmark.cases.activations import NAMES as ACTIVATION_NAMES
from fastnn.benchmark.cases.network import build_network, train_step
from fastnn.benchmark.limits import Limits
from fastnn.benchmark.machine import cpu_model, machine_info, startup_latency
from fastnn.benchmark.report import (
    compare,
    format_comparison,
    format_seconds,
    format_startup,
    format_table,
    plot_speedups,
    read_json,
    write_json,
)
from fastnn.benchmark.runner import SCHEMA, Result, Task, import_torch, run, select
from fastnn.benchmark.timing import Settings, Timing, measure

__all__ = [
    "ACTIVATION_NAMES",
    "FAMILIES",
    "SIZES",
    "SCHEMA",
    "REGISTRY",
    "Context",
    "Impl",
    "OpSpec",
    "Settings",
    "Timing",
    "measure",
    "Limits",
    "Task",
    "Result",
    "select",
    "run",
    "import_torch",
    "format_seconds",
    "format_table",
    "compare",
    "format_comparison",
    "plot_speedups",
    "write_json",
    "read_json",
    "cpu_model",
    "machine_info",
    "startup_latency",
    "format_startup",
    "build_network",
    "train_step",
]
