"""Backends: which kernel package a network calls, chosen by device name.

A backend is a package of kernel modules with the same function names and
signatures on every device (``fastnn.kernels.cpu``, ``fastnn.kernels.cuda``),
among them ``memory``: the few array operations (allocate, fill, copy, gather
rows, read a scalar back, to and from the host) through which everything above
the kernels touches arrays.  Nothing here imports a GPU library until a device other
than ``"cpu"`` is asked for, so importing fastnn never needs a GPU.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

__all__ = ["Backend", "DEVICES", "get_backend", "resolve_device", "cuda_unavailable_reason"]

DEVICES = ("cpu", "cuda", "auto")

#: The kernel modules every backend package provides.
KERNEL_MODULES = (
    "activations",
    "dense",
    "batchnorm",
    "losses",
    "optimizers",
    "init",
    "reduce",
    "memory",
    "metrics",
    "dropout",
)


def _no_limit() -> None:
    """Nothing: the data budget of a backend whose memory is the host's (no limit), or its
    synchronization (kernels that have returned have finished)."""
    return None


@dataclass(frozen=True)
class Backend:
    """The kernel modules of one device, one attribute per family."""

    name: str
    activations: ModuleType
    dense: ModuleType
    batchnorm: ModuleType
    losses: ModuleType
    optimizers: ModuleType
    init: ModuleType
    reduce: ModuleType
    memory: ModuleType
    metrics: ModuleType
    dropout: ModuleType
    #: Bytes of device memory the training data of ``fit`` may take, or
    #: ``None`` for no limit (the CPU: the data are already in its memory).
    data_budget: Callable[[], int | None] = _no_limit
    #: Waits until every kernel launched on the device has finished (timing needs
    #: it: CUDA launches return at once); nothing to wait for on the CPU.
    synchronize: Callable[[], None] = _no_limit

    def empty(self, shape, dtype):
        """An uninitialized buffer on this device."""
        return self.memory.empty(shape, dtype)

    def zeros(self, shape, dtype):
        """A zero-filled buffer on this device."""
        return self.memory.zeros(shape, dtype)

    def workspace(self, n_rows: int, n_cols: int):
        """The float64 scratch a reducing kernel needs for an ``(n_rows, n_cols)`` input."""
        return self.reduce.reduction_workspace(n_rows, n_cols)


def cuda_unavailable_reason() -> str | None:
    """Why the CUDA backend cannot run here, or ``None`` when it can.

    The checks, in order: the numba-cuda package (``numba`` alone still
    ships a deprecated ``numba.cuda`` that fastnn does not use), an NVIDIA
    driver, a GPU the driver can see, NVVM (the compiler library
    ``numba-cuda[cu12]`` brings), and fastnn's CUDA kernels.  Under the CUDA
    simulator (``NUMBA_ENABLE_CUDASIM=1``) there is always a device.
    """
    if importlib.util.find_spec("numba_cuda") is None:
        return 'numba-cuda is not installed; install it with pip install "fastnn[cuda]"'
    try:
        from numba import cuda
    except ImportError as err:
        return f"numba.cuda cannot be imported ({err})"
    if not cuda.is_available():
        error = cuda.cuda_error()
        if error is not None:
            error = " ".join(str(error).split())
            if "NO_DEVICE" in error:
                return (
                    f"the NVIDIA driver sees no GPU ({error}); check CUDA_VISIBLE_DEVICES "
                    "and that a GPU is attached"
                )
            return f"no usable NVIDIA driver was found ({error})"
        return (
            "NVVM, the CUDA compiler library, was not found; "
            'install numba-cuda with its CUDA libraries: pip install "fastnn[cuda]"'
        )
    try:
        for module in KERNEL_MODULES:
            importlib.import_module(f"fastnn.kernels.cuda.{module}")
    except ImportError as err:
        return f"the CUDA kernels are not available in this version of fastnn ({err})"
    return None


def resolve_device(device: str) -> str:
    """``"cpu"`` or ``"cuda"`` for a device name; ``"auto"`` picks CUDA when it can run.

    Raises
    ------
    TypeError
        ``device`` is not a string.
    ValueError
        An unknown device name.
    RuntimeError
        ``"cuda"`` was asked for but cannot run here (the message says why).
    """
    if not isinstance(device, str):
        raise TypeError(
            f"device must be a string, one of {list(DEVICES)}, got {type(device).__name__}"
        )
    if device not in DEVICES:
        raise ValueError(f"device must be one of {list(DEVICES)}, got {device!r}")
    if device == "cpu":
        return "cpu"
    reason = cuda_unavailable_reason()
    if device == "auto":
        return "cpu" if reason else "cuda"
    if reason:
        raise RuntimeError(f"device='cuda' cannot be used: {reason}. Use device='cpu' or 'auto'.")
    return "cuda"


def get_backend(device: str = "cpu") -> Backend:
    """The backend for ``device`` (``"cpu"``, ``"cuda"`` or ``"auto"``)."""
    name = resolve_device(device)
    modules = {m: importlib.import_module(f"fastnn.kernels.{name}.{m}") for m in KERNEL_MODULES}
    if name == "cuda":
        from numba import cuda

        modules["data_budget"] = importlib.import_module("fastnn.kernels.cuda.config").data_budget
        modules["synchronize"] = cuda.synchronize
    return Backend(name=name, **modules)
