"""`synthpack augment`: D_augmented = D_train ∪ D_synthetic, the set the classifier trains on."""

from __future__ import annotations

from pathlib import Path

from synthpack.common.files import atomic_write_jsonl
from synthpack.common.labels import LABEL
from synthpack.common.text import text_key
from synthpack.formats.texts import read_seeds, require_jsonl_name


def augment(train: list[Path], synthetic: list[Path], out: Path) -> dict:
    """D_augmented = D_train ∪ D_synthetic: real rows first, synthetic rows not already there.

    Labels are read with the one label vocabulary (1/0, pos/neg, harmful/harmless, ...).
    """
    require_jsonl_name(out)
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
