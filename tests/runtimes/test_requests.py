from __future__ import annotations

import pytest

from pdm_stack.runtimes.requests import RuntimeRequest, parse_full_version


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cpython@3.11.7", RuntimeRequest("cpython", "3.11.7", False)),
        ("cpython@3.13.1t", RuntimeRequest("cpython", "3.13.1", True)),
        ("3.12", RuntimeRequest("cpython", "3.12", False)),
        ("3.13t", RuntimeRequest("cpython", "3.13", True)),
        ("CPython@3.11", RuntimeRequest("cpython", "3.11", False)),
        ("  cpython@3.10.14 ", RuntimeRequest("cpython", "3.10.14", False)),
    ],
)
def test_parse(text: str, expected: RuntimeRequest) -> None:
    assert RuntimeRequest.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "expected e.g."),
        ("3", "expected e.g."),
        ("cpython@3.x", "expected e.g."),
        ("3.11.7.1", "expected e.g."),
        ("cpython@", "expected e.g."),
        ("3.11.7-64", "expected e.g."),
        ("pypy@3.10", "'pypy' is not supported"),
    ],
)
def test_parse_rejects_invalid_text(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="invalid Python runtime request") as info:
        RuntimeRequest.parse(text)
    assert repr(text) in str(info.value)
    assert fragment in str(info.value)


@pytest.mark.parametrize("text", ["cpython@3.11.7", "cpython@3.13.1t", "cpython@3.12"])
def test_str_round_trips(text: str) -> None:
    request = RuntimeRequest.parse(text)
    assert str(request) == text
    assert RuntimeRequest.parse(str(request)) == request


def test_is_exact_and_pbs_request() -> None:
    assert RuntimeRequest.parse("3.11.7").is_exact
    assert not RuntimeRequest.parse("3.11").is_exact
    assert RuntimeRequest.parse("3.13t").pbs_request == "3.13t"
    assert RuntimeRequest.parse("cpython@3.11.7").pbs_request == "3.11.7"


@pytest.mark.parametrize(
    ("request_text", "version", "expected"),
    [
        ("3.11", "3.11.7", True),
        ("3.11", "3.11.0", True),
        ("3.11", "3.12.0", False),
        ("3.11", "3.1.11", False),
        ("3.11", "3.11.7t", False),
        ("3.11.7", "3.11.7", True),
        ("3.11.7", "3.11.8", False),
        ("3.11.7", "cpython@3.11.7", True),
        ("3.13t", "3.13.1t", True),
        ("3.13t", "3.13.1", False),
        ("cpython@3.13.1t", "3.13.1t", True),
    ],
)
def test_matches(request_text: str, version: str, expected: bool) -> None:
    assert RuntimeRequest.parse(request_text).matches(version) is expected


@pytest.mark.parametrize("version", ["3.11", "latest", "3.11.7.1", ""])
def test_matches_needs_a_full_version(version: str) -> None:
    with pytest.raises(ValueError, match=r"expected X\.Y\.Z"):
        RuntimeRequest.parse("3.11").matches(version)


def test_install_dir_name_uses_pdm_naming() -> None:
    assert RuntimeRequest.parse("3.11").install_dir_name("3.11.7") == "cpython@3.11.7"
    assert RuntimeRequest.parse("cpython@3.11.7").install_dir_name("3.11.7") == "cpython@3.11.7"
    free_threaded = RuntimeRequest.parse("cpython@3.13t")
    assert free_threaded.install_dir_name("3.13.1") == "cpython@3.13.1t"
    assert free_threaded.install_dir_name("3.13.1t") == "cpython@3.13.1t"


@pytest.mark.parametrize(
    ("request_text", "version"), [("3.11", "3.12.1"), ("3.11.7", "3.11.8"), ("3.11", "3.11.7t")]
)
def test_install_dir_name_rejects_other_versions(request_text: str, version: str) -> None:
    with pytest.raises(ValueError, match="does not satisfy"):
        RuntimeRequest.parse(request_text).install_dir_name(version)


def test_parse_full_version() -> None:
    assert parse_full_version("3.11.7") == ((3, 11, 7), False)
    assert parse_full_version("cpython@3.13.1t") == ((3, 13, 1), True)
