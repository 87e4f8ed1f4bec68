"""Small YAML files the pack ships by name (demo recipes in recipes/, evaluation tasks in
eval/): find one by name or take a user's file, read it as a mapping, show its header line."""

from __future__ import annotations

from pathlib import Path

import yaml

from synthpack.common.errors import SynthpackError
from synthpack.common.paths import pack_dir
from synthpack.common.problems import unknown_name


def names_in(folder: str) -> list[str]:
    """The names (file stems) of the YAML files in a pack folder."""
    return sorted(p.stem for p in pack_dir(folder).glob("*.yaml"))


def find_yaml(kind: str, folder: str, name_or_file: str | Path) -> Path:
    """A shipped file by name (`Unknown KIND ...` lists the names), or a .yaml file's path."""
    path = Path(name_or_file)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise SynthpackError(f"{path}: {kind} file not found")
        return path
    if str(name_or_file) not in names_in(folder):
        raise unknown_name(kind, str(name_or_file), names_in(folder))
    return pack_dir(folder) / f"{name_or_file}.yaml"


def read_mapping(path: Path, kind: str) -> dict:
    """The file as a dict of key: value, or one clear error naming the file."""
    try:
        fields = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SynthpackError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(fields, dict):
        raise SynthpackError(f"{path}: a {kind} is a mapping of key: value")
    return fields


def header_line(path: Path) -> str:
    """The file's first comment line: what it is for."""
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""
