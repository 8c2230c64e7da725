"""Each benchmark case is written once: every registry entry is selected by ``fastnn bench``,
timed by a ``bench/`` suite, and no suite builds a case of its own.

``pytest bench/ --benchmark-disable`` (as CI runs it) calls every side of every
suite case once, so an op whose setup or call breaks fails CI instead of
showing up as "failed" in a user's table.
"""

import importlib.util
import pathlib

import pytest

from fastnn import benchmark
from fastnn.benchmark.cases import CHECKS, FAMILIES, REGISTRY

HERE = pathlib.Path(__file__).parent
SUITES = sorted(HERE.glob("bench_*.py"))


def _suite_module(path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(f"suite_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_registry_case_is_selected_by_fastnn_bench():
    selected = {task.spec.name for task in benchmark.select()}
    assert selected == {spec.name for spec in REGISTRY}
    quick = {task.spec.name for task in benchmark.select(quick=True)}
    assert {spec.name for spec in REGISTRY if spec.quick} == quick
    for spec in REGISTRY:
        assert set(spec.shapes) == set(benchmark.SIZES), spec.name


def test_every_registry_case_is_timed_by_a_suite():
    from conftest import suite_params

    families = [_suite_module(path).FAMILY for path in SUITES]
    assert sorted(families) == sorted(FAMILIES)  # one suite per family, none left out
    timed = {param.values[0][0].name for family in families for param in suite_params(family)}
    assert timed == {spec.name for spec in REGISTRY}


@pytest.mark.parametrize("path", SUITES, ids=lambda path: path.name)
def test_suites_build_no_case_of_their_own(path):
    """A suite reaches kernels, references and PyTorch only through the registry's cases."""
    source = path.read_text(encoding="utf-8")
    for name in ("fastnn.kernels", "fastnn.reference", "fastnn.functional", "import fastnn",
                 "from fastnn import", "import numpy", "import torch"):  # fmt: skip
        assert name not in source, f"{path.name} uses {name!r}; add the side to its case instead"


def test_fastnn_check_covers_every_family():
    assert {row.family for row in CHECKS} == set(FAMILIES)
