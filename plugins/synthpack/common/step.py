"""The step contract: every step of the data flow is one runner of one shape.

A runner is `run_X(settings, folder, context) -> report`: `settings` is a frozen dataclass
(a `StepSettings`) that holds everything the step needs, input paths included, and declares
the files the step reads (`reads`) and writes into `folder` (`writes`); the report is a
JSON-able dict. `run_step` is the one place that checks the inputs exist, times the runner and
leaves its record, `FOLDER/STEP.step.json` (settings, files read and written, seconds,
peak memory, report). A command builds the settings from its options and calls `run_step`;
the demo is a list of (settings, folder) pairs run through the same function; `synthpack
report` and a resumed demo read the records back, so a hand-run folder and a demo folder read
alike.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import ClassVar, TypeVar

from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_json
from synthpack.common.memory import peak_memory
from synthpack.common.progress import ProgressBar, silent

RECORD_SUFFIX = ".step.json"
RECORD_DEPTH = 3  # how deep below a run folder `find_records` looks


def _quiet(message: str) -> None:
    """Notes nobody reads (library calls, tests)."""


@dataclass(frozen=True)
class Context:
    """What a runner may use besides its settings: a progress bar and a note printer."""

    progress_bar: ProgressBar = silent
    echo: Callable[[str], None] = _quiet


@dataclass(frozen=True)
class StepSettings:
    """Base of every step's settings. Subclasses set `step` and list their inputs and outputs."""

    step: ClassVar[str] = ""
    # Steps whose files this one may replace in the folder it writes (one command's chain:
    # the label check rewrites what clean wrote, a rerun of clean rewrites the checked set).
    shares_files_with: ClassVar[tuple[str, ...]] = ()

    def reads(self) -> dict[str, Path | None]:
        """The files (or folders) the step reads, by role; None: not used this time."""
        return {}

    def writes(self, folder: Path) -> dict[str, Path]:
        """The files the step writes into `folder`, by role."""
        return {}

    def replaces(self, folder: Path) -> set[str]:
        """The input roles the step replaces on purpose when it writes into `folder` (it reads
        them whole first, then writes atomically); every other clash of an output with an
        input is refused (`refuse_clobbering`)."""
        return set()

    def preflight(self, folder: Path) -> None:
        """Fail with a SynthpackError when the step cannot succeed, before anything runs: values
        and targets it can check without doing the work (a registration name, a file it
        updates). Reading or writing data is the runner's job."""

    def record_folder(self, folder: Path) -> Path | None:
        """Where the step's record goes: the folder it writes into, unless that is a shared
        folder the record does not belong in (a LLaMA-Factory dataset_dir); None: nowhere."""
        return Path(folder)

    def as_record(self) -> dict:
        """The settings as JSON-able data (paths as strings, nested settings as dicts)."""
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


def plain(value):
    """`value` as JSON-able data: paths become strings, dataclasses dicts, tuples lists."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, StepSettings):
        return value.as_record()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    return value


S = TypeVar("S", bound=StepSettings)
Runner = Callable[[S, Path, Context], dict]


def record_path(folder: Path, step: str) -> Path:
    return Path(folder) / f"{step}{RECORD_SUFFIX}"


def missing_inputs(settings: StepSettings) -> dict[str, Path]:
    """The declared inputs that do not exist, by role."""
    return {
        role: Path(path)
        for role, path in settings.reads().items()
        if path is not None and not Path(path).exists()
    }


def refuse_clobbering(reads: dict[str, Path | None], writes: dict[str, Path]) -> None:
    """Fail, before any work, when an output would replace an input: a file written that is
    one of the inputs, or an input inside a folder that is written."""
    inputs = {role: Path(p).resolve() for role, p in reads.items() if p is not None}
    clashes = [
        f"--out would overwrite the input {role} ({path}) with {name}"
        for name, written in writes.items()
        for role, path in inputs.items()
        if Path(written).resolve() == path or Path(written).resolve() in path.parents
    ]
    if clashes:
        raise SynthpackError("; ".join(clashes) + ": choose another --out")


def refuse_file_as_folder(writes: dict[str, Path]) -> None:
    """Fail when a file would have to be written below an existing file (an --out that names a
    file where a folder belongs)."""
    for written in writes.values():
        for above in Path(written).parents:
            if above.exists():
                if not above.is_dir():
                    raise SynthpackError(
                        f"{above}: is a file, and the output {Path(written).name} goes in a "
                        "folder there: give a folder (new or existing) as --out"
                    )
                break


def check_outputs(reads: dict[str, Path | None], writes: dict[str, Path]) -> None:
    """The output checks every command makes before any work, steps or not."""
    refuse_clobbering(reads, writes)
    refuse_file_as_folder(writes)


def check_step(settings: StepSettings, folder: Path) -> None:
    """Every check that needs no work: outputs replace no input and go where a folder can be,
    and the step's own `preflight`. `run_step` makes it; a command that runs several steps makes
    it for all of them (`check_steps`) before the first one starts."""
    folder = Path(folder)
    replaced = settings.replaces(folder)
    reads = {role: path for role, path in settings.reads().items() if role not in replaced}
    writes = settings.writes(folder)
    check_outputs(reads, writes)
    refuse_replacing_other_steps(settings, folder, writes)
    settings.preflight(folder)


REGISTRY_ROLES = frozenset({"dataset_info"})  # updated entry by entry by many steps, locked


def refuse_replacing_other_steps(settings: StepSettings, folder: Path, writes: dict) -> None:
    """Fail, before any work, when an output is a file another step wrote (its record, in the
    folder or the one above, lists it): `generate --out` a render's folder would otherwise
    replace the registered prompt set with generated entries. A step may replace its own
    files (a rerun), those of the steps it `shares_files_with`, and a registry."""
    mine = {Path(p).resolve(): role for role, p in writes.items() if role not in REGISTRY_ROLES}
    for place in dict.fromkeys((Path(folder), Path(folder).parent)):
        for path in sorted(place.glob(f"*{RECORD_SUFFIX}")) if place.is_dir() else ():
            record = _load_record(path)
            if record["step"] in (settings.step, *settings.shares_files_with):
                continue
            theirs = record.get("writes") or {}
            for role, written in theirs.items():
                target = Path(written).resolve()
                if role not in REGISTRY_ROLES and target in mine:
                    raise SynthpackError(
                        f"{target}: written by step '{record['step']}' (its record: {path}); "
                        f"this step would replace it with its {mine[target]}: choose another "
                        "--out"
                    )


def check_steps(steps: list[tuple[StepSettings, Path]]) -> None:
    """`check_step` for every step of a command, so a bad later step (a registration name, an
    unreadable dataset_info.json) fails before the first step writes anything. Inputs that an
    earlier step writes need not exist yet; `run_step` checks each step's inputs when it
    starts."""
    for settings, folder in steps:
        check_step(settings, folder)


def run_step(runner: Runner, settings: S, folder: Path, context: Context = Context()) -> dict:
    """Run one step: check its inputs, and that its outputs replace none of them, run it, write
    its record; returns the runner's report."""
    missing = missing_inputs(settings)
    if missing:
        raise SynthpackError(
            f"step '{settings.step}' cannot start: missing input(s): "
            + "; ".join(f"{role}: {path} not found" for role, path in missing.items())
        )
    folder = Path(folder)
    check_step(settings, folder)
    started = time.perf_counter()
    with peak_memory() as peak:
        report = runner(settings, folder, context)
    seconds = round(time.perf_counter() - started, 1)
    record = {
        "step": settings.step,
        "seconds": seconds,
        "peak_rss_gb": None if peak["bytes"] is None else round(peak["bytes"] / 1e9, 2),
        "finished": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
        "settings": settings.as_record(),
        "reads": {k: str(v) for k, v in settings.reads().items() if v is not None},
        "writes": {k: str(v) for k, v in settings.writes(folder).items() if Path(v).exists()},
        "report": plain(report),
    }
    where = settings.record_folder(folder)
    if where is not None and where.is_dir():
        atomic_write_json(record_path(where, settings.step), record)
    return report


def _load_record(path: Path) -> dict:
    """One step record; a file that is not one (broken JSON, a list, a copied-in stray) is an
    error naming it, not a traceback from whoever reads a field of it."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: bad JSON, or bytes that are not UTF-8
        raise SynthpackError(f"{path}: not a readable step record ({exc})") from exc
    if not isinstance(record, dict) or not isinstance(record.get("step"), str):
        raise SynthpackError(
            f"{path}: not a step record (expected a JSON object with a 'step' name); remove "
            "it, or rerun the step that writes it"
        )
    return record


def read_record(folder: Path, name: str) -> dict | None:
    """The record a step left in `folder`, or None."""
    path = record_path(folder, name)
    return _load_record(path) if path.is_file() else None


def find_records(root: Path, depth: int = RECORD_DEPTH) -> list[tuple[Path, dict]]:
    """Every step record in `root` and its subfolders (at most `depth` deep), oldest first:
    what `synthpack report` reads, whether the steps ran in a demo or by hand."""
    root = Path(root)
    found = []
    for level in range(depth + 1):
        pattern = "/".join(["*"] * level + [f"*{RECORD_SUFFIX}"])
        found += [(path.parent, _load_record(path)) for path in root.glob(pattern)]
    return sorted(found, key=lambda item: str(item[1].get("finished", "")))
