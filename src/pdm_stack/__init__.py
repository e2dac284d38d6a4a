"""pdm-stack: layered Python environments for PDM projects.

The package is split into a core (``spec``, ``graph``, ``runtimes``, ``build`` and the
modules beside them) that never imports pdm or hatch, and thin front ends
(``pdm_plugin`` and ``__main__``) that adapt the core to a command line.
"""

from __future__ import annotations

__version__ = "0.1.0.dev0"
