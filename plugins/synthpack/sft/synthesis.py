"""`synthpack sft build`: Alpaca SFT data for the synthesis model (SPEC Pipeline A step 4).

An SFT record pairs a generation prompt (rendered with few-shot examples of one class) with an
answer made of N real seed texts of the same class, numbered, none of them among the prompt's
examples. Positives and negatives are balanced; a mixture spreads them over several
categories. Seed texts are split into train and validation pools first (by normalised text,
across all categories), so no text appears on both sides.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_json, atomic_write_jsonl, atomic_write_rejects
from synthpack.common.labels import POLARITIES
from synthpack.common.problems import unknown_name
from synthpack.common.step import Context, StepSettings
from synthpack.common.text import text_key
from synthpack.formats.dataset_info import read_dataset_info, write_alpaca_dataset
from synthpack.prompts.categories import Category, list_categories, load_category, load_mixtures
from synthpack.prompts.conditions import check_axes, plan_conditions
from synthpack.prompts.pools import SeedPools, example_candidates, load_pools, require_pool
from synthpack.prompts.render import DEFAULT_N_ENTRIES, DEFAULT_SHOTS, prompt_id
from synthpack.prompts.templates import check_version, numbered, render_synthesis

DEFAULT_PER_CLASS = 3000
DEFAULT_VAL_RATIO = 0.1


def sft_stem(name: str, versions: list[str]) -> str:
    """`hate_v1_sft`, `mixture_v1_v3_sft`: names the output folder and, with _train/_val, the
    registered datasets."""
    return f"{name}_{'_'.join(versions)}_sft"


def spread(total: int, parts: int) -> list[int]:
    """Split `total` records over `parts` categories as evenly as possible."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def split_pools(
    pools: dict[str, SeedPools], val_ratio: float, need: int, rng: random.Random
) -> dict[tuple[str, str], dict[str, list[str]]]:
    """Assign every distinct text to train or validation once, for all categories and classes.

    A text shared by two pools (e.g. a negatives file used by every category) keeps one side,
    so nothing crosses the split. Each pool gets at least `need` validation texts when
    val_ratio > 0, so one validation record can be built from it.
    """
    side: dict[str, str] = {}
    result = {}
    for name, seed_pools in pools.items():
        for polarity in POLARITIES:
            texts = seed_pools.texts[polarity]
            fresh = [t for t in texts if text_key(t) not in side]
            rng.shuffle(fresh)
            already_val = sum(1 for t in texts if side.get(text_key(t)) == "val")
            target = max(math.ceil(len(texts) * val_ratio), need) if val_ratio > 0 else 0
            for text in fresh:
                if already_val < target:
                    side[text_key(text)] = "val"
                    already_val += 1
                else:
                    side[text_key(text)] = "train"
            result[(name, polarity)] = {
                s: [t for t in texts if side[text_key(t)] == s] for s in ("train", "val")
            }
    return result


def build_records(
    category: Category,
    polarity: str,
    pool: list[str],
    count: int,
    versions: list[str],
    *,
    split: str,
    shots: int,
    n_entries: int,
    example_length: str,
    rng: random.Random,
    seed: int,
    templates_dir: Path | None = None,
    groups: dict[str, list[str]] | None = None,
) -> list[dict]:
    """`count` SFT records of one category and class; versions are used in turn.

    With `groups` (group -> its texts, from `SeedPools.groups`) each record is conditioned on
    one group, spread evenly, and its examples and answer come from that group's texts in
    `pool`: the model learns to write about the group a prompt names. Attributes (tone, form)
    are asked for at generation only: the seeds do not vary in them."""
    keys = {t: text_key(t) for t in pool}
    members = {g: {text_key(t) for t in texts} for g, texts in (groups or {}).items()}
    pools = {None: pool} | {g: [t for t in pool if keys[t] in m] for g, m in members.items()}
    plan = plan_conditions(
        count, polarity, ("group",) if groups else (), category, rng, templates_dir,
        [g for g, texts in pools.items() if g and len(texts) >= shots + n_entries],
    )  # fmt: skip
    if groups and not any(c and c.group for c in plan):
        raise SynthpackError(
            f"{category.name} {polarity} ({split}): condition 'group' needs a group with "
            f"{shots + n_entries} texts ({shots} examples + {n_entries} entries); none has"
        )
    used = list(dict.fromkeys(c.group if c else None for c in plan))

    def where(key: str | None) -> str:
        return f"{category.name} {polarity} ({split})" + (f", group {key!r}" if key else "")

    candidates = example_candidates(
        pools, used, example_length, shots, where, "lower --shots or add seeds"
    )
    for key in used:
        if len(pools[key]) < shots + n_entries:
            raise SynthpackError(
                f"{where(key)}: a record needs {shots} examples + {n_entries} answer entries = "
                f"{shots + n_entries} distinct texts, but this pool has {len(pools[key])}; lower "
                "--n-entries or --shots, lower --val-ratio, or add seeds"
            )
    records = []
    for index, cond in enumerate(plan):
        version = versions[index % len(versions)]
        group_pool = pools[cond.group if cond else None]
        examples = rng.sample(candidates[cond.group if cond else None], shots)
        taken = {keys[t] for t in examples}
        entries = rng.sample([t for t in group_pool if keys[t] not in taken], n_entries)
        target = cond.target(category, templates_dir) if cond else None
        prompt = render_synthesis(
            category, version, polarity, examples, n_entries, templates_dir, target
        )
        record_stem = f"{category.name}_{polarity}_{version}"
        records.append(
            {
                "id": prompt_id(f"{record_stem}_{split}", seed, index, prompt + numbered(entries)),
                "split": split,
                "category": category.name,
                "version": version,
                "polarity": polarity,
                "examples": examples,
                "entries": entries,
                "instruction": prompt,
                "output": numbered(entries),
                **(cond.fields() if cond else {}),
            }
        )
    return records


def count_by(records: list[dict], key: str) -> dict[str, int]:
    """How many records carry each value of `key`, most first."""
    return dict(Counter(str(r.get(key)) for r in records).most_common())


def check_records(train: list[dict], val: list[dict]) -> dict:
    """Measure the two promises: answers never repeat an example, no text on both sides."""
    in_examples = 0
    for record in train + val:
        shown = {text_key(e) for e in record["examples"]}
        in_examples += sum(1 for entry in record["entries"] if text_key(entry) in shown)

    def keys(records):
        return {text_key(t) for r in records for t in r["examples"] + r["entries"]}

    return {
        "entries_in_own_examples": in_examples,
        "texts_on_both_sides": len(keys(train) & keys(val)),
    }


def resolve_categories(
    category: str | None, mixture: str | None, templates_dir: Path | None
) -> tuple[str, list[str], dict]:
    """(name, categories, mixture spec) for `--category X` or `--mixture NAME`."""
    if bool(category) == bool(mixture):
        raise SynthpackError("give exactly one of --category NAME or --mixture NAME")
    if category:
        load_category(category, templates_dir)
        return category, [category], {}
    mixtures = load_mixtures(templates_dir)
    if mixture not in mixtures:
        raise unknown_name("mixture", mixture, sorted(mixtures))
    spec = mixtures[mixture]
    for name in spec["categories"]:
        if name not in list_categories(templates_dir):
            raise unknown_name("category", name, list_categories(templates_dir))
    return mixture, list(spec["categories"]), spec


@dataclass(frozen=True)
class SftSettings(StepSettings):
    """One SFT set (`build_sft`'s arguments): a category or a mixture, its versions and sizes;
    the seed-file maps name category -> files (a category not named uses its own seeds)."""

    step = "sft"
    category: str | None = None
    mixture: str | None = None
    versions: tuple[str, ...] = ("v1",)
    per_class: int = DEFAULT_PER_CLASS
    shots: int = DEFAULT_SHOTS
    n_entries: int = DEFAULT_N_ENTRIES
    example_length: str = "short"
    val_ratio: float = DEFAULT_VAL_RATIO
    seed: int = 0
    seeds: dict[str, list] | None = None
    positive: dict[str, list] | None = None
    negative: dict[str, list] | None = None
    extra_positive: dict[str, list] | None = None
    dataset_dir: Path | None = None  # None: the output folder
    templates_dir: Path | None = None
    condition: tuple[str, ...] = ()  # render's axes; SFT records teach `group` only

    def writes(self, folder: Path) -> dict[str, Path]:
        return {"dataset_info": Path(self.dataset_dir or folder) / "dataset_info.json"}

    def preflight(self, folder: Path) -> None:
        """The dataset_info.json the sets are registered in, before any set is written."""
        read_dataset_info(Path(self.dataset_dir or folder))


def run_sft(settings: SftSettings, folder: Path, context: Context = Context()) -> dict:
    """The SFT step: `build_sft` with these settings; returns its manifest."""
    fields = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    return build_sft(Path(folder), **fields)


def build_sft(
    out_dir: Path,
    *,
    category: str | None = None,
    mixture: str | None = None,
    versions: tuple[str, ...] = ("v1",),
    per_class: int = DEFAULT_PER_CLASS,
    shots: int = DEFAULT_SHOTS,
    n_entries: int = DEFAULT_N_ENTRIES,
    example_length: str = "short",
    val_ratio: float = DEFAULT_VAL_RATIO,
    seed: int = 0,
    seeds: dict[str, list] | None = None,
    positive: dict[str, list] | None = None,
    negative: dict[str, list] | None = None,
    extra_positive: dict[str, list] | None = None,
    dataset_dir: Path | None = None,
    templates_dir: Path | None = None,
    condition: tuple[str, ...] = (),
) -> dict:
    """Build, check, write and register one SFT set; returns its manifest.

    `seeds`, `positive`, `negative` and `extra_positive` map a category name to seed files
    (see `prompts.pools.load_pools`); a category not named uses its default seed files.
    Writes `<out>/<stem>/{train,val}.json` (Alpaca), `records.jsonl` (examples and entries per
    record), `rejects.jsonl` (dropped seed rows with a reason) and `manifest.json`, and
    registers `<stem>_train` / `<stem>_val` in dataset_dir (default: out_dir).
    """
    name, categories, spec = resolve_categories(category, mixture, templates_dir)
    versions = [check_version(v, templates_dir) for v in versions]
    extra_positive = extra_positive or {}
    check_options(name, categories, spec, extra_positive, per_class, val_ratio)
    rng = random.Random(f"{seed}:{name}")
    loaded = {c: load_category(c, templates_dir) for c in categories}
    # Every category must have what the axes need (a mixture conditions each on its groups).
    axes = {a for c in loaded.values() for a in check_axes(condition, c, templates_dir)}
    by_group = "group" in axes
    files = {"seeds": seeds, "positive": positive, "negative": negative}
    pools = {
        c: load_pools(
            loaded[c], *((files[k] or {}).get(c, ()) for k in files), extra_positive.get(c, ())
        )
        for c in categories
    }
    need = shots + n_entries
    check_pool_sizes(pools, loaded, shots, n_entries, val_ratio)
    sides = split_pools(pools, val_ratio, need, rng)
    common = dict(
        shots=shots,
        n_entries=n_entries,
        example_length=example_length,
        rng=rng,
        seed=seed,
        templates_dir=templates_dir,
    )
    groups = {c: pools[c].groups if by_group else {} for c in categories}
    train, val, counts = build_splits(
        loaded, sides, per_class, val_ratio, versions, groups=groups, **common
    )
    checks = check_records(train, val)
    if any(checks.values()):  # the construction rules these out; a failure here is a bug
        raise SynthpackError(f"SFT checks failed: {checks}")
    manifest = {
        "stem": sft_stem(name, versions),
        "categories": categories,
        "versions": versions,
        "per_class": per_class,
        "shots": shots,
        "n_entries": n_entries,
        "example_length": example_length,
        "val_ratio": val_ratio,
        "seed": seed,
        "records": {"train": len(train), "val": len(val)},
        "condition": ["group"] if by_group else [],
        "records_per_group": count_by(train + val, "target_group") if by_group else {},
        "per_category": counts,
        "seed_files": {c: pools[c].sources for c in categories},
        "seed_rows": {
            c: {"read": pools[c].read, "rejected": len(pools[c].rejects)} for c in categories
        },
        "checks": checks,
    }
    rejects = [r | {"category": c} for c in categories for r in pools[c].rejects]
    return write_sft(out_dir, dataset_dir, manifest, train, val, rejects)


def check_options(
    name: str,
    categories: list[str],
    spec: dict,
    extra_positive: dict[str, list],
    per_class: int,
    val_ratio: float,
) -> None:
    """Refuse settings that cannot build a set, before any seed file is read."""
    if spec.get("extra_positives") and not any(extra_positive.values()):
        raise SynthpackError(f"mixture {name!r} needs --extra-positives CATEGORY=FILE")
    unknown = set(extra_positive) - set(categories)
    if unknown:
        raise unknown_name("category for --extra-positives", sorted(unknown)[0], categories)
    if per_class < 1 or not 0 <= val_ratio < 1:
        raise SynthpackError("--per-class must be >= 1 and --val-ratio in [0, 1)")


def check_pool_sizes(
    pools: dict[str, SeedPools],
    categories: dict[str, Category],
    shots: int,
    n_entries: int,
    val_ratio: float,
) -> None:
    """Every class of every category must hold enough distinct texts for one record per side."""
    need = shots + n_entries
    sides_needed = 2 if val_ratio > 0 else 1
    for name, category in categories.items():
        for polarity in POLARITIES:
            have = len(require_pool(pools[name], polarity, category))
            if have < need * sides_needed:
                raise SynthpackError(
                    f"{name} {polarity}: a record needs {shots} examples + {n_entries} answer "
                    f"entries = {need} distinct texts"
                    + (" in train and again in validation" if sides_needed == 2 else "")
                    + f", but the seeds hold {have}; lower --n-entries or --shots, or add seeds"
                )


def build_splits(
    categories: dict[str, Category],
    sides: dict[tuple[str, str], dict[str, list[str]]],
    per_class: int,
    val_ratio: float,
    versions: list[str],
    *,
    rng: random.Random,
    groups: dict[str, dict[str, dict[str, list[str]]]] | None = None,
    **record_settings,
) -> tuple[list[dict], list[dict], dict]:
    """Train and validation records of every category and class, shuffled, with their counts."""
    train: list[dict] = []
    val: list[dict] = []
    counts = {}
    for name, share in zip(categories, spread(per_class, len(categories)), strict=True):
        val_share = max(1, round(share * val_ratio)) if val_ratio > 0 else 0
        for polarity in POLARITIES:
            pool = sides[(name, polarity)]
            build = functools.partial(
                build_records, categories[name], polarity, rng=rng,
                groups=((groups or {}).get(name) or {}).get(polarity), **record_settings,
            )  # fmt: skip
            train += build(pool["train"], share, versions, split="train")
            if val_share:
                val += build(pool["val"], val_share, versions, split="val")
            counts[f"{name}_{polarity}"] = {
                "train_records": share,
                "val_records": val_share,
                "train_texts": len(pool["train"]),
                "val_texts": len(pool["val"]),
            }
    rng.shuffle(train)
    rng.shuffle(val)
    return train, val, counts


def write_sft(
    out_dir: Path,
    dataset_dir: Path | None,
    manifest: dict,
    train: list[dict],
    val: list[dict],
    rejects: list[dict],
) -> dict:
    """Write the set's files, register `<stem>_train` / `<stem>_val`; returns the manifest."""
    folder = Path(out_dir) / manifest["stem"]
    dataset_dir = Path(dataset_dir) if dataset_dir else Path(out_dir)
    manifest = {**manifest, "datasets": {}}
    for split, records in (("train", train), ("val", val)):
        if not records:
            continue
        dataset = f"{manifest['stem']}_{split}"
        alpaca = [
            {"instruction": r["instruction"], "input": "", "output": r["output"]} for r in records
        ]
        path = folder / f"{split}.json"
        write_alpaca_dataset(dataset_dir, dataset, path, alpaca)
        manifest["datasets"][dataset] = str(path)
    meta = [{k: v for k, v in r.items() if k not in ("instruction", "output")} for r in train + val]
    atomic_write_jsonl(folder / "records.jsonl", meta)
    atomic_write_rejects(folder / "rejects.jsonl", rejects)
    manifest["dataset_dir"] = str(dataset_dir)
    atomic_write_json(folder / "manifest.json", manifest)
    return manifest
