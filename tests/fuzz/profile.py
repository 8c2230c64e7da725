"""Hypothesis settings for the fuzz suite, scaled by the ``FASTNN_FUZZ_PROFILE`` profile."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

#: Example-count multiplier of each profile.
PROFILES = {"ci": 1, "long": 20}

PROFILE = os.environ.get("FASTNN_FUZZ_PROFILE", "ci")
if PROFILE not in PROFILES:
    raise ValueError(f"FASTNN_FUZZ_PROFILE must be one of {sorted(PROFILES)}, got {PROFILE!r}")


def fuzz_settings(n_examples: int) -> settings:
    """Settings for a strategy that runs ``n_examples`` examples in the ``ci`` profile.

    No deadline (the first example of a strategy may compile kernels); the
    examples are derandomized in ``ci`` so a CI failure reproduces exactly.
    """
    return settings(
        max_examples=n_examples * PROFILES[PROFILE],
        deadline=None,
        derandomize=PROFILE == "ci",
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
