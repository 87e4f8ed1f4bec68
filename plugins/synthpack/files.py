"""Small file helpers shared by every step: atomic, owner-only writes; JSONL reading that names
the file, line and field of every problem."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from synthpack.errors import SynthpackError

MAX_SHOWN = 20  # problems listed in one error message


def atomic_write_text(path: Path, text: str, mode: int = 0o600) -> None:
    """Write a file so readers see either the old or the new content, never half of it.

    Outputs default to owner-only permissions because synthetic data can be harmful text.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data, mode: int = 0o600) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n", mode)


def atomic_write_jsonl(path: Path, rows: Iterable[dict], mode: int = 0o600) -> None:
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    atomic_write_text(path, text, mode)


class RowProblems:
    """Collects every bad row so the user fixes them all in one go."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: Path, line: int, field_name: str, message: str) -> None:
        self.items.append(f"{path}:{line}: field '{field_name}': {message}")

    def raise_if_any(self, path: Path) -> None:
        if not self.items:
            return
        shown = "\n  ".join(self.items[:MAX_SHOWN])
        more = len(self.items) - MAX_SHOWN
        tail = f"\n  ... and {more} more" if more > 0 else ""
        raise SynthpackError(f"{len(self.items)} bad row(s) in {path}:\n  {shown}{tail}")


def iter_jsonl(path: Path, problems: RowProblems):
    """Yield (line number, object) for each JSON-object line; record the bad ones."""
    with Path(path).open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.add(path, line_no, "<json>", f"not valid JSON ({exc.msg})")
                continue
            if not isinstance(row, dict):
                problems.add(path, line_no, "<json>", "expected a JSON object")
                continue
            yield line_no, row


def read_jsonl(path: Path, required: tuple[str, ...] = ()) -> list[dict]:
    """Every row of a non-empty JSONL file; rows lacking a `required` field are errors."""
    path = Path(path)
    if not path.is_file():
        raise SynthpackError(f"{path}: file not found")
    rows, problems = [], RowProblems()
    for line_no, row in iter_jsonl(path, problems):
        missing = [f for f in required if f not in row]
        if missing:
            problems.add(path, line_no, missing[0], "missing")
        else:
            rows.append(row)
    problems.raise_if_any(path)
    if not rows:
        raise SynthpackError(f"{path}: empty file")
    return rows
