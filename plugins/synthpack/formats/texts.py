"""The one reader of labelled and unlabelled text files, and the seed pools built from them.

Every step that reads user texts comes here: prompt rendering and SFT building (seed pools),
`augment`, `eval mlp` (labelled data), `classify` and `eval debias` (plain texts). Labels are
spelled as `synthpack.common.labels` allows; every problem names the file, the line and the
field, and all problems of a file are reported at once.

Formats (chosen by file suffix):
- `.jsonl` / `.ndjson`: one object per line; `.json`: a list of objects.
- `.csv` / `.tsv`: a header row, then one row per text. The ToxiGen annotated CSV
  (`toxicity_ai`, `toxicity_human`) is labelled toxic iff their sum exceeds 5.5 (its SOURCE.md).
- `.txt`: one text per line, blank lines skipped. The class comes from the caller (one file per
  class), from a ToxiGen-style file name (`hate_*` / `neutral_*`), or from `LABEL<TAB>TEXT`
  lines. ToxiGen prompt lines (`- ` sentences joined by a literal backslash-n) are split apart.
- a folder (`read_labelled` only): every `hate_*.txt` / `neutral_*.txt` below it.
A file passed for one class (`label=` given) needs no label column; a mixed file needs one.
"""

from __future__ import annotations

import ast
import csv
import glob
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.files import REJECTED, json_lines, read_user_text
from synthpack.common.labels import LABEL, POLARITIES, label_problem, polarity_of, unknown_label
from synthpack.common.problems import Problems, located, names_shown, shown
from synthpack.common.text import text_key, visible_text

TEXT_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".txt")
POLARITY_FIELD = "polarity"  # `synthpack generate` writes accepted.jsonl rows with pos/neg here
FILE_PREFIXES = {"hate_": "pos", "neutral_": "neg"}  # ToxiGen's file names carry the class
TOXIGEN_THRESHOLD = 5.5  # toxicity_ai + toxicity_human above this is toxic (SOURCE.md)
TOXIGEN_COLUMNS = {"text", "toxicity_ai", "toxicity_human"}
_PROMPT_SPLIT = re.compile(r"\\n-?")  # ToxiGen prompt lines: `- a\n- b\n-` with a literal \n


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
    """One line of visible text: prompts list examples and answers number entries one per
    line, and control or format characters (NUL, U+200B, bidi overrides) never travel on."""
    return " ".join(visible_text(str(text)).split())


def unwrap_bytes_literal(raw: str) -> str:
    """ToxiGen stores each text as a Python bytes literal (b'...'); return the decoded text."""
    raw = raw.strip()
    if len(raw) >= 3 and raw[0] == "b" and raw[1] in "'\"" and raw[-1] == raw[1]:
        try:
            return ast.literal_eval(raw).decode("utf-8", errors="replace")
        except (ValueError, SyntaxError):
            return raw
    return raw


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


def require_jsonl_name(path: Path, option: str = "--out") -> None:
    """An output written as JSONL must not carry another format's suffix: readers choose the
    format by suffix, so `augmented.csv` holding JSON lines would be read as a broken CSV."""
    suffix = Path(path).suffix.lower()
    if suffix in TEXT_SUFFIXES and suffix not in (".jsonl", ".ndjson"):
        raise SynthpackError(
            f"{path}: {option} is written as JSONL, not {suffix}; name it "
            f"{Path(path).with_suffix('.jsonl').name}"
        )


def not_a_file(path: Path, what: str = "file") -> str:
    """Why `path` cannot be read as a file: it is a folder, or it is not there."""
    return f"a folder, not a {what}" if Path(path).is_dir() else f"{what} not found"


def prefix_label(path: Path) -> str | None:
    """The class a ToxiGen-style file name gives (`hate_asian.txt` -> pos), else None."""
    for prefix, polarity in FILE_PREFIXES.items():
        if path.name.startswith(prefix):
            return polarity
    return None


def _delimiter(path: Path) -> str:
    return "\t" if path.suffix.lower() == ".tsv" else ","


def iter_rows(path: Path) -> Iterable[tuple[int, dict | str | None, str | None]]:
    """Yield (line, row, problem) for the file's rows; row is a dict, or a str for TXT.

    For a `.json` list the number is the record's position (1-based), not a line, and None
    when the problem is the whole file.
    """
    suffix = path.suffix.lower()
    text = read_user_text(path)
    if suffix == ".txt":
        # split("\n"), not splitlines(): the latter also breaks at U+2028 and friends.
        for number, raw in enumerate(text.split("\n"), start=1):
            if raw.strip():
                yield number, raw.rstrip("\r"), None
    elif suffix in (".jsonl", ".ndjson"):
        yield from json_lines(text)
    elif suffix == ".json":
        try:
            data = json.loads(text) if text.strip() else []
        except json.JSONDecodeError as err:  # the whole file: no record to name
            yield None, None, f"not valid JSON at line {err.lineno} ({err.msg})"
            return
        if not isinstance(data, list):
            yield None, None, "expected a JSON list of objects"
            return
        for index, row in enumerate(data):
            yield (
                (index + 1, row, None)
                if isinstance(row, dict)
                else (index + 1, None, "record is not a JSON object")
            )
    elif suffix in (".csv", ".tsv"):
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=_delimiter(path))
        if reader.fieldnames is None:
            return
        for row in reader:
            surplus = row.pop(None, None)  # csv's key for cells beyond the header's columns
            if surplus:  # an unquoted delimiter inside a text: its cells would shift
                columns = len(reader.fieldnames)
                problem = f"{columns + len(surplus)} cells, but the header names {columns} columns"
                yield reader.line_num, None, f"{problem} (quote a text holding the delimiter)"
            else:
                yield reader.line_num, row, None
    else:
        raise SynthpackError(
            f"{path}: unsupported file type {suffix!r} (use {', '.join(TEXT_SUFFIXES)})"
        )


def is_table(path: Path) -> bool:
    """A CSV or TSV file: its first row names the fields (or should)."""
    return path.suffix.lower() in (".csv", ".tsv")


def csv_header(path: Path) -> list[str]:
    first = read_user_text(path).split("\n", 1)[0].rstrip("\r")
    return next(csv.reader([first], delimiter=_delimiter(path)), None) or []


def require_columns(path: Path, header: list[str], needed: Iterable[str | None]) -> None:
    if not header:
        raise SynthpackError(f"{path}: empty file (no header row)")
    missing = [f for f in needed if f and f not in header]
    if missing:
        raise SynthpackError(
            located(path, f"missing column ({names_shown(header, header=True)})", 1, missing[0])
        )


def _toxigen_label(row: dict, line: int, problems: Problems) -> str | None:
    total = 0.0
    for name in ("toxicity_ai", "toxicity_human"):
        try:
            total += float(row[name])
        except (TypeError, ValueError):
            problems.add(f"expected a number, got {shown(row.get(name))}", line, name)
            return None
    return "pos" if total > TOXIGEN_THRESHOLD else "neg"


def _txt_texts(path: Path, label: str | None, notes: list[str], problems: Problems):
    """(line, text, polarity) of a TXT file; see the module docstring for the three layouts."""
    rows = list(iter_rows(path))
    label = label or prefix_label(path)
    if label is None:
        if not any("\t" in raw for _, raw, _ in rows):
            raise SynthpackError(
                f"{path}: a .txt seed file has no label column; pass it as one class (--pos or "
                "--neg), name it hate_*.txt / neutral_*.txt, or write LABEL<TAB>TEXT lines"
            )
        for line, raw, _ in rows:
            raw_label, tab, text = raw.partition("\t")
            polarity = polarity_of(raw_label) if tab else None
            if not tab:
                problems.add(
                    "expected 'LABEL<TAB>TEXT' (or name the file hate_*.txt / neutral_*.txt)",
                    line,
                    "label",
                )
            elif polarity is None:
                problems.add(unknown_label(raw_label), line, "label")
            elif not text.strip():
                problems.add("empty text", line, "text")
            else:
                yield line, text, polarity
        return
    seen: set[str] = set()
    prompt_lines = 0
    for line, raw, _ in rows:
        parts = [raw]
        if raw.startswith("- ") and "\\n" in raw:  # a ToxiGen prompt line, not a sentence
            prompt_lines += 1
            parts = _PROMPT_SPLIT.split(raw)
        for part in parts:
            text = part.strip().removeprefix("- ").strip()
            if text and not (prompt_lines and text in seen):  # prompts reuse a small pool
                seen.add(text)
                yield line, text, label
    if prompt_lines:
        notes.append(
            f"{path.name}: {prompt_lines} ToxiGen prompt lines -> {len(seen)} distinct sentences"
        )


def _row_label(row: dict, label_field: str) -> tuple[str | None, tuple[str, str] | None]:
    """(polarity, None), or (None, (field, problem)). accepted.jsonl rows carry both `label`
    (1/0) and `polarity` (pos/neg): either will do, and when both are there they must agree."""
    value = row.get(label_field)
    other = row.get(POLARITY_FIELD) if label_field == "label" else None
    if value in (None, "") and other not in (None, ""):
        label_field, value, other = POLARITY_FIELD, other, None
    polarity, problem = label_problem(value)
    if problem:
        return None, (label_field, problem)
    if other not in (None, ""):
        second, problem = label_problem(other)
        if problem or second != polarity:
            problem = problem or f"{shown(other)} disagrees with label {shown(value)}"
            return None, (POLARITY_FIELD, problem)
    return polarity, None


def _read(
    path: Path,
    label: str | None,
    text_field: str,
    label_field: str,
    category_field: str,
    notes: list[str],
) -> list[SeedText]:
    """Rows of one file; raises listing every bad row."""
    suffix = path.suffix.lower()
    problems = Problems(path)
    rows: list[SeedText] = []
    if suffix == ".txt":
        for line, text, polarity in _txt_texts(path, label, notes, problems):
            rows.append(SeedText(clean_text(text), polarity, str(path), line))
        problems.raise_if_any()
        return rows
    toxigen = False
    if suffix in (".csv", ".tsv"):
        header = csv_header(path)
        toxigen = label is None and TOXIGEN_COLUMNS <= set(header)
        if toxigen:
            notes.append(
                f"{path.name}: ToxiGen annotated file, toxic iff toxicity_ai + toxicity_human "
                f"> {TOXIGEN_THRESHOLD} (the prompt label column is ignored)"
            )
        else:
            require_columns(path, header, (text_field, label_field if label is None else None))
    record = suffix == ".json"  # a JSON list has no useful line numbers: name the record

    def add(message: str, number: int, name: str | None = None) -> None:
        problems.add(message, None if record else number, name, number if record else None)

    marked_rejected = 0
    for number, row, problem in iter_rows(path):
        if problem:
            add(problem, number)
            continue
        if row.get("kind") == REJECTED:
            marked_rejected += 1
            continue
        text = row.get("text" if toxigen else text_field)
        if text is None:
            add(f"missing ({names_shown(row, is_table(path))})", number, text_field)
            continue
        if suffix in (".csv", ".tsv"):
            text = unwrap_bytes_literal(text)
        if not isinstance(text, str) or not visible_text(text).strip():
            add("empty or not a string", number, text_field)
            continue
        polarity = label
        if toxigen:
            polarity = _toxigen_label(row, number, problems)
            if polarity is None:
                continue
        elif polarity is None:
            polarity, problem = _row_label(row, label_field)
            if problem:
                add(problem[1], number, problem[0])
                continue
        category = row.get(category_field)
        rows.append(
            SeedText(
                clean_text(text),
                polarity,
                str(path),
                number,
                str(category) if category not in (None, "") else None,
            )
        )
    if marked_rejected:
        raise SynthpackError(
            f'{path}: {marked_rejected} row(s) are marked "kind": "{REJECTED}": a rejects file '
            "holds what a step dropped (refusals, garbage, duplicates, ...), not data; give "
            "the accepted.jsonl beside it"
        )
    problems.raise_if_any()
    return rows


def read_seed_file(
    path: str | Path,
    label: str | None = None,
    text_field: str = "text",
    label_field: str = "label",
    category_field: str = "category",
    notes: list[str] | None = None,
    allow_empty: bool = False,
) -> list[SeedText]:
    """Read one file into SeedText rows; `label` ("pos"/"neg") marks a one-class file.

    Raises SynthpackError listing every problem (file, line, field) when any row is bad.
    """
    path = Path(path)
    if not path.is_file():
        raise SynthpackError(f"{path}: {not_a_file(path, 'seed file')}")
    if label is not None and label not in POLARITIES:
        raise ValueError(f"label must be 'pos' or 'neg', got {label!r}")
    rows = _read(
        path, label, text_field, label_field, category_field, [] if notes is None else notes
    )
    if not rows and not allow_empty:
        raise SynthpackError(f"{path}: empty file (no texts)")
    return rows


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


# ---------------------------------------------------------------- labelled data (0/1)


@dataclass
class Labelled:
    """Texts with 0/1 labels (1 = harmful) for the classifier, plus what the reader noticed."""

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


def read_labelled(path: Path, text_field: str = "text", label_field: str = "label") -> Labelled:
    """One labelled file (may be empty), or every `hate_*`/`neutral_*` .txt under a folder."""
    path = Path(path)
    if not path.exists():
        raise SynthpackError(f"{path}: no such file or folder")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file() and prefix_label(p))
        if not files:
            raise SynthpackError(
                f"{path}: no hate_*.txt or neutral_*.txt files (the label comes from the prefix)"
            )
        folder_notes = [f"{path}: {len(files)} files read, labels from the file-name prefix"]
    else:
        files, folder_notes = [path], []
    out = Labelled(source=str(path))
    for file in files:
        for row in read_seed_file(
            file, None, text_field, label_field, notes=out.notes, allow_empty=True
        ):
            out.add(row.text, LABEL[row.label])
    out.notes.extend(folder_notes)
    return out


def read_texts(path: Path, text_field: str = "text") -> list[tuple[str, str]]:
    """(id, text) of unlabelled texts: TXT lines, or the `text_field` of JSONL/JSON/CSV/TSV rows
    (the id is the row's `id` field, else its line)."""
    path = Path(path)
    if not path.is_file():
        raise SynthpackError(f"{path}: {not_a_file(path)}")
    if path.suffix.lower() in (".csv", ".tsv"):
        require_columns(path, csv_header(path), [text_field])
    problems, texts, first = Problems(path), [], {}
    for line, row, problem in iter_rows(path):
        if problem:
            problems.add(problem, line)
            continue
        if isinstance(row, str):
            id_, text = str(line), row.strip()
        elif not isinstance(row.get(text_field), str) or not row[text_field].strip():
            problems.add("missing or empty text", line, text_field)
            continue
        else:
            id_, text = str(row.get("id", line)), unwrap_bytes_literal(row[text_field])
        if id_ in first:  # a score or rewrite found by id would attach to two texts
            problems.add(f"{shown(id_)} is also the id of line {first[id_]}", line, "id")
            continue
        first[id_] = line
        texts.append((id_, text))
    problems.raise_if_any()
    return texts


# ---------------------------------------------------------------- seed pools


def drop_overlap(data: Labelled, eval_keys: set[str]) -> tuple[Labelled, int]:
    """Training rows whose text also appears in the evaluation set would leak; drop them."""
    kept = Labelled(source=data.source, notes=list(data.notes))
    for text, label in zip(data.texts, data.labels, strict=True):
        if text_key(text) not in eval_keys:
            kept.add(text, label)
    return kept, len(data) - len(kept)
