"""LLaMA-Factory configs as synthpack reads them: a YAML plus `key=value` overrides.

The same rules as `llamafactory-cli`: overrides are parsed as YAML values and later ones win;
the keys it accepts are the fields of its own argument classes.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from pathlib import Path

import yaml

from synthpack.common.errors import SynthpackError


def init_fields(cls) -> set[str]:
    """The fields a dataclass accepts in its constructor: the keys an argument class parses."""
    return {f.name for f in dataclasses.fields(cls) if f.init}


def llamafactory_train_keys() -> set[str]:
    """Every key `llamafactory-cli train` accepts."""
    from llamafactory.hparams.parser import _TRAIN_ARGS

    return set().union(*(init_fields(cls) for cls in _TRAIN_ARGS))


def llamafactory_export_keys() -> set[str]:
    """Every key `llamafactory-cli export` accepts."""
    from llamafactory.hparams.parser import _INFER_ARGS

    return set().union(*(init_fields(cls) for cls in _INFER_ARGS))


def parse_override(item: str) -> tuple[str, object]:
    """`key=value` as on the llamafactory-cli command line; the value is read as YAML."""
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise SynthpackError(f"override {item!r}: write key=value")
    return key.strip(), yaml.safe_load(value) if value else ""


def llamafactory_values(text: str, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """The settings as `llamafactory-cli` reads them: OmegaConf's YAML, where `1e-4` is a
    float (plain YAML 1.1 reads a string) and a key written twice is an error, then the
    key=value overrides. Raises OmegaConf's error (or SynthpackError for a malformed override).
    """
    from omegaconf import OmegaConf

    for item in overrides:
        parse_override(item)  # the form: key=value
    merged = OmegaConf.merge(OmegaConf.create(text or "{}"), OmegaConf.from_cli(list(overrides)))
    return OmegaConf.to_container(merged)


def load_config(path: Path, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """The YAML as llamafactory-cli reads it, with key=value overrides applied (later win)."""
    path = Path(path)
    try:
        config = llamafactory_values(path.read_text(encoding="utf-8"), overrides)
    except SynthpackError:
        raise
    except Exception as exc:  # OSError, OmegaConf's YAML and structure errors
        raise SynthpackError(f"{path}: cannot read the YAML ({exc})") from exc
    if not isinstance(config, dict):
        raise SynthpackError(f"{path}: expected a mapping of keys to values")
    return config


def field_types(classes) -> dict[str, object]:
    """{key: annotated type} over argument dataclasses (the first class naming a key wins)."""
    found: dict[str, object] = {}
    for cls in classes:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.init:
                found.setdefault(f.name, hints.get(f.name, typing.Any))
    return found


_SCALARS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _arms(annotation) -> list:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for arm in typing.get_args(annotation) for a in _arms(arm)]
    return [annotation]


def type_mismatch(value, annotation) -> str | None:
    """What a value should have been, when it cannot fit a field of `annotation`; None when
    it fits or the type is not a plain scalar one (lists, dicts, enums, classes go unchecked:
    their parsers check them).

    Hugging Face's `parse_dict` converts nothing, so `num_train_epochs: many` passes every
    parser and fails once training starts; this says so before a model loads.
    """
    wanted, allowed = [], []
    for arm in _arms(annotation):
        if arm is type(None):
            allowed.append(value is None)
            wanted.append("null")
        elif typing.get_origin(arm) is typing.Literal:
            choices = typing.get_args(arm)
            allowed.append(value in choices)
            wanted.append("one of " + ", ".join(map(repr, choices)))
        elif arm in _SCALARS:
            fits = isinstance(value, arm) and (arm is bool or not isinstance(value, bool))
            if arm is float:  # an integer is a number
                fits = isinstance(value, int | float) and not isinstance(value, bool)
            allowed.append(fits)
            wanted.append(_SCALARS[arm])
        elif isinstance(arm, type) and issubclass(arm, enum.Enum):
            allowed.append(isinstance(value, str | arm))
            wanted.append("a string")
        else:
            return None  # a list, dict, class or Any: not checked here
    if any(allowed):
        return None
    return f"expects {' or '.join(dict.fromkeys(wanted))}, got {type(value).__name__} {value!r}"


def format_override(key: str, value) -> str:
    """The `key=value` argument for `llamafactory-cli` (booleans as YAML writes them)."""
    if isinstance(value, bool):
        value = str(value).lower()
    return f"{key}={value}"
