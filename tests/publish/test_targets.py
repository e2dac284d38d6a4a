"""Publish targets: picked by location scheme from one registry; tags resolved before any work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pdm_stack.errors import StackError
from pdm_stack.folder_lock import folder_lock
from pdm_stack.publish import oci_push
from pdm_stack.publish.publish import PUBLISH_LOCK, PublishOptions
from pdm_stack.publish.published_metadata import METADATA_DIR
from pdm_stack.publish.targets import PUBLISH_TARGETS, FolderTarget, OciTarget, TargetSettings, open_target
from pdm_stack.reporting import PlainReporter
from tests.publish.fake_layers import publish_layers_of


def test_targets_are_picked_by_scheme_from_one_registry(tmp_path: Path) -> None:
    assert {"": FolderTarget, "oci": OciTarget} == PUBLISH_TARGETS
    assert isinstance(open_target(None), FolderTarget)
    folder = open_target(str(tmp_path / "out"))
    assert isinstance(folder, FolderTarget)
    assert folder.describe(PublishOptions(output_dir=tmp_path / "default")) == str(tmp_path / "out")
    with pytest.raises(StackError, match=r"cannot publish to 's3://' \(known: oci://, or a folder\)"):
        open_target("s3://bucket/stack")


def test_the_stack_tag_comes_from_the_location_or_tag_or_the_project_version() -> None:
    def tag(location: str, **settings: str) -> str | None:
        target = open_target(location, TargetSettings(**settings))  # type: ignore[arg-type]
        assert isinstance(target, OciTarget)
        return target.reference.tag

    assert tag("oci://ghcr.io/acme/product", default_tag="1.2.0") == "1.2.0"
    assert tag("oci://ghcr.io/acme/product:nightly", default_tag="1.2.0") == "nightly"
    assert tag("oci://ghcr.io/acme/product", tag="2.0", default_tag="1.2.0") == "2.0"
    with pytest.raises(StackError, match="no tag for the stack"):
        tag("oci://ghcr.io/acme/product")
    with pytest.raises(StackError, match=r"its tag differs from --tag 2\.0"):
        tag("oci://ghcr.io/acme/product:1.0", tag="2.0")
    with pytest.raises(StackError, match="not a valid OCI tag"):
        tag("oci://ghcr.io/acme/product", default_tag="1.0+local")
    with pytest.raises(StackError, match="lower-case repository"):
        tag("oci://ghcr.io/Acme", default_tag="1")


def test_registry_options_are_refused_for_a_folder(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="--tag and --insecure apply to registry targets"):
        open_target(str(tmp_path), TargetSettings(tag="1.0"))


def test_the_push_happens_while_the_output_folder_is_still_locked(
    start_registry: Any, build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A concurrent publish into the output folder must not change the archives mid-push."""
    registry = start_registry("open")
    out = tmp_path / "out"
    lock = out / METADATA_DIR / PUBLISH_LOCK
    seen: list[str] = []

    def push_and_try_the_lock(*args: Any, **kwargs: Any) -> oci_push.PushResult:
        try:
            with folder_lock(lock, PlainReporter(), activity="concurrent publish", timeout=0.2):
                seen.append("lock was free")
        except StackError as exc:
            seen.append(str(exc))
        return oci_push.push_stack(*args, **kwargs)

    monkeypatch.setattr("pdm_stack.publish.targets.push_stack", push_and_try_the_lock)
    target = open_target(registry.location("locked/stack", "v1"))
    report = target.publish(publish_layers_of(build), PublishOptions(output_dir=out), PlainReporter())
    [message] = seen
    assert "gave up waiting for the other concurrent publish" in message
    assert report.pushed is not None and all(layer.uploaded for layer in report.pushed.layers)
    with folder_lock(lock, PlainReporter(), activity="next publish", timeout=0.2):
        pass  # released once the push is done
