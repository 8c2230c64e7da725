"""The benchmark cases, each written once, and the registry of them.

A case is one operation at one shape, built for a backend: its inputs, the
fastnn side (the backend's kernels on preallocated outputs), the
``fastnn.functional`` side, the ``fastnn.reference`` side, its PyTorch
equivalent, and the baselines and yardsticks timed beside it.  One module per
family (``dense``, ``activations``, ``batchnorm``, ``dropout``, ``losses``,
``optimizers``, ``init``, ``network``) defines its case class and two lists built from it:

- ``specs()``: the ``OpSpec`` entries of ``REGISTRY``, which ``fastnn bench``
  selects from and the ``bench/`` pytest-benchmark suites parametrize over;
- ``checks()``: the ``CheckSpec`` rows of ``fastnn check``, which compare the
  same case's fastnn and reference outputs at small, odd shapes.
"""

from __future__ import annotations

from fastnn.benchmark.cases import (
    activations,
    batchnorm,
    dense,
    dropout,
    init,
    losses,
    network,
    optimizers,
)
from fastnn.benchmark.cases.base import SIDES, CheckSpec, Context, Impl, OpSpec

__all__ = [
    "FAMILIES",
    "SIZES",
    "SIDES",
    "REGISTRY",
    "CHECKS",
    "Context",
    "Impl",
    "OpSpec",
    "CheckSpec",
    "family_specs",
]

#: The families, in the order ``fastnn bench`` and ``fastnn check`` run them.
FAMILY_MODULES = {
    "dense": dense,
    "activations": activations,
    "batchnorm": batchnorm,
    "dropout": dropout,
    "losses": losses,
    "optimizers": optimizers,
    "init": init,
    "network": network,
}
FAMILIES = tuple(FAMILY_MODULES)
SIZES = ("small", "medium", "large")

REGISTRY: list[OpSpec] = [spec for module in FAMILY_MODULES.values() for spec in module.specs()]
CHECKS: list[CheckSpec] = [row for module in FAMILY_MODULES.values() for row in module.checks()]


def family_specs(family: str) -> list[OpSpec]:
    """The registry's entries of one family, in registry order."""
    if family not in FAMILY_MODULES:
        raise ValueError(f"family must be one of {list(FAMILIES)}, got {family!r}")
    return [spec for spec in REGISTRY if spec.family == family]
