"""Array helpers of the CUDA backend: allocate, fill, copy, gather rows and cross to the host.

The same names and signatures as ``fastnn.kernels.cpu.memory``; arrays are
numba device arrays.  An input that may come from outside (``copy``'s
source, ``to_host``, ``all_finite``) may be anything exposing
``__cuda_array_interface__`` (CuPy, PyTorch CUDA tensors), taken without a
copy through ``numba.cuda.as_cuda_array``, or a host NumPy array where the
contract allows it.  Only ``read_scalar``, ``to_host`` and ``all_finite``
(one flag) copy device data to the host.
"""

import math

import numpy as np
from numba import cuda
from numba.cuda.cudadrv.devicearray import is_cuda_ndarray

from fastnn.kernels.cuda import config
from fastnn.kernels.cuda.reduce import _tree_sum

__all__ = [
    "empty",
    "zeros",
    "fill",
    "copy",
    "stage_input",
    "gather_rows",
    "read_scalar",
    "to_host",
    "from_host",
    "from_host_for_reading",
    "all_finite",
]

_TREE_SIZE = config.TREE_SIZE


def _is_device(a) -> bool:
    """Whether ``a`` is a numba device array or exposes ``__cuda_array_interface__``."""
    return bool(is_cuda_ndarray(a)) or hasattr(a, "__cuda_array_interface__")


def _as_device(a, name: str = "array"):
    """``a`` as a numba device array without a copy; ``TypeError`` if it is not on the GPU."""
    if is_cuda_ndarray(a):
        return a
    if hasattr(a, "__cuda_array_interface__"):
        return cuda.as_cuda_array(a)
    raise TypeError(
        f"{name} must be a GPU array (numba device array or an object with "
        f"__cuda_array_interface__), got {type(a).__name__}"
    )


def _flat(a):
    """A one-dimensional view of the C-contiguous device array ``a``."""
    return a.reshape(a.size)


@cuda.jit
def _fill_kernel(out, value):
    """``out[i] = value`` for every ``i`` (grid-stride)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, out.shape[0], stride):
        out[i] = value


@cuda.jit
def _gather_rows_kernel(src, index, out):
    """``out[i, j] = src[index[i], j]`` (grid-stride over ``out``'s elements)."""
    n, m = out.shape
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for e in range(start, n * m, stride):
        i = e // m
        j = e - i * m
        out[i, j] = src[index[i], j]


@cuda.jit
def _all_finite_kernel(a, flag):
    """``flag[0]`` is set to 0 if any element of ``a`` is not finite (integer ``atomic.min``).

    Each block reduces its elements' finiteness through a shared-memory tree
    first, so at most one atomic per block touches ``flag``; integer minima
    do not depend on the order.
    """
    shared = cuda.shared.array(_TREE_SIZE, np.int32)
    t = cuda.threadIdx.x
    start, stride = cuda.grid(1), cuda.gridsize(1)
    bad = 0
    for i in range(start, a.shape[0], stride):
        if not math.isfinite(a[i]):
            bad = 1
    shared[t] = bad
    _tree_sum(shared, t)
    if t == 0 and shared[0] > 0:
        cuda.atomic.min(flag, 0, 0)


def empty(shape, dtype):
    """A new uninitialized C-contiguous device array."""
    return cuda.device_array(shape, dtype=np.dtype(dtype))


def zeros(shape, dtype):
    """A new zero-filled C-contiguous device array (filled on the device, no host copy)."""
    out = empty(shape, dtype)
    fill(out, 0)
    return out


def fill(out, value) -> None:
    """Set every element of the C-contiguous device array ``out`` to ``value``."""
    if out.size == 0:
        return
    flat = _flat(out)
    value = np.dtype(out.dtype).type(value)
    _fill_kernel[config.blocks_for(flat.shape[0]), config.THREADS](flat, value)


def copy(src, out) -> None:
    """``out[...] = src``; ``src`` is a host NumPy array or a GPU array like ``out``."""
    if tuple(src.shape) != tuple(out.shape) or np.dtype(src.dtype) != np.dtype(out.dtype):
        raise ValueError(
            f"copy: src has shape {tuple(src.shape)} and dtype {np.dtype(src.dtype)}, "
            f"out has {tuple(out.shape)} and {np.dtype(out.dtype)}"
        )
    if _is_device(src):
        out.copy_to_device(_as_device(src, "src"))
    else:
        out.copy_to_device(np.ascontiguousarray(src))


def stage_input(src, buffer):
    """The array the kernels should read for the batch ``src``: ``src`` copied into the device
    ``buffer``, and ``buffer`` (the CPU backend may hand ``src`` itself back)."""
    copy(src, buffer)
    return buffer


def gather_rows(src, index, out) -> None:
    """``out[i] = src[index[i]]`` for a 1-D or 2-D device ``src`` and an int64 device ``index``.

    ``index`` holds ``out.shape[0]`` row numbers in ``[0, src.shape[0])``
    (not checked on the device).
    """
    if src.ndim == 1:
        src = src.reshape(src.shape[0], 1)
        out = out.reshape(out.shape[0], 1)
    n, m = out.shape
    if n * m == 0:
        return
    _gather_rows_kernel[config.blocks_for(n * m), config.THREADS](src, index, out)


def read_scalar(a, index: int = 0) -> float:
    """``a[index]`` of a 1-D device array as a Python float (one element crosses to the host)."""
    return float(a[index : index + 1].copy_to_host()[0])


def to_host(a) -> np.ndarray:
    """A new NumPy array holding ``a`` (a device array, or a host array, which is copied)."""
    if _is_device(a):
        return _as_device(a).copy_to_host()
    return np.array(a, copy=True)


def from_host(a):
    """A new C-contiguous device array holding the host array ``a``."""
    return cuda.to_device(np.ascontiguousarray(a))


def from_host_for_reading(a):
    """The host array ``a`` where this device's kernels can read it: a device copy (the CPU
    backend hands ``a`` itself back)."""
    return from_host(a)


_flag_buffer = []


def _flag():
    """The one-element int32 device flag of ``all_finite``, allocated once."""
    if not _flag_buffer:
        _flag_buffer.append(cuda.device_array(1, dtype=np.int32))
    return _flag_buffer[0]


def all_finite(a) -> bool:
    """Whether every element of the C-contiguous GPU array ``a`` is finite (no copy of ``a``)."""
    a = _as_device(a, "a")
    if a.size == 0:
        return True
    flag = _flag()
    _fill_kernel[1, 1](flag, np.int32(1))
    flat = _flat(a)
    _all_finite_kernel[config.blocks_for(flat.shape[0]), config.THREADS](flat, flag)
    return bool(flag.copy_to_host()[0])
