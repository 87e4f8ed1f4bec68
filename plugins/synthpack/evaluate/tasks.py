"""Evaluation tasks: small YAML files in the pack's eval/ folder that name an evaluation's data
and settings (one file per task, as lm-evaluation-harness keeps them), so that `synthpack eval
mlp --task toxigen_hate` runs the same comparison on every machine.

A task names the `synthpack eval` sub-command it is for (`command`) and that command's option
names (`_` for `-`); paths are relative to the task file. Options given on the command line
win over the task's.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from synthpack.common.errors import SynthpackError
from synthpack.common.paths import pack_dir
from synthpack.common.problems import Problems, unknown_name

# Per command: the keys a task may set, and which of them are paths.
TASK_KEYS = {
    "mlp": ("train", "eval", "features", "folds", "bootstrap", "seed", "max_epochs",
            "text_field", "label_field"),
    "stereoset": ("data", "split", "limit"),
}  # fmt: skip
PATH_KEYS = ("train", "eval", "data")


def tasks_dir() -> Path:
    return pack_dir("eval")


def list_tasks() -> list[str]:
    return sorted(p.stem for p in tasks_dir().glob("*.yaml"))


def task_path(name_or_file: str | Path) -> Path:
    """A shipped task by name, or a task file."""
    path = Path(name_or_file)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise SynthpackError(f"{path}: task file not found")
        return path
    if str(name_or_file) not in list_tasks():
        raise unknown_name("evaluation task", str(name_or_file), list_tasks())
    return tasks_dir() / f"{name_or_file}.yaml"


def describe(name: str) -> tuple[str, str]:
    """A shipped task's command and its first header line (what it is for)."""
    path = task_path(name)
    text = path.read_text(encoding="utf-8")
    first = next((line.lstrip("# ").strip() for line in text.splitlines() if line[:1] == "#"), "")
    return str((yaml.safe_load(text) or {}).get("command", "?")), first


def load_task(name_or_file: str | Path, command: str) -> dict:
    """The task's settings for `command`, paths resolved against the task file; every problem
    of the file at once."""
    path = task_path(name_or_file)
    try:
        fields = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SynthpackError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(fields, dict):
        raise SynthpackError(f"{path}: a task is a mapping of key: value")
    problems = Problems(path, noun="problem(s)")
    meant = fields.pop("command", None)
    if meant != command:
        problems.add(f"this task is for `synthpack eval {meant}`, not `eval {command}`",
                     field="command")  # fmt: skip
    allowed = TASK_KEYS[command]
    for key in sorted(set(fields) - set(allowed)):
        problems.add(unknown_name("key", key, list(allowed)).message, field=key)
    for key in (k for k in PATH_KEYS if k in fields):
        fields[key] = (path.parent / str(fields[key])).resolve()
        if not fields[key].exists():
            problems.add(f"{fields[key]} not found", field=key)
    problems.raise_if_any()
    return fields
