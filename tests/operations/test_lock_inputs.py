"""Which indexes a lock uses, in which order, and how a local folder is identified."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pdm_stack.errors import StackError
from pdm_stack.indexes import PackageIndex
from pdm_stack.operations.lock_inputs import stack_indexes
from pdm_stack.stack import open_stack

if TYPE_CHECKING:
    from pathlib import Path

    from tests.fixtures.specs import SpecWriter

PDM_SOURCES = (
    PackageIndex("pypi", "https://pypi.org/simple"),
    PackageIndex("corp", "https://corp.example/simple"),
)


def test_a_default_uv_index_replaces_pypi_and_is_searched_last(write_spec: SpecWriter) -> None:
    path = write_spec(
        """
        [[tool.uv.index]]
        name = "mirror"
        url = "https://mirror.example/simple"
        default = true

        [[runtimes]]
        name = "rt"
        python_implementation = "cpython@3.11"
        requirements = []
        """,
        base=False,
        name="venvstacks.toml",
    )
    indexes = stack_indexes(open_stack(path), PDM_SOURCES)
    assert [index.name for index in indexes] == ["corp", "mirror"]


def test_a_wheel_folder_counts_relative_to_the_folder_holding_the_locks(write_spec: SpecWriter) -> None:
    # The spec moved below its lock folder's parent (as `pdm stack import` leaves it): same identity.
    path = write_spec(
        """
        [tool.pdm-stack]
        find_links = ["stack/wheels"]
        requirements_dir = "stack/requirements"
        """
    )
    (path.parent / "stack" / "wheels").mkdir(parents=True)
    folder = next(i for i in stack_indexes(open_stack(path), ()) if i.kind == "find_links")
    assert folder.lock_identity == "<project>/wheels"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("htps://corp.example/simple", "scheme 'htps'"),
        ("corp.example/simple", "no scheme"),
        ("https:/corp.example/simple", "no host"),
        ("https://corp.example:pypi/simple", "port"),
        ("https://corp example/simple", "white space"),
    ],
)
def test_a_malformed_index_url_is_named_before_anything_is_locked(
    write_spec: SpecWriter, url: str, reason: str
) -> None:
    """uv reports such an index as one that lacks every package; say what is wrong instead."""
    path = write_spec()
    sources = (PackageIndex("corp", url.replace("://", "://user:secret@", 1)),)
    with pytest.raises(StackError) as caught:
        stack_indexes(open_stack(path), sources)
    message = str(caught.value)
    assert "index 'corp': malformed URL" in message and reason in message, message
    assert "secret" not in message


def test_well_formed_index_urls_pass(write_spec: SpecWriter, tmp_path: Path) -> None:
    sources = (
        PackageIndex("a", "https://user:p%40ss@corp.example:8443/simple/"),
        PackageIndex("b", "http://127.0.0.1:8000/simple"),
        PackageIndex("c", tmp_path.as_uri(), "find_links"),
    )
    assert len(stack_indexes(open_stack(write_spec()), sources)) == 3
