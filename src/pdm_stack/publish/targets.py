"""Where ``pdm stack publish`` puts the layers: one class per kind of place, registered in
:data:`PUBLISH_TARGETS` by location scheme (like hatchling's builders).

Every target first publishes into the output folder: that folder is where archives are made
reproducibly, where unchanged layers are recognised and where build numbers are remembered.
A registry target then pushes what the folder holds. A new kind of place (an S3 bucket, ...)
is a new subclass plus one line in :data:`PUBLISH_TARGETS`.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pdm_stack.deploy.common import DeployError
from pdm_stack.deploy.registry_client import TAG, RegistryClient, parse_reference
from pdm_stack.errors import StackError
from pdm_stack.publish.oci_push import PushResult, push_stack, seed_build_numbers
from pdm_stack.publish.publish import PublishOptions, PublishResult, publish_layers, publish_lock
from pdm_stack.publish.publish_inputs import check_outside_build

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pdm_stack.deploy.registry_client import Credentials
    from pdm_stack.publish.publish_inputs import PublishLayer
    from pdm_stack.reporting import Reporter


@dataclass(frozen=True)
class TargetSettings:
    """What a target may need beyond the folder publish options."""

    #: The stack's tag in a registry (``--tag``) ...
    tag: str | None = None
    #: ... or else this one (the front end passes the project's version).
    default_tag: str | None = None
    credentials: Credentials | None = field(default=None, repr=False)
    #: Plain HTTP to a registry that is not on a loopback address.
    insecure: bool = False


@dataclass(frozen=True)
class PublishReport:
    layers: list[PublishResult]
    #: What a registry target pushed (None for a folder, or a dry run).
    pushed: PushResult | None = None

    @property
    def written(self) -> int:
        """Layers whose archive was (re)written; skipped (unchanged) ones do not count."""
        return sum(1 for result in self.layers if result.outcome in ("published", "unchanged"))


class PublishTarget(ABC):
    """A place to publish to, made from the ``--to`` location."""

    #: The location's scheme (``oci`` for ``oci://...``); ``""`` for a plain folder path.
    scheme: ClassVar[str]

    def __init__(self, location: str | None, settings: TargetSettings) -> None:
        self.location = location
        self.settings = settings

    @abstractmethod
    def publish(
        self, layers: Sequence[PublishLayer], options: PublishOptions, reporter: Reporter
    ) -> PublishReport:
        """Publish ``layers``; ``options.output_dir`` is the output folder."""

    def describe(self, options: PublishOptions) -> str:
        """Where the layers went, for the closing message."""
        return str(options.output_dir)

    def closing_message(self, report: PublishReport, options: PublishOptions) -> str:
        """The last line of a publish: how many layers got a new archive, and where they went."""
        return f"Published {report.written} of {len(report.layers)} layer(s) to {self.describe(options)}"


class FolderTarget(PublishTarget):
    """The output folder itself (``-o``, or ``--to DIR``)."""

    scheme = ""

    def __init__(self, location: str | None, settings: TargetSettings) -> None:
        super().__init__(location, settings)
        if settings.tag or settings.insecure:
            raise StackError("--tag and --insecure apply to registry targets (--to oci://...) only")

    def _options(self, options: PublishOptions) -> PublishOptions:
        if self.location is None:
            return options
        return dataclasses.replace(options, output_dir=Path(self.location).absolute())

    def publish(
        self, layers: Sequence[PublishLayer], options: PublishOptions, reporter: Reporter
    ) -> PublishReport:
        return PublishReport(publish_layers(layers, self._options(options), reporter))

    def describe(self, options: PublishOptions) -> str:
        return str(self._options(options).output_dir)


class OciTarget(PublishTarget):
    """An OCI registry: ``oci://HOST[:PORT]/REPOSITORY[:TAG]``; the output folder is the staging."""

    scheme = "oci"

    def __init__(self, location: str | None, settings: TargetSettings) -> None:
        super().__init__(location, settings)
        try:
            reference = parse_reference(str(location))
        except DeployError as exc:
            raise StackError(str(exc)) from None
        tag = settings.tag or reference.tag or settings.default_tag
        if settings.tag and reference.tag and settings.tag != reference.tag:
            raise StackError(f"{location}: its tag differs from --tag {settings.tag}; give only one")
        if not tag:
            raise StackError(f"{location}: no tag for the stack: add :TAG or --tag (or a project version)")
        if not TAG.match(tag):
            raise StackError(f"'{tag}' is not a valid OCI tag (letters, digits, '.', '_', '-'; max 128)")
        self.reference = reference._replace(tag=tag)

    def publish(
        self, layers: Sequence[PublishLayer], options: PublishOptions, reporter: Reporter
    ) -> PublishReport:
        if options.dry_run:
            results = publish_layers(layers, options, reporter)
            reporter.info(f"would push the published layers to {self.reference}")
            return PublishReport(results)
        client = RegistryClient(
            self.reference, credentials=self.settings.credentials, insecure=self.settings.insecure
        )
        tag = self.reference.tag
        assert tag is not None
        # One lock around seeding, publishing and pushing: a concurrent publish into the same
        # folder would otherwise change archives and metadata while they are being pushed.
        check_outside_build(options.output_dir, layers)  # before the lock file is made there
        try:
            with publish_lock(options.output_dir, reporter):
                seed_build_numbers(client, layers, options)
                results = publish_layers(layers, options, reporter, locked=True)
                pushed = push_stack(client, options.output_dir, tag, reporter)
        except DeployError as exc:
            raise StackError(str(exc)) from None
        return PublishReport(results, pushed)

    def describe(self, options: PublishOptions) -> str:
        return str(self.reference)

    def closing_message(self, report: PublishReport, options: PublishOptions) -> str:
        """Archives written and layers pushed are separate counts: an unchanged layer is skipped
        in the output folder but still part of the pushed stack (usually already present)."""
        folder = f"Published {report.written} of {len(report.layers)} layer(s) to {options.output_dir}"
        if report.pushed is None:
            return folder
        uploaded = sum(1 for layer in report.pushed.layers if layer.uploaded)
        present = len(report.pushed.layers) - uploaded
        return (
            f"{folder}; pushed {len(report.pushed.layers)} layer(s) to {report.pushed.stack}"
            f" ({uploaded} uploaded, {present} already in the registry)"
        )


#: Every kind of publish target, by location scheme.
PUBLISH_TARGETS: dict[str, type[PublishTarget]] = {cls.scheme: cls for cls in (FolderTarget, OciTarget)}


def open_target(location: str | None, settings: TargetSettings | None = None) -> PublishTarget:
    """The target for a ``--to`` location: ``SCHEME://...`` by scheme, anything else a folder."""
    settings = settings or TargetSettings()
    scheme = location.split("://", 1)[0] if location and "://" in location else ""
    target = PUBLISH_TARGETS.get(scheme)
    if target is None:
        known = ", ".join(f"{name}://" for name in PUBLISH_TARGETS if name)
        raise StackError(f"{location}: cannot publish to '{scheme}://' (known: {known}, or a folder)")
    return target(location, settings)
