"""LLaMA-Factory configs as synthpack reads them: a YAML plus `key=value` overrides.

The same rules as `llamafactory-cli`: overrides are parsed as YAML values and later ones win;
the keys it accepts are the fields of its own argument classes.
"""

from __future__ import annotations

import dataclasses
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


def load_config(path: Path, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """The YAML as a dict with key=value overrides applied (later ones win)."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SynthpackError(f"{path}: cannot read the YAML ({exc})") from exc
    if not isinstance(config, dict):
        raise SynthpackError(f"{path}: expected a mapping of keys to values")
    for item in overrides:
        key, value = parse_override(item)
        config[key] = value
    return config


def format_override(key: str, value) -> str:
    """The `key=value` argument for `llamafactory-cli` (booleans as YAML writes them)."""
    if isinstance(value, bool):
        value = str(value).lower()
    return f"{key}={value}"
