"""One full training step of a network: forward, loss, backward and Adam update.

The model is 784-256-256-10 with relu, BatchNormalization after each hidden
activation and softmax cross-entropy, float32, at batch 32, 128 and 1024:
``fastnn.Network.train_on_batch`` against the NumPy reference network and the
same model in PyTorch eager (``nn.Sequential`` of Linear-ReLU-BatchNorm1d twice
and Linear, cross-entropy, ``torch.optim.Adam``) on the same threads.

Issue targets on 2 threads: fastnn at least 3x faster than PyTorch at batch
32, 2x at batch 128 and 1.3x at batch 1024.  Run with ``OPENBLAS_CORETYPE``
and ``OPENBLAS_L2_SIZE`` unset (see PERF_NOTES.md).
"""

import pytest

FAMILY = "network"


@pytest.mark.parametrize("side", ["fastnn", "reference", "torch"])
def test_train_step(benchmark, bench_case, side):
    bench_case.time(benchmark, side)
