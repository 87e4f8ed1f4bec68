"""`synthpack render`: generation prompts with few-shot examples sampled from seed data.

SPEC Pipeline A step 2. One prompt set per stem (`hate_pos_v2`): the JSONL records that
`synthpack generate` reads, and the same prompts as an Alpaca dataset registered under the
stem, so `llamafactory-cli train ... do_predict=true eval_dataset=<stem>` can generate from it.
"""

from __future__ import annotations

import hashlib
import json
import random
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from synthpack.errors import SynthpackError
from synthpack.files import atomic_write_json, atomic_write_jsonl
from synthpack.register import alpaca_entry, file_name_for, register_dataset
from synthpack.seeds import SeedText, dedupe, read_seeds
from synthpack.templates import Category, load_category, render_synthesis, stem

EXAMPLE_LENGTHS = ("short", "long", "any")
DEFAULT_SHOTS = 5
DEFAULT_N_ENTRIES = 30


@dataclass
class SeedPools:
    """The deduplicated texts of one category, per class, plus what was dropped and why."""

    category: str
    texts: dict[str, list[str]]
    rejects: list[dict] = field(default_factory=list)
    read: int = 0
    sources: list[str] = field(default_factory=list)


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
    rows: list[SeedText] = read_seeds(labelled, positive + list(extra_positive), negative)
    kept, rejects = dedupe(rows)
    texts = {"pos": [r.text for r in kept if r.label == "pos"]}
    texts["neg"] = [r.text for r in kept if r.label == "neg"]
    sources = sorted({r.source for r in rows})
    return SeedPools(category.name, texts, rejects, read=len(rows), sources=sources)


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


def prompt_id(prompt_stem: str, seed: int, index: int, prompt: str) -> str:
    """Stable id: the same template, inputs and seed give the same id on any machine."""
    payload = json.dumps([prompt_stem, seed, index, prompt], ensure_ascii=False)
    return f"{prompt_stem}-{hashlib.sha256(payload.encode('utf-8')).hexdigest()[:12]}"


def render_prompts(
    category: Category,
    version: str,
    polarity: str,
    pool: list[str],
    *,
    shots: int = DEFAULT_SHOTS,
    n_entries: int = DEFAULT_N_ENTRIES,
    n_prompts: int = 10,
    seed: int = 0,
    example_length: str = "short",
    templates_dir: Path | None = None,
) -> list[dict]:
    """Render `n_prompts` prompts, each with `shots` distinct examples sampled from `pool`."""
    prompt_stem = stem(category.name, polarity, version)
    candidates = length_filter(pool, example_length)
    if shots < 0:
        raise SynthpackError(f"shots must be 0 or more, got {shots}")
    if len(candidates) < shots:
        raise SynthpackError(
            f"{prompt_stem}: {shots} examples per prompt asked for, but only {len(candidates)} "
            f"{example_length} seed texts (of {len(pool)}) are available; lower --shots or use "
            "--example-length any"
        )
    # One generator per stem: adding another stem to the call does not change this one's prompts.
    rng = random.Random(f"{seed}:{prompt_stem}")
    records = []
    for index in range(n_prompts):
        examples = rng.sample(candidates, shots)
        prompt = render_synthesis(category, version, polarity, examples, n_entries, templates_dir)
        records.append(
            {
                "id": prompt_id(prompt_stem, seed, index, prompt),
                "stem": prompt_stem,
                "category": category.name,
                "version": version,
                "polarity": polarity,
                "n_entries": n_entries,
                "example_length": example_length,
                "examples": examples,
                "prompt": prompt,
            }
        )
    return records


def write_prompt_set(
    records: list[dict],
    out_dir: Path,
    prompt_stem: str,
    dataset_dir: Path | None = None,
    manifest: dict | None = None,
    rejects: list[dict] | None = None,
) -> dict:
    """Write `<out>/<stem>/prompts.jsonl` + `alpaca.json` and register `<stem>` in dataset_dir.

    dataset_dir defaults to `out_dir`, which then is a LLaMA-Factory dataset_dir of its own.
    """
    folder = Path(out_dir) / prompt_stem
    dataset_dir = Path(dataset_dir) if dataset_dir else Path(out_dir)
    atomic_write_jsonl(folder / "prompts.jsonl", records)
    alpaca = [{"instruction": r["prompt"], "input": "", "output": ""} for r in records]
    atomic_write_json(folder / "alpaca.json", alpaca)
    atomic_write_jsonl(folder / "rejects.jsonl", rejects or [])
    status = register_dataset(
        dataset_dir, prompt_stem, alpaca_entry(file_name_for(folder / "alpaca.json", dataset_dir))
    )
    atomic_write_json(folder / "manifest.json", {"stem": prompt_stem, **(manifest or {})})
    return {"stem": prompt_stem, "folder": folder, "dataset_dir": dataset_dir, "registered": status}


def run_render(
    category_name: str,
    versions: list[str],
    polarities: list[str],
    out_dir: Path,
    *,
    labelled=(),
    positive=(),
    negative=(),
    shots: int = DEFAULT_SHOTS,
    n_entries: int = DEFAULT_N_ENTRIES,
    n_prompts: int = 10,
    seed: int = 0,
    example_length: str = "short",
    dataset_dir: Path | None = None,
    templates_dir: Path | None = None,
) -> list[dict]:
    """Render every (version, polarity) prompt set of one category; returns one row per stem."""
    from synthpack.templates import check_polarity, check_version

    category = load_category(category_name, templates_dir)
    versions = [check_version(v, templates_dir) for v in versions]
    polarities = [check_polarity(p) for p in polarities]
    pools = load_pools(category, labelled, positive, negative)
    rows = []
    for polarity in polarities:
        pool = require_pool(pools, polarity, category)
        class_rejects = [r for r in pools.rejects if r["label"] == polarity]
        for version in versions:
            records = render_prompts(
                category,
                version,
                polarity,
                pool,
                shots=shots,
                n_entries=n_entries,
                n_prompts=n_prompts,
                seed=seed,
                example_length=example_length,
                templates_dir=templates_dir,
            )
            manifest = {
                "category": category.name,
                "version": version,
                "polarity": polarity,
                "prompts": len(records),
                "shots": shots,
                "n_entries": n_entries,
                "example_length": example_length,
                "seed": seed,
                "seed_files": pools.sources,
                "seed_texts_kept": len(pool),
                "seed_rows_rejected": len(class_rejects),
            }
            info = write_prompt_set(
                records,
                out_dir,
                stem(category.name, polarity, version),
                dataset_dir,
                manifest,
                class_rejects,
            )
            rows.append({**info, "prompts": len(records), "pool": len(pool)})
    return rows
