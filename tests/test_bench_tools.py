"""The step-analysis tools of ``fastnn.benchmark``: the GEMM list of a step, interleaved
timing, and the per-call breakdown of a plan (structure only: no timing is asserted)."""

import numpy as np
import pytest

from fastnn.benchmark import breakdown, gemm, timing
from fastnn.benchmark.cases import network

QUICK = timing.Settings(sample_time=1e-4, repeats=3, budget=0.01)


def test_step_products_are_the_steps_gemms():
    products = gemm.step_products(32, network.LAYERS)
    names = [p.name for p in products]
    # Forward per layer, dW per layer, dx for all but the first layer.
    assert names == ["fwd 1", "fwd 2", "fwd 3", "dW 3", "dx 3", "dW 2", "dx 2", "dW 1"]
    assert gemm.step_gemm_flops(32, network.LAYERS) == network.network_flops(32)
    dw1 = products[-1]
    assert (dw1.m, dw1.k, dw1.n, dw1.a_transposed) == (784, 32, 256, True)


@pytest.mark.parametrize("side", ["numpy", "njit"])
def test_gemm_callables_compute_the_products(side):
    products = gemm.step_products(5, (7, 4, 3))
    rng = np.random.default_rng(0)
    a, b, out = products[-1].operands(np.float64, rng)  # dW 1: a transposed view
    assert not a.flags.c_contiguous and a.shape == (7, 5)
    fn = gemm._numpy_call(a, b, out) if side == "numpy" else gemm._njit_call(a, b, out)
    fn()
    np.testing.assert_allclose(out, a @ b, rtol=1e-12)  # float64, k = 5: rounding only


def test_interleaved_times_every_callable_in_rounds():
    calls = []
    result = timing.interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                                QUICK)  # fmt: skip
    assert set(result) == {"a", "b"}
    for t in result.values():
        assert len(t.samples) >= QUICK.min_repeats and t.number >= 1
    assert calls.count("a") > 1 and calls.count("b") > 1


def test_breakdown_has_every_plan_call_and_the_rest():
    net = network.build_network()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, network.LAYERS[0])).astype(np.float32)
    labels = rng.integers(0, network.LAYERS[-1], size=8).astype(np.int64)
    rows = breakdown.step_breakdown(net, x, labels, QUICK)
    plan = net._plans.get(8, True)
    n_calls = len(plan.forward) + len(plan.loss) + len(plan.backward) + 1  # + the update
    assert len(rows) == n_calls + 3
    assert [r["call"] for r in rows[-3:]] == ["sum of calls", "rest", "train_on_batch"]
    total = sum(r["median_s"] for r in rows[:n_calls])
    assert rows[-3]["median_s"] == pytest.approx(total)
    assert rows[-2]["median_s"] == pytest.approx(rows[-1]["median_s"] - total)
    assert "update Adam" in rows[n_calls - 1]["call"]
    assert breakdown.format_breakdown(rows).count("\n") == len(rows) - 1
