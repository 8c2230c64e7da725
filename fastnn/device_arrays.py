"""Inputs that already live on a GPU: recognized, validated like host arrays, taken without a copy.

``fit``, ``predict``, ``evaluate``, ``train_on_batch`` and ``forward`` accept,
beside NumPy arrays, any object on the GPU: a numba device array, or
anything exposing ``__cuda_array_interface__`` (CuPy arrays, PyTorch CUDA
tensors, JAX arrays on a GPU).  ``fastnn.training``'s input checks call
``is_device_array`` and, for such an input, the checks here, which apply the
host checks' rules to what the array describes about itself (shape, dtype,
C-contiguity) and return a numba device array viewing the same memory.

Nothing is converted: a GPU array of another dtype, or a strided view, is
refused (``TypeError``/``ValueError`` saying what to pass), since converting
would copy it.  Targets are checked the same way; their values (class
indices in range, finite, in ``[0, 1]`` for binary cross-entropy) are checked
on a temporary host copy (the targets are one column next to ``x``'s
``input_dim``), by the same ``check_targets`` as host targets.  ``x``'s
finiteness, which ``fit`` checks, is a reduction kernel on the device
(``memory.all_finite``).

This module never imports numba-cuda unless it is given a GPU array.
"""

from __future__ import annotations

import numpy as np

from fastnn.objectives import OBJECTIVES, check_targets

__all__ = [
    "is_device_array",
    "describe",
    "check_device_inputs",
    "check_device_targets",
    "check_device_finite",
]


def is_device_array(a) -> bool:
    """Whether ``a`` lives on a GPU: a numba device array or a ``__cuda_array_interface__`` object.

    Only attributes are read (numba's own ``is_cuda_ndarray`` test and the
    interface's presence), so no GPU library is imported.
    """
    return bool(getattr(a, "__cuda_ndarray__", False)) or hasattr(a, "__cuda_array_interface__")


def describe(a) -> tuple[tuple[int, ...], np.dtype, bool]:
    """``(shape, dtype, c_contiguous)`` of the GPU array ``a``, read without touching its data.

    From a numba device array's attributes, otherwise from its
    ``__cuda_array_interface__`` (``strides`` ``None`` means C-contiguous).
    """
    if getattr(a, "__cuda_ndarray__", False):
        return tuple(a.shape), np.dtype(a.dtype), bool(a.is_c_contiguous())
    interface = a.__cuda_array_interface__
    shape = tuple(int(s) for s in interface["shape"])
    dtype = np.dtype(interface["typestr"])
    strides = interface.get("strides")
    if strides is None:
        return shape, dtype, True
    expected, step = [], dtype.itemsize
    for size in reversed(shape):
        expected.append(step)
        step *= size
    # A dimension of length 1 may carry any stride.
    contiguous = all(
        size == 1 or got == want
        for size, got, want in zip(shape, strides, reversed(expected), strict=True)
    )
    return shape, dtype, contiguous


def _require_gpu_network(network, name: str) -> None:
    if network._backend.name != "cuda":
        raise TypeError(
            f"{name} is a GPU array but the network runs on device={network.device!r}; "
            f"create it with Network(..., device='cuda'), or copy {name} to the host "
            "(cupy.asnumpy, tensor.cpu().numpy(), device_array.copy_to_host())"
        )


def _as_numba(a):
    """A numba device array viewing ``a``'s memory (no copy)."""
    if getattr(a, "__cuda_ndarray__", False):
        return a
    from numba import cuda

    return cuda.as_cuda_array(a)


def _require_contiguous(contiguous: bool, name: str) -> None:
    if not contiguous:
        raise ValueError(
            f"{name} must be C-contiguous on the GPU (it is a strided view, and fastnn "
            "does not copy GPU inputs); pass a contiguous copy, e.g. "
            "cupy.ascontiguousarray(a) or tensor.contiguous()"
        )


def check_device_inputs(network, x, name: str = "x"):
    """The GPU array ``x`` checked as ``training.check_inputs`` checks a host one; a numba view.

    An unbuilt network is built here for ``x``'s number of columns.

    Raises
    ------
    TypeError
        The network is not on the GPU, or ``x``'s dtype is not the network's.
    ValueError
        ``x`` is not ``(n, input_dim)`` with ``n >= 1``, or not C-contiguous.
    """
    _require_gpu_network(network, name)
    shape, dtype, contiguous = describe(x)
    want = f"(n, {network.input_dim if network.built else 'n_features'})"
    if dtype != network.dtype:
        raise TypeError(
            f"{name} must have dtype {network.dtype} (the network's dtype), got {dtype}; "
            "GPU inputs are not converted (that would copy them): convert it on the GPU first"
        )
    if len(shape) != 2 or shape[0] == 0:
        raise ValueError(f"{name} must have shape {want} with n >= 1, got {shape}")
    _require_contiguous(contiguous, name)
    if not network.built:
        network.build(int(shape[1]))
        want = f"(n, {network.input_dim})"
    if shape[1] != network.input_dim:
        raise ValueError(f"{name} must have shape {want}, got {shape}")
    return _as_numba(x)


def check_device_targets(network, y, n: int, name: str = "y"):
    """The GPU targets ``y`` checked as ``objectives.check_targets`` checks host ones; a numba view.

    ``y`` must already have the dtype the loss kernel reads (int64 class
    indices for ``"cross_entropy"``, the network's dtype otherwise); an
    ``(n, 1)`` array of labels, or an ``(n,)`` array for a one-unit output,
    is reshaped (a view).  The values are checked on a host copy.

    Raises
    ------
    TypeError, ValueError
        As ``check_targets``, and for a dtype other than the one read, or a
        strided view.
    """
    _require_gpu_network(network, name)
    loss, k = network.loss, network.output_dim
    shape, dtype, contiguous = describe(y)
    if OBJECTIVES[loss].integer_labels:
        wanted, shapes, flat = np.dtype(np.int64), ((n,), (n, 1)), (n,)
    else:
        wanted, shapes, flat = network.dtype, ((n, k),) + (((n,),) if k == 1 else ()), (n, k)
    if dtype != wanted:
        raise TypeError(
            f"{name} must have dtype {wanted} for loss {loss!r} on the GPU, got {dtype}; "
            "GPU targets are not converted (that would copy them): convert it on the GPU first"
        )
    if shape not in shapes:
        raise ValueError(
            f"{name} must have shape {' or '.join(map(str, shapes))} to match x"
            + ("" if OBJECTIVES[loss].integer_labels else " and the output layer")
            + f", got {shape}"
        )
    _require_contiguous(contiguous, name)
    view = _as_numba(y)
    if shape != flat:
        view = view.reshape(*flat)
    check_targets(view.copy_to_host(), n, loss, k, network.dtype, name)  # the values, on the host
    return view


def check_device_finite(network, x, name: str = "x") -> None:
    """Raise ``ValueError`` unless the GPU array ``x`` is all finite (checked on the device)."""
    if not network._backend.memory.all_finite(x):
        raise ValueError(f"{name} must be finite; it holds NaN or Inf")
