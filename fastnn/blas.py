"""The BLAS under fastnn's matrix products, and how many threads it may use.

fastnn's dense kernels call ``np.dot`` inside ``@njit`` code, which Numba
routes to SciPy's BLAS (``scipy.linalg.cython_blas``; with pip wheels, the
OpenBLAS in ``scipy.libs``).  NumPy's own ``@`` uses NumPy's BLAS (with pip
wheels, a second OpenBLAS in ``numpy.libs``), which only the reference and
the user's own code touch.  ``blas_libraries`` lists them, as
``threadpoolctl`` sees them, with which one each side uses.

Reproducibility.  fastnn's own kernels reduce in fixed blocks combined in a
fixed order, so their bits never depend on ``NUMBA_NUM_THREADS``.  OpenBLAS's
SGEMM does depend on its thread count: measured with OpenBLAS 0.3.30 (the
SkylakeX kernel, a 2-core machine), products such as 32x784 @ 784x256 give
different bits on 1 thread than on 2, 3 or 4 (which agree with one
another), while small ones (33x20 @ 20x32) agree on every count, because
OpenBLAS runs them on one thread anyway.  The thread count comes from
``OPENBLAS_NUM_THREADS``, else ``OMP_NUM_THREADS``, else the number of cores.

So the guarantees are:

- by default fastnn leaves the BLAS as the environment configures it: the
  same seed, data and BLAS thread count give the same bits, for any
  ``NUMBA_NUM_THREADS``;
- with ``set_blas_threads(n)`` (or ``FASTNN_BLAS_THREADS=n`` in the
  environment, read at import) every ``fit``, ``train_on_batch``,
  ``evaluate``, ``predict``, ``forward`` and ``backward`` runs with exactly
  ``n`` BLAS threads, so the bits no longer depend on ``OPENBLAS_NUM_THREADS``,
  ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS``: the same ``n``, the same bits.
  ``n = 1`` gives the same bits on every machine with the same BLAS build and
  CPU kernel (``blas_libraries()[i]["architecture"]``), at the price of
  single-threaded matrix products;
- nothing is promised across BLAS versions, CPU kernels (SkylakeX, Haswell,
  ...) or between NumPy's and SciPy's BLAS.
"""

from __future__ import annotations

import os

__all__ = ["blas_libraries", "blas_threads", "set_blas_threads", "get_blas_threads", "pinned"]

_controller = None


def _read_environment() -> int | None:
    value = os.environ.get("FASTNN_BLAS_THREADS", "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"FASTNN_BLAS_THREADS must be a positive integer, got {value!r}")
    return int(value)


_blas_threads: int | None = _read_environment()


def _get_controller():
    """One ``threadpoolctl.ThreadpoolController``, made after SciPy's BLAS is loaded.

    Numba loads SciPy's BLAS only when it first compiles an ``np.dot``;
    a controller made before that would not see the library fastnn's
    kernels use, and limiting it would change nothing.
    """
    global _controller
    if _controller is None:
        import scipy.linalg.cython_blas  # noqa: F401 (loads the BLAS behind Numba's np.dot)
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


def blas_libraries() -> list[dict]:
    """The BLAS libraries loaded in this process, and which side uses each.

    Returns
    -------
    list of dict
        ``threadpoolctl``'s description (``filepath``, ``internal_api``,
        ``version``, ``num_threads``, ``architecture``, ...) plus
        ``used_by``: ``"fastnn kernels (np.dot in @njit)"``, ``"numpy"``,
        both, or ``"unknown"``.  With a single BLAS both sides use it;
        otherwise SciPy's is told apart by its folder (``scipy.libs``) and
        NumPy's by ``numpy.libs``, as pip wheels install them.
    """
    libraries = [dict(info) for info in _get_controller().select(user_api="blas").info()]
    for library in libraries:
        # The folder, not the file name: NumPy's wheel names its OpenBLAS libscipy_openblas64_.
        folder = os.path.basename(os.path.dirname(library.get("filepath", "")))
        users = []
        if len(libraries) == 1 or folder.startswith("scipy"):
            users.append("fastnn kernels (np.dot in @njit)")
        if len(libraries) == 1 or folder.startswith("numpy"):
            users.append("numpy")
        library["used_by"] = " and ".join(users) or "unknown"
    return libraries


def blas_threads(n: int):
    """A context manager running the enclosed code with ``n`` threads in every BLAS library.

    The thread counts in force before are restored on exit.
    """
    return _get_controller().limit(limits=_check_threads(n), user_api="blas")


def _check_threads(n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of BLAS threads must be an int >= 1, got {n!r}")
    return n


def set_blas_threads(n: int | None) -> None:
    """Pin fastnn's matrix products to ``n`` BLAS threads; ``None`` leaves the BLAS as it is.

    Applies to every later ``fit``, ``train_on_batch``, ``evaluate``,
    ``predict``, ``forward`` and ``backward`` of every network, for the
    duration of the call (the process's setting is restored afterwards, so
    other libraries are not affected).  See the module docstring for what
    each setting guarantees.
    """
    global _blas_threads
    _blas_threads = None if n is None else _check_threads(n)


def get_blas_threads() -> int | None:
    """The pinned BLAS thread count, or ``None`` when fastnn leaves the BLAS as it is."""
    return _blas_threads


class _Pinned:
    """What ``pinned()`` returns: a re-entrant no-op unless a thread count is pinned."""

    __slots__ = ("_limiter",)

    def __enter__(self):
        self._limiter = None
        if _blas_threads is not None:
            self._limiter = blas_threads(_blas_threads)
            self._limiter.__enter__()
        return self

    def __exit__(self, *exc):
        if self._limiter is not None:
            self._limiter.__exit__(*exc)
        return False


def pinned() -> _Pinned:
    """Context for one public Network call: the pinned BLAS thread count, if any, in force."""
    return _Pinned()
