"""Evaluation tasks: small YAML files in the pack's eval/ folder that name an evaluation's data
and settings (one file per task, as lm-evaluation-harness keeps them), so that `synthpack eval
mlp --task toxigen_hate` runs the same comparison on every machine.

A task names the `synthpack eval` sub-command it is for (`command`) and that command's option
names (`_` for `-`); paths are relative to the task file. Options given on the command line
win over the task's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from synthpack.common.pack_yaml import find_yaml, header_line, names_in, read_mapping
from synthpack.common.paths import pack_dir
from synthpack.common.problems import Problems, unknown_name

# Per command: the keys a task may set, and which of them are paths.
TASK_KEYS = {
    "mlp": ("train", "eval", "eval_name", "extra_eval", "features", "folds", "bootstrap",
            "seed", "max_epochs", "text_field", "label_field"),
    "stereoset": ("data", "split", "limit"),
}  # fmt: skip
PATH_KEYS = ("train", "eval", "data")
NAMED_PATH_KEYS = ("extra_eval",)  # a mapping NAME: path, as the option's NAME=FILE values


TASKS = "eval"  # the pack folder


def tasks_dir() -> Path:
    return pack_dir(TASKS)


def list_tasks() -> list[str]:
    return names_in(TASKS)


def describe(name: str) -> tuple[str, str]:
    """A shipped task's command and its first header line (what it is for)."""
    path = find_yaml("evaluation task", TASKS, name)
    return str(read_mapping(path, "task").get("command", "?")), header_line(path)


def load_task(
    name_or_file: str | Path, command: str, convert: Callable[[str, object], object] | None = None
) -> dict:
    """The task's settings for `command`, paths resolved against the task file; every problem
    of the file at once. `convert(key, value)` turns each other value into what the command's
    option takes, or raises ValueError saying why it cannot (a wrong type, a value out of
    range), so a bad task fails here, not after the data has been read."""
    path = find_yaml("evaluation task", TASKS, name_or_file)
    fields = read_mapping(path, "task")
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
    for key in (k for k in NAMED_PATH_KEYS if k in fields):
        fields[key] = _named_paths(path, key, fields[key], problems)
    for key in (k for k in allowed if k in fields and k not in PATH_KEYS and convert):
        try:
            fields[key] = convert(key, fields[key])
        except ValueError as exc:
            problems.add(str(exc), field=key)
    problems.raise_if_any()
    return fields


def _named_paths(task: Path, key: str, value, problems: Problems) -> list[str]:
    """A task's `NAME: path` mapping as the option's `NAME=FILE` values, paths resolved
    against the task file."""
    if not isinstance(value, dict):
        problems.add("expected a mapping of NAME: path (e.g. paradetox: transfer_eval.jsonl)",
                     field=key)  # fmt: skip
        return []
    specs = []
    for name, file in value.items():
        resolved = (task.parent / str(file)).resolve()
        if not resolved.exists():
            problems.add(f"{resolved} not found", field=f"{key}.{name}")
        specs.append(f"{name}={resolved}")
    return specs
