"""One full training step of a network: forward, loss, backward and Adam update.

The model is 784-256-256-10 with relu, BatchNormalization after each hidden
activation and softmax cross-entropy, float32, at batch 32, 128 and 1024:
``fastnn.Network.train_on_batch`` vs the NumPy reference network vs the same
model in PyTorch eager (``nn.Sequential`` of Linear-ReLU-BatchNorm1d twice and
Linear, ``CrossEntropyLoss``, ``torch.optim.Adam``) on the same threads.

Issue targets on 2 threads: fastnn at least 3x faster than PyTorch at batch
32, 2x at batch 128 and 1.3x at batch 1024.  Run with ``OPENBLAS_CORETYPE``
and ``OPENBLAS_L2_SIZE`` unset (see PERF_NOTES.md).
"""

import numpy as np
import pytest

from fastnn import BatchNormalization, Dense, Network, reference
from fastnn.optimizers import Adam

BATCHES = [32, 128, 1024]


def layers():
    return [
        Dense(256, "relu", input_dim=784),
        BatchNormalization(),
        Dense(256, "relu"),
        BatchNormalization(),
        Dense(10, "softmax"),
    ]


@pytest.fixture(params=BATCHES, ids=[f"batch{n}" for n in BATCHES], scope="module")
def batch(request):
    n = request.param
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, n)
    return x, y


def test_step_fastnn(benchmark, batch):
    x, y = batch
    model = Network(layers(), seed=0)
    model.compile(optimizer=Adam(), loss="cross_entropy")
    model.train_on_batch(x, y)  # compile the kernels and allocate the buffers
    benchmark.group = f"network step 784-256-256-10 batch {len(x)}"
    loss = benchmark(model.train_on_batch, x, y)
    assert np.isfinite(loss)


def test_step_reference(benchmark, batch):
    x, y = batch
    model = Network(layers(), seed=0)
    ref = reference.Network(layers(), 784, "cross_entropy", Adam(), dtype=np.float32)
    ref.set_weights(model.get_weights())
    benchmark.group = f"network step 784-256-256-10 batch {len(x)}"
    loss = benchmark(ref.train_on_batch, x, y)
    assert np.isfinite(loss)


def test_step_torch(benchmark, torch, batch):
    x, y = batch
    nn = torch.nn
    model = nn.Sequential(
        nn.Linear(784, 256),
        nn.ReLU(),
        nn.BatchNorm1d(256, eps=1e-3, momentum=0.01),
        nn.Linear(256, 256),
        nn.ReLU(),
        nn.BatchNorm1d(256, eps=1e-3, momentum=0.01),
        nn.Linear(256, 10),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        optimizer.step()
        return loss.item()

    step()
    benchmark.group = f"network step 784-256-256-10 batch {len(x)}"
    assert np.isfinite(benchmark(step))
