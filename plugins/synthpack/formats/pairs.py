"""Rewrite pairs (a source text and its benign rewrites, as ParaDetox's TSV has them) and the
split that keeps every source text, with all its rewrites, on one side."""

from __future__ import annotations

import math
import random
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.problems import Problems, located, names_shown
from synthpack.common.text import text_key
from synthpack.formats.texts import clean_text, is_table, iter_rows


def read_pairs(
    path: Path, source_field: str = "toxic", target_fields: list[str] | None = None
) -> tuple[list[dict], list[dict]]:
    """Rewrite pairs from a CSV/TSV/JSONL: one record per non-empty (source, target) pair.

    target_fields defaults to every other column (ParaDetox: neutral1, neutral2, neutral3).
    """
    path = Path(path)
    if not path.is_file():
        raise SynthpackError(f"{path}: pairs file not found")
    rows, rejects, problems = [], [], Problems(path)
    fields_checked = False
    for line, raw, problem in iter_rows(path):
        if problem or not isinstance(raw, dict):
            problems.add(problem or "expected a record with named fields", line)
            continue
        if not fields_checked:
            targets = target_fields or [k for k in raw if k != source_field]
            for field in [source_field, *targets]:
                if field not in raw:
                    columns = names_shown(raw, is_table(path))
                    raise SynthpackError(located(path, f"missing column ({columns})", line, field))
            fields_checked = True
        source = raw.get(source_field) or ""
        if not str(source).strip():
            rejects.append({"line": line, "reason": f"empty {source_field}", "text": ""})
            continue
        found = [clean_text(raw[f]) for f in targets if str(raw.get(f) or "").strip()]
        if not found:
            rejects.append({"line": line, "reason": "no rewrite", "text": clean_text(source)})
        for rewrite in found:
            rows.append(
                {
                    "line": line,
                    "text": clean_text(source),
                    "rewrite": rewrite,
                    "biased_words": [],
                    "labels": {},
                }
            )
    problems.raise_if_any()
    if not rows and not rejects:
        raise SynthpackError(f"{path}: empty file (no rows)")
    return rows, rejects


def split_by_source(
    rows: list[dict], seed: int, *, ratio: float = 0.0, count: int | None = None
) -> tuple[list[dict], list[dict], list[dict]]:
    """Hold out `count` source texts (or the share `ratio` of them) with all their rewrites;
    returns (kept, held out, crossing): kept rows whose source or rewrite also occurs among
    the held-out texts are dropped (the rejects), so no text is on both sides."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(text_key(row["text"]), []).append(row)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    n_val = count if count is not None else math.ceil(len(keys) * ratio)
    if n_val > len(keys):
        raise SynthpackError(f"{n_val} source texts to hold out, {len(keys)} exist")
    val = [r for k in keys[:n_val] for r in groups[k]]
    val_keys = {text_key(r[f]) for r in val for f in ("text", "rewrite")}
    train, crossing = [], []
    for key in keys[n_val:]:
        for row in groups[key]:
            if text_key(row["text"]) in val_keys or text_key(row["rewrite"]) in val_keys:
                crossing.append(
                    {"line": row["line"], "reason": "crosses_split", "text": row["text"]}
                )
            else:
                train.append(row)
    return train, val, crossing
