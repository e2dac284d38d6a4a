"""pdm-stack's benchmark suite: one command, every figure against a baseline from the same run.

``python -m bench`` runs every registered scenario (``bench/scenarios/*.py``), writes
``bench/results.json`` and regenerates ``docs/benchmarks.md`` from it. See ``bench/suite.py``
for the command line and ``bench/core.py`` for how a scenario records figures.
"""
