"""Where a training step's time goes: every bound call of a ``Network``'s plan, timed alone.

``step_breakdown`` runs one ``train_on_batch`` (which makes the plan), then
times, interleaved (one sample of each per round), the whole
``train_on_batch``, each ``(kernel, args)`` of the plan's ``forward``,
``loss`` and ``backward`` lists, and the optimizer's update.  What the calls
do not account for (validation, the copies in and out, the state backup, the
Python around them) is ``rest = step - sum(calls)``.  Nothing on the hot path
changes: the calls are the plan's own, called as ``plan.run`` calls them.

A call timed alone runs on data its previous call left in cache; inside a
step its inputs come from the call before it, mostly in cache too at these
sizes, so the sum is close to the step but not equal to it.
"""

from __future__ import annotations

import numpy as np

from fastnn.benchmark.timing import Settings, interleaved

__all__ = ["step_breakdown", "format_breakdown"]


def _call_name(kernel, args) -> str:
    name = getattr(kernel, "__name__", None) or getattr(kernel, "py_func", kernel).__name__
    shapes = [a.shape for a in args if isinstance(a, np.ndarray) and a.ndim == 2]
    shape = "x".join(map(str, shapes[0])) if shapes else ""
    return f"{name} {shape}".strip()


def step_breakdown(net, x: np.ndarray, labels: np.ndarray, settings: Settings | None = None):
    """Time each bound call of ``net``'s training plan for ``x``'s batch size.

    Returns a list of ``{"call", "median_s", "min_s", "fraction"}`` rows (``fraction``
    of the step's median; ``min_s`` the fastest sample, the least disturbed figure on a
    shared machine), then rows ``"sum of calls"``, ``"rest"`` and ``"train_on_batch"``.
    The calls update the network's weights and statistics as a step would.
    """
    settings = settings or Settings(sample_time=0.01, repeats=9, budget=2.0)
    net.train_on_batch(x, labels)
    plan = net._plans.get(x.shape[0], True)
    # train_on_batch may read x where it is (memory.stage_input): the calls timed alone
    # read the plan's own buffer, so it gets the batch.
    net._backend.memory.copy(x, plan.x)
    callables = {"train_on_batch": lambda: net.train_on_batch(x, labels)}
    for phase, calls in (("fwd", plan.forward), ("loss", plan.loss), ("bwd", plan.backward)):
        for index, (kernel, args) in enumerate(calls):
            name = f"{phase} {index} {_call_name(kernel, args)}"
            callables[name] = lambda kernel=kernel, args=args: kernel(*args)
    from fastnn import guards

    # The update as the step runs it: the checked kernel, which can be undone.
    name = f"update {type(net.optimizer).__name__} {net._params.size} (checked)"
    callables[name] = lambda: guards.guarded_update(net)
    measured = interleaved(callables, settings)
    timings = {name: t.median for name, t in measured.items()}
    fastest = {name: min(t.samples) for name, t in measured.items()}
    step, step_min = timings.pop("train_on_batch"), fastest.pop("train_on_batch")
    rows = [
        {"call": name, "median_s": t, "min_s": fastest[name], "fraction": t / step}
        for name, t in timings.items()
    ]
    total, total_min = sum(timings.values()), sum(fastest.values())
    rows.append({"call": "sum of calls", "median_s": total, "min_s": total_min,
                 "fraction": total / step})  # fmt: skip
    rows.append({"call": "rest", "median_s": step - total, "min_s": step_min - total_min,
                 "fraction": 1 - total / step})  # fmt: skip
    rows.append({"call": "train_on_batch", "median_s": step, "min_s": step_min, "fraction": 1.0})
    return rows


def format_breakdown(rows: list[dict], title: str = "") -> str:
    """The breakdown as text lines: call, median and fastest sample in microseconds, share of
    the step (by medians)."""
    width = max(len(r["call"]) for r in rows)
    lines = [title] if title else []
    for r in rows:
        lines.append(
            f"  {r['call']:<{width}}  {1e6 * r['median_s']:9.1f} us (min {1e6 * r['min_s']:8.1f})"
            f"  {100 * r['fraction']:5.1f}%"
        )
    return "\n".join(lines)
