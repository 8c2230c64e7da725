"""Compilation as the user meets it: ``fastnn warmup``, the first-compile notice, ``--version``.

Whether kernels compiled is read from Numba's ``numba:compile`` event (through
``fastnn.warmup.compile_seconds``, exactly 0 when nothing compiled), never
from how long anything took.  Cache state is per directory, so every
subprocess gets a fresh ``NUMBA_CACHE_DIR`` under ``tmp_path``; the subsets
compiled here are small (the full ``fastnn warmup`` takes about a minute of
one core for both dtypes).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import cli, progress, warmup

NOTICE_START = "fastnn: compiling kernels for "


def run_python(code: str, cache_dir, timeout=600):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env
    )


def run_fastnn(args, cache_dir, timeout=600):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    env.pop(cli._THREADS_CHILD, None)
    return subprocess.run(
        [sys.executable, "-m", "fastnn", *args],
        capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


# ----------------------------------------------------------------------- version


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"fastnn {fastnn.__version__}"


# ------------------------------------------------------------------------ warmup

# Two cheap kernel groups: enough to see compilation happen, then not happen.
SUBSET = ["--dtypes", "float32", "--groups", "optimizers,reduce"]

COMPILE_SECONDS_AFTER_SUBSET = """
from fastnn import warmup
warmup.warmup(["float32"], ["optimizers", "reduce"])
print(warmup.compile_seconds())
"""


def test_warmup_command_compiles_then_finds_the_cache_warm(tmp_path):
    first = run_fastnn(["warmup", *SUBSET], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "float32 kernels compiled" in first.stdout
    assert "[1/2] compiling float32: optimizers" in first.stderr
    assert NOTICE_START not in first.stderr  # warmup shows its own progress instead
    second = run_fastnn(["warmup", *SUBSET], tmp_path)
    assert second.returncode == 0, second.stderr
    assert "already warm" in second.stdout
    # The same kernels called again in a new process load from the cache: nothing compiles.
    third = run_python(COMPILE_SECONDS_AFTER_SUBSET, tmp_path)
    assert third.returncode == 0, third.stderr
    assert float(third.stdout.strip().splitlines()[-1]) == 0.0


def test_warmup_command_rejects_an_unknown_group(tmp_path):
    result = run_fastnn(["warmup", "--groups", "convolution"], tmp_path)
    assert result.returncode == 2
    assert "unknown kernel group 'convolution'" in result.stderr


def test_warmup_groups_are_the_cli_groups_and_each_has_a_call():
    assert tuple(warmup.KERNEL_CALLS) == cli.KERNEL_GROUPS
    assert [name for name, _ in warmup._kernel_calls(np.dtype("float32"))] == list(
        warmup.KERNEL_CALLS
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dtypes": ["float16"]}, "dtypes must be 'float32' and/or 'float64'"),
        ({"groups": ["convolution"]}, "unknown kernel group"),
    ],
)
def test_warmup_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        warmup.warmup(**kwargs)


# ------------------------------------------------------------------------ notice

# Two float32 kernels (two initializers), then one float64 kernel.
INITIALIZERS = """
from fastnn import init
import numpy as np
init.constant((5,), 1.0)
init.normal((5,), 1.0, seed=0)
init.constant((5,), 1.0, dtype=np.float64)
"""


def test_first_compile_notice_once_per_dtype_on_a_cold_cache_and_never_on_a_warm_one(tmp_path):
    cold = run_python(INITIALIZERS, tmp_path)
    assert cold.returncode == 0, cold.stderr
    notices = [line for line in cold.stderr.splitlines() if line.startswith(NOTICE_START)]
    assert notices == [
        warmup.NOTICE.format(dtype="float32", seconds=warmup._TYPICAL_SECONDS),
        warmup.NOTICE.format(dtype="float64", seconds=warmup._TYPICAL_SECONDS),
    ]
    assert "fastnn warmup" in notices[0]
    warm = run_python(INITIALIZERS, tmp_path)
    assert warm.returncode == 0, warm.stderr
    assert NOTICE_START not in warm.stderr


def test_fit_prints_the_notice_once_on_a_cold_cache(tmp_path):
    fit = """
import numpy as np
from fastnn import Network, Dense, BatchNormalization
x = np.linspace(-1, 1, 24, dtype=np.float32).reshape(12, 2)
y = (x[:, 0] > 0).astype(np.int64)
model = Network(seed=0)
model.add(Dense(3, activation="relu", input_dim=2))
model.add(BatchNormalization())
model.add(Dense(1, activation="sigmoid"))
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=2, batch_size=4, validation_data=(x, y), verbose=2)
"""
    cold = run_python(fit, tmp_path)
    assert cold.returncode == 0, cold.stderr
    assert cold.stderr.count(NOTICE_START) == 1
    assert "Epoch 2/2" in cold.stdout
    warm = run_python(fit, tmp_path)
    assert warm.returncode == 0, warm.stderr
    assert NOTICE_START not in warm.stderr


# ---------------------------------------------------------------------- progress


def test_progress_throughput_leaves_out_compile_time(monkeypatch, capsys):
    clock = {"now": 100.0, "compiled": 5.0}
    monkeypatch.setattr(progress.time, "perf_counter", lambda: clock["now"])
    monkeypatch.setattr(progress, "compile_seconds", lambda: clock["compiled"])
    display = progress.Progress(epoch=1, epochs=1, steps=10, n=1000, verbose=2)
    # 10 s pass, of which 9 s compile: 1000 samples in 1 s of running.
    clock["now"] += 10.0
    clock["compiled"] += 9.0
    display.end({"loss": 0.5})
    line = capsys.readouterr().out
    assert "10.00s" in line  # the wall time is still shown as it was
    assert "1,000 samples/s" in line


# ---------------------------------------------------------------- bench startup


def test_bench_runs_the_readme_network_example_verbatim():
    from pathlib import Path

    from fastnn.benchmark import machine

    readme = Path(__file__).resolve().parents[1] / "README.md"
    if not readme.is_file():
        pytest.skip("README.md is not beside the tests (an installed copy)")
    text = readme.read_text(encoding="utf-8")
    section = text[text.index("## A network") :]
    start = section.index("```python\n") + len("```python\n")
    block = section[start : section.index("\n```", start)]
    assert machine.README_EXAMPLE.strip() == block.strip()
