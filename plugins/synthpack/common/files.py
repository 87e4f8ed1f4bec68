"""File helpers shared by every step: atomic, owner-only writes; JSONL reading that names the
file, line and field of every problem."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.problems import Problems


def private_dir(path: Path) -> Path:
    """Create `path` (and its parents) readable by its owner only: folders that hold
    generated text, which may be harmful."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


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


REJECTED = "rejected"  # the `kind` of every row of a rejects file; readers of data refuse it


def atomic_write_rejects(path: Path, rows: Iterable[dict]) -> None:
    """A rejects file: each dropped row with its reason, marked `"kind": "rejected"` so that no
    reader of training or evaluation data takes it for data (refusals, garbage and excess
    entries would otherwise train a classifier under their prompt's label)."""
    atomic_write_jsonl(path, ({**row, "kind": REJECTED} for row in rows))


def append_jsonl(path: Path, rows: Iterable[dict], mode: int = 0o600) -> None:
    """Append rows to a JSONL file and fsync them: a long run's finished work survives a stop
    (a torn last line, from a kill mid-write, is what readers of such files skip)."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
        f.flush()
        os.fsync(f.fileno())


def read_user_text(path: Path) -> str:
    """A user's text file as str (UTF-8, a BOM allowed); a binary or mis-encoded file is a
    SynthpackError naming the line and byte, not a UnicodeDecodeError traceback."""
    path = Path(path)
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise SynthpackError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset "
            f"{err.start}); is it a binary file? Save it as UTF-8"
        ) from None


def json_lines(text: str) -> Iterable[tuple[int, dict | None, str | None]]:
    """(line, object, None) for each JSON-object line of JSONL text, (line, None, problem) for
    a bad one; blank lines are skipped.

    Split on "\\n" only: str.splitlines() would also break inside a text at U+2028 and friends.
    """
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as err:
            yield number, None, f"not valid JSON ({err.msg})"
            continue
        yield (number, row, None) if isinstance(row, dict) else (number, None, "not a JSON object")


def iter_jsonl(path: Path, problems: Problems):
    """Yield (line number, object) for each JSON-object line; record the bad ones."""
    for line_no, row, problem in json_lines(read_user_text(path)):
        if problem:
            problems.add(problem, line=line_no)
        else:
            yield line_no, row


def read_jsonl(path: Path, required: tuple[str, ...] = (), allow_empty: bool = False) -> list[dict]:
    """Every row of a JSONL file, which must hold one unless `allow_empty`; rows lacking a
    `required` field are errors."""
    path = Path(path)
    if not path.is_file():
        raise SynthpackError(f"{path}: file not found")
    rows, problems = [], Problems(path)
    for line_no, row in iter_jsonl(path, problems):
        missing = [f for f in required if f not in row]
        if missing:
            problems.add("missing", line=line_no, field=missing[0])
        else:
            rows.append(row)
    problems.raise_if_any()
    if not rows and not allow_empty:
        raise SynthpackError(f"{path}: empty file")
    return rows


def yaml_key_lines(text: str) -> dict[str, list[int]]:
    """1-based line numbers of each top-level key (a list: a key may be written twice)."""
    import yaml

    node = yaml.compose(text)
    lines: dict[str, list[int]] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            lines.setdefault(str(key_node.value), []).append(key_node.start_mark.line + 1)
    return lines
