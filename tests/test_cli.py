"""The ``fastnn`` command line: ``check``, ``bench`` and ``compare``.

The two end-to-end runs happen in subprocesses (``python -m fastnn ...``), as a
user runs them; argument errors, comparisons and the plotting message are
tested in-process through ``fastnn.cli.main``.
"""

import copy
import json
import math
import os
import subprocess
import sys

import pytest

from fastnn import benchmark, check, cli

BENCH_FIELDS = {
    "op", "family", "size", "shape", "dims", "dtype", "limit", "bytes", "flops", "fastnn",
    "reference", "torch", "torch_status", "speedup_vs_reference", "speedup_vs_torch",
    "throughput", "throughput_unit", "limit_name", "limit_rate", "fraction_of_limit", "error",
    "baselines",
}  # fmt: skip
TIMING_FIELDS = {
    "median_s", "q25_s", "q75_s", "iqr_s", "repeats", "number", "first_call_s", "compile_s",
    "samples_s",
}  # fmt: skip


def run_fastnn(*args, timeout=300):
    env = dict(os.environ)
    env.pop(cli._THREADS_CHILD, None)
    return subprocess.run(
        [sys.executable, "-m", "fastnn", *args],
        capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


def timing(median, spread=0.02):
    """A hand-made timing entry with the given median and relative IQR."""
    return {
        "median_s": median, "q25_s": median * (1 - spread / 2), "q75_s": median * (1 + spread / 2),
        "iqr_s": median * spread, "repeats": 5, "number": 1, "first_call_s": median,
        "compile_s": 0.0, "samples_s": [median] * 5,
    }  # fmt: skip


def report(*medians):
    """A minimal bench report with one entry per median (ops named op0, op1, ...)."""
    results = [
        {"op": f"op{i}", "shape": "32x256", "dtype": "float32", "fastnn": timing(m)}
        for i, m in enumerate(medians)
    ]
    return {"machine": {"cpu_model": "test", "numba_threads": 2}, "results": results}


# --------------------------------------------------------------------------- check


def test_check_runs_every_family_and_exits_zero():
    proc = run_fastnn("check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all kernels agree with the reference" in proc.stdout
    families = [
        "dense relu", "activation softmax", "batch_norm ->", "-> batch_norm",
        "softmax_cross_entropy", "adam update", "init he_normal", "network train step",
    ]  # fmt: skip
    for op in families:
        assert op in proc.stdout, op
    assert "FAIL" not in proc.stdout


def test_check_covers_every_registry_family():
    results = check.run_checks(("float32",))
    assert {r.family for r in results} == set(benchmark.FAMILIES)
    assert all(r.passed for r in results), [r.op for r in results if not r.passed]


def test_check_reports_a_wrong_result(monkeypatch, capsys):
    from fastnn import reference

    def wrong_mse(pred, targets):
        loss, grad = original(pred, targets)
        return loss, grad * 1.01

    original = reference.mean_squared_error
    monkeypatch.setattr(reference, "mean_squared_error", wrong_mse)
    checker = check._Checker("float64", seed=0)
    checker.family("losses")
    by_op = {r.op: r for r in checker.results}
    bad = by_op["mean_squared_error value+gradient"]
    assert not bad.passed and bad.worst == "gradient"
    # A 1% change of the gradient is a relative error of 1/101 against the wrong reference.
    assert bad.max_rel == pytest.approx(0.01 / 1.01, rel=1e-6)
    assert by_op["softmax_cross_entropy value+gradient"].passed


def test_check_reports_exceptions_as_failures():
    def broken():
        raise RuntimeError("kernel exploded")

    checker = check._Checker("float32", seed=0)
    checker.record("broken op", broken)
    (result,) = checker.results
    assert not result.passed
    assert "RuntimeError: kernel exploded" in result.error
    assert "FAIL" in check.format_results(checker.results)


# --------------------------------------------------------------------------- bench


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    """One tiny real run, compared with a hand-made earlier run in which relu fwd was 10x slower."""
    tmp = tmp_path_factory.mktemp("bench")
    old = report()
    old["results"] = [
        {"op": "relu fwd", "shape": "32x256", "dtype": "float32", "fastnn": timing(1.0)},
    ]
    old_path = tmp / "old.json"
    old_path.write_text(json.dumps(old))
    new_path = tmp / "new.json"
    proc = run_fastnn(
        "bench", "--ops", "activations", "--sizes", "small", "--quick", "--no-startup",
        "--threads", "1", "--json", str(new_path), "--compare", str(old_path),
    )  # fmt: skip
    return proc, new_path


def test_bench_prints_the_table_and_progress(bench_run):
    proc, _ = bench_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    header = proc.stdout.splitlines()[0].split()
    assert header[:4] == ["op", "shape", "dtype", "fastnn"]
    assert "relu fwd" in proc.stdout and "relu bwd" in proc.stdout
    assert "Limits: copy" in proc.stdout
    assert "left)" in proc.stderr  # the progress line names how many tasks are left


def test_bench_json_has_the_documented_fields(bench_run):
    _, path = bench_run
    data = json.loads(path.read_text())
    assert data["schema"] == benchmark.SCHEMA
    machine = data["machine"]
    assert machine["cpu_model"] and machine["logical_cores"] >= 1
    assert machine["numba_threads"] == 1  # --threads 1 reached the child process
    assert set(machine["versions"]) >= {"python", "numpy", "numba", "scipy", "torch"}
    assert data["limits"]["copy"]["GBps"] > 0
    assert data["startup"] is None  # --no-startup
    ops = {(e["op"], e["shape"]) for e in data["results"]}
    assert ops == {
        (f"{name} {mode}", "32x256") for name in ("relu", "softmax") for mode in ("fwd", "bwd")
    }
    for entry in data["results"]:
        assert set(entry) >= BENCH_FIELDS
        assert entry["error"] is None
        assert set(entry["fastnn"]) >= TIMING_FIELDS
        assert set(entry["reference"]) >= TIMING_FIELDS
        fast = entry["fastnn"]
        assert fast["q25_s"] <= fast["median_s"] <= fast["q75_s"]
        assert fast["repeats"] >= 3 and len(fast["samples_s"]) == fast["repeats"]
        assert fast["compile_s"] == max(0.0, fast["first_call_s"] - fast["median_s"])
        assert entry["limit"] == "bandwidth" and entry["bytes"] > 0
        assert entry["throughput_unit"] == "GB/s" and entry["throughput"] > 0
        expected = entry["reference"]["median_s"] / fast["median_s"]
        assert entry["speedup_vs_reference"] == pytest.approx(expected)
        if entry["torch_status"] == "ok":
            assert set(entry["torch"]) >= TIMING_FIELDS
        else:
            assert entry["torch"] is None and entry["torch_status"] == "not installed"


def test_bench_compare_flags_the_hand_made_slow_run_as_improvement(bench_run):
    proc, _ = bench_run
    assert "compared with" in proc.stdout
    assert "1 regression(s)" not in proc.stdout
    assert "0 regression(s), 1 improvement(s) beyond noise, of 1 compared" in proc.stdout


def test_compare_of_a_file_against_itself_flags_nothing(bench_run, capsys):
    _, path = bench_run
    assert cli.main(["compare", str(path), str(path), "--fail-on-regression"]) == 0
    out = capsys.readouterr().out
    assert "0 regression(s), 0 improvement(s) beyond noise, of 4 compared" in out
    data = json.loads(path.read_text())
    assert all(r["verdict"] == "same" and r["ratio"] == 1.0 for r in benchmark.compare(data, data))


@pytest.mark.parametrize(
    ("old_median", "verdict"),
    [(10.0, "improvement"), (0.1, "regression"), (1.05, "same"), (0.95, "same")],
)
def test_compare_verdicts(old_median, verdict):
    (row,) = benchmark.compare(report(1.0), report(old_median))
    assert row["ratio"] == pytest.approx(1.0 / old_median)
    assert row["verdict"] == verdict


def test_compare_tolerance_grows_with_the_runs_noise():
    new, old = report(1.0), report(0.8)  # 25% slower
    assert benchmark.compare(new, old)[0]["verdict"] == "regression"
    noisy = copy.deepcopy(old)
    noisy["results"][0]["fastnn"] = timing(0.8, spread=0.2)  # 20% IQR: a 25% change is noise
    row = benchmark.compare(new, noisy)[0]
    assert row["verdict"] == "same"
    assert row["tolerance"] == pytest.approx(2 * (0.02 + 0.2))


def test_compare_command_exit_status(tmp_path, capsys):
    new_path, old_path = tmp_path / "new.json", tmp_path / "old.json"
    new_path.write_text(json.dumps(report(1.0, 1.0)))
    old_path.write_text(json.dumps(report(0.1, 1.0)))
    assert cli.main(["compare", str(new_path), str(old_path)]) == 0
    assert cli.main(["compare", str(new_path), str(old_path), "--fail-on-regression"]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION" in out and "1 regression(s), 0 improvement(s)" in out


def test_compare_rejects_a_file_that_is_not_a_bench_run(tmp_path, capsys):
    path = tmp_path / "other.json"
    path.write_text("[1, 2]")
    assert cli.main(["compare", str(path), str(path)]) == 2
    assert "not a fastnn bench JSON file" in capsys.readouterr().err


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench", "--ops", "dense,convolution"], "unknown op family 'convolution'"),
        (["bench", "--sizes", "huge"], "unknown size 'huge'"),
        (["bench", "--dtypes", "float16"], "unknown dtype 'float16'"),
        (["bench", "--threads", "0"], "expected a positive integer, got 0"),
        (["bench", "--threads", "two"], "expected a positive integer, got 'two'"),
        (["bench", "--device", "tpu"], "invalid choice: 'tpu'"),
        (["check", "--dtypes", ""], "unknown dtype"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "the following arguments are required"),
    ],
)
def test_bad_arguments_are_argparse_errors(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_plot_without_matplotlib_is_a_clear_message(monkeypatch, capsys):
    # A None entry in sys.modules makes ``import matplotlib`` raise ImportError.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    status = cli.main(["bench", "--ops", "activations", "--sizes", "small", "--plot", "out.png"])
    assert status == 2
    err = capsys.readouterr().err
    assert "--plot needs matplotlib" in err and "pip install" in err


def test_plot_writes_a_png(bench_run, tmp_path):
    pytest.importorskip("matplotlib")
    _, path = bench_run
    out = tmp_path / "speedups.png"
    benchmark.plot_speedups(json.loads(path.read_text()), str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cuda_device_is_skipped_with_a_reason(monkeypatch, capsys):
    import fastnn.backend

    monkeypatch.setattr(fastnn.backend, "cuda_unavailable_reason", lambda: "no CUDA GPU found")
    assert cli.main(["bench", "--device", "cuda"]) == 1
    err = capsys.readouterr().err
    assert "skipping cuda: no CUDA GPU found" in err and "--device cpu" in err


# --------------------------------------------------------------------------- harness


def test_import_fastnn_does_not_import_the_command_line():
    script = "import sys, fastnn; print(sorted(m for m in sys.modules if m in " \
             "('fastnn.cli', 'fastnn.benchmark', 'fastnn.check', 'torch')))"  # fmt: skip
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_measure_separates_the_first_call():
    calls = []

    def slow_first():
        calls.append(None)
        if len(calls) == 1:
            sum(range(300_000))  # stands in for compilation

    settings = benchmark.Settings(sample_time=0.001, repeats=5, budget=0.05)
    timing = benchmark.measure(slow_first, settings)
    assert timing.number >= 2  # autoranged: a single call is far below 1 ms
    assert 3 <= len(timing.samples) <= 5
    assert timing.compile_time > 0 and timing.first_call > 10 * timing.median
    assert len(calls) >= 1 + timing.number * len(timing.samples)


def test_select_quick_and_sizes():
    quick = benchmark.select(quick=True)
    keys = {(t.spec.name, t.spec.label(t.shape)) for t in quick}
    # The headline ops of the issue are all in the quick run.
    assert ("bn fwd+bwd", "4096x1024") in keys
    assert ("dense fwd+bwd relu", "1024x1024->1024") in keys
    assert ("he_normal", "4096x4096") in keys
    assert {("train step 784-256-256-10", f"batch {b}") for b in (32, 128, 1024)} <= keys
    small = benchmark.select(["activations"], ["small"], ("float32", "float64"))
    assert len(small) == 2 * 2 * len(benchmark.ACTIVATION_NAMES)
    assert {t.size for t in small} == {"small"}
    assert benchmark.select(["activations"], ["small"], quick=True)[0].spec.name == "relu fwd"


def test_every_registry_family_is_a_cli_choice():
    assert {spec.family for spec in benchmark.REGISTRY} == set(cli.FAMILIES)
    assert cli.FAMILIES == benchmark.FAMILIES and cli.SIZES == benchmark.SIZES


def test_format_table_marks_missing_torch_and_failures():
    entry = {
        "op": "relu fwd", "shape": "32x256", "dtype": "float32", "limit": "bandwidth",
        "fastnn": timing(1e-6), "reference": timing(1e-5), "torch": None,
        "torch_status": "not installed", "speedup_vs_reference": 10.0, "speedup_vs_torch": None,
        "throughput": 10.0, "throughput_unit": "GB/s", "limit_name": "copy", "limit_rate": 20.0,
        "fraction_of_limit": 0.5, "error": None, "baselines": {},
    }  # fmt: skip
    failed = dict(entry, op="sigmoid fwd", fastnn=None, error="setup failed: ImportError: x")
    rep = {
        "results": [entry, failed],
        "machine": {"versions": {"torch": None}, "torch_threads": None, "numba_threads": 2},
        "limits": {"copy": {"GBps": 20.0}, "copy_cached": {}, "llc_bytes": 32 << 20},
        "startup": {"import_s": 0.5, "first_step_warm_s": 1.0, "first_step_cold_s": 30.0},
    }
    text = benchmark.format_table(rep)
    assert "not installed" in text and "10x" in text and "50% copy" in text
    assert "sigmoid fwd 32x256 float32: setup failed: ImportError: x" in text
    assert "import fastnn 0.50 s (target < 1 s)" in text
    assert math.isclose(float(benchmark.format_seconds(2.5e-3).split()[0]), 2.5)


def test_study_is_a_fastnn_subcommand(capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["study", "--help"])
    assert stopped.value.code == 0
    assert "{init,batchnorm,all}" in capsys.readouterr().out
