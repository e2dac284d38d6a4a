"""The one way a layer is built, whatever its kind: the order of the steps lives here.

A runtime layer and a framework or application layer differ in how their folder is made and
what is put into it; they share what makes a build safe and incremental: nothing is done when
the recorded inputs match, the layer is staged beside its final folder and swapped in only
when complete, its console scripts are made relocatable, its layer config is written, its bytecode is
compiled as a deployment compiles it (so export can link instead of compile), and
its build record is written only after the swap (so a record never describes a half-built
layer). :class:`LayerBuilder` runs those steps; each kind supplies only its own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Literal

from pdm_stack.building.build_records import BuildRecord, built_record, retire_previous_folder
from pdm_stack.building.bytecode import compile_layer_bytecode
from pdm_stack.building.scripts import make_scripts_relocatable
from pdm_stack.building.staging import staged_layer

if TYPE_CHECKING:
    from pathlib import Path

    from pdm_stack.building.layer_config import LayerConfig
    from pdm_stack.graph import Layer
    from pdm_stack.reporting import Reporter

BuildOutcome = Literal["built", "up to date"]


class LayerBuilder(ABC):
    """Builds ``<build_dir>/<target>`` for one layer; subclasses fill in the steps."""

    def __init__(self, layer: Layer, build_dir: Path, target: str, reporter: Reporter) -> None:
        self.layer = layer
        self.build_dir = build_dir
        self.target = target
        self.reporter = reporter

    @abstractmethod
    def inputs_hash(self) -> str:
        """Hash of everything the built layer depends on; equal hashes mean nothing to redo."""

    def prepare(self) -> None:
        """Work before staging (e.g. obtaining a runtime); nothing by default."""
        return

    @abstractmethod
    def create(self, staging: Path) -> None:
        """Create the layer's folder ``staging`` with its interpreter and empty site-packages."""

    @abstractmethod
    def install(self, staging: Path) -> list[str]:
        """Install the layer's packages; returns them as ``name==version`` (for the record)."""

    def add(self, staging: Path) -> None:
        """Add what the layer ships besides its packages (app modules, lower-layer links)."""
        return

    @abstractmethod
    def config(self, staging: Path) -> LayerConfig:
        """The layer config describing the staged layer."""

    def check(self, staging: Path) -> None:
        """Start the staged layer once; raise if it does not work. Nothing by default."""
        return

    @abstractmethod
    def record_fields(self) -> dict[str, Any]:
        """The kind's own :class:`BuildRecord` fields (``locked``, ``runtime_source`` ...)."""

    @abstractmethod
    def built_message(self, packages: list[str]) -> str:
        """The line reporting the finished build."""

    def build(self, *, clean: bool = False) -> BuildOutcome:
        env_name = self.layer.env_name
        wanted = self.inputs_hash()
        previous = BuildRecord.read(self.build_dir, env_name)
        current = built_record(self.build_dir, env_name)
        if (
            not clean
            and current is not None
            and current.inputs_hash == wanted
            and current.folder == self.target
        ):
            self.reporter.info(f"{env_name}: up to date")
            return "up to date"
        self.prepare()
        with staged_layer(self.build_dir / self.target) as staging:
            self.create(staging)
            packages = self.install(staging)
            make_scripts_relocatable(staging / "bin", [staging / "bin"])
            self.add(staging)
            self.config(staging).write(staging)
            self.check(staging)
            with self.reporter.step(f"{env_name}: compiling bytecode"):
                compile_layer_bytecode(staging)
        BuildRecord(
            env_name=env_name,
            inputs_hash=wanted,
            packages=packages,
            install_target=self.target,
            bytecode=True,
            **self.record_fields(),
        ).write(self.build_dir)
        self.reporter.info(self.built_message(packages))
        retire_previous_folder(self.build_dir, previous, self.target, self.reporter)
        return "built"
