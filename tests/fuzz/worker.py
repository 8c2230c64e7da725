"""Run fuzz cases in this (child) process and print one JSON line per outcome.

``python -m tests.fuzz.worker NAME [NAME ...]`` prints ``{"start": name}``
before each case and ``{"name", "status", "type", "message"}`` after it, each
line flushed, so the parent knows which case a crash killed.
"""

from __future__ import annotations

import json
import sys
import warnings


def main(names: list[str]) -> None:
    from tests.fuzz.cases import CASES

    for name in names:
        print(json.dumps({"start": name}), flush=True)
        record = {"name": name}
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                problem = CASES[name].run()
            except BaseException as err:  # noqa: BLE001 - every outcome is recorded
                record.update(status="raised", type=type(err).__name__, message=str(err)[:2000])
            else:
                record.update(status="returned", message=problem)
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
