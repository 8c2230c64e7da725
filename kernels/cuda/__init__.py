"""CUDA backend: ``@cuda.jit`` twins of ``fastnn.kernels.cpu`` (a later issue).

Importing fastnn never needs a GPU or numba-cuda; this package is empty until
the CUDA kernels land.
"""
