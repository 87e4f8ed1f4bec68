"""Conditioned prompts: each request names a target group and, optionally, attributes.

ToxiGen and ToxiCraft owe their cross-dataset gains to asking for one target group and one
kind of text at a time, spread evenly over all of them: an unconditioned prompt gets the
model's favourite group and form again and again. `condition` names the axes: `group` (the
category's `groups`, with few-shot examples from that group's seed files) and the attribute
axes of `templates/synthesis/attributes.yaml` (tone, form, length); `axis=a|b` asks only for
those values of an axis (`tone=implicit`: ToxiGen's hostility is mostly implicit). Prompt i
takes group i mod G and attribute combination i mod C, each list in a seeded order, so every
group and every combination is asked for equally often (within one).
"""

from __future__ import annotations

import functools
import itertools
import random
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from synthpack.common.errors import SynthpackError
from synthpack.common.paths import templates_root
from synthpack.common.problems import located, unknown_name
from synthpack.prompts.categories import Category

GROUP = "group"
ATTRIBUTES_FILE = "synthesis/attributes.yaml"


@dataclass(frozen=True)
class Condition:
    """What one prompt asks for beyond its template: a group, attribute values."""

    group: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    def target(self, category: Category, templates_dir: Path | None = None) -> dict:
        """The template's `target` variable: the group as prompts name it, and one
        requirement line per attribute."""
        axes = load_attributes(templates_dir)
        return {
            "group": category.groups[self.group] if self.group else None,
            "requirements": [axes[a]["values"][v] for a, v in self.attributes.items()],
        }

    def fields(self) -> dict:
        """The fields a prompt or SFT record carries (what reports count)."""
        return {"target_group": self.group, "attributes": dict(self.attributes)}


@functools.lru_cache(maxsize=4)
def _attributes(path: str) -> dict:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    for axis, spec in data.items():
        values = spec.get("values") if isinstance(spec, dict) else None
        if not isinstance(values, dict) or not values:
            raise SynthpackError(located(Path(path), "expected values: {name: line}", None, axis))
    return data


def load_attributes(templates_dir: Path | None = None) -> dict:
    """The attribute axes: {axis: {"values": {value: requirement line}, "polarities"?}}."""
    path = templates_root(templates_dir) / ATTRIBUTES_FILE
    return _attributes(str(path)) if path.is_file() else {}


def split_axis(text: str) -> tuple[str, tuple[str, ...]]:
    """`tone=implicit|explicit` -> ("tone", ("implicit", "explicit")); `form` -> ("form", ())."""
    axis, _, values = text.partition("=")
    return axis.strip(), tuple(v.strip() for v in values.split("|") if v.strip())


def check_axis_names(axes, templates_dir: Path | None = None) -> tuple[str, ...]:
    """The axes named (`group`, attribute axes, `axis=a|b`), each once, their names and
    values checked; what needs no category (a recipe checks this when it loads)."""
    spec = load_attributes(templates_dir)
    axes = tuple(dict.fromkeys(a.strip() for a in axes if a.strip()))
    parsed = [(text, *split_axis(text)) for text in axes]
    named = [axis for _, axis, _ in parsed]
    for text, axis, values in parsed:
        if axis not in (GROUP, *spec):
            raise unknown_name("condition", axis, [GROUP, *spec])
        if named.count(axis) > 1:
            raise SynthpackError(f"condition: {axis!r} is named twice ({', '.join(axes)})")
        if values and axis == GROUP:
            raise SynthpackError(
                f"condition {text!r}: 'group' takes no values (prompts cycle through every "
                "group that has seed texts)"
            )
        for value in values:
            if value not in spec[axis]["values"]:
                raise unknown_name(f"{axis} value", value, list(spec[axis]["values"]))
    return axes


def check_axes(axes, category: Category, templates_dir: Path | None = None) -> tuple[str, ...]:
    """The axes named, checked; `group` needs the category's groups."""
    axes = check_axis_names(axes, templates_dir)
    if GROUP in axes and not category.groups:
        raise SynthpackError(
            f"condition 'group': category {category.name!r} lists no groups "
            f"({category.path}, field 'groups')"
        )
    return axes


def plan_conditions(
    n: int,
    polarity: str,
    axes: tuple[str, ...],
    category: Category,
    rng: random.Random,
    templates_dir: Path | None = None,
    groups: list[str] | None = None,
) -> list[Condition | None]:
    """One condition per prompt (None each when no axis is named), evenly spread.

    `groups` limits the groups to those that have seed texts (default: all of the category's).
    An attribute axis limited to other polarities is left out of this polarity's prompts; an
    axis named with values (`tone=implicit`) asks only for those.
    """
    if not axes:
        return [None] * n
    spec = load_attributes(templates_dir)
    names = sorted(groups if groups is not None else category.groups)
    rng.shuffle(names)
    chosen = {
        axis: sorted(values or spec[axis]["values"])
        for axis, values in map(split_axis, axes)
        if axis != GROUP and polarity in spec[axis].get("polarities", [polarity])
    }
    combos = list(itertools.product(*chosen.values()))
    rng.shuffle(combos)
    return [
        Condition(
            names[i % len(names)] if GROUP in axes and names else None,
            dict(zip(chosen, combos[i % len(combos)], strict=True)),
        )
        for i in range(n)
    ]


def group_of(source: str, groups) -> str | None:
    """The group a seed file belongs to: the longest group name its file name holds between
    underscores (`hate_mental_disability_sentences.txt` -> `mental_disability`)."""
    stem = f"_{Path(source).stem.lower()}_"
    found = [g for g in groups if f"_{g}_" in stem]
    return max(found, key=len) if found else None
