"""Step 5, clean: FOLDER/raw.jsonl into the cleaned set, whose files `CleanedFiles` names:
accepted / rejected rows (every parsed entry is one or the other), Alpaca records, the report
and the dataset card. The label check (`synthpack.clean.checked`) is a step of its own.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from synthpack.clean.card import write_card
from synthpack.clean.dedup import DedupSettings
from synthpack.clean.files import CleanedFiles
from synthpack.clean.filters import Limits
from synthpack.clean.pipeline import clean_generations
from synthpack.common.files import (
    atomic_write_json,
    atomic_write_jsonl,
    atomic_write_rejects,
    private_dir,
    read_jsonl,
)
from synthpack.common.step import Context, StepSettings
from synthpack.common.text import visible_text
from synthpack.formats.texts import read_seeds
from synthpack.generate.run import RAW, STATS
from synthpack.prompts.templates import numbered


@dataclass(frozen=True)
class CleanSettings(StepSettings):
    """Clean the answers in `generations` (a generate step's folder) made from `prompts`.

    `against`: files of texts the entries must not repeat (seeds, real training texts);
    `semantic`: the cosine threshold of MiniLM paraphrase dedup (None: off); `command`: the
    line the dataset card gives to reproduce the set (default: this process's argv).
    """

    step = "clean"
    shares_files_with = ("label_check",)
    generations: Path
    prompts: Path
    against: tuple[Path, ...] = ()
    limits: Limits = Limits()
    dedup: DedupSettings = DedupSettings()
    semantic: float | None = None
    command: str | None = None

    def reads(self) -> dict[str, Path | None]:
        against = {f"against_{i}": p for i, p in enumerate(self.against)}
        return {"raw": Path(self.generations) / RAW, "prompts": self.prompts, **against}

    def writes(self, folder: Path) -> dict[str, Path]:
        return CleanedFiles.of(folder).all()


def against_texts(paths) -> list[str]:
    """The texts of the `against` files; every file reads as one class (only texts matter)."""
    return [row.text for row in read_seeds(positive=list(paths))]


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


def run_clean(settings: CleanSettings, folder: Path, context: Context = Context()) -> dict:
    """Clean the raw answers into FOLDER's `CleanedFiles`; returns the report.

    The generate step's `generation_stats.json`, when there, adds the speed to the report.
    """
    s, files = settings, CleanedFiles.of(folder)
    generations = read_jsonl(Path(s.generations) / RAW)
    against = against_texts(s.against)
    stats_path = Path(s.generations) / STATS
    cleaned = clean_generations(
        generations, against=against, limits=s.limits, dedup=s.dedup, semantic=s.semantic,
        progress_bar=context.progress_bar,
    )  # fmt: skip
    report = {"prompts": str(s.prompts), **cleaned.report}
    if stats_path.exists():
        report["generation"] = json.loads(stats_path.read_text(encoding="utf-8"))
    private_dir(Path(folder))
    atomic_write_jsonl(files.accepted, cleaned.accepted)
    atomic_write_rejects(files.rejected, cleaned.rejected)
    atomic_write_json(files.alpaca, alpaca_records(generations, cleaned.accepted))
    atomic_write_json(files.report, report)
    card_settings = {
        "limits": asdict(s.limits),
        "near_duplicates": asdict(s.dedup),
        "semantic_dedup": s.semantic,
        "against_texts": len(against),
    }
    write_card(Path(folder), s.prompts, card_settings, s.command)
    return report
