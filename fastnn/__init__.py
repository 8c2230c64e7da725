"""fastnn: compiled Numba kernels for training dense neural networks.

The Keras-style API: ``Network`` with the layers ``Dense``,
``BatchNormalization`` and ``Activation``; optimizers in ``fastnn.optimizers``,
data sets in ``fastnn.datasets``.

Submodules: ``functional`` (validated kernel entry points), ``reference``
(the NumPy oracle), ``kernels`` (the CPU and CUDA kernels).
"""

import os

__version__ = "0.1.0"

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

from fastnn import datasets, functional, optimizers, reference  # noqa: E402
from fastnn.callbacks import History  # noqa: E402
from fastnn.layers import Activation, BatchNormalization, Dense  # noqa: E402
from fastnn.network import Network  # noqa: E402

__all__ = [
    "Network",
    "Dense",
    "BatchNormalization",
    "Activation",
    "History",
    "datasets",
    "optimizers",
    "functional",
    "reference",
    "__version__",
]
