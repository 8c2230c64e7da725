"""fastnn: compiled Numba kernels for training dense neural networks.

Submodules: ``functional`` (validated kernel entry points), ``reference``
(the NumPy oracle), ``kernels`` (the CPU and CUDA kernels).
"""

__version__ = "0.1.0"

from fastnn import functional, reference  # noqa: E402

__all__ = ["functional", "reference", "__version__"]
