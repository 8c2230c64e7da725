"""CPU backend: Numba ``@njit`` kernels, one module per kernel family."""
