"""One full training step of a network: forward, loss, backward and Adam update.

The model is 784-256-256-10 with relu, BatchNormalization after each hidden
activation and softmax cross-entropy, float32, at batch 32, 128 and 1024:
``fastnn.Network.train_on_batch`` against the NumPy reference network, the
same model in PyTorch eager (``nn.Sequential`` of Linear-ReLU-BatchNorm1d twice
and Linear, cross-entropy, ``torch.optim.Adam``), the same under
``torch.compile``, and in JAX with the whole step under ``jax.jit`` (each only
when installed), on the same threads; and the step's GEMMs alone, through
NumPy's ``matmul`` and through ``np.dot`` inside ``@njit``.

Issue 13's targets on 2 threads: fastnn at least 5x / 2.5x / 1.3x faster than
PyTorch eager at batch 32 / 128 / 1024, 2x / 1.5x / 1.2x faster than JAX
``jit``, at least as fast as ``torch.compile``, and within 1.25x of its GEMMs
alone at batch 1024.  Run with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``
unset (see PERF_NOTES.md).
"""

import pytest

FAMILY = "network"


@pytest.mark.parametrize(
    "side", ["fastnn", "reference", "torch", "torch_compile", "jax", "gemms numpy", "gemms njit"]
)
def test_train_step(benchmark, bench_case, side):
    bench_case.time(benchmark, side)
