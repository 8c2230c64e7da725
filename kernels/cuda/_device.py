"""How the CUDA kernels call the CPU backend's ``@njit`` helpers: one switch for the simulator.

numba-cuda compiles a CPU ``@njit`` dispatcher's Python function for the
device when a kernel calls it, so a kernel calls the very function the CPU
kernels call.  The CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) instead runs
kernels as Python, and calling a compiled CPU function with the simulator's
array stand-ins fails to unbox them; there the helper's Python function runs
instead, which is the same source.  Helpers with scalar arguments only work
either way and need no switch.
"""

from numba.cuda import config as _cuda_config

SIMULATOR = bool(_cuda_config.ENABLE_CUDASIM)

# Python's thread switch interval is left alone: a short one (10 us) made the
# simulator 4x faster here but exposed a race in its syncthreads emulation
# (shared-memory trees read before every thread had written), so results
# came out wrong at random.


def device_callable(dispatcher):
    """``dispatcher`` itself, or under the simulator the Python function it compiles."""
    return dispatcher.py_func if SIMULATOR else dispatcher
