"""Step 6, register: put a cleaned Alpaca file into a LLaMA-Factory `dataset_info.json`.

The file is checked first; the dataset card beside it (written by the clean step) learns the
name it was registered under."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from synthpack.clean.card import note_registration
from synthpack.common.step import Context, StepSettings
from synthpack.formats.dataset_info import (
    DATASET_INFO,
    alpaca_entry,
    check_alpaca_file,
    check_dataset_name,
    dataset_dir_of,
    file_name_for,
    read_dataset_info,
    register_dataset,
)


def register_file(dataset_dir: Path, name: str, data_file: Path, system: bool = False) -> str:
    """Check an Alpaca file and register it under `name`; see `register_dataset`. A dataset
    card beside the file (written by `synthpack generate`) learns the name."""
    check_alpaca_file(data_file, system=system)
    entry = alpaca_entry(file_name_for(data_file, dataset_dir), system=system)
    status = register_dataset(dataset_dir, name, entry)
    note_registration(data_file, name, dataset_dir)
    return status


@dataclass(frozen=True)
class RegisterSettings(StepSettings):
    """Register `data_file` (Alpaca records; with a `system` field when `system`) as `name`."""

    step = "register"
    name: str
    data_file: Path
    system: bool = False

    def reads(self) -> dict[str, Path | None]:
        return {"data": self.data_file}

    def writes(self, folder: Path) -> dict[str, Path]:
        return {"dataset_info": dataset_dir_of(folder) / DATASET_INFO}

    def preflight(self, folder: Path) -> None:
        """The name, and the dataset_info.json it goes into, before the data is made."""
        check_dataset_name(self.name)
        read_dataset_info(dataset_dir_of(folder))

    def record_folder(self, folder: Path) -> Path | None:
        """Beside the registered file (its set's folder); never in the shared dataset_dir."""
        beside = Path(self.data_file).resolve().parent
        return None if beside == dataset_dir_of(folder).resolve() else beside


def run_register(settings: RegisterSettings, folder: Path, context: Context = Context()) -> dict:
    """Register the file in FOLDER/dataset_info.json (FOLDER is the LLaMA-Factory dataset_dir;
    a path to its dataset_info.json works too)."""
    folder = dataset_dir_of(folder)
    status = register_file(folder, settings.name, settings.data_file, settings.system)
    return {"dataset": settings.name, "dataset_dir": str(folder), "status": status}
