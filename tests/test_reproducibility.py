"""Same seed, same bits, whatever the BLAS thread count, when fastnn pins it (``fastnn.blas``).

Each run is a fresh Python with its own ``OPENBLAS_NUM_THREADS`` /
``OMP_NUM_THREADS`` (OpenBLAS reads them when it loads, so they cannot be
changed inside one process) and optionally ``FASTNN_BLAS_THREADS``.  The
model's first layer multiplies 32x784 by 784x256, a product whose OpenBLAS
bits were measured to differ between 1 and 2 threads (fastnn.blas).
"""

import json

import pytest

from tests.helpers import run_with_threads

TRAIN_SCRIPT = """
import hashlib, json
import numpy as np
import fastnn
from fastnn import BatchNormalization, Dense, Network
from fastnn.blas import blas_libraries

rng = np.random.default_rng(0)
x = rng.standard_normal((96, 784), dtype=np.float32)
y = rng.integers(0, 10, 96)
model = Network([Dense(256, "relu", input_dim=784), BatchNormalization(), Dense(10, "softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(x, y, epochs=2, batch_size=32, verbose=0)
digest = hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest()
with fastnn.blas.pinned():
    used = [lib["num_threads"] for lib in blas_libraries() if "fastnn" in lib["used_by"]]
print(json.dumps({"digest": digest, "kernel_blas_threads_in_a_call": used}))
"""


@pytest.fixture
def run_with_blas_env(monkeypatch):
    """Run a script in a fresh Python with ``blas_threads`` in the BLAS variables (and a pin).

    ``tests.helpers.run_with_threads`` copies this process's environment,
    so the variables are set here, for the duration of one test.
    """

    def run(script: str, blas_threads: int, pin: int | None, numba_threads: int = 2) -> dict:
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            monkeypatch.setenv(name, str(blas_threads))
        if pin is None:
            monkeypatch.delenv("FASTNN_BLAS_THREADS", raising=False)
        else:
            monkeypatch.setenv("FASTNN_BLAS_THREADS", str(pin))
        output = run_with_threads(script, n_threads=numba_threads)
        return json.loads(output.strip().splitlines()[-1])

    return run


def test_pinned_blas_threads_give_the_same_bits_whatever_the_environment(run_with_blas_env):
    unpinned_one = run_with_blas_env(TRAIN_SCRIPT, blas_threads=1, pin=None)
    # Numba's thread count changes too: fastnn's own kernels never depend on it.
    pinned_from_two = run_with_blas_env(TRAIN_SCRIPT, blas_threads=2, pin=1, numba_threads=1)
    # The pin reached the BLAS that Numba's np.dot calls, inside the call ...
    assert pinned_from_two["kernel_blas_threads_in_a_call"] == [1]
    # ... so the training is the one of a 1-thread BLAS, bit for bit.
    assert pinned_from_two["digest"] == unpinned_one["digest"]


def test_pin_above_the_environment_count_and_back(run_with_blas_env):
    pinned_two_from_one = run_with_blas_env(TRAIN_SCRIPT, blas_threads=1, pin=2)
    pinned_two_from_two = run_with_blas_env(TRAIN_SCRIPT, blas_threads=2, pin=2)
    assert pinned_two_from_one["kernel_blas_threads_in_a_call"] == [2]
    assert pinned_two_from_one["digest"] == pinned_two_from_two["digest"]


def test_blas_libraries_name_the_one_behind_the_kernels():
    from fastnn.blas import blas_libraries, blas_threads, get_blas_threads, set_blas_threads

    libraries = blas_libraries()
    kernel_side = [lib for lib in libraries if "fastnn" in lib["used_by"]]
    assert len(kernel_side) == 1 and kernel_side[0]["internal_api"] in ("openblas", "mkl", "blis")
    before = [lib["num_threads"] for lib in libraries]
    with blas_threads(1):
        assert all(lib["num_threads"] == 1 for lib in blas_libraries())
    assert [lib["num_threads"] for lib in blas_libraries()] == before
    assert get_blas_threads() is None
    set_blas_threads(1)
    try:
        assert get_blas_threads() == 1
    finally:
        set_blas_threads(None)
    with pytest.raises(ValueError, match="BLAS threads must be an int >= 1"):
        set_blas_threads(0)
