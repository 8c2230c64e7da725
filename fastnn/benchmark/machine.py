"""What machine a run was on: the CPU, cores, threads and library versions, and the startup
latency (``import fastnn``, the first training step and the README's network example, in fresh
processes, with an empty and then a warm kernel cache)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
from importlib import metadata

import numpy as np

__all__ = ["cpu_model", "machine_info", "startup_latency"]

_IMPORT_SCRIPT = """
import time
start = time.perf_counter()
import fastnn
print(time.perf_counter() - start)
"""

_FIRST_STEP_SCRIPT = """
import time
start = time.perf_counter()
import numpy as np
import fastnn
from fastnn.benchmark import build_network, train_step
net = build_network()
rng = np.random.default_rng(0)
x = rng.standard_normal((128, 784)).astype(np.float32)
labels = rng.integers(0, 10, size=128).astype(np.int64)
train_step(net, x, labels)
print(time.perf_counter() - start)
"""


#: The "A network" example of README.md, verbatim but for its last line's file (written in a
#: temporary working directory); ``tests/test_warmup.py`` checks that it matches the README.
README_EXAMPLE = """\
import numpy as np
from fastnn import Network, Dense, BatchNormalization
from fastnn.datasets import make_moons
from fastnn.optimizers import Adam

X, y = make_moons(1000, noise=0.15, seed=0)  # float32 (1000, 2), int64 labels

model = Network(seed=0, device="cpu")
model.add(Dense(3, activation="relu", input_dim=2, init="he_normal"))
model.add(BatchNormalization())  # momentum=0.99, epsilon=1e-3 (Keras)
model.add(Dense(2, activation="relu"))
model.add(BatchNormalization())
model.add(Dense(1, activation="sigmoid"))
model.summary()  # 30 trainable, 10 non-trainable
model.compile(optimizer=Adam(learning_rate=1e-3), loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(X[:800], y[:800], epochs=10, batch_size=32, validation_data=(X[800:], y[800:]))
probabilities = model.predict(X[800:])
loss, accuracy = model.evaluate(X[800:], y[800:])
model.save("moons.npz")  # atomic; Network.load("moons.npz")
"""

_README_SCRIPT = (
    "import time\nstart = time.perf_counter()\n"
    "import contextlib, io\n"
    "with contextlib.redirect_stdout(io.StringIO()):\n"
    + "".join(f"    {line}\n" if line else "\n" for line in README_EXAMPLE.splitlines())
    + "print(time.perf_counter() - start)\n"
)


def _run_script(script: str, env: dict, timeout: float, cwd: str | None = None) -> float:
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=timeout,
        cwd=cwd,
    )  # fmt: skip
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"exit status {proc.returncode}: {last[0]}")
    return float(proc.stdout.strip().splitlines()[-1])


def startup_latency(import_runs: int = 3, timeout: float = 600, readme: bool = True) -> dict:
    """Seconds to ``import fastnn``, to the first training step and to run the README example.

    The first step (batch 128, the 784-256-256-10 network with Adam) and the
    README's network example (``README_EXAMPLE``: moons, a 3-2-1 Dense and
    BatchNormalization network, Adam, ``fit`` for 10 epochs, predict,
    evaluate, save) each run twice with ``NUMBA_CACHE_DIR`` pointing at a
    new, empty directory: the first run compiles every kernel it needs
    ("cold"), the second loads them from that cache ("warm").  Each figure
    counts from before ``import fastnn``, in a fresh process.  Keys:
    ``import_s``, ``first_step_{cold,warm}_s``, ``readme_{cold,warm}_s``
    (``..._error`` instead where a run failed).
    """
    env = dict(os.environ)
    result: dict = {}
    try:
        times = [_run_script(_IMPORT_SCRIPT, env, timeout) for _ in range(import_runs)]
        result["import_s"] = float(np.median(times))
        result["import_runs_s"] = times
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as err:
        result["import_error"] = str(err)
    runs = [("first_step", _FIRST_STEP_SCRIPT)]
    if readme:
        runs.append(("readme", _README_SCRIPT))
    for name, script in runs:
        with (
            tempfile.TemporaryDirectory(prefix="fastnn-numba-cache-") as cache_dir,
            tempfile.TemporaryDirectory(prefix="fastnn-startup-") as work_dir,
        ):
            env["NUMBA_CACHE_DIR"] = cache_dir
            for label in ("cold", "warm"):
                try:
                    result[f"{name}_{label}_s"] = _run_script(script, env, timeout, work_dir)
                except (RuntimeError, subprocess.TimeoutExpired, ValueError) as err:
                    result[f"{name}_{label}_error"] = str(err)
                    break
    return result


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_info(torch=None) -> dict:
    """CPU, cores, threads and library versions, for the JSON output."""
    import numba

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info = {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "platform": platform.platform(),
        "numba_threads": numba.get_num_threads(),
        "numba_threading_layer": numba.config.THREADING_LAYER,
        "torch_threads": None if torch is None else torch.get_num_threads(),
        "versions": {
            "python": platform.python_version(),
            "fastnn": _version("fastnn"),
            "numpy": np.__version__,
            "numba": numba.__version__,
            "scipy": _version("scipy"),
            # Read from the package metadata when PyTorch was not imported (--no-torch).
            "torch": _version("torch") if torch is None else torch.__version__,
        },
        "environment": {
            name: os.environ[name]
            for name in (
                "NUMBA_NUM_THREADS",
                "NUMBA_THREADING_LAYER",
                "OMP_WAIT_POLICY",
                "OMP_NUM_THREADS",
                "OPENBLAS_NUM_THREADS",
                "MKL_NUM_THREADS",
                "OPENBLAS_CORETYPE",
                "OPENBLAS_L2_SIZE",
                "NUMBA_CACHE_DIR",
            )
            if name in os.environ
        },  # fmt: skip
    }
    return info
