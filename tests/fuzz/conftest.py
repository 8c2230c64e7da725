"""Hypothesis profiles of the fuzz suite, chosen by ``FASTNN_FUZZ_PROFILE``.

``ci`` (the default) keeps every strategy to a few dozen examples so that the
whole suite runs in about two minutes on two cores; ``long`` runs twenty times
as many examples per strategy, for a run on demand::

    FASTNN_FUZZ_PROFILE=long python -m pytest tests/fuzz

Every strategy test takes its settings from ``fuzz_settings(n)``, ``n`` being
its example count under ``ci``; the profile scales it.
"""
