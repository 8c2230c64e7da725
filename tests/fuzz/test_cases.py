"""Every hand-made hostile case of ``cases.py``, run in child processes.

A case passes when its call is refused with one of the documented exception
types whose message names the argument (or file and field), or when it
returns with nothing silently wrong; a crash of the child fails that case.
"""

from __future__ import annotations

import pytest

from tests.fuzz.cases import CASES
from tests.fuzz.harness import run_cases, verdict


@pytest.fixture(scope="module")
def outcomes():
    return run_cases(list(CASES))


@pytest.mark.parametrize("name", list(CASES))
def test_case(name, outcomes):
    case = CASES[name]
    problem = verdict(case, outcomes[name])
    assert problem is None, f"class {case.klass}, {case.entry}: {problem}"
