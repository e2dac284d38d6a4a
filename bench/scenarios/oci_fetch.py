"""Deploying apps one after another from an OCI registry: bytes fetched against app bundles.

The stack is the torch scenario's (runtime, a torch 2.13 CPU framework, five apps; shared through
``ctx.cache`` when that scenario ran first in the same run); run alone, the scenario builds the
same stack itself (tar.gz only), or with ``--smoke`` or without the torch wheel a small stack of
apps on one framework of small packages. It is pushed with ``publish --to oci://`` to a local
``docker-registry``, then the apps are deployed one at a time into one TARGET with
``deploy oci://... --app``. The bytes the registry served (its access log) are compared with
five standalone app bundles, each holding everything its app needs (runtime, framework, app),
as products without layers ship them.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench import registry
from bench.core import Context, Scenario
from bench.scenarios.torch_stack import APPS, TORCH
from bench.tools import Layer, StackProject
from pdm_stack.deploy.metadata_reader import load_metadata, select_layers

#: Set by the torch scenario: ``(StackProject, published artifacts folder, app names)``.
SHARED = "torch-stack"


def _own_stack(ctx: Context) -> tuple[StackProject, Path, list[str]]:
    wheels = Path(os.environ.get("BENCH_TORCH_WHEELS", "/opt/wheels"))
    if not ctx.smoke and any(wheels.glob("torch-2.13.0+cpu-*.whl")):
        framework, module, prefix, links = (
            Layer("torch", [TORCH]),
            "import torch\n",
            "torch-app",
            [str(wheels)],
        )
    else:
        ctx.note("measured on a small stack (six, attrs): no torch wheel, or --smoke")
        framework, module, prefix, links = Layer("torch", ["six", "attrs"]), "import six\n", "app", []
    apps = [
        Layer(f"{prefix}{n}", [], frameworks=["torch"], modules={f"{prefix.replace('-', '_')}{n}.py": module})
        for n in range(2 if ctx.smoke else APPS)
    ]
    project = StackProject(ctx.work / "stack", [framework], apps, find_links=links).write()
    root, artifacts = project.root, ctx.work / "artifacts"
    for command in (("lock",), ("build",), ("publish", "-o", str(artifacts), "--format", "tar.gz")):
        ctx.measure(command[0], project.tool(*command), cwd=root)
    return project, artifacts, [layer.name for layer in apps]


def run(ctx: Context) -> None:
    if not registry.available():
        ctx.note("skipped: docker-registry is not installed (apt-get install docker-registry)")
        return
    shared = ctx.cache.get(SHARED)
    if shared is None:
        project, artifacts, apps = _own_stack(ctx)
    else:
        project, artifacts, apps = shared
    published = load_metadata(artifacts)
    sizes = {f"sha256:{layer['archive_hashes']['sha256']}": layer for layer in published}
    target = ctx.work / "deployed-from-registry"
    with registry.run_registry(ctx.work / "registry") as reg:
        location = f"oci://{reg.host}/bench/stack"
        push = project.tool("publish", "-o", str(artifacts), "--to", location, "--tag", "1")
        ctx.measure("publish --to oci:// (push)", push, cwd=project.root)
        fetched, per_app = 0, []
        for app in apps:
            mark = reg.mark()
            deploy = project.tool("deploy", f"{location}:1", str(target), "--app", app)
            ctx.measure(f"deploy --app {app} from the registry", deploy, cwd=project.root)
            blobs, manifests = reg.fetched(mark)
            step = sum(blobs.values()) + manifests
            fetched += step
            layers = ", ".join(sizes[d]["install_target"] for d in blobs if d in sizes)
            per_app.append(f"{app}: {step / 1e6:.1f} MB ({layers or 'metadata only'})")
    bundles = sum(layer["archive_size"] for app in apps for layer in select_layers(published, apps=[app]))
    ctx.figure(
        f"bytes fetched to deploy {len(apps)} apps one after another from a registry",
        fetched / 1e6,
        unit="MB",
        baseline=(f"{len(apps)} standalone app bundles (runtime + frameworks + app each)", bundles / 1e6),
        note="; ".join(per_app),
    )


SCENARIO = Scenario(
    name="oci-fetch",
    title="apps deployed one by one from an OCI registry: bytes fetched against standalone bundles",
    run=run,
    order=45,
    smoke=True,
)
