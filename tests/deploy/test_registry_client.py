"""The standalone registry client: locations, where credentials come from, transport choice."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import threading
from pathlib import Path

import pytest

from pdm_stack.deploy.layer_sources import FolderSource, RegistrySource, open_source
from pdm_stack.deploy.registry_client import (
    Credentials,
    DeployError,
    Reference,
    RegistryClient,
    find_credentials,
    parse_reference,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("oci://ghcr.io/acme/product:2.1.0", Reference("ghcr.io", "acme/product", "2.1.0")),
        ("oci://127.0.0.1:5000/stack", Reference("127.0.0.1:5000", "stack", None)),
        (
            "oci://localhost:5000/a/b/c@sha256:" + "ab" * 32,
            Reference("localhost:5000", "a/b/c", "sha256:" + "ab" * 32),
        ),
    ],
)
def test_locations_are_split_into_host_repository_and_tag(text: str, expected: Reference) -> None:
    assert parse_reference(text) == expected
    assert str(parse_reference(text)) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("oci://ghcr.io/Acme/product:1", "lower-case repository"),
        ("oci://ghcr.io/acme/product:bad tag", "not a valid tag"),
        ("oci://ghcr.io/acme@sha256:123", "sha256:<64 hex digits>"),
        ("oci:///product:1", "lower-case repository"),
    ],
)
def test_bad_locations_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(DeployError, match=message):
        parse_reference(text)


def test_a_registry_stack_needs_a_tag_and_folders_take_no_registry_options(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match=r"name the stack to deploy with :TAG"):
        open_source("oci://127.0.0.1:5000/stack")
    assert isinstance(open_source("oci://127.0.0.1:5000/stack:1"), RegistrySource)
    assert isinstance(open_source(tmp_path), FolderSource)
    with pytest.raises(DeployError, match="apply to registry locations only"):
        open_source(tmp_path, insecure=True)


def test_plain_http_only_for_loopback_or_when_asked() -> None:
    def base(host: str, **kwargs: bool) -> str:
        return RegistryClient(Reference(host, "x", "1"), environ={}, **kwargs).base

    assert base("127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert base("localhost:5000") == "http://localhost:5000"
    assert base("[::1]:5000") == "http://[::1]:5000"
    assert base("ghcr.io") == "https://ghcr.io"
    assert base("registry.internal:5000", insecure=True) == "http://registry.internal:5000"


def _docker_config(folder: Path, data: dict[str, object]) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(data))
    return {"DOCKER_CONFIG": str(folder), "PATH": os.environ.get("PATH", "")}


def test_credentials_from_the_environment_win_over_docker_config(tmp_path: Path) -> None:
    auth = base64.b64encode(b"docker-user:docker-pass").decode()
    env = _docker_config(tmp_path / "docker", {"auths": {"ghcr.io": {"auth": auth}}})
    assert find_credentials("ghcr.io", env) == Credentials("docker-user", "docker-pass")
    assert find_credentials("quay.io", env) is None
    env.update(PDM_STACK_REGISTRY_USERNAME="env-user", PDM_STACK_REGISTRY_PASSWORD="env-pass")
    assert find_credentials("ghcr.io", env) == Credentials("env-user", "env-pass")
    assert "env-pass" not in repr(find_credentials("ghcr.io", env))


def test_credentials_from_a_docker_credential_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    helper = tmp_path / "bin" / "docker-credential-fake"
    helper.parent.mkdir()
    answer = {"ServerURL": "ghcr.io", "Username": "helper-user", "Secret": "helper-secret"}
    helper.write_text(f"#!/bin/sh\nread host\ncat <<'EOF'\n{json.dumps(answer)}\nEOF\n")
    helper.chmod(0o755)
    env = _docker_config(tmp_path / "docker", {"credHelpers": {"ghcr.io": "fake"}})
    monkeypatch.setenv("PATH", f"{helper.parent}{os.pathsep}{env['PATH']}")
    assert find_credentials("ghcr.io", env) == Credentials("helper-user", "helper-secret")


def test_credentials_never_go_to_a_plain_http_token_service_of_an_https_registry() -> None:
    client = RegistryClient(Reference("ghcr.io", "acme/x", "1"), credentials=Credentials("u", "p"))
    with pytest.raises(
        DeployError, match=r"refusing the token service http://ghcr\.io/token: it is not HTTPS"
    ):
        client._answer('Bearer realm="http://ghcr.io/token",service="ghcr.io",scope="repository:acme/x:pull"')


def test_blob_redirects_to_another_host_do_not_carry_the_credentials() -> None:
    """Registries serve blobs from a CDN: the signed URL needs no Authorization, and must not
    receive the registry's."""
    seen: dict[str, str | None] = {}
    data = b"layer bytes"

    class Cdn(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen["cdn"] = self.headers.get("Authorization")
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Registry(Cdn):
        def do_GET(self) -> None:
            seen["registry"] = self.headers.get("Authorization")
            if seen["registry"] is None:
                self.send_response(401)
                self.send_header("Www-Authenticate", 'Basic realm="test"')
            else:
                self.send_response(307)
                self.send_header("Location", f"http://127.0.0.1:{cdn.server_address[1]}/signed?x=1")
            self.send_header("Content-Length", "0")
            self.end_headers()

    with (
        http.server.ThreadingHTTPServer(("127.0.0.1", 0), Cdn) as cdn,
        http.server.ThreadingHTTPServer(("127.0.0.1", 0), Registry) as registry,
    ):
        for server in (cdn, registry):
            threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            host = f"127.0.0.1:{registry.server_address[1]}"
            client = RegistryClient(Reference(host, "x", "1"), credentials=Credentials("u", "p"))
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            assert client.read_blob(digest) == data
        finally:
            cdn.shutdown()
            registry.shutdown()
    assert seen["registry"] == Credentials("u", "p").basic()
    assert seen["cdn"] is None
