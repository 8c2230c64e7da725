"""The benchmark half of ``bench/gpu_check.sh``: each CUDA kernel against its CPU twin and PyTorch.

Cases (float32): BatchNorm forward+backward at 65536x1024, a relu dense layer
forward+backward at 8192x4096->4096, and one Adam training step of the
784-256-256-10 relu+BN network at batch 1024 and 8192.  Each is timed on the
CUDA backend (every call synchronized), on the CPU backend (the same case
through ``fastnn.benchmark.cases``), and, when PyTorch with CUDA is
installed, in PyTorch CUDA eager (cuDNN BatchNorm; cuBLAS GEMM with TF32
off, so both sides do FP32 arithmetic).  One table: medians, ratios, and the
achieved fraction of the GPU's memory bandwidth (BatchNorm: compulsory bytes /
time) and FP32 peak (dense: flops / time), from the device's attributes
(``FASTNN_GPU_BANDWIDTH_GBPS`` / ``FASTNN_GPU_FP32_TFLOPS`` override them).

``FASTNN_GPU_CHECK_TINY=1`` shrinks every shape so the script runs in
seconds, under the CUDA simulator too (``NUMBA_ENABLE_CUDASIM=1``), to check
the script itself without a GPU.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time

import numpy as np

TINY = os.environ.get("FASTNN_GPU_CHECK_TINY") == "1"
BN_SHAPE = (256, 64) if TINY else (65536, 1024)
DENSE_SHAPE = (128, 64, 64) if TINY else (8192, 4096, 4096)
STEP_BATCHES = (64, 128) if TINY else (1024, 8192)
LAYERS = (24, 16, 16, 10) if TINY else (784, 256, 256, 10)
#: Seconds of timed calls per side (after two warm-up calls that include compilation).
BUDGET = 0.05 if TINY else 1.0

#: FP32 lanes per streaming multiprocessor by compute capability (CUDA C programming guide,
#: "Arithmetic instructions" throughput table); the others use 128.
FP32_LANES = {(6, 0): 64, (7, 0): 64, (7, 2): 64, (7, 5): 64, (8, 0): 64}


def gpu_limits() -> dict:
    """Name, peak DRAM bandwidth (GB/s) and FP32 peak (GFLOP/s) of the current GPU, or None."""
    from numba import cuda

    info = {"name": "simulator", "bandwidth": None, "fp32": None}
    try:
        device = cuda.get_current_device()
        info["name"] = device.name.decode() if isinstance(device.name, bytes) else str(device.name)
        cc = tuple(device.compute_capability)
        sms = device.MULTIPROCESSOR_COUNT
        clock_khz = device.CLOCK_RATE
        memory_khz = device.MEMORY_CLOCK_RATE
        bus_bits = device.GLOBAL_MEMORY_BUS_WIDTH
        # Double data rate: two transfers per memory clock.
        info["bandwidth"] = 2.0 * memory_khz * 1e3 * bus_bits / 8 / 1e9
        info["fp32"] = 2.0 * sms * FP32_LANES.get(cc, 128) * clock_khz * 1e3 / 1e9
        info["name"] += f" (sm_{cc[0]}{cc[1]}, {sms} SMs)"
    except Exception as err:  # the simulator, or an attribute this driver does not report
        info["name"] += f" (attributes unavailable: {type(err).__name__})"
    if os.environ.get("FASTNN_GPU_BANDWIDTH_GBPS"):
        info["bandwidth"] = float(os.environ["FASTNN_GPU_BANDWIDTH_GBPS"])
    if os.environ.get("FASTNN_GPU_FP32_TFLOPS"):
        info["fp32"] = 1e3 * float(os.environ["FASTNN_GPU_FP32_TFLOPS"])
    return info


def timed(fn, sync=None) -> float:
    """Median seconds per call of ``fn`` (each call followed by ``sync``), after two warm-ups."""
    sync = sync or (lambda: None)
    for _ in range(2):
        fn()
        sync()
    samples, spent = [], 0.0
    while spent < BUDGET or len(samples) < 3:
        start = time.perf_counter()
        fn()
        sync()
        samples.append(time.perf_counter() - start)
        spent += samples[-1]
        if len(samples) >= 200:
            break
    return statistics.median(samples)


def import_torch_cuda():
    """PyTorch when it is installed with a usable CUDA device (TF32 off), else None."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return None
    try:
        import torch
    except (ImportError, OSError):
        return None
    if not torch.cuda.is_available():
        return None
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    return torch


def contexts():
    from fastnn.backend import get_backend
    from fastnn.benchmark import Context

    def make(device):
        return Context(np.float32, np.random.default_rng(0), None, get_backend(device))

    return make("cuda"), make("cpu")


def bn_rows(torch, gpu, cpu_ctx, sync):
    from fastnn.benchmark.cases.batchnorm import BatchNormCase

    impl = BatchNormCase(BN_SHAPE, gpu).impl("fwd+bwd")
    cpu_impl = BatchNormCase(BN_SHAPE, cpu_ctx).impl("fwd+bwd")
    row = {
        "case": f"BN fwd+bwd {BN_SHAPE[0]}x{BN_SHAPE[1]}",
        "kind": "bandwidth",
        "work": impl.work,
        "cuda": timed(impl.fastnn, sync),
        "cpu": timed(cpu_impl.fastnn),
    }
    if torch is not None:
        F = torch.nn.functional
        n, m = BN_SHAPE
        x = torch.randn(n, m, device="cuda", requires_grad=True)
        gamma = torch.ones(m, device="cuda", requires_grad=True)
        beta = torch.zeros(m, device="cuda", requires_grad=True)
        rm, rv = torch.zeros(m, device="cuda"), torch.ones(m, device="cuda")
        dy = torch.randn(n, m, device="cuda")

        def run():
            x.grad = gamma.grad = beta.grad = None
            F.batch_norm(x, rm, rv, gamma, beta, True, 0.01, 1e-3).backward(dy)

        row["torch"] = timed(run, torch.cuda.synchronize)
    return row


def dense_rows(torch, gpu, cpu_ctx, sync):
    from fastnn.benchmark.cases.dense import DenseCase

    n, n_in, n_out = DENSE_SHAPE
    impl = DenseCase(DENSE_SHAPE, gpu).impl("fwd+bwd")
    cpu_impl = DenseCase(DENSE_SHAPE, cpu_ctx).impl("fwd+bwd")
    row = {
        "case": f"dense fwd+bwd {n}x{n_in}->{n_out}",
        "kind": "gemm",
        "work": impl.work,
        "cuda": timed(impl.fastnn, sync),
        "cpu": timed(cpu_impl.fastnn),
    }
    if torch is not None:
        F = torch.nn.functional
        x = torch.randn(n, n_in, device="cuda", requires_grad=True)
        W = (torch.randn(n_out, n_in, device="cuda") * math.sqrt(2.0 / n_in)).requires_grad_()
        b = torch.zeros(n_out, device="cuda", requires_grad=True)
        dy = torch.randn(n, n_out, device="cuda")

        def run():
            x.grad = W.grad = b.grad = None
            F.relu(F.linear(x, W, b)).backward(dy)

        row["torch"] = timed(run, torch.cuda.synchronize)
    return row


def build_network(device: str):
    """The training-step model (``fastnn.benchmark``'s, at ``LAYERS``): relu then BN twice, Adam."""
    import fastnn

    net = fastnn.Network(
        [
            fastnn.Dense(LAYERS[1], activation="relu", input_dim=LAYERS[0]),
            fastnn.BatchNormalization(),
            fastnn.Dense(LAYERS[2], activation="relu"),
            fastnn.BatchNormalization(),
            fastnn.Dense(LAYERS[3]),
        ],
        device=device,
    )
    net.compile(optimizer="adam", loss="cross_entropy")
    return net


def step_row(torch, sync, batch: int) -> dict:
    """One Adam training step of the 784-256-256-10 relu+BN network at ``batch`` rows."""
    from numba import cuda

    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, LAYERS[0])).astype(np.float32)
    y = rng.integers(0, LAYERS[-1], batch).astype(np.int64)
    gpu_net, cpu_net = build_network("cuda"), build_network("cpu")
    x_dev, y_dev = cuda.to_device(x), cuda.to_device(y)  # GPU inputs: no copy per step
    row = {
        "case": f"train step {'-'.join(map(str, LAYERS))} Adam, batch {batch}",
        "kind": None,
        "work": None,
        "cuda": timed(lambda: gpu_net.train_on_batch(x_dev, y_dev), sync),
        "cpu": timed(lambda: cpu_net.train_on_batch(x, y)),
    }
    if torch is not None:
        nn = torch.nn
        model = nn.Sequential(
            nn.Linear(LAYERS[0], LAYERS[1]), nn.ReLU(), nn.BatchNorm1d(LAYERS[1]),
            nn.Linear(LAYERS[1], LAYERS[2]), nn.ReLU(), nn.BatchNorm1d(LAYERS[2]),
            nn.Linear(LAYERS[2], LAYERS[3]),
        ).cuda()  # fmt: skip
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        xt, yt = torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda()

        def run():
            optimizer.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(xt), yt)
            loss.backward()
            optimizer.step()
            return loss.item()  # fastnn reads its loss back too

        row["torch"] = timed(run, torch.cuda.synchronize)
    return row


def fmt_time(seconds) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-6:.3g} us"


def table(rows, limits) -> str:
    header = ("case", "cuda", "cpu", "torch cuda", "cpu/cuda", "torch/cuda", "achieved", "of peak")
    lines = []
    for r in rows:
        torch_time = r.get("torch")
        achieved = peak = "-"
        if r["kind"] == "bandwidth":
            rate = r["work"] / r["cuda"] / 1e9
            achieved = f"{rate:.0f} GB/s"
            if limits["bandwidth"]:
                peak = f"{100 * rate / limits['bandwidth']:.0f}% bandwidth"
        elif r["kind"] == "gemm":
            rate = r["work"] / r["cuda"] / 1e9
            achieved = f"{rate:.0f} GFLOP/s"
            if limits["fp32"]:
                peak = f"{100 * rate / limits['fp32']:.0f}% FP32 peak"
        lines.append((
            r["case"], fmt_time(r["cuda"]), fmt_time(r["cpu"]), fmt_time(torch_time),
            f"{r['cpu'] / r['cuda']:.2f}x",
            "-" if torch_time is None else f"{torch_time / r['cuda']:.2f}x", achieved, peak,
        ))  # fmt: skip
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines, strict=True)]
    out = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in
           (header, *lines)]  # fmt: skip
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def main() -> int:
    from fastnn.backend import get_backend

    start = time.perf_counter()
    sync = get_backend("cuda").synchronize
    limits = gpu_limits()
    torch = import_torch_cuda()
    gpu, cpu_ctx = contexts()
    rows = [bn_rows(torch, gpu, cpu_ctx, sync), dense_rows(torch, gpu, cpu_ctx, sync)]
    rows += [step_row(torch, sync, batch) for batch in STEP_BATCHES]
    return _finish(rows, limits, torch, start)


def _finish(rows, limits, torch, start) -> int:
    bw = "n/a" if limits["bandwidth"] is None else f"{limits['bandwidth']:.0f} GB/s"
    fp = "n/a" if limits["fp32"] is None else f"{limits['fp32'] / 1e3:.1f} TFLOP/s"
    print(f"GPU: {limits['name']}")
    print(f"peak DRAM bandwidth {bw}, FP32 peak {fp} (from the device attributes)")
    print(table(rows, limits))
    print(
        "ratios: the other's time / fastnn cuda's (above 1: fastnn is faster). "
        "Targets: BN within 1.2x of cuDNN (torch/cuda >= 0.83); the GEMM at >= 50% of cuBLAS "
        "FP32 (torch/cuda >= 0.5); the step at batch 1024 at least as fast as PyTorch eager "
        "(torch/cuda >= 1)."
    )
    if torch is None:
        print("PyTorch with CUDA is not installed: no torch column.")
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
