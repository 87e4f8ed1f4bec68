"""The pack's prompt templates, loaded by scanning `templates/`.

Templates are data: Jinja files rendered in a strict environment (an undefined variable fails
instead of printing nothing), so a team adds a template version by adding a file, not by
editing code. Category files are read by `synthpack.prompts.categories`.
"""

from __future__ import annotations

import functools
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.labels import NEGATIVE_WORDS, POSITIVE_WORDS, polarity_of, version_of
from synthpack.common.paths import templates_root
from synthpack.common.problems import unknown_name
from synthpack.prompts.categories import Category


def list_versions(templates_dir: Path | None = None) -> list[str]:
    """Synthesis template versions: `templates/synthesis/<version>.jinja2`, `_*` files excluded."""
    folder = templates_root(templates_dir) / "synthesis"
    return sorted(p.name[: -len(".jinja2")] for p in folder.glob("*.jinja2") if p.name[0] != "_")


def check_version(version: str, templates_dir: Path | None = None) -> str:
    """The version a spelling names (`v2`, `V2`, `2`), or an error listing those that exist."""
    available = list_versions(templates_dir)
    found = version_of(version, available)
    if found is None:
        raise unknown_name("version", str(version), available)
    return found


def check_polarity(polarity: str) -> str:
    """ "pos" / "neg" for any label spelling of `synthpack.common.labels`."""
    found = polarity_of(polarity)
    if found is None:
        raise unknown_name("polarity", polarity, sorted(POSITIVE_WORDS | NEGATIVE_WORDS))
    return found


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


def numbered(entries: list[str]) -> str:
    """The answer layout the synthesis prompts ask for: `1. ...`, one entry per line."""
    return "\n".join(f"{i}. {entry}" for i, entry in enumerate(entries, start=1))


def render_synthesis(
    category: Category,
    version: str,
    polarity: str,
    examples: list[str],
    n_entries: int,
    templates_dir: Path | None = None,
    target: dict | None = None,
) -> str:
    """The generation prompt of SPEC Pipeline A step 2: role, requirements, few-shot examples;
    `target` (a `Condition.target`) adds a conditioned prompt's group and attribute lines."""
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
        target=target,
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
