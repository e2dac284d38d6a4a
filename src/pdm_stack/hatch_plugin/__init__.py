"""Hatch front end: ``hatch build -t venvstacks`` locks, builds and publishes the stack.

Hatch has no plugin hook for new commands, so the stack is a build target: Hatch installs the
target's ``dependencies`` (pdm-stack) into its build environment and calls
:class:`~pdm_stack.hatch_plugin.builder.VenvstacksBuilder` there. Like the PDM front end it only
adapts settings, output and errors; the work is the core's. It never imports PDM.
"""
