"""fastnn: compiled Numba kernels for training dense neural networks.

The Keras-style API: ``Network`` with the layers ``Dense``,
``BatchNormalization`` and ``Activation``; optimizers in ``fastnn.optimizers``,
data sets in ``fastnn.datasets``.

Submodules: ``functional`` (validated kernel entry points), ``reference``
(the NumPy oracle), ``kernels`` (the CPU and CUDA kernels).
"""

import os

__version__ = "0.1.0"

# Numba's OpenMP workers spin after every parallel region by default, and the
# spinning threads take the cores from OpenBLAS's GEMM threads (and from the
# main thread) in the next call.  On a 2-core machine a step alternating small
# GEMMs and prange kernels measured 80-130 ms per iteration spinning, 0.35 ms
# with passive waiting.  Set before Numba starts its thread pool (at the first
# parallel call); a value the user already set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from fastnn import datasets, functional, optimizers, reference  # noqa: E402
from fastnn.layers import Activation, BatchNormalization, Dense  # noqa: E402
from fastnn.network import History, Network  # noqa: E402

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
