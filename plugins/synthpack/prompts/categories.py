"""Harm categories: one YAML file each in `templates/categories/`, plus named mixtures.

A team adds a category by adding a file (`synthpack category new` scaffolds one), never by
editing code; every problem of a category file is reported at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from synthpack.common.errors import SynthpackError
from synthpack.common.files import yaml_key_lines
from synthpack.common.paths import pack_dir, templates_root
from synthpack.common.problems import Problems, located, unknown_name

CATEGORY_FIELDS = {
    "name": "the category's name; equals the file name",
    "title": "how the prompts name the category in running text",
    "definition": "what belongs to the category (V2, V3 positives)",
    "negative_description": "what the negatives are (negative prompts)",
    "seeds": "default seed files {positive: [...], negative: [...]} relative to dataset_info/",
    "groups": "target groups {name: how prompts name them} that prompts can be conditioned on",
}
GROUP_NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # a group's name, as seed file names spell it


@dataclass(frozen=True)
class Category:
    """One harm category, read from `templates/categories/<name>.yaml`."""

    name: str
    title: str
    definition: str
    negative_description: str
    seeds: dict[str, list[str]] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)  # name -> how prompts name the group
    path: Path | None = None

    def seed_paths(self, polarity: str, dataset_dir: Path | None = None) -> list[Path]:
        """Default seed files of one class, relative to the dataset_info/ folder of the pack
        that holds this category file (a fork's own seeds, not the installed pack's)."""
        if dataset_dir:
            base = Path(dataset_dir)
        elif self.path is not None:
            base = self.path.resolve().parents[2] / "dataset_info"
        else:
            base = pack_dir("dataset_info")
        key = "positive" if polarity == "pos" else "negative"
        return [base / p for p in self.seeds.get(key, [])]


def list_categories(templates_dir: Path | None = None) -> list[str]:
    folder = templates_root(templates_dir) / "categories"
    return sorted(p.stem for p in folder.glob("*.yaml"))


def load_category(name: str, templates_dir: Path | None = None) -> Category:
    """Read and check a category file; report every problem in it at once."""
    available = list_categories(templates_dir)
    if name not in available:
        raise unknown_name("category", name, available)
    path = templates_root(templates_dir) / "categories" / f"{name}.yaml"
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise SynthpackError(located(path, f"not valid YAML: {err}", line)) from err
    if not isinstance(data, dict):
        raise SynthpackError(
            located(path, f"expected a mapping with fields {list(CATEGORY_FIELDS)}", 1)
        )
    lines = {key: found[0] for key, found in yaml_key_lines(text).items()}
    problems = Problems(path, unit="line(s)")

    def add(key: str, message: str) -> None:
        problems.add(message, lines.get(key.split(".")[0]), key)

    for key in data:
        if key not in CATEGORY_FIELDS:
            add(key, f"unknown field (allowed: {', '.join(CATEGORY_FIELDS)})")
    for key in ("name", "title", "definition", "negative_description"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            add(key, f"missing or empty ({CATEGORY_FIELDS[key]})")
    if isinstance(data.get("name"), str) and data["name"] != name:
        add("name", f"{data['name']!r} differs from the file name {name!r}")
    seeds = data.get("seeds") or {}
    if not isinstance(seeds, dict) or set(seeds) - {"positive", "negative"}:
        add("seeds", "expected {positive: [files], negative: [files]}")
        seeds = {}
    for key, value in seeds.items():
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            add(f"seeds.{key}", "expected a list of file paths")
    groups = data.get("groups") or {}
    if not isinstance(groups, dict):
        add("groups", "expected a mapping {name: how prompts name the group}")
        groups = {}
    for key, value in groups.items():
        if not isinstance(key, str) or not GROUP_NAME.match(key):
            add(f"groups.{key}", "a group name is lower case letters, digits and _")
        if not isinstance(value, str) or not value.strip():
            add(f"groups.{key}", "missing or empty (how prompts name the group)")
    problems.raise_if_any()
    return Category(
        name=name,
        title=data["title"].strip(),
        definition=data["definition"].strip(),
        negative_description=data["negative_description"].strip(),
        seeds={k: list(v) for k, v in seeds.items()},
        groups={k: v.strip() for k, v in groups.items()},
        path=path,
    )


def load_mixtures(templates_dir: Path | None = None) -> dict[str, dict]:
    """Named category mixtures for SFT (`templates/mixtures.yaml`)."""
    path = templates_root(templates_dir) / "mixtures.yaml"
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for name, spec in data.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("categories"), list):
            raise SynthpackError(located(path, "must be a list", field=f"{name}.categories"))
    return data
