"""What a benchmark report looks like to a reader: the text table, the comparison of two runs,
the speedup plot, and the JSON file a run is saved in and read back from."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

__all__ = [
    "format_seconds",
    "format_table",
    "format_startup",
    "format_step_table",
    "compare",
    "format_comparison",
    "plot_speedups",
    "write_json",
    "read_json",
]


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}x"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right_from: int) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    lines = []
    for row in (header, *rows):
        cells = [
            str(c).rjust(w) if i >= right_from else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _side_cell(entry: dict, side: str) -> str:
    timing = entry[side]
    if timing is not None:
        return format_seconds(timing["median_s"])
    if side == "torch" and entry["torch_status"] != "ok":
        return entry["torch_status"]
    return "failed" if entry.get("error") else "-"


def format_table(report: dict) -> str:
    """The results as one text table, with the limits, notes and startup figures underneath."""
    header = ["op", "shape", "dtype", "fastnn", "spread", "reference", "torch",
              "vs ref", "vs torch", "throughput", "of limit", "compile"]  # fmt: skip
    rows, notes, errors = [], [], []
    for entry in report["results"]:
        fast = entry["fastnn"]
        what = f"{entry['op']} {entry['shape']} {entry['dtype']}"
        if entry.get("error"):
            errors.append(f"{what}: {entry['error']}")
        rate, fraction = entry["throughput"], entry["fraction_of_limit"]
        rows.append([
            entry["op"], entry["shape"], entry["dtype"],
            _side_cell(entry, "fastnn"),
            "-" if fast is None else f"±{50 * fast['iqr_s'] / fast['median_s']:.0f}%",
            _side_cell(entry, "reference"), _side_cell(entry, "torch"),
            _ratio(entry["speedup_vs_reference"]), _ratio(entry["speedup_vs_torch"]),
            "-" if rate is None else f"{rate:.3g} {entry['throughput_unit']}",
            "-" if fraction is None else f"{100 * fraction:.0f}% {entry['limit_name']}",
            "-" if fast is None else format_seconds(fast["compile_s"]),
        ])  # fmt: skip
        gemm_only = entry.get("baselines", {}).get("gemm_only")
        if fast is not None and gemm_only is not None:
            notes.append(
                f"{what}: its GEMMs alone (np.dot in @njit) take "
                f"{format_seconds(gemm_only['median_s'])}; "
                f"fastnn takes {fast['median_s'] / gemm_only['median_s']:.2f}x that"
            )
    lines = [_table(header, rows, right_from=3), ""]
    step_table = format_step_table(report)
    if step_table:
        lines += [step_table, ""]
    machine = report["machine"]
    device = report.get("device", "cpu")
    torch_version = machine["versions"]["torch"]
    if machine["torch_threads"] is not None:
        torch_text = (
            f"PyTorch {torch_version} CPU ({machine['torch_threads']} threads; functional + "
            "autograd, nn.init, optim)"
        )
    else:
        torch_text = (
            "PyTorch (not timed: --no-torch)" if torch_version else "PyTorch (not installed)"
        )
    lines.append(
        f"device: {device}; fastnn = the {device} kernels writing into preallocated outputs "
        "(initializers: fastnn.init with out=; train step: Network.train_on_batch); "
        "reference = fastnn.reference (NumPy); "
        f"torch = {torch_text}; Numba threads: {machine['numba_threads']}."
    )
    if "numba_threading_layer" in machine:
        lines.append(f"Numba threading layer: {machine['numba_threading_layer']}.")
    lines.append(
        "Medians per call; spread = half the interquartile range; vs = their time / fastnn's; "
        "compile = first call minus median (compilation or cache load), not in the median."
    )
    limits = report["limits"]
    parts = [f"copy {limits['copy']['GBps']:.1f} GB/s (np.copyto of 2x256 MiB, read+write)"]
    if limits.get("copy_cached"):
        parts.append("cached copy: the same for one array of the op's size, when the op fits in "
                     f"the {limits['llc_bytes'] >> 20} MiB last-level cache")  # fmt: skip
    for key, value in limits.items():
        if key.startswith("gemm_"):
            parts.append(
                f"GEMM {value['GFLOPs']:.0f} GFLOP/s (np.dot {value['n']}^3 {value['dtype']})"
            )
    lines.append("Limits: " + "; ".join(parts) + ".")
    lines.extend(notes)
    startup = report.get("startup")
    if startup:
        lines.append("Startup: " + format_startup(startup) + ".")
    if errors:
        lines.append("")
        lines.append("errors:")
        lines.extend(f"  {e}" for e in errors)
    return "\n".join(lines)


_STEP_SIDES = (("torch", "PyTorch eager"), ("torch_compile", "torch.compile"),
               ("jax", "JAX jit (whole step)"))  # fmt: skip


def format_step_table(report: dict) -> str:
    """The training-step rows as the issue's table: fastnn, PyTorch eager, ``torch.compile``
    and JAX ``jit``, each with fastnn's speedup over it, and the step's GEMMs alone ("" when
    the report has no training step)."""
    entries = [e for e in report["results"] if e.get("family") == "network" and e["fastnn"]]
    if not entries:
        return ""
    header = ["train step", "dtype", "fastnn"] + [label for _, label in _STEP_SIDES]
    header += ["GEMMs numpy", "GEMMs njit", "step / best GEMMs"]
    rows = []
    for e in entries:
        fast = e["fastnn"]["median_s"]
        row = [e["shape"], e["dtype"], format_seconds(fast)]
        for side, _ in _STEP_SIDES:
            timing = e.get(side)
            if timing is None:
                row.append(e.get(f"{side}_status", "-"))
            else:
                theirs = timing["median_s"]
                row.append(f"{format_seconds(theirs)} ({theirs / fast:.2f}x)")
        gemms = [e.get("baselines", {}).get(f"gemms {name}") for name in ("numpy", "njit")]
        row += [format_seconds(g["median_s"]) if g else "-" for g in gemms]
        best = min((g["median_s"] for g in gemms if g), default=None)
        row.append("-" if best is None else f"{fast / best:.2f}x")
        rows.append(row)
    note = (
        "(x) = their time / fastnn's (above 1: fastnn is faster); GEMMs = the step's 8 "
        "products alone, np.matmul from Python and np.dot inside @njit, same layouts"
    )
    return _table(header, rows, right_from=2) + "\n" + note


def format_startup(startup: dict) -> str:
    parts = []
    for key, label, target in (
        ("import", "import fastnn", 1.0),
        ("first_step_warm", "first training step, warm cache", 3.0),
        ("first_step_cold", "first training step, empty cache", None),
        ("readme_warm", "README network example, warm cache", 3.0),
        ("readme_cold", "README network example, empty cache", 20.0),
    ):
        value = startup.get(f"{key}_s")
        if (
            value is None
            and key.startswith("readme")
            and not any(k.startswith("readme") for k in startup)
        ):
            continue  # not measured (an older report)
        if value is None:
            parts.append(f"{label}: failed ({startup.get(f'{key}_error', 'not measured')})")
            continue
        verdict = "" if target is None else f" (target < {target:g} s)"
        parts.append(f"{label} {value:.2f} s{verdict}")
    return "; ".join(parts)


# --------------------------------------------------------------------------- comparing


def _relative_spread(timing: dict) -> float:
    return timing["iqr_s"] / timing["median_s"] if timing["median_s"] > 0 else 0.0


def compare(new: dict, old: dict, min_tolerance: float = 0.10) -> list[dict]:
    """Ratio new/old of the fastnn medians of every op present in both reports.

    A change is flagged when the ratio leaves ``[1 / (1 + tol), 1 + tol]`` with
    ``tol = max(min_tolerance, 2 * (IQR/median of old + IQR/median of new))``:
    a change larger than both runs' own noise.  ``verdict`` is "regression"
    (slower), "improvement" (faster) or "same".
    """
    old_by_key = {(e["op"], e["shape"], e["dtype"]): e for e in old.get("results", [])}
    rows = []
    for entry in new.get("results", []):
        before = old_by_key.get((entry["op"], entry["shape"], entry["dtype"]))
        if before is None or entry["fastnn"] is None or before["fastnn"] is None:
            continue
        ratio = entry["fastnn"]["median_s"] / before["fastnn"]["median_s"]
        tol = max(
            min_tolerance,
            2 * (_relative_spread(entry["fastnn"]) + _relative_spread(before["fastnn"])),
        )
        if ratio > 1 + tol:
            verdict = "regression"
        elif ratio < 1 / (1 + tol):
            verdict = "improvement"
        else:
            verdict = "same"
        rows.append({
            "op": entry["op"], "shape": entry["shape"], "dtype": entry["dtype"],
            "old_s": before["fastnn"]["median_s"], "new_s": entry["fastnn"]["median_s"],
            "ratio": ratio, "tolerance": tol, "verdict": verdict,
        })  # fmt: skip
    return rows


def format_comparison(rows: list[dict], new: dict, old: dict) -> str:
    header = ["op", "shape", "dtype", "old", "new", "new/old", "noise", "verdict"]
    table_rows = [
        [r["op"], r["shape"], r["dtype"], format_seconds(r["old_s"]), format_seconds(r["new_s"]),
         f"{r['ratio']:.2f}", f"±{100 * r['tolerance']:.0f}%",
         {"regression": "REGRESSION", "improvement": "improvement"}.get(r["verdict"], "")]
        for r in rows
    ]  # fmt: skip
    lines = []
    if not rows:
        lines.append("no op in common with the earlier run")
    else:
        lines.append(_table(header, table_rows, right_from=3))
    n_reg = sum(r["verdict"] == "regression" for r in rows)
    n_imp = sum(r["verdict"] == "improvement" for r in rows)
    lines.append(
        f"{n_reg} regression(s), {n_imp} improvement(s) beyond noise, of {len(rows)} compared"
    )
    old_m, new_m = old.get("machine", {}), new.get("machine", {})
    for key in ("cpu_model", "numba_threads"):
        if old_m.get(key) != new_m.get(key):
            lines.append(
                f"note: {key} differs ({old_m.get(key)!r} then, {new_m.get(key)!r} now); "
                "ratios compare machines, not code"
            )
    return "\n".join(lines)


# --------------------------------------------------------------------------- plotting


def plot_speedups(report: dict, path: str) -> None:
    """A PNG bar chart of fastnn's speedup over the reference and PyTorch (log scale).

    Bars start at 1x: to the right where fastnn is faster, to the left where it
    is slower.  Raises ImportError when matplotlib is missing (it is in the
    ``bench`` extra).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter

    entries = [e for e in report["results"] if e["fastnn"] is not None]
    labels = [f"{e['op']} {e['shape']} {e['dtype']}" for e in entries]
    fig, ax = plt.subplots(figsize=(10, 1.5 + 0.3 * max(1, len(entries))))
    positions = np.arange(len(entries))
    for offset, key, name in ((-0.2, "speedup_vs_reference", "vs NumPy reference"),
                              (0.2, "speedup_vs_torch", "vs PyTorch")):  # fmt: skip
        values = np.array([np.nan if e[key] is None else e[key] for e in entries])
        ax.barh(positions + offset, values - 1.0, left=1.0, height=0.4, label=name)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FormatStrFormatter("%gx"))
    ax.set_yticks(positions, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("speedup of fastnn: their time / fastnn's (right of 1x: fastnn is faster)")
    machine = report["machine"]
    ax.set_title(f"fastnn speedups, {machine['cpu_model']}, {machine['numba_threads']} threads")
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_json(report: dict, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
        f.write("\n")


def read_json(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    if not isinstance(report, dict) or "results" not in report:
        raise ValueError(f"{path} is not a fastnn bench JSON file (no 'results')")
    return report
