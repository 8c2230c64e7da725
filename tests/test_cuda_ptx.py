"""Every CUDA kernel compiles to real PTX, with the argument types its launcher passes.

The simulator runs kernels as Python and accepts code that the real compiler
rejects (an unsupported NumPy call, an allocation, a typing error, a CPU-only
helper), so this test compiles each ``@cuda.jit`` kernel of
``fastnn.kernels.cuda`` with ``numba.cuda.compile_ptx`` for compute
capabilities 8.0 and 9.0, in float32 and float64, without a GPU: numba-cuda's
``cu12`` wheels bring NVVM.  Compiling a kernel that calls another function
asks ``numba.cuda.dispatcher.get_current_device()`` for its compute
capability, which needs a driver; the test stands in a device object for that
lookup.  It cannot run under the simulator (no compiler there) and skips when
NVVM is missing.  A kernel that exists but is missing from ``SIGNATURES``
fails ``test_every_kernel_is_compiled``.
"""

import importlib
import os

import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    pytest.skip(
        "PTX compilation needs the real CUDA target, not the simulator", allow_module_level=True
    )

cuda = pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")

from numba import types  # noqa: E402
from numba.cuda.cudadrv import nvvm  # noqa: E402

from fastnn.backend import KERNEL_MODULES  # noqa: E402

if not nvvm.is_available():
    pytest.skip(
        "numba-cuda's NVVM is not installed (pip install numba-cuda[cu12])", allow_module_level=True
    )

from numba.cuda.dispatcher import CUDADispatcher  # noqa: E402

F32, F64, I32, I64, U64 = types.float32, types.float64, types.int32, types.int64, types.uint64
BOOL = types.boolean
CCS = [(8, 0), (9, 0)]


def A(dtype, ndim):
    """The numba type of a C-contiguous device array, as the launchers pass them."""
    return types.Array(dtype, ndim, "C")


W3 = A(F64, 3)  # a reduction workspace
W2 = A(F64, 2)  # one plane of it


def _float_signatures(make):
    return [make(dt) for dt in (F32, F64)]


#: Kernel -> argument types for each dtype it is launched with (mirrors the launchers).
SIGNATURES = {
    "memory._fill_kernel": [(A(dt, 1), dt) for dt in (F32, F64, I32, I64)],
    "memory._gather_rows_kernel": [(A(dt, 2), A(I64, 1), A(dt, 2)) for dt in (F32, F64, I64)],
    "memory._all_finite_kernel": _float_signatures(lambda d: (A(d, 1), A(I32, 1))),
    "metrics._count_correct_classes_kernel": _float_signatures(
        lambda d: (A(d, 2), A(I64, 1), A(F64, 1))
    ),
    "metrics._count_correct_binary_kernel": _float_signatures(
        lambda d: (A(d, 2), A(d, 2), A(F64, 1))
    ),
    "reduce._column_partials_kernel": _float_signatures(lambda d: (A(d, 2), I64, W2)),
    "reduce._combine_blocks_kernel": _float_signatures(lambda d: (W2, I64, A(d, 1))),
    "activations._activation_forward_kernel": _float_signatures(
        lambda d: (A(d, 2), I64, F64, A(d, 2))
    ),
    "activations._activation_backward_kernel": _float_signatures(
        lambda d: (A(d, 2), A(d, 2), I64, F64, A(d, 2))
    ),
    "activations._softmax_rows_kernel": _float_signatures(lambda d: (A(d, 2), A(d, 2))),
    "activations._softmax_grad_rows_kernel": _float_signatures(
        lambda d: (A(d, 2), A(d, 2), A(d, 2))
    ),
    "losses._softmax_cross_entropy_kernel": _float_signatures(
        lambda d: (A(d, 2), A(I64, 1), A(d, 2), I64, W2)
    ),
    "losses._binary_cross_entropy_kernel": _float_signatures(
        lambda d: (A(d, 2), A(d, 2), A(d, 2), I64, W2)
    ),
    "losses._mean_squared_error_kernel": _float_signatures(
        lambda d: (A(d, 2), A(d, 2), A(d, 2), I64, W2)
    ),
    "losses._mean_of_blocks_kernel": [(W2, I64, F64, A(F64, 1))],
    "optimizers._sgd_kernel": _float_signatures(lambda d: (A(d, 1),) * 3 + (F64, F64)),
    "optimizers._sgd_momentum_kernel": _float_signatures(
        lambda d: (A(d, 1),) * 5 + (F64, F64, BOOL, F64)
    ),
    "optimizers._adam_kernel": _float_signatures(lambda d: (A(d, 1),) * 7 + (F64,) * 5),
    "optimizers._rmsprop_kernel": _float_signatures(lambda d: (A(d, 1),) * 5 + (F64,) * 4),
    "optimizers._rmsprop_momentum_kernel": _float_signatures(lambda d: (A(d, 1),) * 7 + (F64,) * 5),
    "init._fill_f32_kernel": [(A(F32, 1), I64, I64, I64, U64, U64, U64, U64, I64) + (F32,) * 4],
    "init._fill_f64_kernel": [(A(F64, 1), I64, I64, I64, U64, U64, U64, U64, I64) + (F64,) * 4],
    "dropout._dropout_forward_kernel": _float_signatures(
        lambda d: (A(d, 2), U64, U64, I64, F64, A(types.uint8, 2), A(d, 2))
    ),
    "dropout._dropout_backward_kernel": _float_signatures(
        lambda d: (A(d, 2), A(types.uint8, 2), F64, A(d, 2))
    ),
    "dense._gemm_kernel": _float_signatures(
        lambda d: (A(d, 2), A(d, 2), A(d, 1), BOOL, BOOL, BOOL, I64, F64, A(d, 2))
    ),
    "dense._grad_partials_kernel": _float_signatures(
        lambda d: (A(d, 2), A(d, 2), I64, F64, I64, A(d, 2), W2)
    ),
    "batchnorm._bn_statistics_kernel": _float_signatures(
        lambda d: (A(d, 2), A(d, 2), I64, F64, I64, W3)
    ),
    "batchnorm._bn_moments_kernel": _float_signatures(
        lambda d: (W3, I64, I64, I64) + (A(d, 1),) * 4 + (F64, F64, A(d, 1), A(d, 1))
    ),
    "batchnorm._bn_normalize_kernel": _float_signatures(lambda d: (A(d, 2), W3, I64, F64, A(d, 2))),
    "batchnorm._bn_infer_kernel": _float_signatures(
        lambda d: (A(d, 2),) + (A(d, 1),) * 4 + (F64, I64, I64, F64, A(d, 2))
    ),
    "batchnorm._bn_gradient_sums_kernel": _float_signatures(
        lambda d: (A(d, 2), A(d, 2), A(d, 2), A(d, 1), I64, F64, I64, W3)
    ),
    "batchnorm._bn_gradient_columns_kernel": _float_signatures(
        lambda d: (W3, I64, I64) + (A(d, 1),) * 4
    ),
    "batchnorm._bn_dx_kernel": _float_signatures(
        lambda d: (A(d, 2),) * 3 + (A(d, 1), A(d, 1), W3, I64, I64, F64, A(d, 2))
    ),
}


def _kernels():
    """``{"module.name": dispatcher}`` for every ``@cuda.jit`` kernel (not device function)."""
    found = {}
    for module_name in (*KERNEL_MODULES, "config"):
        module = importlib.import_module(f"fastnn.kernels.cuda.{module_name}")
        for name, value in vars(module).items():
            if isinstance(value, CUDADispatcher) and not value.targetoptions.get("device"):
                if value.py_func.__module__ == module.__name__:
                    found[f"{module_name}.{name}"] = value
    return found


class _StandInDevice:
    """What the compiler asks of the current device: its compute capability."""

    def __init__(self, cc):
        self.compute_capability = cc


def test_every_kernel_is_compiled():
    kernels = _kernels()
    missing = sorted(set(kernels) - set(SIGNATURES))
    assert not missing, f"kernels without a compile signature in SIGNATURES: {missing}"
    stale = sorted(set(SIGNATURES) - set(kernels))
    assert not stale, f"SIGNATURES names kernels that no longer exist: {stale}"
    assert all(name.split(".")[1].endswith("_kernel") for name in kernels)


CASES = [
    pytest.param(name, sig, cc, id=f"{name}-{'-'.join(str(t) for t in sig[:1])}-sm{cc[0]}{cc[1]}")
    for name, sigs in SIGNATURES.items()
    for sig in sigs
    for cc in CCS
]


@pytest.mark.parametrize(("name", "argtypes", "cc"), CASES)
def test_kernel_compiles_to_ptx(monkeypatch, name, argtypes, cc):
    import numba.cuda.dispatcher

    monkeypatch.setattr(numba.cuda.dispatcher, "get_current_device", lambda: _StandInDevice(cc))
    kernel = _kernels()[name]
    ptx, return_type = cuda.compile_ptx(kernel.py_func, argtypes, cc=cc)
    assert return_type == types.void
    assert f".target sm_{cc[0]}{cc[1]}" in ptx
    assert ".entry" in ptx
