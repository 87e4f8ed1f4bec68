"""A demo's plan: named steps, each one runner call or more, built up front from a recipe."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from synthpack.common.step import Runner, StepSettings, read_record, record_path

# The CPU LoRA YAML both demos train with; an embedded model's folder brings its own template.
TRAIN_CONFIG = "smollm2_lora_sft_cpu.yaml"


@dataclass(frozen=True)
class Run:
    """One runner call: what a step does in one folder."""

    runner: Runner
    settings: StepSettings
    folder: Path

    @property
    def record(self) -> dict | None:
        where = self.settings.record_folder(self.folder)
        return read_record(where, self.settings.step) if where else None

    def done(self) -> bool:
        return self.record is not None

    def forget(self) -> None:
        """Remove the record, so the next run of the demo redoes this call."""
        where = self.settings.record_folder(self.folder)
        if where:
            record_path(where, self.settings.step).unlink(missing_ok=True)


@dataclass(frozen=True)
class DemoStep:
    """A named step of the demo: one runner call or more (StereoSet runs base and tuned), or
    none with the reason (`skipped`) when the data lacks what it needs."""

    name: str
    runs: tuple[Run, ...]
    skipped: str | None = None
