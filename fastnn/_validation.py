"""Argument checks shared by every public entry point.

Numba does not check bounds, so nothing reaches a kernel before these pass.
Every error names the argument and says what was expected.
"""

from __future__ import annotations

import math

import numpy as np

from fastnn.kernels.scalar import ACTIVATIONS, Activation

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_float_array(
    name: str,
    a,
    *,
    ndim: int | None = None,
    shape: tuple | None = None,
    dtype=None,
    min_size: int = 1,
) -> np.ndarray:
    """Return ``a`` as a C-contiguous float32/float64 array, or raise.

    Parameters
    ----------
    name : str
        The argument's name, used in error messages.
    a : array_like
        Must already be a ``numpy.ndarray`` of float32 or float64; nothing is
        cast silently.  A non-contiguous array is copied to C order.
    ndim, shape : optional
        Required number of dimensions and exact shape (``None`` entries in
        ``shape`` match any length).
    dtype : optional
        Required dtype, typically the dtype of the first array of a call, so
        float32 and float64 inputs are never mixed.
    min_size : int
        Smallest allowed number of elements.

    Raises
    ------
    TypeError
        Not an ndarray, not a float32/float64 array, or the wrong dtype.
    ValueError
        The wrong number of dimensions, the wrong shape, or too few elements.
    """
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {a.dtype}")
    if dtype is not None and a.dtype != np.dtype(dtype):
        raise TypeError(
            f"{name} must have dtype {np.dtype(dtype)} like the other inputs, got {a.dtype}"
        )
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {a.shape}")
    if shape is not None:
        if a.ndim != len(shape) or any(
            want is not None and got != want for got, want in zip(a.shape, shape, strict=True)
        ):
            want = tuple("*" if s is None else s for s in shape)
            raise ValueError(f"{name} must have shape {want}, got {a.shape}")
    if a.size < min_size:
        raise ValueError(f"{name} must have at least {min_size} element(s), got shape {a.shape}")
    if not a.flags.c_contiguous:
        # A view with zero strides can claim far more elements than memory holds.
        check_allocation(f"{name} (copied to C order) with shape", a.shape, a.dtype)
    return np.ascontiguousarray(a)


def check_out(name: str, out, shape: tuple, dtype) -> np.ndarray:
    """Check a caller-provided output array: exact shape, dtype, C-contiguous, writeable."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != np.dtype(dtype):
        raise TypeError(f"{name} must have dtype {np.dtype(dtype)}, got {out.dtype}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {out.shape}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    if not out.flags.writeable:
        raise ValueError(f"{name} must be writeable")
    return out


def check_device_out(name: str, out, shape: tuple, dtype, *, device: str = "cuda"):
    """Check a caller-provided output array on a GPU, as ``check_out`` does on the host.

    Any object exposing ``__cuda_array_interface__`` (Numba device arrays,
    CuPy arrays, PyTorch CUDA tensors) is accepted; its exact shape, dtype,
    C-contiguity and writeability are read from that interface, without
    touching the data.

    Raises
    ------
    TypeError
        ``out`` is not a GPU array, or has the wrong dtype.
    ValueError
        The wrong shape, not C-contiguous, or read-only.
    """
    interface = getattr(out, "__cuda_array_interface__", None)
    if interface is None:
        raise TypeError(
            f"{name} must be a GPU array (an object with __cuda_array_interface__) for "
            f"device={device!r}, got {type(out).__name__}"
        )
    got_dtype = np.dtype(interface["typestr"])
    if got_dtype != np.dtype(dtype):
        raise TypeError(f"{name} must have dtype {np.dtype(dtype)}, got {got_dtype}")
    got_shape = tuple(interface["shape"])
    if got_shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {got_shape}")
    strides = interface.get("strides")
    if strides is not None:
        expected, step = [], got_dtype.itemsize
        for extent in reversed(got_shape):
            expected.append(step)
            step *= extent
        # Strides of dimensions of length 1 do not matter for contiguity.
        if any(s != e for s, e, n in zip(strides, expected[::-1], got_shape, strict=True) if n > 1):
            raise ValueError(f"{name} must be C-contiguous")
    if interface["data"][1]:
        raise ValueError(f"{name} must be writeable")
    return out


def check_finite_scalar(name: str, value, *, low=None, high=None, low_open=False) -> float:
    """Return ``value`` as a float if it is a finite real number within the bounds."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        op = ">" if low_open else ">="
        raise ValueError(f"{name} must be {op} {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def activation_code(name: str, *, allow_softmax: bool = True) -> Activation:
    """The ``Activation`` code for an activation name (``None`` means linear).

    An ``IntEnum``, so it equals the plain-int code the kernels take; callers
    pass ``int(code)`` to a kernel so that Numba compiles one specialization.
    """
    if name is None:
        name = "linear"
    if not isinstance(name, str):
        raise TypeError(f"activation must be a string, got {type(name).__name__}")
    valid = [n for n in ACTIVATIONS if allow_softmax or n != "softmax"]
    if name not in valid:
        raise ValueError(f"activation must be one of {valid}, got {name!r}")
    return Activation(ACTIVATIONS[name])


def check_cache_array(name: str, a, *, shape: tuple, dtype) -> np.ndarray:
    """Check an array a backward pass takes from a forward cache, without converting it.

    A forward function stores fresh C-contiguous arrays of one dtype in its
    cache; anything else means the cache was edited, so it is refused rather
    than copied.  ``None`` entries in ``shape`` match any length.

    Raises
    ------
    TypeError
        Not an ndarray, or not of ``dtype``.
    ValueError
        The wrong shape, or not C-contiguous.
    """
    if not isinstance(a, np.ndarray):
        raise TypeError(
            f"{name} must be the numpy.ndarray the forward pass stored, got {type(a).__name__}"
        )
    if a.dtype != np.dtype(dtype):
        raise TypeError(f"{name} must have dtype {np.dtype(dtype)}, got {a.dtype}")
    if a.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(a.shape, shape, strict=True)
    ):
        want = tuple("*" if s is None else s for s in shape)
        raise ValueError(
            f"{name} must have shape {want} to match the rest of the cache, got {a.shape}; "
            "was the cache modified after the forward pass?"
        )
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous, as the forward pass stored it")
    return a


def check_activation_member(name: str, code, *, allow_softmax: bool = True) -> int:
    """Return the plain-int kernel code of ``code``, which must be an ``Activation`` value."""
    if isinstance(code, (bool, np.bool_)) or not isinstance(code, (int, np.integer)):
        raise TypeError(f"{name} must be an Activation code, got {type(code).__name__}")
    valid = [a for a in Activation if allow_softmax or a != Activation.SOFTMAX]
    if int(code) not in [int(a) for a in valid]:
        raise ValueError(f"{name} must be one of {[a.name for a in valid]}, got {code!r}")
    return int(code)


def check_bool(name: str, value) -> bool:
    """Return ``value`` as a bool; it must be a ``bool`` or ``numpy.bool_``, not any object."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool (True or False), got {type(value).__name__}")
    return bool(value)


def check_separate(**arrays) -> None:
    """Raise unless no two of ``arrays`` share memory (``None`` entries are skipped).

    ``np.may_share_memory`` (a bounds check, O(1)) screens each pair; only a
    pair whose bounds overlap is settled by the exact ``np.shares_memory``.
    """
    names = [name for name, a in arrays.items() if a is not None]
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            a, b = arrays[first], arrays[second]
            if np.may_share_memory(a, b) and np.shares_memory(a, b):
                raise ValueError(f"{first} and {second} must not share memory")


def check_allocation(name: str, shape, dtype) -> None:
    """Raise a ValueError naming ``name`` before allocating an array too big for memory.

    The product of the dimensions is taken in Python integers, so it cannot
    overflow; it must fit in ``np.intp`` and its bytes in the machine's
    physical memory (when that is known).
    """
    size = 1
    for d in shape:
        size *= int(d)
    nbytes = size * np.dtype(dtype).itemsize
    if nbytes > np.iinfo(np.intp).max:
        raise ValueError(
            f"{name} {tuple(int(d) for d in shape)} has {size} elements: too many for any array"
        )
    limit = physical_memory()
    if limit is not None and nbytes > limit:
        raise ValueError(
            f"{name} {tuple(int(d) for d in shape)} needs {nbytes / 2**30:.1f} GiB "
            f"({np.dtype(dtype)}), more than this machine's {limit / 2**30:.1f} GiB of memory"
        )


def physical_memory() -> int | None:
    """Bytes of physical memory, or ``None`` where the OS does not say."""
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
