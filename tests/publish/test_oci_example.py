"""example-project distributed through a real registry with the commands users run.

``pdm stack lock/build/publish --to oci://...`` on a copy of example-project (plus a third app
on the numpy framework), then ``pdm stack deploy oci://... TARGET --app NAME`` app by app into
an empty target. The bytes each step fetched come from the registry's access log: what went over
the wire, not what the client believes it fetched. The runtime is the session's relocatable
CPython in PDM's install root (never downloaded).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pdm_stack.deploy.common import human_size
from tests.fixtures.example_project import (
    example_copy,
    needs_example_series,
    pdm_example_env,
    pdm_run,
)
from tests.fixtures.oci_registry import PASSWORD, USERNAME, Registry, assert_no_secret, fetched
from tests.fixtures.runtimes import clean_env

pytestmark = [needs_example_series, pytest.mark.network]  # the third app's lock resolves on PyPI

#: A third app on the numpy framework: deployed after ``stats``, it fetches no framework bytes.
PEEK_APP = """
[[tool.venvstacks.applications]]
name = "peek"
frameworks = ["numpy"]
launch_module = "src/peek.py"
requirements = []
"""
PEEK = 'import numpy\nprint("peek numpy", numpy.__version__)\n'
RUNTIME, FRAMEWORK = "cpython-3.11", "framework-numpy"


def published_layers(artifacts: Path) -> dict[str, dict[str, Any]]:
    """The published metadata of every layer in ``artifacts``, by install target."""
    combined = json.loads((artifacts / "__venvstacks__/venvstacks.json").read_text())
    return {layer["install_target"]: layer for group in combined["layers"].values() for layer in group}


def archive_bytes(step: dict[str, int]) -> dict[str, int]:
    return {name: size for name, size in step.items() if name != "metadata"}


def run_deployed(target: Path, app: str, module: str) -> str:
    """Run a deployed app as users do (``bin/python -m``), from an unrelated folder."""
    proc = subprocess.run(
        [str(target / f"app-{app}" / "bin/python"), "-m", module],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=target.parent,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_example_project_is_pushed_once_and_deployed_app_by_app(
    start_registry: Any, relocatable_runtime: Path, tmp_path: Path
) -> None:
    registry: Registry = start_registry("basic")
    project = example_copy(tmp_path / "example")
    with (project / "pyproject.toml").open("a") as spec:
        spec.write(PEEK_APP)
    (project / "src/peek.py").write_text(PEEK)
    env = pdm_example_env(tmp_path, relocatable_runtime)
    env.update(PDM_STACK_REGISTRY_USERNAME=USERNAME, PDM_STACK_REGISTRY_PASSWORD=PASSWORD)
    artifacts, target = project / "_artifacts", tmp_path / "target"
    location = registry.location("products/example")

    def pdm(*args: str) -> subprocess.CompletedProcess[str]:
        done = pdm_run(env, "stack", *args, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def publish(tag: str) -> tuple[dict[str, str], str]:
        """Publish and push; the ``blob`` state of each layer, by install target, and the log."""
        done = pdm(
            "publish", "-p", str(project), "--format", "tar.gz", "--to", location, "--tag", tag, "--json"
        )
        registry_doc = json.loads(done.stdout)["registry"]
        assert registry_doc["stack"] == f"{location}:{tag}"
        fields = {"env_name", "install_target", "blob", "digest", "size", "manifest_digest", "tags"}
        assert all(set(layer) == fields for layer in registry_doc["layers"])  # docs/json-output.md
        return {layer["install_target"]: layer["blob"] for layer in registry_doc["layers"]}, done.stderr

    locked = pdm("lock", "-p", str(project))
    assert "app-peek" in locked.stderr
    pdm("build", "-p", str(project))
    first, log = publish("1.0")
    assert log.splitlines()[-1] == (
        f"Published 5 of 5 layer(s) to {artifacts}; pushed 5 layer(s) to {location}:1.0"
        " (5 uploaded, 0 already in the registry)"
    )
    assert first == dict.fromkeys([RUNTIME, FRAMEWORK, "app-stats", "app-hello", "app-peek"], "uploaded")
    published = published_layers(artifacts)
    sizes = {name: int(data["archive_size"]) for name, data in published.items()}

    # App by app into an empty target: each step fetches only the archives the target lacks.
    steps: dict[str, dict[str, int]] = {}
    logs = {}
    for app in ("hello", "stats", "peek"):
        mark = registry.mark()
        logs[app] = pdm("deploy", f"{location}:1.0", str(target), "--app", app).stderr
        steps[app] = fetched(registry, mark, published)
    assert archive_bytes(steps["hello"]) == {RUNTIME: sizes[RUNTIME], "app-hello": sizes["app-hello"]}
    # stats shares the runtime with hello: no runtime bytes, only the framework and itself.
    assert archive_bytes(steps["stats"]) == {FRAMEWORK: sizes[FRAMEWORK], "app-stats": sizes["app-stats"]}
    # peek shares the framework with stats: no framework bytes, only itself.
    assert archive_bytes(steps["peek"]) == {"app-peek": sizes["app-peek"]}
    assert sizes["app-peek"] < 100_000  # shown in kB, not as "0.0 MB"
    assert [line for line in logs["peek"].splitlines() if "fetching" in line] == [
        f"app-peek: fetching {human_size(sizes['app-peek'])} from {location}:1.0"
    ]
    assert f"{FRAMEWORK}: up to date" in logs["peek"]
    assert all(step["metadata"] < 50_000 for step in steps.values()), steps
    assert "bücher.example -> xn--bcher-kva.example" in run_deployed(target, "hello", "hello")
    assert "mean" in run_deployed(target, "stats", "stats_report")
    assert "peek numpy 2." in run_deployed(target, "peek", "peek")

    # One app changes: the rebuild re-pushes only its archive, the update fetches only it.
    hello = project / "src/hello.py"
    hello.write_text(hello.read_text().replace('print(f"hello from', 'print(f"hello v2 from'))
    pdm("build", "-p", str(project))
    second, log = publish("1.1")
    assert log.splitlines()[-1] == (
        f"Published 1 of 5 layer(s) to {artifacts}; pushed 5 layer(s) to {location}:1.1"
        " (1 uploaded, 4 already in the registry)"
    )
    assert {name for name, blob in second.items() if blob == "uploaded"} == {"app-hello"}
    republished = published_layers(artifacts)
    assert republished["app-hello"]["archive_build"] == 2 and republished[RUNTIME]["archive_build"] == 1
    mark = registry.mark()
    pdm("deploy", f"{location}:1.1", str(target), "--app", "hello", "--app", "stats", "--app", "peek")
    steps["hello v2"] = fetched(registry, mark, republished)
    assert archive_bytes(steps["hello v2"]) == {"app-hello": int(republished["app-hello"]["archive_size"])}
    assert "hello v2 from" in run_deployed(target, "hello", "hello")

    # The stdlib deploy script that publish wrote deploys from the registry into an empty target.
    fresh = tmp_path / "fresh"
    mark = registry.mark()
    script = [sys.executable, "-I", str(artifacts / "deploy_stack.py"), f"{location}:1.1", str(fresh)]
    script_env = dict(clean_env(), PDM_STACK_REGISTRY_USERNAME=USERNAME, PDM_STACK_REGISTRY_PASSWORD=PASSWORD)
    done = subprocess.run(
        [*script, "--app", "hello"], capture_output=True, text=True, env=script_env, check=False
    )
    assert done.returncode == 0, done.stderr
    steps["deploy_stack.py hello"] = fetched(registry, mark, republished)
    assert archive_bytes(steps["deploy_stack.py hello"]) == {
        RUNTIME: sizes[RUNTIME],
        "app-hello": int(republished["app-hello"]["archive_size"]),
    }
    assert "hello v2 from" in run_deployed(fresh, "hello", "hello")
    print("bytes fetched per step:", json.dumps(steps))
    # Every file the run made: the project, its builds and artifacts, both targets, PDM's config
    # and cache.
    assert_no_secret(tmp_path)
