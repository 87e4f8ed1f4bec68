"""The pack's prompt templates and category files, loaded by scanning `templates/`.

Templates are data: Jinja files rendered in a strict environment (an undefined variable fails
instead of printing nothing), categories are one YAML file each, so a team adds a harm category
or a template version by adding a file, not by editing code.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from synthpack.errors import SynthpackError
from synthpack.paths import pack_dir

POLARITIES = ("pos", "neg")
POLARITY_ALIASES = {"pos": "pos", "positive": "pos", "neg": "neg", "negative": "neg"}
CATEGORY_FIELDS = {
    "name": "the category's name; equals the file name",
    "title": "how the prompts name the category in running text",
    "definition": "what belongs to the category (V2, V3 positives)",
    "negative_description": "what the negatives are (negative prompts)",
    "seeds": "default seed files {positive: [...], negative: [...]} relative to dataset_info/",
}


def templates_root(templates_dir: Path | None = None) -> Path:
    return Path(templates_dir) if templates_dir else pack_dir("templates")


def unknown_name(kind: str, name: str, available: list[str]) -> SynthpackError:
    """The team's wording for a bad name: suggest the closest and list what exists."""
    close = difflib.get_close_matches(name, available, n=1)
    hint = f" Did you mean: {close[0]}?" if close else ""
    return SynthpackError(
        f"Unknown {kind} {name!r}.{hint} Available: {', '.join(available) or '(none)'}"
    )


@dataclass(frozen=True)
class Category:
    """One harm category, read from `templates/categories/<name>.yaml`."""

    name: str
    title: str
    definition: str
    negative_description: str
    seeds: dict[str, list[str]] = field(default_factory=dict)
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
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        where = f", line {line + 1}" if line is not None else ""
        raise SynthpackError(f"{path}{where}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise SynthpackError(
            f"{path}, line 1: expected a mapping with fields {list(CATEGORY_FIELDS)}"
        )
    problems = []
    for key in data:
        if key not in CATEGORY_FIELDS:
            problems.append(f"field {key!r}: unknown field (allowed: {', '.join(CATEGORY_FIELDS)})")
    for key in ("name", "title", "definition", "negative_description"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"field {key!r}: missing or empty ({CATEGORY_FIELDS[key]})")
    if isinstance(data.get("name"), str) and data["name"] != name:
        problems.append(f"field 'name': {data['name']!r} differs from the file name {name!r}")
    seeds = data.get("seeds") or {}
    if not isinstance(seeds, dict) or set(seeds) - {"positive", "negative"}:
        problems.append("field 'seeds': expected {positive: [files], negative: [files]}")
        seeds = {}
    for key, value in seeds.items():
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"field 'seeds.{key}': expected a list of file paths")
    if problems:
        raise SynthpackError(f"{path}: " + "; ".join(problems))
    return Category(
        name=name,
        title=data["title"].strip(),
        definition=data["definition"].strip(),
        negative_description=data["negative_description"].strip(),
        seeds={k: list(v) for k, v in seeds.items()},
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
            raise SynthpackError(f"{path}: mixture {name!r}: field 'categories' must be a list")
    return data


def list_versions(templates_dir: Path | None = None) -> list[str]:
    """Synthesis template versions: `templates/synthesis/<version>.jinja2`, `_*` files excluded."""
    folder = templates_root(templates_dir) / "synthesis"
    return sorted(p.name[: -len(".jinja2")] for p in folder.glob("*.jinja2") if p.name[0] != "_")


def check_version(version: str, templates_dir: Path | None = None) -> str:
    available = list_versions(templates_dir)
    if version not in available:
        raise unknown_name("version", version, available)
    return version


def check_polarity(polarity: str) -> str:
    if polarity not in POLARITY_ALIASES:
        raise unknown_name("polarity", polarity, list(POLARITY_ALIASES))
    return POLARITY_ALIASES[polarity]


def environment(templates_dir: Path | None = None):
    """A strict Jinja environment over the templates folder (cached: SFT renders thousands)."""
    return _environment(str(templates_root(templates_dir)))


@functools.lru_cache(maxsize=8)
def _environment(folder: str):
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
        auto_reload=False,  # templates do not change during a run
    )


def render_template(relative: str, templates_dir: Path | None = None, **variables) -> str:
    """Render `templates/<relative>`; a missing variable fails with the template's name."""
    import jinja2

    try:
        return environment(templates_dir).get_template(relative).render(**variables).strip()
    except jinja2.UndefinedError as err:
        raise SynthpackError(f"{templates_root(templates_dir) / relative}: {err}") from err
    except jinja2.TemplateNotFound as err:
        raise SynthpackError(
            f"template not found: {templates_root(templates_dir) / relative}"
        ) from err


def stem(category: str, polarity: str, version: str) -> str:
    """The one name of a prompt set: template variant, dataset, output folder and report row."""
    return f"{category}_{polarity}_{version}"


def render_synthesis(
    category: Category,
    version: str,
    polarity: str,
    examples: list[str],
    n_entries: int,
    templates_dir: Path | None = None,
) -> str:
    """The generation prompt of SPEC Pipeline A step 2: role, requirements, few-shot examples."""
    check_version(version, templates_dir)
    polarity = check_polarity(polarity)
    if n_entries < 1:
        raise SynthpackError(f"n_entries must be at least 1, got {n_entries}")
    return render_template(
        f"synthesis/{version}.jinja2",
        templates_dir,
        category=category,
        polarity=polarity,
        examples=list(examples),
        n_entries=n_entries,
    )


def list_debias_systems(templates_dir: Path | None = None) -> list[str]:
    folder = templates_root(templates_dir) / "debias"
    return sorted(p.name[len("system_") : -len(".jinja2")] for p in folder.glob("system_*.jinja2"))


def render_debias_system(kind: str, templates_dir: Path | None = None) -> str:
    available = list_debias_systems(templates_dir)
    if kind not in available:
        raise unknown_name("system prompt", kind, available)
    return render_template(f"debias/system_{kind}.jinja2", templates_dir)


def render_debias_instruction(
    biased_words: list[str] | None = None, templates_dir: Path | None = None
) -> str:
    return render_template(
        "debias/instruction.jinja2", templates_dir, biased_words=list(biased_words or [])
    )


def render_llama2_chat(
    system: str, user: str, response: str = "", templates_dir: Path | None = None
) -> str:
    """SR_LLM's Llama-2 chat layout as one string (as LLaMA-Factory's `llama2` builds it)."""
    return render_template(
        "debias/llama2_chat.jinja2", templates_dir, system=system, user=user, response=response
    )
