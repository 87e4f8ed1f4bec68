"""Seed data readers: labelled texts from JSONL, JSON, CSV, TSV or TXT files.

Shared by every step that reads labelled text (prompt rendering, SFT building, classifier
evaluation). Every problem names the file, the line and the field, and all problems of a file
are reported at once.

Formats (chosen by file suffix):
- `.jsonl` / `.ndjson`: one object per line; `.json`: a list of objects.
- `.csv` / `.tsv`: a header row, then one row per text.
- `.txt`: one text per line, blank lines skipped; the class comes from the caller (one file per
  class), since a line has no label column.
A file passed for one class (`label=` given) needs no label column; a mixed file needs one.
"""

from __future__ import annotations

import csv
import functools
import glob
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from synthpack.errors import SynthpackError

POSITIVE_LABELS = {"1", "pos", "positive", "harmful", "toxic", "hate", "unsafe", "yes", "true"}
NEGATIVE_LABELS = {
    "0",
    "neg",
    "negative",
    "harmless",
    "benign",
    "neutral",
    "non-toxic",
    "nontoxic",
    "safe",
    "no",
    "false",
}
TEXT_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".txt")
MAX_LISTED = 20


@dataclass(frozen=True)
class SeedText:
    """One labelled text and where it came from (for error messages and reject files)."""

    text: str
    label: str  # "pos" or "neg"
    source: str
    line: int
    category: str | None = None

    def where(self) -> str:
        return f"{self.source}:{self.line}"


def clean_text(text: str) -> str:
    """One line of text: prompts list examples and answers number entries one per line."""
    return " ".join(str(text).split())


@functools.lru_cache(maxsize=1 << 16)
def text_key(text: str) -> str:
    """Identity for duplicates and leaks: case, spacing and edge punctuation ignored."""
    return re.sub(r"^\W+|\W+$", "", " ".join(str(text).casefold().split()))


def label_of(value) -> str | None:
    """Map the usual label spellings to "pos" / "neg"; None when the value is not a label."""
    word = (
        ("true" if value else "false") if isinstance(value, bool) else str(value).strip().casefold()
    )
    if word in POSITIVE_LABELS:
        return "pos"
    if word in NEGATIVE_LABELS:
        return "neg"
    return None


def label_problem(value) -> str:
    return (
        f"unknown label {value!r} (positive: {', '.join(sorted(POSITIVE_LABELS))}; "
        f"negative: {', '.join(sorted(NEGATIVE_LABELS))})"
    )


def expand_paths(patterns: Iterable[str | Path]) -> list[Path]:
    """Paths and glob patterns (`demonstrations/*/hate_*.txt`) to files, sorted per pattern."""
    paths: list[Path] = []
    for pattern in patterns:
        text = str(pattern)
        if any(ch in text for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True))
            if not matches:
                raise SynthpackError(f"{text}: no file matches this pattern")
            paths.extend(matches)
        else:
            paths.append(Path(text))
    return paths


def iter_rows(path: Path) -> Iterable[tuple[int, dict | str | None, str | None]]:
    """Yield (line, row, problem) for the file's rows; row is a dict, or a str for TXT."""
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8-sig")
    if suffix == ".txt":
        # split("\n"), not splitlines(): the latter also breaks at U+2028 and friends.
        for number, raw in enumerate(text.split("\n"), start=1):
            if raw.strip():
                yield number, raw.rstrip("\r"), None
    elif suffix in (".jsonl", ".ndjson"):
        for number, raw in enumerate(text.split("\n"), start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as err:
                yield number, None, f"not valid JSON ({err.msg})"
                continue
            yield (
                (number, row, None)
                if isinstance(row, dict)
                else (number, None, "not a JSON object")
            )
    elif suffix == ".json":
        try:
            data = json.loads(text) if text.strip() else []
        except json.JSONDecodeError as err:
            yield err.lineno, None, f"not valid JSON ({err.msg})"
            return
        if not isinstance(data, list):
            yield 1, None, "expected a JSON list of objects"
            return
        for index, row in enumerate(data):
            # JSON lists have no useful line numbers; name the record instead (1-based).
            yield (
                (index + 1, row, None)
                if isinstance(row, dict)
                else (index + 1, None, "record is not a JSON object")
            )
    elif suffix in (".csv", ".tsv"):
        delimiter = "\t" if suffix == ".tsv" else ","
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        if reader.fieldnames is None:
            return
        for row in reader:
            yield reader.line_num, row, None
    else:
        raise SynthpackError(
            f"{path}: unsupported seed file type {suffix!r} (use {', '.join(TEXT_SUFFIXES)})"
        )


def read_seed_file(
    path: str | Path,
    label: str | None = None,
    text_field: str = "text",
    label_field: str = "label",
    category_field: str = "category",
) -> list[SeedText]:
    """Read one seed file into SeedText rows; `label` ("pos"/"neg") marks a one-class file.

    Raises SynthpackError listing every problem (file, line, field) when any row is bad.
    """
    path = Path(path)
    if not path.is_file():
        raise SynthpackError(f"{path}: seed file not found")
    if label is not None and label not in ("pos", "neg"):
        raise ValueError(f"label must be 'pos' or 'neg', got {label!r}")
    if path.suffix.lower() == ".txt" and label is None:
        raise SynthpackError(
            f"{path}: a .txt seed file has no label column; pass it as one class (--pos or --neg)"
        )
    if path.suffix.lower() in (".csv", ".tsv"):
        _check_header(path, text_field, label_field if label is None else None)
    record_word = "record" if path.suffix.lower() == ".json" else "line"
    rows: list[SeedText] = []
    problems: list[str] = []
    for line, row, problem in iter_rows(path):
        where = f"{record_word} {line}"
        if problem:
            problems.append(f"{where}: {problem}")
            continue
        if isinstance(row, str):
            rows.append(SeedText(clean_text(row), label, str(path), line))
            continue
        text = row.get(text_field)
        if text is None:
            problems.append(f"{where}, field {text_field!r}: missing (fields: {', '.join(row)})")
            continue
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{where}, field {text_field!r}: empty or not a string")
            continue
        row_label = label
        if row_label is None:
            if row.get(label_field) in (None, ""):
                problems.append(f"{where}, field {label_field!r}: missing")
                continue
            row_label = label_of(row[label_field])
            if row_label is None:
                problems.append(
                    f"{where}, field {label_field!r}: {label_problem(row[label_field])}"
                )
                continue
        category = row.get(category_field)
        rows.append(
            SeedText(
                clean_text(text),
                row_label,
                str(path),
                line,
                str(category) if category not in (None, "") else None,
            )
        )
    if problems:
        listed = "\n  ".join(problems[:MAX_LISTED])
        more = (
            f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        )
        raise SynthpackError(f"{path}: {len(problems)} bad row(s):\n  {listed}{more}")
    if not rows:
        raise SynthpackError(f"{path}: empty file (no texts)")
    return rows


def _check_header(path: Path, text_field: str, label_field: str | None) -> None:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle, delimiter=delimiter), None)
    if not header:
        raise SynthpackError(f"{path}: empty file (no header row)")
    missing = [f for f in (text_field, label_field) if f and f not in header]
    if missing:
        raise SynthpackError(
            f"{path}, line 1, field {missing[0]!r}: missing column (columns: {', '.join(header)})"
        )


def read_seeds(
    labelled: Iterable[str | Path] = (),
    positive: Iterable[str | Path] = (),
    negative: Iterable[str | Path] = (),
    **fields,
) -> list[SeedText]:
    """Read mixed files (text + label) and one-class files; glob patterns are expanded."""
    rows: list[SeedText] = []
    for path in expand_paths(labelled):
        rows += read_seed_file(path, None, **fields)
    for path in expand_paths(positive):
        rows += read_seed_file(path, "pos", **fields)
    for path in expand_paths(negative):
        rows += read_seed_file(path, "neg", **fields)
    return rows


def dedupe(rows: Iterable[SeedText]) -> tuple[list[SeedText], list[dict]]:
    """Keep the first copy of each text; drop repeats and texts seen with both labels.

    Returns (kept, rejects); every input row is in exactly one of them, so counts add up.
    """
    rows = list(rows)
    labels: dict[str, set[str]] = {}
    for row in rows:
        labels.setdefault(text_key(row.text), set()).add(row.label)
    kept: list[SeedText] = []
    rejects: list[dict] = []
    first: dict[str, SeedText] = {}
    for row in rows:
        key = text_key(row.text)
        if not key:
            rejects.append(_reject(row, "empty after normalisation"))
        elif len(labels[key]) > 1:
            rejects.append(_reject(row, "label_conflict: the same text is labelled pos and neg"))
        elif key in first:
            rejects.append(_reject(row, f"duplicate of {first[key].where()}"))
        else:
            first[key] = row
            kept.append(row)
    return kept, rejects


def _reject(row: SeedText, reason: str) -> dict:
    return {
        "source": row.source,
        "line": row.line,
        "label": row.label,
        "reason": reason,
        "text": row.text,
    }
