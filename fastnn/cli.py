"""The ``fastnn`` command line (also ``python -m fastnn``).

``fastnn bench``
    Time every kernel family against the NumPy reference, PyTorch (when it is
    installed) and the machine's measured copy bandwidth and GEMM rate; one table.
``fastnn check``
    Run every CPU kernel once against ``fastnn.reference`` and print the errors.
``fastnn compare NEW.json OLD.json``
    Ratios between two saved ``fastnn bench --json`` runs, with regressions flagged.
``fastnn warmup``
    Compile every CPU kernel for float32 and float64 into Numba's cache, so that
    a first training run does not wait for the compiler.
``fastnn --version``
    Print the installed version.

Each command is a pair in ``COMMANDS``: a function that adds its subparser
and a function that runs it and returns the exit status.  A new command (such
as ``study``) is one more entry there.  Nothing here is imported by ``import
fastnn``; the timing and checking modules are imported only by the command
that needs them.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
from collections.abc import Callable

from fastnn.benchmark.cases import FAMILIES, SIZES
from fastnn.study import cli as study_cli

DTYPES = ("float32", "float64")
#: The kernel groups of ``fastnn warmup`` (``fastnn.warmup.KERNEL_CALLS``, without importing it).
KERNEL_GROUPS = (
    "batchnorm",
    "dense",
    "activations",
    "losses",
    "optimizers",
    "init",
    "dropout",
    "reduce",
)
DEVICES = ("cpu", "cuda", "all")

#: Set in the child process that ``--threads`` starts, so it does not start another.
_THREADS_CHILD = "FASTNN_BENCH_THREADS_CHILD"
#: Thread-count variables read when the libraries load: Numba, OpenMP, OpenBLAS, MKL.
_THREAD_VARIABLES = (
    "NUMBA_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)


def _choices(kind: str, allowed: tuple):
    """An argparse type for a comma-separated subset of ``allowed`` (``all`` = every one)."""

    def parse(text: str) -> tuple:
        names = [n.strip() for n in text.split(",") if n.strip()]
        if names == ["all"]:
            return allowed
        unknown = [n for n in names if n not in allowed]
        if not names or unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {kind} {', '.join(map(repr, unknown)) or repr(text)}; "
                f"choose a comma-separated list from {', '.join(allowed)} (or 'all')"
            )
        return tuple(n for n in allowed if n in names)

    return parse


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _seed(text: str) -> int:
    """A seed: an integer in ``[0, 2**64)`` (NumPy's generators refuse negative seeds)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError(f"expected a seed in [0, 2**64), got {value}")
    return value


def _check_output_path(flag: str, path: str) -> str | None:
    """Why ``path`` cannot be written (its directory is missing or read-only), or ``None``."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        return f"{flag} {path}: the directory {directory} does not exist"
    if not os.access(directory, os.W_OK):
        return f"{flag} {path}: the directory {directory} is not writable"
    return None


def _read_report(path: str) -> dict:
    """A bench JSON report, its structure checked as far as ``compare`` reads it.

    Raises
    ------
    OSError
        The file cannot be read.
    ValueError
        Not JSON, or not the structure ``fastnn bench --json`` writes.
    """
    from fastnn import benchmark

    report = benchmark.read_json(path)
    results = report["results"]
    if not isinstance(results, list):
        raise ValueError(f"{path}: 'results' must be a list, got {type(results).__name__}")
    for i, entry in enumerate(results):
        where = f"{path}: results[{i}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be an object, got {type(entry).__name__}")
        for key in ("op", "shape", "dtype", "fastnn"):
            if key not in entry:
                raise ValueError(f"{where} has no {key!r}")
        for key in ("op", "shape", "dtype"):
            if not isinstance(entry[key], str):
                raise ValueError(f"{where}.{key} must be a string, got {entry[key]!r}")
        timing = entry["fastnn"]
        if timing is None:
            continue
        if not isinstance(timing, dict):
            raise ValueError(f"{where}.fastnn must be an object or null")
        for key, low in (("median_s", "> 0"), ("iqr_s", ">= 0")):
            value = timing.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{where}.fastnn.{key} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0 or (low == "> 0" and value == 0):
                raise ValueError(f"{where}.fastnn.{key} must be finite and {low}, got {value!r}")
    if not isinstance(report.get("machine", {}), dict):
        raise ValueError(f"{path}: 'machine' must be an object")
    return report


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < 10:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 10), got {value}")
    return value


def _add_bench(commands) -> None:
    bench = commands.add_parser(
        "bench",
        help="time the kernels against NumPy, PyTorch and the machine's limits",
        description=(
            "Time each kernel (compilation reported separately) against the NumPy reference "
            "and PyTorch (when installed), with throughput against the copy bandwidth and "
            "GEMM rate measured in the same run, and the startup latency."
        ),
    )
    bench.add_argument(
        "--ops", type=_choices("op family", FAMILIES), default=None, metavar="LIST",
        help=f"comma-separated op families: {','.join(FAMILIES)} (default: all)",
    )  # fmt: skip
    bench.add_argument(
        "--sizes", type=_choices("size", SIZES), default=None, metavar="LIST",
        help="comma-separated size classes: small (32x256), medium (1024x1024), large "
        "(65536x1024; dense 4096x1024->1024) (default: all, or the headline shapes with --quick)",
    )  # fmt: skip
    bench.add_argument(
        "--dtypes", type=_choices("dtype", DTYPES), default=("float32",), metavar="LIST",
        help="comma-separated dtypes: float32,float64 (default: float32)",
    )  # fmt: skip
    bench.add_argument(
        "--device", choices=DEVICES, default="cpu",
        help="cpu (default); cuda: the CUDA kernels (each call synchronized; an error naming "
        "why when no GPU can be used); all = cpu, then cuda where it can run",
    )  # fmt: skip
    bench.add_argument(
        "--quick", action="store_true",
        help="only the headline ops, fewer repeats: a first look in well under 3 minutes",
    )  # fmt: skip
    bench.add_argument(
        "--threads", type=_positive_int, default=None, metavar="N",
        help="threads for Numba, BLAS and PyTorch (default: Numba's default, all cores)",
    )  # fmt: skip
    bench.add_argument("--json", metavar="PATH", help="write the raw results and machine info")
    bench.add_argument(
        "--compare", metavar="OLD.json", help="print the ratio to an earlier --json run"
    )
    bench.add_argument(
        "--tolerance", type=_fraction, default=0.10, metavar="FRACTION",
        help="smallest relative change --compare flags, on top of the runs' noise (default 0.10)",
    )  # fmt: skip
    bench.add_argument("--plot", metavar="PATH", help="write a PNG bar chart of the speedups")
    bench.add_argument("--no-torch", action="store_true", help="do not time PyTorch")
    bench.add_argument(
        "--no-startup", action="store_true",
        help="skip the startup-latency figures (import, first training step)",
    )  # fmt: skip
    bench.add_argument("--seed", type=_seed, default=0, help="seed of the random inputs")


def _add_check(commands) -> None:
    check = commands.add_parser(
        "check",
        help="run every kernel once against the NumPy reference",
        description="Run every kernel of a device once on small random inputs against "
        "fastnn.reference "
        "and print the errors; the exit status is 1 when any op is out of tolerance.",
    )
    check.add_argument(
        "--dtypes", type=_choices("dtype", DTYPES), default=("float32",), metavar="LIST",
        help="comma-separated dtypes: float32,float64 (default: float32)",
    )  # fmt: skip
    check.add_argument("--seed", type=_seed, default=0, help="seed of the random inputs")
    check.add_argument(
        "--device", choices=DEVICES, default="cpu",
        help="cpu (default); cuda: every CUDA kernel, read back to the host, against the "
        "reference (works under NUMBA_ENABLE_CUDASIM=1); all = both",
    )  # fmt: skip


def _add_compare(commands) -> None:
    compare = commands.add_parser(
        "compare",
        help="compare two saved bench runs",
        description="Ratio of the fastnn medians of NEW to OLD, flagging changes beyond noise.",
    )
    compare.add_argument("new", metavar="NEW.json")
    compare.add_argument("old", metavar="OLD.json")
    compare.add_argument("--tolerance", type=_fraction, default=0.10, metavar="FRACTION")
    compare.add_argument(
        "--fail-on-regression", action="store_true", help="exit with status 1 on a regression"
    )


def _add_warmup(commands) -> None:
    warmup = commands.add_parser(
        "warmup",
        help="compile every CPU kernel ahead of time (into Numba's cache)",
        description="Compile every CPU kernel for the given dtypes into Numba's cache "
        "(NUMBA_CACHE_DIR, by default ~/.cache/fastnn/numba), so that the first training "
        "run starts at once. Fast when the cache is already warm.",
    )
    warmup.add_argument(
        "--dtypes", type=_choices("dtype", DTYPES), default=DTYPES, metavar="LIST",
        help="comma-separated dtypes: float32,float64 (default: both)",
    )  # fmt: skip
    warmup.add_argument(
        "--groups", type=_choices("kernel group", KERNEL_GROUPS), default=KERNEL_GROUPS,
        metavar="LIST", help=f"comma-separated kernel groups: {','.join(KERNEL_GROUPS)} "
        "(default: all)",
    )  # fmt: skip


def _warmup(args) -> int:
    import time

    from fastnn import warmup

    stream = sys.stderr
    interactive = hasattr(stream, "isatty") and stream.isatty()
    groups = len(args.groups) * len(args.dtypes)
    done = [0]

    def progress(text: str) -> None:
        done[0] += 1
        line = f"fastnn warmup: [{done[0]}/{groups}] compiling {text}"
        stream.write(("\r\033[K" + line) if interactive else line + "\n")
        stream.flush()

    start = time.perf_counter()
    compiled = warmup.warmup(args.dtypes, args.groups, progress=progress)
    total = time.perf_counter() - start
    if interactive:
        stream.write("\r\033[K")
    state = "compiled" if compiled > 0 else "already warm (loaded from the cache)"
    print(
        f"fastnn warmup: {', '.join(args.dtypes)} kernels {state} in {total:.1f} s; "
        f"cache: {os.environ.get('NUMBA_CACHE_DIR', '(Numba default)')}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``fastnn`` parser: one subparser per entry of ``COMMANDS``."""
    parser = argparse.ArgumentParser(
        prog="fastnn",
        description="fastnn: compiled kernels for dense networks. Benchmark and check them.",
    )
    from fastnn import __version__

    parser.add_argument("--version", action="version", version=f"fastnn {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add_parser, _ in COMMANDS.values():
        add_parser(commands)
    return parser


def _matplotlib_missing() -> str | None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return (
            "--plot needs matplotlib, which is not installed; "
            "install it with: pip install 'fastnn[bench]'  (or: pip install matplotlib)"
        )
    return None


def _devices(device: str, command: str) -> list[str]:
    """The backends ``--device`` names: ``all`` is cpu plus cuda where it can run.

    ``cuda`` where it cannot run prints why and gives no device.
    """
    if device == "cpu":
        return ["cpu"]
    from fastnn.backend import cuda_unavailable_reason

    reason = cuda_unavailable_reason()
    if reason is None:
        return ["cpu", "cuda"] if device == "all" else ["cuda"]
    print(f"fastnn {command}: skipping cuda: {reason}", file=sys.stderr)
    if device == "cuda":
        print(f"fastnn {command}: nothing to run on cuda; use --device cpu", file=sys.stderr)
        return []
    return ["cpu"]


def _rerun_with_threads(argv: list[str], threads: int) -> int:
    """Run this command again in a child whose libraries load with ``threads`` threads.

    Numba, OpenBLAS and OpenMP read their thread counts when they load, which
    happened already, so a clean way to change all of them is a new process.
    """
    env = dict(os.environ, **{name: str(threads) for name in _THREAD_VARIABLES})
    env[_THREADS_CHILD] = "1"
    return subprocess.call([sys.executable, "-m", "fastnn", *argv], env=env)


def _bench(args) -> int:
    argv = args.argv
    # Checked before a run that can take minutes, not after it.
    for flag, path in (("--json", args.json), ("--plot", args.plot)):
        problem = None if path is None else _check_output_path(flag, path)
        if problem:
            print(f"fastnn bench: {problem}", file=sys.stderr)
            return 2
    old = None
    if args.compare is not None:
        try:
            old = _read_report(args.compare)
        except (OSError, ValueError) as err:
            print(f"fastnn bench: cannot read --compare file: {err}", file=sys.stderr)
            return 2
    if args.plot is not None:
        missing = _matplotlib_missing()
        if missing:
            print(f"fastnn bench: {missing}", file=sys.stderr)
            return 2
    devices = _devices(args.device, "bench")
    if not devices:
        return 1
    if args.threads is not None and os.environ.get(_THREADS_CHILD) != "1":
        return _rerun_with_threads(argv, args.threads)

    import numba

    from fastnn import benchmark

    if args.threads is not None:
        numba.set_num_threads(args.threads)
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if name in os.environ:
            print(
                f"fastnn bench: warning: {name} is set, which can halve OpenBLAS GEMM speed; "
                f"unset it for benchmarks (env -u {name} fastnn bench ...)",
                file=sys.stderr,
            )
    tasks = benchmark.select(args.ops, args.sizes, args.dtypes, quick=args.quick)
    if not tasks:
        print("fastnn bench: the selection is empty", file=sys.stderr)
        return 2
    settings = benchmark.Settings.quick() if args.quick else benchmark.Settings.full()
    for device in devices[:-1]:  # --device all: the CPU table first
        other = benchmark.run(
            tasks, settings, use_torch=not args.no_torch, startup=not args.no_startup,
            seed=args.seed, device=device,
        )  # fmt: skip
        print(benchmark.format_table(other) + "\n")
    report = benchmark.run(
        tasks, settings, use_torch=not args.no_torch, startup=not args.no_startup, seed=args.seed,
        device=devices[-1],
    )  # fmt: skip
    report["argv"] = ["fastnn", *argv]
    print(benchmark.format_table(report))
    if args.json is not None:
        benchmark.write_json(report, args.json)
        print(f"\nwrote {args.json}")
    if old is not None:
        rows = benchmark.compare(report, old, min_tolerance=args.tolerance)
        print(f"\ncompared with {args.compare}:")
        print(benchmark.format_comparison(rows, report, old))
    if args.plot is not None:
        benchmark.plot_speedups(report, args.plot)
        print(f"wrote {args.plot}")
    return 1 if any(r["fastnn"] is None for r in report["results"]) else 0


def _compare(args) -> int:
    from fastnn import benchmark

    try:
        new, old = _read_report(args.new), _read_report(args.old)
    except (OSError, ValueError) as err:
        print(f"fastnn compare: {err}", file=sys.stderr)
        return 2
    rows = benchmark.compare(new, old, min_tolerance=args.tolerance)
    print(benchmark.format_comparison(rows, new, old))
    regressed = any(r["verdict"] == "regression" for r in rows)
    return 1 if regressed and args.fail_on_regression else 0


def _check(args) -> int:
    from fastnn import check

    devices = _devices(args.device, "check")
    if not devices:
        return 1
    ok = True
    for device in devices:
        ok = check.run_check(args.dtypes, seed=args.seed, device=device) and ok
    return 0 if ok else 1


#: command -> (add its subparser to the subparsers action, run it: args -> exit status).
#: ``main`` stores the command line's words in ``args.argv``.
COMMANDS: dict[str, tuple[Callable, Callable]] = {
    "bench": (_add_bench, _bench),
    "check": (_add_check, _check),
    "compare": (_add_compare, _compare),
    "study": (study_cli.add_parser, study_cli.run),
    "warmup": (_add_warmup, _warmup),
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``fastnn`` script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    return COMMANDS[args.command][1](args)
