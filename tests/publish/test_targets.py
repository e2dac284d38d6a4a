"""Publish targets: picked by location scheme from one registry; tags resolved before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from pdm_stack.errors import StackError
from pdm_stack.publish.publish import PublishOptions
from pdm_stack.publish.targets import PUBLISH_TARGETS, FolderTarget, OciTarget, TargetSettings, open_target


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
