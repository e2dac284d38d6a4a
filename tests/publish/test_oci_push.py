"""Pushing a published stack to a real registry and deploying it from there, app by app.

The stack: a runtime (a relocatable copy of the running CPython), a framework and two apps on
it, published per the publish contract. Bytes fetched per step come from the registry's
access log, so the test sees what went over the wire, not what the client believes it fetched.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pdm_stack.deploy import standalone_files
from pdm_stack.deploy.layer_sources import RegistrySource
from pdm_stack.deploy.oci_layout import ARCHIVE_MEDIA_TYPES, INDEX_ARTIFACT, LAYER_ARTIFACT, LAYER_CONFIG
from pdm_stack.deploy.registry_client import Credentials, RegistryClient, parse_reference
from pdm_stack.deploy.standalone import DeployError, deploy
from pdm_stack.publish.oci_push import push_stack
from pdm_stack.reporting import PlainReporter
from tests.deploy.stack_factory import (
    APP,
    FRAMEWORK,
    LOCKED_AT,
    RUNTIME,
    _epoch,
    build_layers,
    copy_deployment,
    layer_members,
    layer_metadata,
    make_venv_layer,
    publish_single,
    run_app,
    write_archive,
    write_metadata,
)
from tests.fixtures.oci_registry import (
    PASSWORD,
    USERNAME,
    assert_no_secret,
    blob_bytes,
    fetched,
    uploads,
)
from tests.fixtures.runtimes import clean_env

OTHER = "app-other"
QUIET = {"log": lambda _: None}


def publish_two_apps(
    build_dir: Path, out_dir: Path, rebuilt: tuple[str, ...] = ()
) -> dict[str, dict[str, Any]]:
    """Archives + metadata for runtime, framework, app-demo and app-other; on a second call,
    only the ``rebuilt`` layers get a new archive and the next build number."""
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = {}
    combined = out_dir / "__venvstacks__/venvstacks.json"
    if combined.exists():
        for group in json.loads(combined.read_text())["layers"].values():
            previous.update({layer["install_target"]: layer for layer in group})
    plan = [
        (RUNTIME, "runtime", [], None),
        (FRAMEWORK, "framework", [], None),
        (APP, "application", [FRAMEWORK], "demo_app"),
        (OTHER, "application", [FRAMEWORK], "demo_app"),
    ]
    published = {}
    for name, kind, required, launch in plan:
        archive = out_dir / f"{name}.tar.gz"
        if name in rebuilt or name not in previous:
            write_archive(archive, layer_members(build_dir / name, name, _epoch(LOCKED_AT)))
            data = layer_metadata(archive, name, kind, required, launch_module=launch)
            data["archive_build"] = previous[name]["archive_build"] + 1 if name in previous else 1
        else:
            data = previous[name]
        published[name] = data
    write_metadata(out_dir, list(published.values()))
    for name, data in standalone_files().items():  # deploy_stack_lib/*.py, then deploy_stack.py
        (out_dir / name).parent.mkdir(exist_ok=True)
        (out_dir / name).write_bytes(data)
    return published


@pytest.fixture
def two_app_build(relocatable_runtime: Path, tmp_path: Path) -> Path:
    build_dir = tmp_path / "_build"
    build_layers(relocatable_runtime, build_dir)
    make_venv_layer(
        build_dir,
        OTHER,
        [FRAMEWORK, RUNTIME],
        {"demo_app/__init__.py": "from fwpkg import answer\n", "demo_app/__main__.py": "print('other')\n"},
    )
    return build_dir


def test_apps_deployed_one_by_one_fetch_only_what_the_target_lacks(
    start_registry: Any, two_app_build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = start_registry("basic")
    monkeypatch.setenv("PDM_STACK_REGISTRY_USERNAME", USERNAME)
    monkeypatch.setenv("PDM_STACK_REGISTRY_PASSWORD", PASSWORD)
    artifacts, target = tmp_path / "_artifacts", tmp_path / "target"
    published = publish_two_apps(two_app_build, artifacts)
    location = registry.location("products/stack")
    client = RegistryClient(parse_reference(location))
    steps: dict[str, dict[str, int]] = {}

    mark = registry.mark()
    first = push_stack(client, artifacts, "1.0", PlainReporter())
    assert [layer.uploaded for layer in first.layers] == [True] * 4
    again = push_stack(client, artifacts, "1.0", PlainReporter())
    assert [layer.uploaded for layer in again.layers] == [False] * 4
    assert again.index_digest == first.index_digest  # reproducible manifests and index
    assert len(uploads(registry.requests(mark))) == 8  # 4 archives + 4 configs, once

    stack = f"{location}:1.0"
    for step, apps in [("demo", ["demo"]), ("other", ["other"])]:
        mark = registry.mark()
        deploy(stack, target, apps=apps, **QUIET)
        steps[step] = fetched(registry, mark, published)
    assert run_app(target)["answer"] == 42
    sizes = {name: data["archive_size"] for name, data in published.items()}
    assert {k: v for k, v in steps["demo"].items() if k != "metadata"} == {
        RUNTIME: sizes[RUNTIME],
        FRAMEWORK: sizes[FRAMEWORK],
        APP: sizes[APP],
    }
    # The second app shares runtime and framework: only its own archive (and small JSON) moves.
    assert {k: v for k, v in steps["other"].items() if k != "metadata"} == {OTHER: sizes[OTHER]}
    assert steps["other"]["metadata"] < 20_000
    assert not (target / "__venvstacks__/downloads").exists()

    # Rebuild app-demo only: the re-push uploads only its archive, the update fetches only it.
    module = two_app_build / APP / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    (module / "site-packages/demo_app/extra.py").write_text("REBUILT = True\n")
    republished = publish_two_apps(two_app_build, artifacts, rebuilt=(APP,))
    assert republished[APP]["archive_build"] == 2 and republished[RUNTIME]["archive_build"] == 1
    third = push_stack(client, artifacts, "1.1", PlainReporter())
    assert {layer.install_target for layer in third.layers if layer.uploaded} == {APP}
    mark = registry.mark()
    deploy(f"{location}:1.1", target, apps=["demo", "other"], **QUIET)
    steps["rebuilt demo"] = fetched(registry, mark, republished)
    assert {k: v for k, v in steps["rebuilt demo"].items() if k != "metadata"} == {
        APP: republished[APP]["archive_size"]
    }
    assert (
        target / APP / module.relative_to(two_app_build / APP) / "site-packages/demo_app/extra.py"
    ).exists()
    print("bytes fetched per step:", json.dumps(steps))

    # The stdlib deploy script deploys from the registry too: into a copy of the target
    # without app-other (deploying the runtime once more would only make the test slower).
    fresh = copy_deployment(target, tmp_path / "fresh")
    shutil.rmtree(fresh / OTHER)
    (fresh / f"__venvstacks__/deployed/{OTHER}.json").unlink()
    mark = registry.mark()
    command = [sys.executable, "-I", str(artifacts / "deploy_stack.py"), f"{location}:1.1", str(fresh)]
    env = dict(clean_env(), PDM_STACK_REGISTRY_USERNAME=USERNAME, PDM_STACK_REGISTRY_PASSWORD=PASSWORD)
    proc = subprocess.run([*command, "--app", "other"], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"{RUNTIME}: up to date" in proc.stderr and f"{OTHER}: fetching" in proc.stderr
    fetched_by_script = fetched(registry, mark, republished)
    assert {k: v for k, v in fetched_by_script.items() if k != "metadata"} == {OTHER: sizes[OTHER]}
    assert (fresh / OTHER / "bin/python").exists()
    assert_no_secret(target, fresh, artifacts)


def test_the_artifact_layout_is_what_the_docs_say(start_registry: Any, tmp_path: Path) -> None:
    registry = start_registry("open")
    published = publish_single(tmp_path / "out", "rt", [])
    location = registry.location("layout/stack")
    client = RegistryClient(parse_reference(location))
    push_stack(client, tmp_path / "out", "v1", PlainReporter())
    index = json.loads(client.manifest("v1"))
    assert index["artifactType"] == INDEX_ARTIFACT
    [entry] = index["manifests"]
    assert entry["annotations"]["dev.pdm-stack.layer.needs"] == "rt"
    manifest = json.loads(client.manifest("rt-linux_x86_64-1"))
    assert manifest == json.loads(client.manifest(entry["digest"]))
    assert manifest["artifactType"] == LAYER_ARTIFACT
    assert manifest["config"]["mediaType"] == LAYER_CONFIG
    assert json.loads(client.read_blob(manifest["config"]["digest"])) == published
    [blob] = manifest["layers"]
    assert blob["mediaType"] == ARCHIVE_MEDIA_TYPES["tar.gz"]
    assert blob["digest"] == f"sha256:{published['archive_hashes']['sha256']}"
    assert manifest["annotations"] == {
        "dev.pdm-stack.layer.name": "rt",
        "dev.pdm-stack.layer.kind": "runtime",
        "dev.pdm-stack.layer.install-target": "rt",
        "dev.pdm-stack.layer.platform": "linux_x86_64",
        "dev.pdm-stack.layer.build": "1",
        "dev.pdm-stack.layer.lock-version": "1",
    }
    inspected = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", "--raw", f"docker://{registry.host}/layout/stack:v1"],
        capture_output=True,
        text=True,
        check=False,
    )
    if inspected.returncode == 0:  # skopeo is optional here; when present it must agree
        assert json.loads(inspected.stdout) == index


def test_a_tampered_blob_is_refused_and_nothing_is_deployed(start_registry: Any, tmp_path: Path) -> None:
    registry = start_registry("open")
    published = publish_single(tmp_path / "out", "rt", [])
    location = registry.location("tamper/stack")
    push_stack(RegistryClient(parse_reference(location)), tmp_path / "out", "v1", PlainReporter())
    stored = registry.blob_path(f"sha256:{published['archive_hashes']['sha256']}")
    original = stored.read_bytes()
    data = bytearray(original)
    data[-1] ^= 0xFF  # same size, other bytes: only the digest can tell
    stored.write_bytes(bytes(data))
    target = tmp_path / "target"
    try:
        with pytest.raises(
            DeployError, match=r"does not match its digest.*refusing a modified or truncated blob"
        ):
            deploy(f"{location}:v1", target, **QUIET)
    finally:
        # Blobs are shared by every repository of the session's registry: another test pushing
        # the same bytes (gzip stamps only the second) would find this one and get it tampered.
        stored.write_bytes(original)
    assert not (target / "rt").exists()
    assert not list((target / "__venvstacks__/downloads").glob("*"))


@pytest.mark.parametrize("mode", ["basic", "token"])
def test_wrong_credentials_are_one_line_and_secret_free(
    start_registry: Any, mode: str, tmp_path: Path
) -> None:
    registry = start_registry(mode)
    location = registry.location("auth/stack", "v1")
    good = RegistryClient(parse_reference(location), credentials=Credentials(USERNAME, PASSWORD))
    published = publish_single(tmp_path / "out", "rt", [])
    push_stack(good, tmp_path / "out", "v1", PlainReporter())
    assert good.blob_exists(f"sha256:{published['archive_hashes']['sha256']}")
    # Reading the stack back (a pull scope after the push scope: a new token each time).
    source = RegistrySource(location, credentials=Credentials(USERNAME, PASSWORD))
    assert [layer["install_target"] for layer in source.layers()] == ["rt"]

    wrong = "not-" + PASSWORD
    with pytest.raises(DeployError) as caught:
        RegistrySource(location, credentials=Credentials(USERNAME, wrong)).layers()
    message = str(caught.value)
    assert message == f"{registry.host}: the registry refused the credentials of user '{USERNAME}'"
    assert "\n" not in message and wrong not in message and PASSWORD not in message
    with pytest.raises(DeployError, match="the registry needs credentials"):
        RegistryClient(parse_reference(location), environ={}).manifest("v1")


def test_a_download_kept_from_an_interrupted_deployment_is_reused_only_if_intact(
    start_registry: Any, tmp_path: Path
) -> None:
    registry = start_registry("open")
    published = publish_single(tmp_path / "out", "rt", [])
    location = registry.location("cache/stack")
    push_stack(RegistryClient(parse_reference(location)), tmp_path / "out", "v1", PlainReporter())
    archive = (tmp_path / "out" / "rt.tar.gz").read_bytes()
    kept = tmp_path / "target/__venvstacks__/downloads" / f"{published['archive_hashes']['sha256']}.tar.gz"
    kept.parent.mkdir(parents=True)
    for cached, fetches in [(archive, 0), (archive[:-1] + b"x", 1)]:
        kept.write_bytes(cached)
        source = RegistrySource(f"{location}:v1")
        mark = registry.mark()
        paths = source.fetch(source.layers(), tmp_path / "target", lambda _: None)
        assert paths["rt"].read_bytes() == archive
        assert len(blob_bytes(registry.requests(mark))) == 1 + fetches  # the config, + the archive
