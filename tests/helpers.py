"""Shared test utilities."""

import os
import subprocess
import sys
import textwrap

import numpy as np


def run_with_threads(script: str, n_threads: int, timeout: float = 300) -> str:
    """Run ``script`` in a fresh Python with ``NUMBA_NUM_THREADS=n_threads``; return its stdout.

    Used by the determinism tests: the script prints a digest of a kernel's
    output, and the digests under 1 and 2 threads must be equal.
    """
    env = dict(os.environ, NUMBA_NUM_THREADS=str(n_threads))
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise AssertionError(f"subprocess failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout


def on_device(backend, *arrays):
    """Copies of host ``arrays`` on ``backend``'s device, via ``memory.from_host``."""
    return [backend.memory.from_host(np.ascontiguousarray(a)) for a in arrays]


def on_host(backend, *arrays):
    """NumPy copies of ``backend`` arrays, via ``memory.to_host``."""
    return [backend.memory.to_host(a) for a in arrays]
