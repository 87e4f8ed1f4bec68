"""`synthpack render`: generation prompts with few-shot examples sampled from seed data.

SPEC Pipeline A step 2. One prompt set per stem (`hate_pos_v2`): the JSONL records that
`synthpack generate` reads, and the same prompts as an Alpaca dataset registered under the
stem, so `llamafactory-cli train ... do_predict=true eval_dataset=<stem>` can generate from it.

All or nothing: every stem is rendered (and so checked) before any file is written, the stems'
folders are written into a hidden staging folder and moved into place together, and they are
registered only then; a failure on the second stem leaves the first neither written nor
registered.
"""

from __future__ import annotations

import glob
import hashlib
import json
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_json, atomic_write_jsonl, atomic_write_rejects
from synthpack.common.step import Context, StepSettings
from synthpack.formats.dataset_info import (
    alpaca_entry,
    file_name_for,
    read_dataset_info,
    register_dataset,
)
from synthpack.prompts.categories import Category, load_category
from synthpack.prompts.conditions import check_axes, plan_conditions
from synthpack.prompts.pools import example_candidates, load_pools, require_groups, require_pool
from synthpack.prompts.templates import check_polarity, check_version, render_synthesis, stem

DEFAULT_SHOTS = 5
DEFAULT_N_ENTRIES = 30
MAX_N_ENTRIES = 1000  # entries one prompt may ask for: render, SFT building and generate agree
ALL_PROMPTS = "all.jsonl"  # every prompt set of one render, in one file
# The files of one prompt set, in OUT/STEM/, by role.
SET_FILES = {"prompts": "prompts.jsonl", "rejects": "rejects.jsonl", "alpaca": "alpaca.json",
             "manifest": "manifest.json"}  # fmt: skip


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
    condition: tuple[str, ...] = (),
    group_pools: dict[str, list[str]] | None = None,
) -> list[dict]:
    """Render `n_prompts` prompts, each with `shots` distinct examples sampled from `pool`.

    `condition` names the axes each prompt is conditioned on (`prompts.conditions`); with
    `group`, a prompt's examples come from its group's texts in `group_pools`."""
    prompt_stem = stem(category.name, polarity, version)
    if shots < 0 or not 1 <= n_entries <= MAX_N_ENTRIES or n_prompts < 1:
        raise SynthpackError(
            f"--shots must be 0 or more, --n-entries from 1 to {MAX_N_ENTRIES} and --n-prompts "
            f"1 or more; got {shots}, {n_entries} and {n_prompts}"
        )
    # One generator per stem: adding another stem to the call does not change this one's prompts.
    rng = random.Random(f"{seed}:{prompt_stem}")
    pools = {None: pool, **(group_pools or {})}
    plan = plan_conditions(
        n_prompts, polarity, condition, category, rng, templates_dir, sorted(group_pools or {})
    )
    used = [key for key in pools if key is None or any(c and c.group == key for c in plan)]
    candidates = example_candidates(
        pools, used, example_length, shots,
        lambda key: prompt_stem + (f": group {key!r}" if key else ""),
        "lower --shots or use --example-length any",
    )  # fmt: skip
    records = []
    for index, cond in enumerate(plan):
        examples = rng.sample(candidates[cond.group if cond else None], shots)
        target = cond.target(category, templates_dir) if cond else None
        prompt = render_synthesis(
            category, version, polarity, examples, n_entries, templates_dir, target
        )
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
                **(cond.fields() if cond else {}),
            }
        )
    return records


def uneven_groups(n_prompts: int, groups: int) -> str | None:
    """A note when `n_prompts` cannot name each of `groups` target groups equally often: the
    groups asked once more may then pass the share a team allows one group (issue 27 asks
    at most 15% of positives); None when the spread is even or there are no groups."""
    if not groups or n_prompts % groups == 0:
        return None
    more, extra = n_prompts // groups + 1, n_prompts % groups
    get = "gets" if extra == 1 else "get"
    return (
        f"{n_prompts} prompts over {groups} groups: {extra} of them {get} {more} prompts, the "
        f"others {more - 1}; a multiple of {groups} prompts spreads them evenly"
    )


def write_prompt_sets(
    sets: list[tuple[str, list[dict], dict, list[dict]]],
    out_dir: Path,
    dataset_dir: Path | None = None,
) -> list[dict]:
    """Write `<out>/<stem>/prompts.jsonl`, `rejects.jsonl`, `alpaca.json` and `manifest.json`
    for every (stem, records, manifest, rejects), then register each `<stem>` in dataset_dir.

    dataset_dir defaults to `out_dir`, which then is a LLaMA-Factory dataset_dir of its own.
    The folders are built in a staging folder inside `out_dir` and renamed into place (a rename
    within one file system is atomic), so a failure leaves the old folders as they were.
    """
    out_dir = Path(out_dir)
    dataset_dir = Path(dataset_dir) if dataset_dir else out_dir
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir, prefix=".render-"))
    try:
        for prompt_stem, records, manifest, rejects in sets:
            folder = staging / prompt_stem
            alpaca = [{"instruction": r["prompt"], "input": "", "output": ""} for r in records]
            atomic_write_jsonl(folder / SET_FILES["prompts"], records)
            atomic_write_rejects(folder / SET_FILES["rejects"], rejects)
            atomic_write_json(folder / SET_FILES["alpaca"], alpaca)
            atomic_write_json(folder / SET_FILES["manifest"], {"stem": prompt_stem, **manifest})
        for prompt_stem, *_ in sets:
            final = out_dir / prompt_stem
            if final.exists():
                final.rename(staging / f"{prompt_stem}.old")
            (staging / prompt_stem).rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    rows = []
    for prompt_stem, *_ in sets:
        alpaca_path = out_dir / prompt_stem / "alpaca.json"
        entry = alpaca_entry(file_name_for(alpaca_path, dataset_dir))
        status = register_dataset(dataset_dir, prompt_stem, entry)
        rows.append(
            {
                "stem": prompt_stem,
                "folder": out_dir / prompt_stem,
                "dataset_dir": dataset_dir,
                "registered": status,
            }
        )
    return rows


@dataclass(frozen=True)
class RenderSettings(StepSettings):
    """Prompt sets of one category: every version x polarity, `n_prompts` each, with few-shot
    examples from the category's seeds (or the given seed files: `labelled` with a label
    column, `positive` / `negative` one class per file)."""

    step = "render"
    category: str
    versions: tuple[str, ...]
    polarities: tuple[str, ...] = ("pos", "neg")
    labelled: tuple[Path, ...] = ()
    positive: tuple[Path, ...] = ()
    negative: tuple[Path, ...] = ()
    shots: int = DEFAULT_SHOTS
    n_entries: int = DEFAULT_N_ENTRIES
    n_prompts: int = 10
    seed: int = 0
    example_length: str = "short"
    dataset_dir: Path | None = None  # None: the output folder
    templates_dir: Path | None = None
    condition: tuple[str, ...] = ()  # group and attribute axes (prompts/conditions.py)

    def reads(self) -> dict[str, Path | None]:
        files = [*self.labelled, *self.positive, *self.negative]
        return {f"seeds_{i}": Path(p) for i, p in enumerate(files) if not glob.has_magic(str(p))}

    def writes(self, folder: Path) -> dict[str, Path]:
        registry = Path(self.dataset_dir or folder) / "dataset_info.json"
        files = {"all_prompts": Path(folder) / ALL_PROMPTS, "dataset_info": registry}
        for prompt_stem in self._stems():
            for role, name in SET_FILES.items():
                files[f"{prompt_stem}_{role}"] = Path(folder) / prompt_stem / name
        return files

    def _stems(self) -> list[str]:
        """The prompt sets' folder names; spellings `preflight` and the run reject are left
        out here (listing files must not fail)."""
        stems = []
        for version in self.versions:
            for polarity in self.polarities:
                try:
                    found = check_version(version, self.templates_dir), check_polarity(polarity)
                except SynthpackError:
                    continue
                stems.append(stem(self.category, found[1], found[0]))
        return list(dict.fromkeys(stems))

    def preflight(self, folder: Path) -> None:
        """Some prompt set to render, and a dataset_info.json the stems can be registered in,
        before any stem folder is written."""
        if not any(v.strip() for v in self.versions) or not any(p.strip() for p in self.polarities):
            raise SynthpackError(
                "--versions and --polarity name no prompt set (e.g. --versions v1 --polarity pos)"
            )
        read_dataset_info(Path(self.dataset_dir or folder))


def run_render(settings: RenderSettings, out_dir: Path, context: Context = Context()) -> dict:
    """Render every (version, polarity) prompt set of one category into OUT/STEM/, and all
    of them into OUT/all.jsonl (what one `synthpack generate` reads); returns one row per stem
    (`sets`) and the number of prompts."""
    s = settings
    templates_dir = s.templates_dir
    shots, n_entries, n_prompts, seed = s.shots, s.n_entries, s.n_prompts, s.seed
    example_length = s.example_length
    category_name, versions, polarities = s.category, s.versions, s.polarities
    labelled, positive, negative = s.labelled, s.positive, s.negative
    category = load_category(category_name, templates_dir)
    # Each set once: `v1,V1` or `pos,positive` name one stem, which cannot be written twice.
    versions = list(dict.fromkeys(check_version(v, templates_dir) for v in versions))
    polarities = list(dict.fromkeys(check_polarity(p) for p in polarities))
    condition = check_axes(s.condition, category, templates_dir)
    pools = load_pools(category, labelled, positive, negative)
    sets, sizes, uneven_sets = [], [], {}
    for polarity in polarities:
        pool = require_pool(pools, polarity, category)
        class_rejects = [r for r in pools.rejects if r["label"] == polarity]
        group_pools = require_groups(pools, polarity, condition, category)
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
                condition=condition,
                group_pools=group_pools,
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
                "condition": list(condition),
            }
            uneven = uneven_groups(n_prompts, len(group_pools or {}))
            if uneven:
                uneven_sets.setdefault(uneven, []).append(stem(category.name, polarity, version))
            sets.append((stem(category.name, polarity, version), records, manifest, class_rejects))
            sizes.append({"prompts": len(records), "pool": len(pool)})
    for note, stems in uneven_sets.items():  # once for every set it applies to
        context.echo(f"{', '.join(stems)}: {note}")
    written = write_prompt_sets(sets, out_dir, s.dataset_dir)
    atomic_write_jsonl(Path(out_dir) / ALL_PROMPTS, [r for _, records, *_ in sets for r in records])
    rows = [{**info, **size} for info, size in zip(written, sizes, strict=True)]
    return {"prompts": sum(r["prompts"] for r in rows), "sets": rows}
