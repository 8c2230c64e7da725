"""The fuzz suite: hostile and awkward inputs for every public entry point.

``cases.py`` is a table of hand-made hostile calls, each tagged with the class
of failure it probes (1 backward caches, 2 silent wrong results, 3 wrong
exception types, 4 unclear messages); ``worker.py`` runs them in a child
process so that a crash is a failed case, not a dead test run.  The
``test_*`` modules add hypothesis strategies for valid-but-awkward inputs
(compared with ``fastnn.reference``), random cache tampering and a corpus of
hostile files generated on the fly.

Profiles: the number of examples per strategy is bounded for CI; set
``FASTNN_FUZZ_PROFILE=long`` for a longer run (``conftest.py``).
"""
