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
