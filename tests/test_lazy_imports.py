"""Loading the plugins leaves the core unloaded.

PDM imports and registers its plugins on every run (``pdm install``, ``pdm --version``) and Hatch
imports the hooks module of its entry point on every run, so the front ends import only what
registering and setting up their options needs; locking, building, publishing and deploying load
when a command runs them. Each check runs in a fresh interpreter, where nothing else has loaded
the core yet.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

#: What a command needs and registration must not load (a module, or a package with everything in it).
CORE = (
    "pdm_stack.operations",
    "pdm_stack.lock",
    "pdm_stack.building",
    "pdm_stack.runtimes",
    "pdm_stack.deploy",
    "pdm_stack.graph",
    "pdm_stack.stack",
    "pdm_stack.stack_spec.loader",
    "pdm_stack.stack_spec.venvstacks_import",
    "pdm_stack.publish.archive",
    "pdm_stack.publish.compressors",
    "pdm_stack.publish.publish",
    "pdm_stack.publish.export",
    "pdm_stack.uv_tool",
    "pdm_stack.status",
    "pdm_stack.command_json",
    "pdm_stack.show",
    "pdm_stack.run",
)

REGISTER = {
    # What `pdm <anything>` does: create the core, which loads and registers every plugin, and
    # with it builds the `pdm stack` parsers.
    "pdm_stack.pdm_plugin.stack": "from pdm.core import Core\nassert 'stack' in Core().subparsers.choices\n",
    # What Hatch does with the module of the entry point, and then with the hook in it.
    "pdm_stack.hatch_plugin.builder": (
        "from pdm_stack.hatch_plugin import hooks\nhooks.hatch_register_builder()\n"
    ),
}


@pytest.mark.parametrize("front_end", sorted(REGISTER))
def test_registering_a_plugin_loads_no_core_module(front_end: str) -> None:
    script = REGISTER[front_end] + "import sys\nprint('\\n'.join(sys.modules))\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    loaded = result.stdout.split()
    assert front_end in loaded  # the plugin was registered
    assert sorted(name for name in loaded if any(name == m or name.startswith(m + ".") for m in CORE)) == []


@pytest.mark.parametrize("package", ["pdm_stack.stack_spec", "pdm_stack.publish"])
def test_packages_still_export_their_names(package: str) -> None:
    """``stack_spec`` and ``publish`` load their names on first use; each one resolves."""
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    with pytest.raises(AttributeError):
        _ = module.no_such_name
