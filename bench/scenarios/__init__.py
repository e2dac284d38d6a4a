"""The benchmark scenarios: every module here with a module-level ``SCENARIO`` is run.

To add one, drop ``bench/scenarios/<name>.py`` defining ``SCENARIO = Scenario(...)`` (see
``bench/core.py`` for the ``Context`` it receives and ``bench/steps.py`` for the measurements
the stack scenarios share). ``order`` sets its place in a run; ``smoke=False`` leaves it out of
the test suite's ``--smoke`` pass. Modules whose name starts with ``_`` are not scanned.
"""
