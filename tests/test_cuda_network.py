"""``Network(device="cuda")`` end to end: the same training as on the CPU, state on the device.

These run where the CUDA backend can run: on a GPU, or in CI under the
simulator (``NUMBA_ENABLE_CUDASIM=1``, set before Numba is imported).  The
launch sizes are shrunk (``config.shrunk``) so the small batches cross
several thread blocks and reduction blocks.  The parity tests train a CUDA
network and a CPU network from the same seed on the same batches, for both
BatchNormalization placements and the three optimizers, and compare losses,
weights and predictions; the tolerances are derived where they are used.
"""

import numpy as np
import pytest

from fastnn import Network
from fastnn.backend import cuda_unavailable_reason
from fastnn.optimizers import SGD, Adam, RMSprop

_REASON = cuda_unavailable_reason()
if _REASON is not None:
    pytest.skip(f"the CUDA backend cannot run here: {_REASON}", allow_module_level=True)

from numba import cuda  # noqa: E402
from numba.cuda.cudadrv.devicearray import is_cuda_ndarray  # noqa: E402

from fastnn.kernels.cuda import config  # noqa: E402
from fastnn.kernels.cuda import memory as cuda_memory  # noqa: E402
from tests.test_network import blobs, classifier_layers  # noqa: E402

STEPS = 20
#: Rows per step: two 8-row reduction blocks and one 16-row GEMM tile of the simulator's
#: small blocks, so each launch is cheap under the simulator and still crosses blocks.
BATCH = 16


@pytest.fixture(autouse=True)
def small_launches():
    """32-thread blocks, 8-row reduction blocks, at most 4 blocks per grid-stride launch."""
    with config.shrunk(threads=32, reduce_rows=8, max_blocks=4):
        yield


def make(device, dtype, placement="act_bn", optimizer_class=Adam, seed=0):
    model = Network(classifier_layers(placement), seed=seed, device=device, dtype=dtype)
    model.compile(optimizer=optimizer_class(), loss="cross_entropy", metrics=["accuracy"])
    return model


def train_both(dtype, placement, optimizer_class):
    """A CUDA and a CPU network trained ``STEPS`` steps on the same batches; their losses."""
    x, y = blobs(STEPS * BATCH, dtype=dtype, seed=2)
    gpu, cpu = (make(d, dtype, placement, optimizer_class) for d in ("cuda", "cpu"))
    losses = {"cuda": [], "cpu": []}
    for step in range(STEPS):
        rows = slice(step * BATCH, (step + 1) * BATCH)
        for name, model in (("cuda", gpu), ("cpu", cpu)):
            losses[name].append(model.train_on_batch(x[rows], y[rows])[0])
    return gpu, cpu, np.array(losses["cuda"]), np.array(losses["cpu"]), x


def assert_weights_close(got_model, want_model, rtol):
    """Each tensor agrees elementwise to ``rtol``, with ``rtol * max|w|`` as the floor near zero."""
    for got, want in zip(got_model.get_weights(), want_model.get_weights(), strict=True):
        assert isinstance(got, np.ndarray) and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


#: Both BatchNormalization placements and all three optimizers, each at least once: the
#: update kernels do not depend on the layers, so the full product (6 runs of 20 steps,
#: 30 s each under the simulator) would repeat what these three show.
PARITY_CASES = [("act_bn", Adam), ("bn_act", SGD), ("bn_act", RMSprop)]


@pytest.mark.parametrize(("placement", "optimizer_class"), PARITY_CASES)
def test_cuda_training_matches_cpu_float64(placement, optimizer_class):
    # float64 unit roundoff u = 1.1e-16.  The backends share the per-element
    # maths (kernels/scalar.py) but sum in different orders (BLAS vs the
    # tiled GEMM; 8-row vs 64-row reduction blocks here), so each step
    # rounds each value differently by a few ulps, and 20 steps add those up
    # roughly linearly: 20 x 4 ulps = 80 u = 9e-15.  1e-13 leaves a factor 10
    # and stays far below what a float32 accumulation on the float64 path
    # would give (1e-7).  Predictions are probabilities <= 1: below atol =
    # 1e-14 (100 u) a relative error says nothing.
    gpu, cpu, losses, cpu_losses, x = train_both(np.float64, placement, optimizer_class)
    np.testing.assert_allclose(losses, cpu_losses, rtol=1e-13)
    assert_weights_close(gpu, cpu, rtol=1e-13)
    np.testing.assert_allclose(gpu.predict(x[:50]), cpu.predict(x[:50]), rtol=1e-13, atol=1e-14)
    assert losses[-1] < losses[0]


def test_cuda_training_matches_cpu_float32():
    # float32 unit roundoff u = 6e-8; 20 SGD steps x a few ulps per value per
    # step ~ 5e-6 relative to the tensor's scale: 1e-5.  The loss of step t is
    # computed from weights that far apart (cross-entropy near 1 has condition
    # O(1)), so it gets the same 1e-5 (observed: 1.1e-6 by step 9).  SGD, not Adam: the
    # GPU's GEMM tiles accumulate float32 in another order than BLAS, and
    # Adam's first steps move each weight by about lr * sign(g), so a gradient
    # that is rounding noise on both sides (float32: ~1e-7) can move a weight
    # by +lr on one and -lr on the other (observed: losses 6e-5 apart by step
    # 3).  The float64 tests above cover Adam, where the noise is 1e-16.
    gpu, cpu, losses, cpu_losses, _ = train_both(np.float32, "act_bn", SGD)
    np.testing.assert_allclose(losses, cpu_losses, rtol=1e-5)
    assert_weights_close(gpu, cpu, rtol=1e-5)


def test_training_state_lives_on_the_device_and_only_scalars_come_back(monkeypatch):
    x, y = blobs(3 * BATCH, seed=3)
    model = make("cuda", np.float32)
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0)  # makes the plans
    buffers = [model._params, model._grads, model._state, *model.optimizer.state.values()]
    for plan in model._plans._plans.values():
        buffers += [plan.x, plan.logits, plan.labels, plan.dlogits, plan.loss_value]
    assert all(is_cuda_ndarray(b) for b in buffers)
    # Count every crossing to the host in a second fit: one loss and one
    # correct count per step, nothing else (no to_host, no copy of a batch).
    reads = []
    read_scalar = cuda_memory.read_scalar
    monkeypatch.setattr(
        cuda_memory, "read_scalar", lambda a, i=0: reads.append(1) or read_scalar(a, i)
    )
    monkeypatch.setattr(cuda_memory, "to_host", lambda a: pytest.fail("to_host inside fit"))
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0)
    assert len(reads) == 2 * 3


def test_device_inputs_and_streamed_data_give_the_same_training(monkeypatch):
    # Host data uploaded once, the same data already on the device, and host
    # data streamed in chunks of one batch: the same batches, the same kernels,
    # so the same bits.
    x, y = blobs(2 * 16 + 7, seed=4)
    results = []
    for mode in ("host", "device", "streamed"):
        monkeypatch.setattr(config, "DATA_BUDGET_BYTES", None)
        xs, ys = x, y
        if mode == "device":
            xs, ys = cuda.to_device(x), cuda.to_device(y.astype(np.int64))
        if mode == "streamed":
            row_bytes = x.shape[1] * 4 + 8 + 8  # a row of x, its label, its order entry
            monkeypatch.setattr(config, "DATA_BUDGET_BYTES", 16 * row_bytes + 1)
        model = make("cuda", np.float32)
        history = model.fit(xs, ys, epochs=2, batch_size=16, verbose=0).history
        results.append((history, model.get_weights()))
    for history, weights in results[1:]:
        assert history == results[0][0]
        for got, want in zip(weights, results[0][1], strict=True):
            np.testing.assert_array_equal(got, want)


def test_device_inputs_are_validated_like_host_arrays():
    x, y = blobs(40, seed=5)
    model = make("cuda", np.float32)
    x_device, y_device = cuda.to_device(x), cuda.to_device(y.astype(np.int64))
    with pytest.raises(TypeError, match="dtype float32"):
        model.fit(cuda.to_device(x.astype(np.float64)), y_device, verbose=0)
    with pytest.raises(ValueError, match=r"shape \(n, 20\)"):
        model.predict(cuda.to_device(x[:, :5].copy()))
    with pytest.raises(ValueError, match="C-contiguous"):
        model.predict(cuda.to_device(np.asfortranarray(x)))
    with pytest.raises(TypeError, match="int64"):
        model.fit(x_device, cuda.to_device(y.astype(np.int32)), verbose=0)
    with pytest.raises(ValueError, match=r"class indices in \[0, 4\)"):
        model.fit(x_device, cuda.to_device(np.full(40, 7, np.int64)), verbose=0)
    bad = x.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="finite"):
        model.fit(cuda.to_device(bad), y_device, verbose=0)
    # Valid GPU inputs give what their host copies give.
    model.fit(x_device, y_device, epochs=1, batch_size=16, verbose=0)
    np.testing.assert_array_equal(model.predict(x_device), model.predict(x))
    assert model.evaluate(x_device, y_device) == model.evaluate(x, y)


def test_saved_on_cuda_loads_on_cpu_and_predicts_the_same(tmp_path):
    # float64: the CPU predicts with its own GEMM and BN inference kernels,
    # rounding differently from the GPU's by a few ulps in each of the 5
    # layers' outputs; 1e-13 (about 1000 u) bounds that with room.
    x, y = blobs(64, dtype=np.float64, seed=6)
    model = make("cuda", np.float64)
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0)
    lines = []
    model.summary(print_fn=lines.append)
    assert "device=cuda" in lines[0]
    model.save(tmp_path / "gpu.npz")
    on_cpu = Network.load(tmp_path / "gpu.npz", device="cpu")
    assert on_cpu.device == "cpu"
    for got, want in zip(on_cpu.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(on_cpu.predict(x), model.predict(x), rtol=1e-13, atol=1e-14)
    back = Network.load(tmp_path / "gpu.npz")
    assert back.device == "cuda"
    for got, want in zip(
        back.optimizer.state.values(), model.optimizer.state.values(), strict=True
    ):
        np.testing.assert_array_equal(got.copy_to_host(), want.copy_to_host())


@pytest.mark.gpu
@pytest.mark.skipif(
    cuda.config.ENABLE_CUDASIM, reason="the simulator has no __cuda_array_interface__"
)
def test_cuda_array_interface_inputs_are_taken_without_a_copy():
    from fastnn.device_arrays import check_device_inputs

    class Foreign:
        """Another library's GPU array: only its __cuda_array_interface__ is known."""

        def __init__(self, array):
            self.array = array  # keeps the memory alive
            self.__cuda_array_interface__ = array.__cuda_array_interface__

    x, y = blobs(48, seed=7)
    x_device = cuda.to_device(x)
    model = make("cuda", np.float32)
    view = check_device_inputs(model, Foreign(x_device))
    assert view.device_ctypes_pointer.value == x_device.device_ctypes_pointer.value
    model.fit(Foreign(x_device), Foreign(cuda.to_device(y.astype(np.int64))), verbose=0)
    np.testing.assert_array_equal(model.predict(Foreign(x_device)), model.predict(x))
    with pytest.raises(ValueError, match="C-contiguous"):
        model.predict(Foreign(x_device[:, ::2]))
    for name in ("cupy", "torch"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        if name == "torch" and not module.cuda.is_available():
            continue
        foreign = module.asarray(x, device="cuda") if name == "torch" else module.asarray(x)
        np.testing.assert_array_equal(model.predict(foreign), model.predict(x))
