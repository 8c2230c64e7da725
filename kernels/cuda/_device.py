"""How the CUDA kernels call the CPU backend's ``@njit`` helpers: one switch for the simulator.

numba-cuda compiles a CPU ``@njit`` dispatcher's Python function for the
device when a kernel calls it, so a kernel calls the very function the CPU
kernels call.  The CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) instead runs
kernels as Python, and calling a compiled CPU function with the simulator's
array stand-ins fails to unbox them; there the helper's Python function runs
instead, which is the same source.  Helpers with scalar arguments only work
either way and need no switch.
"""

import sys

from numba.cuda import config as _cuda_config

SIMULATOR = bool(_cuda_config.ENABLE_CUDASIM)

if SIMULATOR:
    # The simulator runs every GPU thread of a block as a Python thread while the
    # launching thread polls them; with Python's default 5 ms switch interval the
    # threads wait on the GIL most of the time.  10 us made a training step of the
    # test network 4x faster there.  Only under the simulator (a test mode).
    sys.setswitchinterval(1e-5)


def device_callable(dispatcher):
    """``dispatcher`` itself, or under the simulator the Python function it compiles."""
    return dispatcher.py_func if SIMULATOR else dispatcher
