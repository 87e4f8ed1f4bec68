"""Register datasets in a LLaMA-Factory `dataset_info.json`, one entry at a time.

LLaMA-Factory finds a dataset by name in `<dataset_dir>/dataset_info.json` and joins the
entry's `file_name` to `dataset_dir` with `os.path.join`: a relative name is read relative to
dataset_dir, an absolute one is used as is. So data inside dataset_dir is registered with a
relative name (the folder can move), data elsewhere with an absolute path.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_json
from synthpack.common.problems import Problems, located
from synthpack.formats.texts import iter_rows, not_a_file

DATASET_INFO = "dataset_info.json"
ALPACA_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output"}


def alpaca_entry(file_name: str, system: bool = False) -> dict:
    """A dataset_info entry for Alpaca records; `system` maps the per-record system prompt."""
    columns = dict(ALPACA_COLUMNS)
    if system:
        columns["system"] = "system"
    return {"file_name": file_name, "formatting": "alpaca", "columns": columns}


def file_name_for(data_file: Path, dataset_dir: Path) -> str:
    """Relative to dataset_dir when the file lies inside it, absolute otherwise."""
    data_file = Path(data_file).resolve()
    try:
        return data_file.relative_to(Path(dataset_dir).resolve()).as_posix()
    except ValueError:
        return str(data_file)


@contextmanager
def _locked(dataset_dir: Path):
    """Serialise read-modify-write of dataset_info.json between processes on this machine.

    The lock is taken on the folder itself, so no lock file is left behind.
    """
    dataset_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(dataset_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_dataset_info(dataset_dir: Path) -> dict:
    path = Path(dataset_dir) / DATASET_INFO
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except json.JSONDecodeError as err:
        raise SynthpackError(located(path, f"not valid JSON ({err.msg})", err.lineno)) from err
    if not isinstance(data, dict):
        raise SynthpackError(located(path, "expected a JSON object of dataset entries", 1))
    return data


def check_dataset_name(name: str) -> None:
    """A name LLaMA-Factory's `dataset:` list can hold (it splits that list on commas)."""
    if not name or not all(ch.isalnum() or ch in "_-." for ch in name):
        raise SynthpackError(f"dataset name {name!r}: use letters, digits, '_', '-' and '.' only")


def dataset_dir_of(target: Path) -> Path:
    """The dataset_dir a user named: the folder itself, or its dataset_info.json."""
    target = Path(target)
    return target.parent if target.name == DATASET_INFO else target


def register_dataset(dataset_dir: Path, name: str, entry: dict) -> str:
    """Add or replace one entry, leaving every other entry as it was; returns "added"/"updated".

    The file is rewritten atomically under a lock, so a reader (or LLaMA-Factory) never sees
    half a file and two registrations at once do not lose each other's entry.
    """
    check_dataset_name(name)
    if not any(
        key in entry for key in ("file_name", "hf_hub_url", "script_url", "cloud_file_name")
    ):
        raise SynthpackError(f"dataset {name!r}: entry needs a 'file_name'")
    dataset_dir = Path(dataset_dir)
    with _locked(dataset_dir):
        info = read_dataset_info(dataset_dir)
        status = "updated" if name in info else "added"
        info[name] = entry
        atomic_write_json(dataset_dir / DATASET_INFO, info, mode=0o644)
    return status


def check_alpaca_file(path: Path, system: bool = False) -> int:
    """Check that a JSON/JSONL file holds Alpaca records; return the record count.

    Every bad record is reported at once, with its line (JSONL) or position (a JSON list).
    """
    path = Path(path)
    if not path.is_file():
        raise SynthpackError(f"{path}: {not_a_file(path, 'data file')}")
    if path.suffix.lower() not in (".json", ".jsonl"):
        raise SynthpackError(f"{path}: Alpaca records must be a .json list or a .jsonl file")
    record = path.suffix.lower() == ".json"
    needed = ["instruction", "output"] + (["system"] if system else [])
    problems, count = Problems(path), 0
    for number, row, problem in iter_rows(path):
        where = {"record": number} if record else {"line": number}
        count += 1
        if problem:
            problems.add(problem, **where)
        for field in [] if problem else needed:
            if not isinstance(row.get(field), str):
                problems.add("missing", field=field, **where)
    problems.raise_if_any()
    if not count:
        raise SynthpackError(f"{path}: empty file (no records)")
    return count


def write_alpaca_dataset(
    dataset_dir: Path, name: str, path: Path, records: list[dict], system: bool = False
) -> str:
    """Write Alpaca records (owner-only, atomically) and register them under `name`."""
    atomic_write_json(path, records)
    return register_dataset(
        dataset_dir, name, alpaca_entry(file_name_for(path, dataset_dir), system)
    )
