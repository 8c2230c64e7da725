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


def _patch_simulator_shared_arrays() -> None:
    """Make the simulator's ``cuda.shared.array`` allocate each array once per block.

    numba-cuda's simulator (0.30) keys a block's shared arrays by the calling
    source line and creates one on a miss, without a lock: two of the block's
    threads (Python threads) can both miss and each get an array of its own,
    so a shared-memory tree then adds uninitialized memory (seen here as
    accuracy counts of 3e12, at random).  This is the same function with a
    lock around the lookup and creation.
    """
    import threading
    import traceback

    import numpy as np
    from numba.core import types
    from numba.cuda.simulator import kernelapi
    from numba.np import numpy_support

    original = kernelapi.FakeCUDAShared.array
    lock = threading.Lock()

    def array(self, shape, dtype, alignment=None):
        if shape == 0 or alignment is not None:
            return original(self, shape, dtype, alignment)
        if isinstance(dtype, types.Type):
            dtype = numpy_support.as_dtype(dtype)
        caller = traceback.extract_stack(sys._getframe())[-2][0:2]
        with lock:
            res = self._allocations.get(caller)
            if res is None:
                res = np.empty(shape, dtype)
                self._allocations[caller] = res
        return res

    kernelapi.FakeCUDAShared.array = array


if SIMULATOR:
    _patch_simulator_shared_arrays()
    # Every GPU thread of a block is a Python thread that the launching thread
    # polls; with Python's default 5 ms switch interval they wait on the GIL
    # most of the time.  10 us made a training step of the test network 4x
    # faster.  Only under the simulator (a test mode).
    sys.setswitchinterval(1e-5)


def device_callable(dispatcher):
    """``dispatcher`` itself, or under the simulator the Python function it compiles."""
    return dispatcher.py_func if SIMULATOR else dispatcher
