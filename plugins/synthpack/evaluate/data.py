"""Read labelled texts (label 1 = harmful) for the downstream classifier.

Formats: JSONL and CSV with a text and a label field, TXT with `LABEL<TAB>TEXT` lines, and the
shared ToxiGen files: the annotated CSV (toxic iff toxicity_ai + toxicity_human > 5.5, the
lm-evaluation-harness convention in its SOURCE.md) and the prompt/demonstration files, whose
label is the file-name prefix (`hate_` or `neutral_`). Every problem is reported at once, each
with its file, line and field.
"""

from __future__ import annotations

import ast
import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from synthpack.errors import SynthpackError
from synthpack.files import RowProblems, iter_jsonl

# Accepted spellings of the two labels; keys are compared lower-cased and stripped.
# The same spellings as the seed readers (synthpack.seeds), plus "normal".
LABEL_WORDS = {
    "1": 1, "true": 1, "yes": 1, "harmful": 1, "toxic": 1, "hate": 1, "unsafe": 1,
    "positive": 1, "pos": 1,
    "0": 0, "false": 0, "no": 0, "harmless": 0, "benign": 0, "non-toxic": 0, "nontoxic": 0,
    "neutral": 0, "safe": 0, "normal": 0, "negative": 0, "neg": 0,
}  # fmt: skip
POLARITY_FIELD = "polarity"  # `synthpack generate` writes accepted.jsonl rows with pos/neg here
FILE_PREFIXES = {"hate_": 1, "neutral_": 0}
TOXIGEN_THRESHOLD = 5.5  # toxicity_ai + toxicity_human above this is toxic (SOURCE.md)


@dataclass
class Labelled:
    """Texts with 0/1 labels, plus what the reader did (for the report)."""

    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    source: str = ""
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def add(self, text: str, label: int) -> None:
        self.texts.append(text)
        self.labels.append(label)

    def extend(self, other: Labelled) -> None:
        self.texts.extend(other.texts)
        self.labels.extend(other.labels)
        self.notes.extend(other.notes)

    @property
    def n_harmful(self) -> int:
        return int(sum(self.labels))


def parse_label(value) -> int | None:
    """0/1 for a known label spelling (bools, 0/1 numbers, words in LABEL_WORDS), else None."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    if isinstance(value, str):
        return LABEL_WORDS.get(value.strip().lower())
    return None


def _label_error(value) -> str:
    known = ", ".join(sorted(LABEL_WORDS))
    return f"unknown label {value!r}. Available: {known}"


def unwrap_bytes_literal(raw: str) -> str:
    """ToxiGen stores each text as a Python bytes literal (b'...'); return the decoded text."""
    raw = raw.strip()
    if len(raw) >= 3 and raw[0] == "b" and raw[1] in "'\"" and raw[-1] == raw[1]:
        value = ast.literal_eval(raw)
        return value.decode("utf-8", errors="replace")
    return raw


def read_labelled(path: Path, text_field: str = "text", label_field: str = "label") -> Labelled:
    """Read one labelled file, or every ToxiGen-style `hate_*`/`neutral_*` .txt under a folder."""
    path = Path(path)
    if not path.exists():
        raise SynthpackError(f"{path}: no such file or folder")
    if path.is_dir():
        return _read_prefixed_folder(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _read_jsonl(path, text_field, label_field)
    if suffix == ".csv":
        return _read_csv(path, text_field, label_field)
    if suffix == ".txt":
        return _read_txt(path)
    raise SynthpackError(
        f"{path}: unknown format {suffix!r}. Available: .jsonl, .csv, .txt, a folder"
    )


def read_texts(path: Path, text_field: str = "text") -> list[str]:
    """Unlabelled texts for `synthpack classify`: TXT lines, or the text field of JSONL/CSV."""
    path = Path(path)
    problems = RowProblems()
    texts: list[str] = []
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        for line_no, row in iter_jsonl(path, problems):
            text = row.get(text_field)
            if not isinstance(text, str) or not text.strip():
                problems.add(path, line_no, text_field, "missing or empty text")
            else:
                texts.append(text)
    elif suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            _require_columns(path, reader.fieldnames or [], [text_field])
            for row in reader:
                text = unwrap_bytes_literal(row.get(text_field) or "")
                if not text.strip():
                    problems.add(path, reader.line_num, text_field, "missing or empty text")
                else:
                    texts.append(text)
    else:
        texts = [line for line in _txt_lines(path) if line.strip()]
    problems.raise_if_any(path)
    return texts


def _require_columns(path: Path, have: list[str], need: list[str]) -> None:
    missing = [name for name in need if name not in have]
    if missing:
        raise SynthpackError(
            f"{path}:1: missing column(s) {', '.join(missing)}. Available: {', '.join(have)}"
        )


def _read_jsonl(path: Path, text_field: str, label_field: str) -> Labelled:
    out, problems = Labelled(source=str(path)), RowProblems()
    for line_no, row in iter_jsonl(path, problems):
        text, raw_label = row.get(text_field), row.get(label_field)
        if raw_label is None and label_field == "label":
            raw_label = row.get(POLARITY_FIELD)
        label = parse_label(raw_label)
        if not isinstance(text, str) or not text.strip():
            problems.add(path, line_no, text_field, "missing or empty text")
        elif label is None:
            problems.add(path, line_no, label_field, _label_error(raw_label))
        else:
            out.add(text, label)
    problems.raise_if_any(path)
    return out


def _read_csv(path: Path, text_field: str, label_field: str) -> Labelled:
    out, problems = Labelled(source=str(path)), RowProblems()
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        toxigen = {"text", "toxicity_ai", "toxicity_human"} <= set(columns)
        if toxigen:
            out.notes.append(
                f"{path.name}: ToxiGen annotated file, toxic iff toxicity_ai + toxicity_human "
                f"> {TOXIGEN_THRESHOLD} (the prompt label column is ignored)"
            )
        else:
            _require_columns(path, columns, [text_field, label_field])
        for row in reader:
            line_no = reader.line_num
            text = unwrap_bytes_literal(row.get("text" if toxigen else text_field) or "")
            if not text.strip():
                problems.add(path, line_no, "text" if toxigen else text_field, "empty text")
                continue
            if toxigen:
                label = _toxigen_label(row, path, line_no, problems)
            else:
                label = parse_label(row.get(label_field))
                if label is None:
                    problems.add(path, line_no, label_field, _label_error(row.get(label_field)))
            if label is not None:
                out.add(text, label)
    problems.raise_if_any(path)
    return out


def _toxigen_label(row: dict, path: Path, line_no: int, problems: RowProblems) -> int | None:
    total = 0.0
    for name in ("toxicity_ai", "toxicity_human"):
        try:
            total += float(row[name])
        except (TypeError, ValueError):
            problems.add(path, line_no, name, f"expected a number, got {row.get(name)!r}")
            return None
    return int(total > TOXIGEN_THRESHOLD)


def _txt_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _prefix_label(path: Path) -> int | None:
    for prefix, label in FILE_PREFIXES.items():
        if path.name.startswith(prefix):
            return label
    return None


_PROMPT_SPLIT = re.compile(r"\\n-?")


def _read_txt(path: Path) -> Labelled:
    """`LABEL<TAB>TEXT` lines, or one text per line when the file name gives the label.

    ToxiGen prompt lines hold six `- ` sentences joined by a literal backslash-n; they are
    split apart and repeated sentences kept once (each file reuses a small pool).
    """
    out, problems = Labelled(source=str(path)), RowProblems()
    label = _prefix_label(path)
    lines = _txt_lines(path)
    if label is not None:
        seen: set[str] = set()
        n_prompt_lines = 0
        for line in lines:
            if "\\n" in line:
                n_prompt_lines += 1
                parts = _PROMPT_SPLIT.split(line)
            else:
                parts = [line]
            for part in parts:
                text = part.strip().removeprefix("- ").strip()
                if text and not (n_prompt_lines and text in seen):
                    seen.add(text)
                    out.add(text, label)
        if n_prompt_lines:
            out.notes.append(
                f"{path.name}: {n_prompt_lines} ToxiGen prompt lines -> "
                f"{len(out)} distinct sentences"
            )
        return out
    for line_no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        raw_label, tab, text = line.partition("\t")
        value = parse_label(raw_label)
        if not tab:
            problems.add(
                path, line_no, "label",
                "expected 'LABEL<TAB>TEXT' (or name the file hate_*.txt / neutral_*.txt)",
            )  # fmt: skip
        elif value is None:
            problems.add(path, line_no, "label", _label_error(raw_label))
        elif not text.strip():
            problems.add(path, line_no, "text", "empty text")
        else:
            out.add(text, value)
    problems.raise_if_any(path)
    return out


def _read_prefixed_folder(folder: Path) -> Labelled:
    files = sorted(p for p in folder.rglob("*.txt") if _prefix_label(p) is not None and p.is_file())
    if not files:
        raise SynthpackError(
            f"{folder}: no hate_*.txt or neutral_*.txt files (the label comes from the prefix)"
        )
    out = Labelled(source=str(folder))
    for path in files:
        out.extend(_read_txt(path))
    out.notes.append(f"{folder}: {len(files)} files read, labels from the file-name prefix")
    return out
