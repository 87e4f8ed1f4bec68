"""The files of a cleaned set, named once: what the clean step and the label check write into
their folders, and what registration, evaluation and the report read back."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

CARD = "README.md"  # the dataset card (Hugging Face's format)
CARD_INFO = "card.json"  # the facts the card was built from, so register can rebuild it
NAMES = {
    "accepted": "accepted.jsonl",  # kept entries: text, label, provenance
    "rejected": "rejected.jsonl",  # dropped entries, each with its reason
    "alpaca": "alpaca.json",  # each prompt with its kept entries: SFT data
    "report": "report.json",  # counts, success and duplication rates
    "card": CARD,
}


@dataclass(frozen=True)
class CleanedFiles:
    """The paths of one cleaned set's files (`CleanedFiles.of(folder)`)."""

    accepted: Path
    rejected: Path
    alpaca: Path
    report: Path
    card: Path

    @classmethod
    def of(cls, folder: Path) -> CleanedFiles:
        return cls(**{role: Path(folder) / name for role, name in NAMES.items()})

    def all(self) -> dict[str, Path]:
        return dataclasses.asdict(self)
