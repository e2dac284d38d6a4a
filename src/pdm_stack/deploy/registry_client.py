"""A small client for OCI registries (the distribution API), with the standard library only.

The standalone deployer must fetch layers from a registry on machines without pdm-stack, so it
cannot use an OCI library; pdm-stack itself uses this same client for publishing, so one
implementation of the protocol is kept (see docs/distribution.md for why not ``oras``).

Authentication follows the registry's challenge: ``Basic`` (htpasswd-style registries) sends the
credentials on every request; ``Bearer`` (GHCR, Docker Hub, Harbor, ...) exchanges them, or
nothing for anonymous pulls, for a token at the challenge's realm, once per scope. Credentials
come from the caller, ``PDM_STACK_REGISTRY_USERNAME``/``..._PASSWORD`` or Docker's
``config.json`` (inline ``auth`` or a credential helper); they are only ever sent in headers,
never logged nor written anywhere. Plain HTTP is used for loopback hosts, or when asked.
Standard library only (see ``common``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

from .common import DeployError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from http.client import HTTPResponse

SCHEME = "oci://"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
USERNAME_ENV = "PDM_STACK_REGISTRY_USERNAME"
PASSWORD_ENV = "PDM_STACK_REGISTRY_PASSWORD"
#: Repository names and tags, as the distribution spec allows them.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*\Z")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}\Z")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}\Z")
_TIMEOUT = 60


class Reference(NamedTuple):
    """``oci://HOST[:PORT]/REPOSITORY[:TAG|@DIGEST]``, split."""

    host: str
    repository: str
    tag: str | None

    def __str__(self) -> str:
        suffix = "" if self.tag is None else ("@" if self.tag.startswith("sha256:") else ":") + self.tag
        return f"{SCHEME}{self.host}/{self.repository}{suffix}"


def is_registry(location: str) -> bool:
    return str(location).startswith(SCHEME)


def parse_reference(text: str) -> Reference:
    """Split a registry location; a one-line error names what is wrong with it."""
    if not is_registry(text):
        raise DeployError(f"'{text}' is not a registry location (oci://HOST[:PORT]/REPOSITORY[:TAG])")
    host, _, path = text[len(SCHEME) :].partition("/")
    tag: str | None = None
    if "@" in path:
        path, _, tag = path.partition("@")
        if not DIGEST.match(tag):
            raise DeployError(f"'{text}': the digest must be sha256:<64 hex digits>")
    elif ":" in path.rsplit("/", 1)[-1]:
        path, _, tag = path.rpartition(":")
        if not TAG.match(tag):
            raise DeployError(f"'{text}': '{tag}' is not a valid tag")
    if not host or not _REPOSITORY.match(path):
        raise DeployError(
            f"'{text}': expected oci://HOST[:PORT]/REPOSITORY[:TAG] with a lower-case repository name"
        )
    return Reference(host, path, tag)


class Credentials(NamedTuple):
    username: str
    password: str

    def __repr__(self) -> str:  # never show the password, even in a traceback
        return f"Credentials(username={self.username!r}, password='***')"

    def basic(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def find_credentials(host: str, environ: Mapping[str, str] | None = None) -> Credentials | None:
    """Credentials for ``host``: the environment first, then Docker's ``config.json``."""
    environ = os.environ if environ is None else environ
    username, password = environ.get(USERNAME_ENV), environ.get(PASSWORD_ENV)
    if username and password:
        return Credentials(username, password)
    return _docker_credentials(host, environ)


def _docker_config(environ: Mapping[str, str]) -> Any:
    folder = Path(environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _docker_credentials(host: str, environ: Mapping[str, str]) -> Credentials | None:
    config = _docker_config(environ)
    names = [host, f"https://{host}", f"http://{host}", f"https://{host}/v1/", f"https://{host}/v2/"]
    auths = config.get("auths") if isinstance(config.get("auths"), dict) else {}
    for name in names:
        entry = auths.get(name)
        if isinstance(entry, dict):
            if isinstance(entry.get("auth"), str) and entry["auth"]:
                try:
                    user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
                except (ValueError, UnicodeDecodeError):
                    continue
                return Credentials(user, password)
            if entry.get("username") and entry.get("password"):
                return Credentials(str(entry["username"]), str(entry["password"]))
    helpers = config.get("credHelpers") if isinstance(config.get("credHelpers"), dict) else {}
    helper = helpers.get(host) or config.get("credsStore")
    return _from_helper(str(helper), host) if helper else None


def _from_helper(helper: str, host: str) -> Credentials | None:
    """Ask ``docker-credential-<helper>`` (the Docker credential helper protocol)."""
    try:
        result = subprocess.run(
            [f"docker-credential-{helper}", "get"], input=host, capture_output=True, text=True, check=False
        )
        data = json.loads(result.stdout) if result.returncode == 0 else None
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and data.get("Username") and data.get("Secret"):
        return Credentials(str(data["Username"]), str(data["Secret"]))
    return None


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="...",scope="..."`` -> ``("bearer", {...})``."""
    scheme, _, rest = header.strip().partition(" ")
    params = dict(re.findall(r'([A-Za-z]+)="([^"]*)"', rest))
    return scheme.lower(), params


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects (registries send blobs from a CDN), but never take the Authorization
    header to another host: a signed CDN URL needs none, and the token is not theirs."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        moved = urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc
        if new is not None and moved:
            new.remove_header("Authorization")
        return new


class RegistryClient:
    """One repository of one registry: the calls publishing and deploying need."""

    def __init__(
        self,
        reference: Reference,
        *,
        credentials: Credentials | None = None,
        insecure: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.reference = reference
        self.host = reference.host
        self.repository = reference.repository
        hostname = urllib.parse.urlsplit(f"//{self.host}").hostname or ""
        plain = insecure or hostname in LOOPBACK_HOSTS or f"[{hostname}]" in LOOPBACK_HOSTS
        self.base = f"{'http' if plain else 'https'}://{self.host}"
        self._credentials = credentials if credentials is not None else find_credentials(self.host, environ)
        self._authorization: str | None = None
        self._opener = urllib.request.build_opener(_SameHostRedirects())
        #: Bytes received in blob and manifest bodies (for reports and benchmarks).
        self.received = 0

    # -- requests ------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"{self.base}/v2/{self.repository}/{path}"

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | Path | None = None,
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> HTTPResponse:
        """Send a request, answering one authentication challenge; the open response.

        Statuses in ``ok`` return the response (the caller closes it); anything else is a
        one-line :class:`DeployError`.
        """
        for attempt in range(2):
            response = self._send(method, url, body, headers or {})
            if response.status in ok:
                return response
            status, challenge = response.status, response.headers.get("Www-Authenticate", "")
            detail = _error_detail(response)
            response.close()
            if status == 401 and challenge and attempt == 0:
                self._answer(challenge)
                continue
            raise DeployError(self._failure(method, url, status, detail))
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self, method: str, url: str, body: bytes | Path | None, headers: dict[str, str]
    ) -> HTTPResponse:
        headers = dict(headers)
        if self._authorization:
            headers["Authorization"] = self._authorization
        stream: BinaryIO | None = None
        data: Any = body
        if isinstance(body, Path):
            stream = body.open("rb")
            data = stream
            headers.setdefault("Content-Length", str(body.stat().st_size))
        elif body is not None:
            headers.setdefault("Content-Length", str(len(body)))
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            return self._opener.open(request, timeout=_TIMEOUT)  # type: ignore[no-any-return]
        except urllib.error.HTTPError as exc:
            return exc  # type: ignore[return-value]  # an HTTPError is a response too
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise DeployError(f"{self.host}: cannot reach the registry at {self.base} ({reason})") from None
        finally:
            if stream is not None:
                stream.close()

    def _answer(self, challenge: str) -> None:
        scheme, params = _challenge(challenge)
        if scheme == "basic":
            if self._credentials is None:
                raise DeployError(self._no_credentials())
            if self._authorization == self._credentials.basic():
                raise DeployError(self._refused())
            self._authorization = self._credentials.basic()
        elif scheme == "bearer" and params.get("realm"):
            self._authorization = "Bearer " + self._token(params)
        else:
            raise DeployError(f"{self.host}: unsupported authentication challenge '{scheme}'")

    def _token(self, params: dict[str, str]) -> str:
        """A token for the challenge's scope from its realm (Basic credentials, or anonymous)."""
        query = {key: params[key] for key in ("service", "scope") if params.get(key)}
        realm = params["realm"]
        if self.base.startswith("https:") and not realm.startswith("https:"):
            # Credentials go to the realm: never in clear text when the registry itself is HTTPS.
            raise DeployError(f"{self.host}: refusing the token service {realm}: it is not HTTPS")
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        headers = {"Accept": "application/json"}
        if self._credentials is not None:
            headers["Authorization"] = self._credentials.basic()
        request = urllib.request.Request(url, headers=headers)
        try:
            with self._opener.open(request, timeout=_TIMEOUT) as response:
                data = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in (401, 403):
                raise DeployError(self._refused() if self._credentials else self._no_credentials()) from None
            raise DeployError(f"{self.host}: the token service {realm} answered {exc.code}") from None
        except (OSError, ValueError) as exc:
            raise DeployError(f"{self.host}: no token from the token service {realm} ({exc})") from None
        token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise DeployError(f"{self.host}: the token service {realm} gave no token")
        return token

    def _no_credentials(self) -> str:
        return (
            f"{self.host}: the registry needs credentials: set {USERNAME_ENV} and {PASSWORD_ENV},"
            " or log in with 'docker login'"
        )

    def _refused(self) -> str:
        assert self._credentials is not None
        return f"{self.host}: the registry refused the credentials of user '{self._credentials.username}'"

    def _failure(self, method: str, url: str, status: int, detail: str) -> str:
        if status == 401:
            return self._refused() if self._credentials else self._no_credentials()
        path = urllib.parse.urlsplit(url).path
        return f"{self.host}: {method} {path} failed with HTTP {status}{detail}"

    # -- the distribution API ----------------------------------------------------------------

    def blob_exists(self, digest: str) -> bool:
        response = self.request("HEAD", self.url(f"blobs/{digest}"), ok=(200, 404))
        response.close()
        return response.status == 200

    def open_blob(self, digest: str) -> HTTPResponse:
        return self.request("GET", self.url(f"blobs/{digest}"))

    def read_blob(self, digest: str, limit: int = 16 << 20) -> bytes:
        """A small blob (a config), checked against its digest."""
        with self.open_blob(digest) as response:
            data = response.read(limit + 1)
        self.received += len(data)
        check_digest(data, digest, f"{self.host}: blob {digest}")
        return data

    def manifest(self, reference: str, accept: tuple[str, ...] = (OCI_MANIFEST, OCI_INDEX)) -> bytes:
        """A manifest or index by tag or digest; by digest, its bytes are checked against it."""
        url = self.url(f"manifests/{reference}")
        with self.request("GET", url, headers={"Accept": ", ".join(accept)}) as response:
            data = response.read(4 << 20)
        self.received += len(data)
        if DIGEST.match(reference):
            check_digest(data, reference, f"{self.host}: manifest {reference}")
        return data

    def find_manifest(self, tag: str, accept: tuple[str, ...] = (OCI_MANIFEST,)) -> bytes | None:
        """A manifest by tag, or None when the tag does not exist."""
        url = self.url(f"manifests/{tag}")
        with self.request("GET", url, headers={"Accept": ", ".join(accept)}, ok=(200, 404)) as response:
            data = response.read(4 << 20) if response.status == 200 else None
        return data

    def upload_blob(self, digest: str, body: bytes | Path) -> None:
        """Monolithic upload: POST for a session, then PUT the bytes with their digest."""
        with self.request("POST", self.url("blobs/uploads/"), body=b"", ok=(202,)) as response:
            location = response.headers.get("Location", "")
        if not location:
            raise DeployError(f"{self.host}: the registry gave no upload location")
        location = urllib.parse.urljoin(self.base + "/", location)
        separator = "&" if "?" in location else "?"
        url = f"{location}{separator}digest={urllib.parse.quote(digest)}"
        headers = {"Content-Type": "application/octet-stream"}
        self.request("PUT", url, body=body, headers=headers, ok=(201,)).close()

    def put_manifest(self, reference: str, data: bytes, media_type: str) -> None:
        url = self.url(f"manifests/{reference}")
        self.request("PUT", url, body=data, headers={"Content-Type": media_type}, ok=(201,)).close()


def check_digest(data: bytes, digest: str, what: str) -> None:
    if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        raise DeployError(f"{what}: the bytes received do not match the digest: refusing them")


def _error_detail(response: Any) -> str:
    """The first message of a registry error body (``{"errors": [{"message": ...}]}``)."""
    try:
        data = json.loads(response.read(65536) or b"null")
        message = data["errors"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError, OSError):
        return ""
    return f": {message}" if isinstance(message, str) else ""
