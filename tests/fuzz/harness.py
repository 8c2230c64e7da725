"""Run fuzz cases in child processes, so that a crash fails one case and not the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def child_env() -> dict:
    """The environment of a child: this checkout first on the path, one thread per library."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_cases(names: list[str], timeout: float = 600.0) -> dict[str, dict]:
    """Outcome of each named case; a case that kills its child is recorded as ``crashed``.

    The cases run in one child in order; after a crash a new child takes the
    remaining ones.
    """
    results: dict[str, dict] = {}
    pending = list(names)
    while pending:
        proc = subprocess.run(
            [sys.executable, "-m", "tests.fuzz.worker", *pending],
            cwd=ROOT,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        started = None
        for line in proc.stdout.splitlines():
            if not line.startswith("{"):
                continue
            record = json.loads(line)
            if "start" in record:
                started = record["start"]
            else:
                results[record["name"]] = record
                started = None
        if proc.returncode != 0 and started is not None:
            results[started] = {
                "name": started,
                "status": "crashed",
                "type": f"exit status {proc.returncode}",
                "message": proc.stderr[-2000:],
            }
        elif proc.returncode != 0:
            raise RuntimeError(f"the fuzz worker failed outside a case:\n{proc.stderr[-4000:]}")
        pending = [name for name in pending if name not in results]
    return results


def verdict(case, record) -> str | None:
    """``None`` when the outcome is clean for ``case``, else what was wrong."""
    status = record["status"]
    if status == "crashed":
        return f"crashed ({record['type']}): {record['message'][-500:]}"
    if status == "returned":
        if record["message"] is not None:
            return f"silent: {record['message']}"
        if not case.may_return:
            return "returned without the expected error"
        return None
    if record["type"] not in case.expect:
        return f"raised {record['type']} (expected one of {case.expect}): {record['message']}"
    if case.names is not None and case.names.lower() not in record["message"].lower():
        return f"the {record['type']} does not name {case.names!r}: {record['message']}"
    return None
