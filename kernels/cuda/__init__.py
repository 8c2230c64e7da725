"""CUDA backend: ``@cuda.jit`` twins of ``fastnn.kernels.cpu``, one module per kernel family.

Each module has the CPU module's public function names and signatures; here
a function is a host-side launcher that takes numba device arrays (anything
with ``__cuda_array_interface__`` where an input may come from outside),
picks its launch configuration from the shapes through ``config`` and
launches ``@cuda.jit`` kernels, named with a ``_kernel`` suffix.  The
per-element maths is ``fastnn.kernels.scalar``'s (and the CPU backend's
scalar and row helpers), compiled for the device as it is.

Importing ``fastnn`` never imports this package; ``fastnn.backend`` does,
only when the CUDA device is asked for.  Importing it needs numba-cuda but no
GPU (the kernels compile at their first launch).
"""
