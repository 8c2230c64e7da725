"""What ``Network.fit``, ``predict``, ``evaluate`` and ``train_on_batch`` accept as data.

The Network takes array-likes as Keras does: NumPy arrays of any real dtype,
Python lists and tuples, and anything with ``__array__`` (a pandas frame, a
CPU tensor).  ``as_host_array`` turns them into a NumPy array and
``check_inputs`` converts the features to the network's dtype (as Keras casts
to its ``floatx``), checks their shape and builds an unbuilt network.
``validation_split_index`` is Keras 3's rule for which rows
``fit(validation_split=s)`` holds out.

This is a lenient layer above the kernels.  ``fastnn.functional`` stays
strict: it is the kernel contract, takes only C-contiguous float32/float64
arrays of one dtype, and casts nothing.

Device arrays.  An object exposing ``__cuda_array_interface__`` (a Numba
device array, a CuPy array, a CUDA torch tensor) is recognized here, in
``device_array``, and nowhere else: it is never converted through NumPy
(which would copy it to the host, or fail).  Until the CUDA backend takes
such arrays, they are refused with a clear error.
"""

from __future__ import annotations

import math

import numpy as np

from fastnn import device_arrays

__all__ = [
    "device_array",
    "as_host_array",
    "check_inputs",
    "check_validation_split",
    "validation_split_index",
]

#: NumPy dtype kinds a feature array may have: bool, signed, unsigned, float.
REAL_KINDS = "biuf"


def device_array(a) -> bool:
    """Whether ``a`` lives on a CUDA device (``fastnn.device_arrays.is_device_array``).

    The one place the Network recognizes device inputs; they are checked by
    ``fastnn.device_arrays`` and never converted through NumPy.
    """
    return device_arrays.is_device_array(a)


def as_host_array(a, name: str) -> np.ndarray:
    """``a`` as a NumPy array (no copy when it is one already), or raise naming ``name``.

    Raises
    ------
    TypeError
        ``a`` is a CUDA device array, ``None``, a string, a mapping or a set,
        or cannot be read as an array of numbers.
    ValueError
        ``a`` is a ragged nested sequence (rows of different lengths).
    """
    if isinstance(a, np.ndarray):
        return a
    if device_array(a):
        raise TypeError(
            f"{name} is a CUDA device array ({type(a).__name__}); only a device='cuda' "
            "network takes it: copy it to the host first (numba: .copy_to_host(), "
            "CuPy: .get(), torch: .cpu().numpy())"
        )
    if a is None or isinstance(a, (str, bytes, dict, set)):
        raise TypeError(f"{name} must be an array-like of numbers, got {type(a).__name__}")
    try:
        array = np.asarray(a)
    except ValueError as err:  # NumPy 2 refuses ragged sequences with ValueError
        raise ValueError(
            f"{name} must be a rectangular array-like (all rows the same length): {err}"
        ) from err
    except TypeError as err:
        raise TypeError(f"{name} must be an array-like of numbers: {err}") from err
    return array


def check_inputs(network, x, name: str = "x") -> np.ndarray:
    """``x`` as a C-contiguous ``(n, input_dim)`` host array of the network's dtype, or raise.

    Lists, integer, boolean and other float arrays are converted to the
    network's dtype (float64 data for a float32 network is rounded, as Keras
    rounds to its ``floatx``); a float array of the right dtype and layout is
    used as it is, without a copy.  An unbuilt network is built here for
    ``x.shape[1]`` input features.

    Raises
    ------
    TypeError
        Values that are not real numbers (a device array is checked by
        ``fastnn.device_arrays.check_device_inputs``: a GPU network takes it
        without a copy, a CPU network refuses it).
    ValueError
        Not 2-D, no rows, or the wrong number of features.
    """
    if device_array(x):  # GPU inputs: the same checks, without a copy
        return device_arrays.check_device_inputs(network, x, name)
    dtype = network.dtype
    want = f"(n, {network.input_dim if network.built else 'n_features'})"
    x = as_host_array(x, name)
    if x.dtype.kind not in REAL_KINDS:
        raise TypeError(
            f"{name} must hold real numbers (converted to the network's dtype {dtype}), "
            f"got dtype {x.dtype}"
        )
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must have shape {want} with n >= 1, got {x.shape}")
    if not network.built:
        network.build(int(x.shape[1]))
        want = f"(n, {network.input_dim})"
    if x.shape[1] != network.input_dim:
        raise ValueError(f"{name} must have shape {want}, got {x.shape}")
    return np.ascontiguousarray(x, dtype=dtype)


def check_validation_split(validation_split) -> float:
    """``validation_split`` as a float in ``[0, 1)``, or raise."""
    if isinstance(validation_split, bool) or not isinstance(
        validation_split, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"validation_split must be a float in [0, 1), got {type(validation_split).__name__}"
        )
    split = float(validation_split)
    if not 0.0 <= split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
    return split


def validation_split_index(n: int, validation_split) -> int:
    """The first held-out row of ``fit(validation_split=s)`` on ``n`` rows: Keras 3's rule.

    Keras 3 trains on rows ``[0, floor(n * (1.0 - s)))`` and validates on the
    rest, the product taken in float64 as written (so ``n=10, s=0.8`` trains
    on 1 row: ``1.0 - 0.8`` is ``0.19999999999999996``), and refuses a split
    that leaves either part empty.  Small ``n`` still holds out one row
    (``n=3, s=0.1`` trains on 2).

    Raises
    ------
    TypeError
        ``validation_split`` is not a real number.
    ValueError
        It is outside ``[0, 1)``, or the split leaves no training or no
        validation rows.
    """
    split = check_validation_split(validation_split)
    split_at = int(math.floor(n * (1.0 - split)))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"validation_split={validation_split} on {n} rows leaves "
            f"{'no training' if split_at == 0 else 'no validation'} rows "
            f"(Keras's rule: the first floor(n * (1 - s)) = {split_at} rows train); "
            "give more data or another validation_split"
        )
    return split_at
