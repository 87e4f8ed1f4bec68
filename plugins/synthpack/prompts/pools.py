"""Seed pools: the deduplicated texts of one category, per class, that prompts and SFT
records draw their few-shot examples and answers from."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.labels import POLARITIES
from synthpack.formats.texts import dedupe, read_seeds
from synthpack.prompts.categories import Category
from synthpack.prompts.conditions import group_of

EXAMPLE_LENGTHS = ("short", "long", "any")


@dataclass
class SeedPools:
    """The deduplicated texts of one category, per class, plus what was dropped and why."""

    category: str
    texts: dict[str, list[str]]
    rejects: list[dict] = field(default_factory=list)
    read: int = 0
    sources: list[str] = field(default_factory=list)
    # polarity -> target group -> its texts (seed files named by the category's groups)
    groups: dict[str, dict[str, list[str]]] = field(default_factory=dict)


def load_pools(
    category: Category,
    labelled=(),
    positive=(),
    negative=(),
    extra_positive=(),
    dataset_dir: Path | None = None,
) -> SeedPools:
    """Seed texts of a category: given files, else the category's default seed files.

    `--pos`/`--neg` replace the category's defaults for that class; a labelled file (text +
    label) replaces both. `extra_positive` files are added to the positives (Mix_GPT).
    """
    positive, negative = list(positive), list(negative)
    if not labelled:
        positive = positive or category.seed_paths("pos", dataset_dir)
        negative = negative or category.seed_paths("neg", dataset_dir)
    rows = read_seeds(labelled, positive + list(extra_positive), negative)
    kept, rejects = dedupe(rows)
    texts = {polarity: [r.text for r in kept if r.label == polarity] for polarity in POLARITIES}
    sources = sorted({r.source for r in rows})
    groups: dict[str, dict[str, list[str]]] = {polarity: {} for polarity in POLARITIES}
    for row in kept:
        group = group_of(row.source, category.groups)
        if group is not None:
            groups[row.label].setdefault(group, []).append(row.text)
    return SeedPools(category.name, texts, rejects, len(rows), sources, groups)


def require_pool(pools: SeedPools, polarity: str, category: Category) -> list[str]:
    texts = pools.texts[polarity]
    if not texts:
        key = "positive" if polarity == "pos" else "negative"
        flag = "--pos" if polarity == "pos" else "--neg"
        raise SynthpackError(
            f"category {category.name!r} has no {key} seed texts: {category.path}, field "
            f"'seeds.{key}' lists none; pass {flag} FILE (or --seeds FILE with a label column)"
        )
    return texts


def require_groups(
    pools: SeedPools, polarity: str, condition, category: Category
) -> dict[str, list[str]] | None:
    """The per-group texts of one class when prompts are conditioned on `group`, else None;
    an error when no seed file is named by one of the category's groups."""
    if "group" not in condition:
        return None
    found = pools.groups.get(polarity) or {}
    if not found:
        raise SynthpackError(
            f"condition 'group': no {polarity} seed file of {', '.join(pools.sources)} is named "
            f"by a group of {category.path} (e.g. hate_{next(iter(category.groups))}.txt)"
        )
    return found


def length_filter(texts: list[str], length: str) -> list[str]:
    """SPEC's long vs short examples, relative to the pool: the halves around the median length.

    short: at most the median number of words; long: more than the median; any: all texts.
    A relative split works for any seed set (ToxiGen's sentences are all short in absolute terms).
    """
    if length not in EXAMPLE_LENGTHS:
        raise SynthpackError(
            f"Unknown example length {length!r}. Available: {', '.join(EXAMPLE_LENGTHS)}"
        )
    if length == "any" or not texts:
        return list(texts)
    median = statistics.median(len(t.split()) for t in texts)
    if length == "short":
        return [t for t in texts if len(t.split()) <= median]
    return [t for t in texts if len(t.split()) > median]


def example_candidates(
    pools: dict, keys, example_length: str, shots: int, where, hint: str
) -> dict:
    """Per pool key (None or a group) in `keys`: its texts of `example_length`, the texts a
    prompt's examples are drawn from; a pool with fewer than `shots` of them is refused, named
    by `where(key)`, with `hint` saying what to change."""
    candidates = {}
    for key in keys:
        candidates[key] = length_filter(pools[key], example_length)
        if len(candidates[key]) < shots:
            raise SynthpackError(
                f"{where(key)}: {shots} examples per prompt asked for, but only "
                f"{len(candidates[key])} {example_length} seed texts (of {len(pools[key])}) "
                f"are available; {hint}"
            )
    return candidates
