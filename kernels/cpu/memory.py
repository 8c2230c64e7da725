"""Array helpers of the CPU backend: the only door through which a network touches its arrays.

The ``Network``, the optimizers and the training loop allocate, fill, copy
and gather through these functions and never call NumPy on a buffer
themselves, so the CUDA backend (``fastnn.kernels.cuda.memory``, the same
names and signatures) can hold the same buffers on a GPU.  On the CPU a
device array is a NumPy array, and "host" and "device" are the same memory.
"""

import numpy as np
from numba import njit

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


def empty(shape, dtype) -> np.ndarray:
    """A new uninitialized C-contiguous array."""
    return np.empty(shape, dtype=dtype)


def zeros(shape, dtype) -> np.ndarray:
    """A new zero-filled C-contiguous array."""
    return np.zeros(shape, dtype=dtype)


def fill(out: np.ndarray, value) -> None:
    """Set every element of ``out`` to ``value``."""
    out.fill(value)


def copy(src: np.ndarray, out: np.ndarray) -> None:
    """``out[...] = src``; both have the same shape and dtype (the callers guarantee it)."""
    np.copyto(out, src)


def stage_input(src: np.ndarray, buffer: np.ndarray) -> np.ndarray:
    """The array the kernels should read for the host batch ``src``: ``src`` itself when it
    already has ``buffer``'s shape and dtype and is C-contiguous and writeable, so no copy
    is made (a batch of 1024x784 float32 is 3.2 MB to copy per step); otherwise ``src``
    copied into ``buffer``, and ``buffer``.  (Writeable, because a read-only array is
    another Numba type, compiled anew, which kernels that may write their input refuse.)
    """
    if (
        type(src) is np.ndarray
        and src.shape == buffer.shape
        and src.dtype == buffer.dtype
        and src.flags.c_contiguous
        and src.flags.writeable
    ):
        return src
    copy(src, buffer)
    return buffer


def gather_rows(src: np.ndarray, index: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = src[index[i]]`` for a 1-D or 2-D ``src`` and an int64 ``index``.

    ``index`` holds ``out.shape[0]`` row numbers in ``[0, src.shape[0])``;
    ``mode="clip"`` lets NumPy write into ``out`` without a temporary (it
    cannot clip a valid index).
    """
    np.take(src, index, axis=0, out=out, mode="clip")


def read_scalar(a: np.ndarray, index: int = 0) -> float:
    """``a[index]`` of a 1-D array as a Python float."""
    return float(a[index])


def to_host(a: np.ndarray) -> np.ndarray:
    """A new NumPy array holding ``a``."""
    return np.array(a, copy=True)


def from_host(a: np.ndarray) -> np.ndarray:
    """A new C-contiguous array on this device holding ``a``."""
    return np.array(a, copy=True, order="C")


def from_host_for_reading(a: np.ndarray) -> np.ndarray:
    """The host array ``a`` where this device's kernels can read it: ``a`` itself on the CPU.

    For data only read, such as ``fit``'s training set, which the steps gather
    their batches from: copying it would double its memory for nothing (a
    100-batch epoch of 1024x784 float32 spent 45 ms, 0.45 ms a step, on that
    copy).  The caller must not write through the result.
    """
    return a


@njit(cache=True)
def _all_finite_flat(a):
    for i in range(a.shape[0]):
        if not np.isfinite(a[i]):
            return False
    return True


def all_finite(a: np.ndarray) -> bool:
    """Whether every element of the C-contiguous array ``a`` is finite (no copy of ``a``)."""
    return bool(_all_finite_flat(a.reshape(-1)))
