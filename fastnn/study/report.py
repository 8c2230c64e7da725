"""Run the claims, draw their figures and write ``report.md`` (plus ``results.json``).

``run_study`` is what ``fastnn study`` calls: it loads the data once, runs each
selected claim's experiment at the chosen scale with a progress bar on
stderr, writes one PNG per claim (when matplotlib is installed) and a Markdown
report with each claim's statement, measured table, figure and verdict.
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np

from fastnn.study import data as study_data
from fastnn.study import plots
from fastnn.study.claims import CLAIMS, Claim, run_kwargs

__all__ = ["run_study", "Progress", "write_report"]


class Progress:
    """A one-line progress bar over claims, redrawn after every training run."""

    def __init__(self, total: int, stream=sys.stderr, enabled: bool = True):
        self.total, self.stream, self.enabled = total, stream, enabled
        self.done, self.runs, self.label, self.start = 0, 0, "", time.perf_counter()

    def begin(self, label: str) -> None:
        self.label = label
        self._draw()

    def tick(self) -> None:
        self.runs += 1
        self._draw()

    def end_claim(self) -> None:
        self.done += 1
        self._draw()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self) -> None:
        if not self.enabled:
            return
        filled = int(24 * self.done / max(self.total, 1))
        elapsed = time.perf_counter() - self.start
        text = (
            f"\r[{'#' * filled}{'.' * (24 - filled)}] {self.done}/{self.total} claims, "
            f"{self.runs} runs, {elapsed:5.0f} s  {self.label[:50]:<50}"
        )
        self.stream.write(text)
        self.stream.flush()


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else str(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def run_study(
    group: str = "all",
    *,
    quick: bool = False,
    out="study",
    seeds: int | None = None,
    data: str = "auto",
    download: bool = False,
    progress: bool = True,
    claims=None,
) -> dict:
    """Run the claims of ``group`` ("init", "batchnorm" or "all") and write the report.

    Parameters
    ----------
    group : str
        Which claims.
    quick : bool
        The quick scale (minutes) instead of the full one.
    out : path-like
        Output directory (created): ``report.md``, ``results.json``, ``claim_NN.png``.
    seeds : int, optional
        Number of seeds of the multi-seed claims (default: the scale's own).
    data : str
        See ``fastnn.study.data.load``.
    download : bool
        Allow downloading MNIST when ``data="mnist"``.
    progress : bool
        Draw the progress bar on stderr.
    claims : iterable of int, optional
        Run only these claim numbers (within ``group``).

    Returns
    -------
    dict
        ``verdicts`` (number -> (holds, reason)), ``results``, ``report`` (its path).
    """
    if group not in ("init", "batchnorm", "all"):
        raise ValueError(f"group must be 'init', 'batchnorm' or 'all', got {group!r}")
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1):
        raise ValueError(f"seeds must be a positive int, got {seeds!r}")
    selected = [c for c in CLAIMS if group in ("all", c.group)]
    if claims is not None:
        wanted = set(claims)
        selected = [c for c in selected if c.number in wanted]
    selected.sort(key=lambda c: c.number)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    raw = study_data.load(data, download=download)
    standardized = study_data.standardized(raw)
    mode = "quick" if quick else "full"
    bar = Progress(len(selected), enabled=progress)
    results, verdicts, timings, figures = {}, {}, {}, {}
    try:
        plots.require_matplotlib()
        figure_error = None
    except ImportError as err:
        figure_error = str(err)
    started = time.perf_counter()
    for claim in selected:
        bar.begin(f"claim {claim.number}: {claim.title}")
        kwargs = run_kwargs(claim, mode, seeds)
        if claim.number == 8 and 7 in results:
            kwargs["result7"] = results[7]
        t0 = time.perf_counter()
        result = claim.experiment(
            standardized if claim.standardized else raw, tick=bar.tick, **kwargs
        )
        timings[claim.number] = time.perf_counter() - t0
        results[claim.number] = result
        verdicts[claim.number] = claim.verdict(result)
        if figure_error is None:
            name = f"claim_{claim.number:02d}.png"
            plots.plot(claim.number, result, out / name)
            figures[claim.number] = name
        bar.end_claim()
    bar.close()
    total = time.perf_counter() - started
    meta = {
        "mode": mode,
        "group": group,
        "data": raw.description,
        "seeds": seeds,
        "seconds": total,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "timings": timings,
        "figure_error": figure_error,
    }
    report = write_report(out, selected, results, verdicts, figures, meta)
    saved = {
        "meta": meta,
        "verdicts": {n: {"holds": v[0], "rule": v[1]} for n, v in verdicts.items()},
        # Claim 8's result repeats claim 7's recorded percentiles; claim 7 keeps the curves.
        "results": {n: r for n, r in results.items()},
    }
    (out / "results.json").write_text(json.dumps(_jsonable(saved), indent=1))
    return {"verdicts": verdicts, "results": results, "report": report, "meta": meta}


def _verdict_word(holds: bool) -> str:
    return "holds" if holds else "does not hold at this scale"


def write_report(out: Path, claims: list[Claim], results, verdicts, figures, meta) -> Path:
    """Write ``out/report.md``: a summary table, then each claim's section."""
    lines = [
        "# fastnn study: initialization and BatchNorm",
        "",
        f"Scale: **{meta['mode']}**; data: {meta['data']}; {meta['seconds']:.0f} s "
        f"(Python {meta['python']}, NumPy {meta['numpy']}).  Every run is seeded: the same "
        "command gives the same numbers.",
        "",
    ]
    if meta["figure_error"]:
        lines += [f"Figures were not drawn: {meta['figure_error']}.", ""]
    lines += ["| claim | verdict | rule |", "| --- | --- | --- |"]
    for claim in claims:
        holds, rule = verdicts[claim.number]
        lines.append(f"| {claim.number}. {claim.title} | {_verdict_word(holds)} | {rule} |")
    lines.append("")
    for claim in claims:
        holds, rule = verdicts[claim.number]
        lines += [
            f"## {claim.number}. {claim.title}",
            "",
            claim.statement,
            "",
            claim.table(results[claim.number]),
            "",
        ]
        if claim.number in figures:
            lines += [f"![claim {claim.number}]({figures[claim.number]})", ""]
        lines += [
            f"**Verdict: {_verdict_word(holds)}** ({rule}; {meta['timings'][claim.number]:.1f} s).",
            "",
        ]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path
