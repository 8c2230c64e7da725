"""fastnn: compiled Numba kernels for training dense neural networks.

The Keras-style API: ``Network`` (alias ``Sequential``) with the layers
``Dense``, ``BatchNormalization``, ``Activation`` and ``Dropout``; optimizers in
``fastnn.optimizers``, learning-rate schedules in ``fastnn.schedules``,
``fit`` callbacks in ``fastnn.callbacks``, data sets in ``fastnn.datasets``.

Submodules: ``functional`` (validated kernel entry points), ``reference``
(the NumPy oracle), ``kernels`` (the CPU and CUDA kernels).
"""

import os
import sys

__version__ = "0.1.0"


def _kernel_cache_dir() -> str:
    """Where Numba keeps fastnn's compiled kernels: a user cache, never the package itself.

    Numba's default writes ``__pycache__`` folders beside the sources.  For an
    installed fastnn that is inside ``site-packages``, where pip does not know
    those files: uninstalling leaves a ``fastnn/kernels/.../__pycache__`` tree
    behind, a namespace package that then hides a later (editable) install.
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fastnn", "numba")


# An explicit NUMBA_CACHE_DIR is kept.  The variable is set (not only Numba's
# config) so that Numba re-reading its environment, and child processes, agree.
os.environ.setdefault("NUMBA_CACHE_DIR", _kernel_cache_dir())


def _attach_source_kernels() -> None:
    """Make ``fastnn.kernels`` importable when this ``fastnn`` is a source checkout.

    The kernels live beside the package in the repository (``kernels/``) and
    are installed as ``fastnn.kernels``.  A script run in the repository root
    imports ``./fastnn`` first, whatever is installed; without this it would
    find no ``fastnn.kernels``.
    """
    import importlib.util

    if importlib.util.find_spec("fastnn.kernels") is not None:
        return
    kernels = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kernels")
    init = os.path.join(kernels, "__init__.py")
    if not os.path.isfile(init):
        return
    spec = importlib.util.spec_from_file_location(
        "fastnn.kernels", init, submodule_search_locations=[kernels]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["fastnn.kernels"] = module
    spec.loader.exec_module(module)


_attach_source_kernels()

# Numba's default OpenMP threading layer shares libgomp with PyTorch and its
# workers spin after every parallel region, taking the cores from OpenBLAS's
# GEMM threads in the next call: on the 2-core development machine a
# 784-256-256-10 training step took 8 ms at batch 32 that way, 0.8 ms with
# Numba's own "workqueue" pool, whose idle threads sleep.  (Making OpenMP wait
# passively instead fixes fastnn but slows PyTorch in the same process 4x.)
# A threading layer the user chose is kept; it must be set before Numba first
# runs a parallel kernel.
if "NUMBA_THREADING_LAYER" not in os.environ:
    import numba

    numba.config.THREADING_LAYER = "workqueue"
if "numba" in sys.modules:
    # Numba was imported before fastnn: its config already read the environment.
    sys.modules["numba"].config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]

from fastnn import (  # noqa: E402
    blas,
    callbacks,
    datasets,
    functional,
    optimizers,
    reference,
    schedules,
)
from fastnn.callbacks import History  # noqa: E402
from fastnn.layers import Activation, BatchNormalization, Dense, Dropout  # noqa: E402
from fastnn.network import Network, Sequential  # noqa: E402

__all__ = [
    "Network",
    "Sequential",
    "Dense",
    "BatchNormalization",
    "Activation",
    "Dropout",
    "History",
    "blas",
    "callbacks",
    "datasets",
    "optimizers",
    "schedules",
    "functional",
    "reference",
    "__version__",
]
