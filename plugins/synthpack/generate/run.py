"""`synthpack generate` and `synthpack augment`: the runners the CLI and the demo call.

Generate (or read LLaMA-Factory's predictions) into raw.jsonl, clean it, and write the
cleaned set's files, all owner-only; `augment` joins real and synthetic rows.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

from synthpack.clean.dedup import DedupSettings
from synthpack.clean.filters import Limits
from synthpack.clean.label_check import LabelChecker
from synthpack.clean.pipeline import clean_generations
from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_json, atomic_write_jsonl, private_dir, read_jsonl
from synthpack.common.labels import LABEL, text_key, visible_text
from synthpack.common.progress import ProgressBar, silent
from synthpack.dataset_card import write_card
from synthpack.generate.backends import DEFAULT_BATCH_SIZE, Sampling
from synthpack.generate.resumable import generate_resumable, read_prompts, rows_from_predictions
from synthpack.prompts.templates import list_versions, numbered
from synthpack.seeds import read_seeds

DEFAULT_SAMPLING = Sampling(max_new_tokens=512, temperature=0.8, top_p=0.95)


def alpaca_records(generations: list[dict], accepted: list[dict]) -> list[dict]:
    """Each prompt with its cleaned entries, numbered: SFT data in the pack's own format.

    Entries the label check relabelled are left out: they do not answer their prompt.
    """
    by_key: dict[tuple, list[str]] = {}
    for row in (r for r in accepted if "relabelled_from" not in r):
        by_key.setdefault((row["prompt_id"], row["sample"]), []).append(row["text"])
    records = []
    for gen in generations:
        entries = by_key.get((gen["prompt_id"], gen["sample"]))
        if entries:
            instruction = visible_text(gen["prompt"])  # no NUL or bidi override in SFT data
            records.append({"instruction": instruction, "input": "", "output": numbered(entries)})
    return records


def run_generate(
    prompts_path: Path,
    out_dir: Path,
    model_dir: Path | None = None,
    adapter_dir: Path | None = None,
    backend: str = "hf",
    predictions: Path | None = None,
    against: list[str] = (),
    sampling: Sampling = DEFAULT_SAMPLING,
    batch_size: int = DEFAULT_BATCH_SIZE,
    samples: int = 1,
    limits: Limits = Limits(),
    dedup: DedupSettings = DedupSettings(),
    restart: bool = False,
    *,
    semantic: float | None = None,
    progress_bar: ProgressBar = silent,
    command: str | None = None,
    checker: LabelChecker | None = None,
) -> dict:
    """The whole command; returns the report (also written to OUT/report.json).

    `semantic` is the cosine threshold of semantic dedup (None: off); `command`, the line
    the dataset card gives to reproduce the set (default: this process's argv).
    """
    if (model_dir is None) == (predictions is None):
        raise SynthpackError(
            "give either --model (to generate) or --predictions (to read), not both"
        )
    # Every input is read and checked before anything is written: a bad file leaves no folder.
    prompts = read_prompts(prompts_path, list_versions())
    raw_rows = rows_from_predictions(prompts, predictions) if predictions is not None else None
    created = not out_dir.exists()
    try:
        private_dir(out_dir)
        raw_path = out_dir / "raw.jsonl"
        if restart:
            raw_path.unlink(missing_ok=True)
        stats = None
        if raw_rows is not None:
            atomic_write_jsonl(raw_path, raw_rows)
        else:
            stats = generate_resumable(
                prompts, raw_path, model_dir, adapter_dir, backend, sampling, batch_size, samples,
                progress_bar=progress_bar,
            )  # fmt: skip
        return clean_raw(
            out_dir, prompts_path, against, limits, dedup, stats,
            semantic=semantic, progress_bar=progress_bar, command=command, checker=checker,
        )  # fmt: skip
    except BaseException:
        if created:
            _remove_unfinished(out_dir)
        raise


def _remove_unfinished(out_dir: Path) -> None:
    """Remove a folder this run created when it holds nothing worth resuming from (no
    generated rows); a stopped generation keeps its raw.jsonl so the rerun continues."""
    raw = out_dir / "raw.jsonl"
    if not raw.exists() or raw.stat().st_size == 0:
        shutil.rmtree(out_dir, ignore_errors=True)


def clean_raw(
    out_dir: Path,
    prompts_path: Path,
    against: list[str] = (),
    limits: Limits = Limits(),
    dedup: DedupSettings = DedupSettings(),
    stats: dict | None = None,
    *,
    semantic: float | None = None,
    progress_bar: ProgressBar = silent,
    command: str | None = None,
    checker: LabelChecker | None = None,
) -> dict:
    """Clean OUT/raw.jsonl into accepted / rejected / alpaca / report files and the dataset
    card (README.md); returns the report.

    `stats` (from `generate_resumable`) adds the generation speed to the report; `checker`
    (`synthpack.evaluate.checker.load_checker`) adds the label check.
    """
    generations = read_jsonl(out_dir / "raw.jsonl")
    cleaned = clean_generations(
        generations, against=against, limits=limits, dedup=dedup, semantic=semantic,
        progress_bar=progress_bar, checker=checker,
    )  # fmt: skip
    report = {"prompts": str(prompts_path), **cleaned.report}
    if stats is not None:
        report["generation"] = {
            **stats,
            "seconds": round(stats["seconds"], 2),
            "tokens_per_s": round(stats["new_tokens"] / stats["seconds"], 2)
            if stats["seconds"]
            else None,
        }
    atomic_write_jsonl(out_dir / "accepted.jsonl", cleaned.accepted)
    atomic_write_jsonl(out_dir / "rejected.jsonl", cleaned.rejected)
    atomic_write_json(out_dir / "alpaca.json", alpaca_records(generations, cleaned.accepted))
    atomic_write_json(out_dir / "report.json", report)
    settings = {
        "limits": asdict(limits),
        "near_duplicates": asdict(dedup),
        "semantic_dedup": semantic,
        "against_texts": len(against),
    }
    write_card(out_dir, prompts_path, settings, command)
    return report


def augment(train: list[Path], synthetic: list[Path], out: Path) -> dict:
    """D_augmented = D_train ∪ D_synthetic: real rows first, synthetic rows not already there.

    Labels are read with the one label vocabulary (1/0, pos/neg, harmful/harmless, ...).
    """
    seen: set[str] = set()
    rows, counts = [], {"read": 0, "written": 0, "duplicates_dropped": 0}
    for source, paths in (("real", train), ("synthetic", synthetic)):
        for seed in read_seeds(labelled=paths):
            counts["read"] += 1
            key = text_key(seed.text)
            if key in seen:
                counts["duplicates_dropped"] += 1
                continue
            seen.add(key)
            rows.append(
                {
                    "text": seed.text,
                    "label": LABEL[seed.label],
                    "source": source,
                    "origin": seed.where(),
                }
            )
    counts["written"] = len(rows)
    atomic_write_jsonl(out, rows)
    return counts
