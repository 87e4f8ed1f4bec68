"""`synthpack check CONFIG.yaml`: find what would stop a pack YAML, before any model loads.

Reports every problem at once, each with the YAML line it comes from:
- keys no LLaMA-Factory argument class (or, for prefix-tuning, synthpack's trainer) knows,
  with close matches; keys written twice; values of the wrong type (`num_train_epochs: many`),
  read as llamafactory-cli reads them (OmegaConf: `1e-4` is a float);
- datasets missing from `<dataset_dir>/dataset_info.json` (close matches and the available
  names) or whose data file is missing; a missing dataset_dir, with the command from the YAML's
  header that builds it;
- an unknown chat template, a missing or unreadable DeepSpeed config;
- whatever LLaMA-Factory's own argument parsing rejects (`get_train_args` for training and
  prediction, `get_infer_args` for export); it reads settings only and loads no model.
"""

from __future__ import annotations

import difflib
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from synthpack.common.errors import SynthpackError
from synthpack.common.files import read_user_text, yaml_key_lines
from synthpack.common.problems import Problem, listed
from synthpack.train.lf_config import (
    field_types,
    llamafactory_export_keys,
    llamafactory_train_keys,
    llamafactory_values,
    parse_override,
    type_mismatch,
)
from synthpack.train.prefix import parse_prefix_config, unsupported_prefix_keys

DATASET_KEYS = ("dataset", "eval_dataset")
# LLaMA-Factory's default when a YAML names no dataset_dir.
DEFAULT_DATASET_DIR = "data"
# dataset_info.json entries that point at a hub or script rather than a local file.
REMOTE_KEYS = ("hf_hub_url", "ms_hub_url", "om_hub_url", "script_url", "cloud_file_name")
# Header commands that build a dataset_dir (quoted in the error when it is missing).
BUILD_COMMANDS = ("synthpack sft ", "synthpack render ")


@dataclass
class CheckResult:
    path: Path
    kind: str  # train (also prediction), export or prefix
    config: dict
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def config_kind(config: dict) -> str:
    """What runs the YAML: `synthpack train prefix`, `llamafactory-cli export` or `... train`."""
    if config.get("finetuning_type") == "prefix":
        return "prefix"
    if "export_dir" in config and not any(
        config.get(k) for k in ("do_train", "do_predict", "do_eval")
    ):
        return "export"
    return "train"


def header_commands(text: str) -> list[str]:
    """The data-building commands in the YAML's leading comments (joined over `\\` lines)."""
    commands, current = [], None
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        body = line.lstrip("#").strip()
        if current is not None:
            current += " " + body.rstrip("\\").strip()
            if not body.endswith("\\"):
                commands.append(current)
                current = None
        elif body.startswith(BUILD_COMMANDS):
            current = body.rstrip("\\").strip()
            if not body.endswith("\\"):
                commands.append(current)
                current = None
    return commands


def _suggest(name: str, options, cutoff: float = 0.6) -> str:
    close = difflib.get_close_matches(name, sorted(options), n=3, cutoff=cutoff)
    return f" Did you mean: {', '.join(close)}?" if close else ""


def _allowed_keys(kind: str) -> set[str]:
    return llamafactory_export_keys() if kind == "export" else llamafactory_train_keys()


def _check_keys(kind: str, config: dict, line_of) -> list[Problem]:
    if kind == "prefix":
        return [Problem(why, line_of(k), k) for k, why in unsupported_prefix_keys(config)]
    allowed = _allowed_keys(kind)
    tool = "llamafactory-cli export" if kind == "export" else "llamafactory-cli train"
    return [
        Problem(f"unknown key (not an argument of {tool}).{_suggest(k, allowed)}", line_of(k), k)
        for k in config
        if k not in allowed
    ]


def argument_classes(kind: str) -> tuple:
    """The dataclasses that parse a YAML of this kind (what `llamafactory-cli` or the prefix
    trainer builds from it)."""
    if kind == "prefix":
        from llamafactory.hparams import DataArguments, ModelArguments
        from llamafactory.hparams.training_args import TrainingArguments

        from synthpack.train.prefix import PrefixArguments

        return (ModelArguments, DataArguments, TrainingArguments, PrefixArguments)
    from llamafactory.hparams.parser import _INFER_ARGS, _TRAIN_ARGS

    return _INFER_ARGS if kind == "export" else _TRAIN_ARGS


def _check_types(kind: str, config: dict, line_of) -> list[Problem]:
    """Values that cannot fit their field (a word where a number goes, a list for a flag)."""
    types = field_types(argument_classes(kind))
    problems = []
    for key, value in config.items():
        why = type_mismatch(value, types[key]) if key in types else None
        if why:
            problems.append(Problem(why, line_of(key), key))
    return problems


def _check_datasets(config: dict, text: str, line_of, cwd: Path) -> list[Problem]:
    names = {
        key: [n.strip() for n in str(config[key]).split(",") if n.strip()]
        for key in DATASET_KEYS
        if config.get(key) not in (None, "", "null")
    }
    if not names:
        return []
    raw_dir = str(config.get("dataset_dir", DEFAULT_DATASET_DIR))
    dataset_dir = Path(raw_dir) if Path(raw_dir).is_absolute() else cwd / raw_dir
    info_path = dataset_dir / "dataset_info.json"
    shown = Path(raw_dir) / "dataset_info.json"  # as the YAML or the command line wrote it
    build = header_commands(text)
    how = (" Build it with: " + " ; ".join(build)) if build else ""
    where = line_of("dataset_dir") or line_of(next(iter(names)))
    if not dataset_dir.is_dir():
        return [
            Problem(
                f"{raw_dir!r} does not exist (relative to {cwd}).{how} Or pass dataset_dir=DIR.",
                where,
                "dataset_dir",
            )
        ]
    if not info_path.is_file():
        return [Problem(f"{info_path} not found.{how}", where, "dataset_dir")]
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [Problem(f"{info_path}: not valid JSON ({exc})", where, "dataset_dir")]
    problems = []
    for key, wanted in names.items():
        for name in wanted:
            entry = info.get(name)
            if entry is None:
                problems.append(
                    Problem(
                        f"dataset {name!r} is not in {shown}.{_suggest(name, info)} "
                        f"Available: {listed(sorted(info)) or 'none'}.{how}",
                        line_of(key),
                        key,
                    )
                )
                continue
            if any(entry.get(k) for k in REMOTE_KEYS):
                continue
            data = dataset_dir / str(entry.get("file_name", ""))
            if not entry.get("file_name") or not data.exists():
                problems.append(
                    Problem(
                        f"dataset {name!r}: its file {data} is missing "
                        f"(file_name in {shown}).{how}",
                        line_of(key),
                        key,
                    )
                )
    return problems


def _check_files(config: dict, line_of, cwd: Path) -> tuple[list[Problem], list[str]]:
    problems, notes = [], []
    template = config.get("template")
    if template is not None:
        from llamafactory.data import TEMPLATES

        if template not in TEMPLATES:
            problems.append(
                Problem(
                    f"unknown LLaMA-Factory template {template!r}."
                    + _suggest(str(template), TEMPLATES),
                    line_of("template"),
                    "template",
                )
            )
    ds = config.get("deepspeed")
    if ds:
        path = Path(ds) if Path(ds).is_absolute() else cwd / ds
        try:
            stage = json.loads(path.read_text(encoding="utf-8"))["zero_optimization"]["stage"]
            notes.append(f"DeepSpeed ZeRO-{stage} ({ds}); launch with FORCE_TORCHRUN=1")
        except OSError:
            problems.append(Problem(f"{path} not found", line_of("deepspeed"), "deepspeed"))
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(
                Problem(
                    f"{path}: not a DeepSpeed config ({exc})", line_of("deepspeed"), "deepspeed"
                )
            )
    return problems, notes


def _run_llamafactory_parser(kind: str, config: dict) -> tuple[list[Problem], list[str]]:
    """LLaMA-Factory's own checks, as `llamafactory-cli` would run them (no model is loaded)."""
    settings = dict(config)
    notes = []
    if kind == "prefix":
        try:
            parse_prefix_config(settings)
        except SynthpackError as exc:
            return [Problem(exc.message, None, None)], notes
        return [], ["parsed by LLaMA-Factory's argument classes (prefix-tuning trainer)"]
    if settings.pop("deepspeed", None):
        # Its parser accepts DeepSpeed only inside a torchrun launch; the file is checked above.
        notes.append("deepspeed left out of LLaMA-Factory's parse (it needs a torchrun launch)")
    try:
        if kind == "export":
            from llamafactory.hparams import get_infer_args

            model_args, *_ = get_infer_args(settings)
            if model_args.export_dir is None:
                raise ValueError("Please specify `export_dir` to save model.")
        else:
            from llamafactory.hparams import get_train_args

            get_train_args(settings)
    except Exception as exc:  # LLaMA-Factory raises ValueError, AssertionError and others
        return [
            Problem(f"LLaMA-Factory rejects it: {type(exc).__name__}: {exc}", None, None)
        ], notes
    notes.append(
        f"parsed by LLaMA-Factory ({'get_infer_args' if kind == 'export' else 'get_train_args'})"
    )
    return [], notes


def check_config(
    path: Path, overrides: list[str] | tuple[str, ...] = (), cwd: Path | None = None
) -> CheckResult:
    """Check one YAML (plus key=value overrides, as given to llamafactory-cli); never raises
    for a bad config: the problems are in the result."""
    path = Path(path)
    cwd = Path(cwd) if cwd else Path(os.getcwd())
    try:
        text = read_user_text(path)
        config = yaml.safe_load(text)
        lines = yaml_key_lines(text)
    except OSError as exc:
        return CheckResult(path, "train", {}, [Problem(f"cannot read: {exc}", None, None)])
    except SynthpackError as exc:  # not UTF-8: the message already names the line and byte
        message = exc.message.split(": ", 1)[-1]
        return CheckResult(path, "train", {}, [Problem(message, None, None)])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        what = getattr(exc, "problem", None) or " ".join(str(exc).split())
        where = f" (column {mark.column + 1})" if mark else ""
        return CheckResult(path, "train", {}, [Problem(f"not valid YAML: {what}{where}", line)])
    if config is None:
        return CheckResult(
            path, "train", {}, [Problem("empty file: no settings (comments only, or nothing)")]
        )
    if not isinstance(config, dict):
        return CheckResult(path, "train", {}, [Problem("expected key: value pairs", 1, None)])
    problems = [
        Problem(
            f"written again (first on line {found[0]}); llamafactory-cli stops at a key "
            "written twice",
            later,
            key,
        )
        for key, found in lines.items()
        for later in found[1:]
    ]
    overridden, good_overrides = set(), []
    for item in overrides:
        try:
            key, value = parse_override(item)
        except Exception as exc:  # SynthpackError: malformed override
            problems.append(Problem(f"command line: {exc}", None, None))
            continue
        config[key] = value
        overridden.add(key)
        good_overrides.append(item)
    # The values as llamafactory-cli reads them (`1e-4` is a float there, a string to PyYAML);
    # their types are checked only then. A key written twice stops its reader.
    read_as_cli = not any(len(found) > 1 for found in lines.values())
    if read_as_cli:
        try:
            config = llamafactory_values(text, good_overrides)
        except Exception as exc:  # OmegaConf refuses what PyYAML took
            problems.append(Problem(f"llamafactory-cli cannot read it: {exc}", None, None))
            read_as_cli = False

    def line_of(key: str) -> int | None:
        return None if key in overridden else (lines.get(key) or [None])[0]

    kind = config_kind(config)
    key_problems = _check_keys(kind, config, line_of)
    problems += key_problems
    type_problems = _check_types(kind, config, line_of) if read_as_cli else []
    problems += type_problems
    problems += _check_datasets(config, text, line_of, cwd)
    file_problems, notes = _check_files(config, line_of, cwd)
    problems += file_problems
    if not read_as_cli:
        notes.append("value types not checked: llamafactory-cli cannot read the file as it is")
    if not key_problems and not type_problems:  # they would only repeat in its message
        parse_problems, parse_notes = _run_llamafactory_parser(kind, config)
        problems += parse_problems
        notes += parse_notes
    problems.sort(key=lambda p: (p.line is None, p.line or 0))
    return CheckResult(path, kind, config, problems, notes)


_LAUNCH = {
    "train": "llamafactory-cli train",
    "export": "llamafactory-cli export",
    "prefix": "synthpack train prefix",
}


def launch_command(result: CheckResult) -> str:
    return f"{_LAUNCH[result.kind]} {result.path}"


@contextmanager
def quiet_llamafactory():
    """LLaMA-Factory and transformers log every parsed setting at INFO; a check needs none.

    Both settings are restored afterwards: `check` also runs inside other programs (the tests,
    a notebook) whose later `llamafactory-cli` runs inherit the environment.
    """
    from transformers.utils import logging

    before_env = os.environ.get("LLAMAFACTORY_VERBOSITY")
    before_level = logging.get_verbosity()
    os.environ.setdefault("LLAMAFACTORY_VERBOSITY", "ERROR")
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(before_level)
        if before_env is None:
            os.environ.pop("LLAMAFACTORY_VERBOSITY", None)
