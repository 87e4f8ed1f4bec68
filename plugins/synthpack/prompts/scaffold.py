"""`synthpack category new`: add a harm category by adding files, never by editing code.

A new category gets:
1. `templates/categories/<name>.yaml` (definition, negatives, default seed paths);
2. the per-category YAMLs: every `llamafactory_configs/*.yaml` whose `dataset` or
   `eval_dataset` names a dataset of the template category (`hate_...`), copied with the
   category name replaced in the file name, the dataset names and output_dir;
3. registrations in `dataset_info/dataset_info.json` for the datasets those copies name,
   pointing where `synthpack sft build --category <name> --out dataset_info/sft
   --dataset-dir dataset_info` writes them. Only copies that read `dataset_dir: dataset_info`
   need them: the others read a folder such as runs/prompts that the command named in their
   header fills and registers itself.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_text
from synthpack.common.paths import pack_dir
from synthpack.formats.dataset_info import DATASET_INFO, read_dataset_info, register_dataset
from synthpack.prompts.categories import list_categories

# The category whose per-category YAMLs and registrations are the pattern for new ones.
TEMPLATE_CATEGORY = "hate"
# The dataset_dir value of YAMLs that read the pack's own registered datasets.
PACK_DATASET_DIR = "dataset_info"
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


def default_root() -> Path:
    """The pack being edited: the checkout that holds templates/ (not an installed wheel)."""
    templates = pack_dir("templates")
    if templates.parent.name == "pack" and templates.parent.parent.name == "synthpack":
        raise SynthpackError(
            "synthpack is installed as a wheel; run from your fork of the pack with --root DIR"
        )
    return templates.parent


def _token(name: str) -> re.Pattern:
    """The category name as a whole token: `hate` in `hate_v1_sft` or `sft_hate`, not `whatever`."""
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])")


def dataset_names(config: dict) -> list[str]:
    names = []
    for key in ("dataset", "eval_dataset"):
        value = config.get(key)
        if isinstance(value, str):
            names += [n.strip() for n in value.split(",") if n.strip()]
    return names


def per_category_configs(configs_dir: Path, category: str = TEMPLATE_CATEGORY) -> list[Path]:
    """The YAMLs that belong to one category: a dataset they name starts with `<category>_`."""
    found = []
    for path in sorted(Path(configs_dir).glob("*.yaml")):
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if any(n.startswith(f"{category}_") for n in dataset_names(config)):
            found.append(path)
    return found


def category_yaml(name: str, definition: str, title: str, negative_description: str) -> str:
    def block(text: str) -> str:
        return "\n".join("  " + line for line in text.strip().splitlines())

    return (
        f"# Category file scaffolded by `synthpack category new {name}`; edit freely.\n"
        f"# Fields: see templates/categories/hate.yaml and templates/README.md.\n"
        f"name: {name}\n"
        f"title: {json.dumps(title)}\n"
        f"definition: >-\n{block(definition)}\n"
        f"negative_description: >-\n{block(negative_description)}\n"
        f"# Default seed files, relative to dataset_info/. Put your positives at the first path\n"
        f"# (one text per line) or pass --pos / --neg to render and sft build.\n"
        f"seeds:\n"
        f"  positive: [seeds/{name}/positive.txt]\n"
        f"  negative: [seeds/neutral/negative.txt]\n"
    )


def scaffold_category(
    name: str,
    definition: str,
    root: Path | None = None,
    title: str | None = None,
    negative_description: str | None = None,
    force: bool = False,
) -> dict:
    """Write the new category's files under `root`; returns what was written and registered."""
    root = Path(root) if root else default_root()
    templates_dir = root / "templates"
    if not (templates_dir / "categories").is_dir():
        raise SynthpackError(f"{root}: not a synthpack pack (no templates/categories/ folder)")
    if not NAME_PATTERN.match(name):
        raise SynthpackError(
            f"category name {name!r}: use a-z, 0-9 and '_', starting with a letter"
        )
    if not definition or not definition.strip():
        raise SynthpackError("--definition: empty; write what belongs to the category")
    if name in list_categories(templates_dir) and not force:
        raise SynthpackError(
            f"category {name!r} exists: {templates_dir / 'categories' / (name + '.yaml')} "
            "(pass --force to overwrite)"
        )
    title = title or name.replace("_", " ") + " content"
    negative_description = negative_description or (
        f"everyday text on any subject that has nothing to do with {title}."
    )
    category_file = templates_dir / "categories" / f"{name}.yaml"
    text = category_yaml(name, definition, title, negative_description)
    yaml.safe_load(text)  # what we write must parse

    # Every check before the first write: a refusal leaves the pack as it was.
    configs_dir = root / "llamafactory_configs"
    dataset_dir = root / "dataset_info"
    info = read_dataset_info(dataset_dir)
    token = _token(TEMPLATE_CATEGORY)
    copies, entries = [], {}
    for source in per_category_configs(configs_dir):
        target = configs_dir / token.sub(name, source.name)
        if target.exists() and not force:
            raise SynthpackError(f"{target}: exists (pass --force to overwrite)")
        header = f"# Copied from {source.name} by `synthpack category new {name}`.\n"
        copies.append((target, header + token.sub(name, source.read_text(encoding="utf-8"))))
        config = yaml.safe_load(source.read_text(encoding="utf-8"))
        if config.get("dataset_dir") != PACK_DATASET_DIR:
            # Its data lives in a folder the building command fills and registers (runs/...).
            continue
        for pattern in dataset_names(config):
            dataset = token.sub(name, pattern)
            if pattern not in info:
                raise SynthpackError(
                    f"{source}: dataset {pattern!r} is not registered in "
                    f"{dataset_dir / DATASET_INFO}, so there is no entry to copy for {dataset!r}"
                )
            entries[dataset] = {
                **info[pattern],
                "file_name": token.sub(name, info[pattern]["file_name"]),
            }

    atomic_write_text(category_file, text, mode=0o644)
    for target, copied in copies:
        atomic_write_text(target, copied, mode=0o644)
    # Each dataset once (two copies may name the same one): "added" means new to the file.
    registered = {dataset: register_dataset(dataset_dir, dataset, entry)
                  for dataset, entry in entries.items()}  # fmt: skip
    written_configs = [target for target, _ in copies]
    return {
        "category_file": category_file,
        "configs": written_configs,
        "registered": registered,
        "seed_file": dataset_dir / "seeds" / name / "positive.txt",
        "next": next_steps(name, root),
    }


def next_steps(name: str, root: Path) -> str:
    """The commands that use the new category. A pack outside the one synthpack runs from
    needs `--templates ROOT/templates` on every command, or its category is not found."""
    root = Path(root)
    own = root.resolve() == pack_dir("templates").resolve().parent
    templates = "" if own else f" --templates {root / 'templates'}"
    dataset_dir = "dataset_info" if own else str(root / "dataset_info")
    return (
        f"next: put positives (one per line) in {root / 'dataset_info' / 'seeds' / name}"
        f"/positive.txt, then\n"
        f"  synthpack render --category {name}{templates}\n"
        f"  synthpack sft build --category {name}{templates} --out {dataset_dir}/sft "
        f"--dataset-dir {dataset_dir}"
    )
