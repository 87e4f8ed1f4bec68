"""One way to point at a place in a file, and one list of problems reported all at once.

Every reader of user files (seeds, prompts, predictions, labelled data, StereoSet, CrowS-Pairs,
YAML configs) reports a bad row as `PATH:LINE: FIELD: what is wrong`, the layout compilers use
and editors jump to, and collects every bad row before it raises, so a user fixes them in one go.
A value from such a file goes into a message through `shown` (or `names_shown` for a row's
field names): the file may hold generated harmful text, which must never reach a terminal
unasked, so only a short word or number is quoted and anything longer is described.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from synthpack.common.errors import SynthpackError

MAX_SHOWN = 20  # problems (or names) listed in one message; the rest are counted
SHOWN_CHARS = 24  # a value is quoted only up to this length, in one line,
SHOWN_WORDS = 3  # and of at most this many words (label words have 2); else it is described


def located(
    path: Path | str | None,
    message: str,
    line: int | None = None,
    field: str | None = None,
    record: int | None = None,
) -> str:
    """`PATH:LINE: FIELD: message`; `record` numbers an item of a JSON list instead of a line."""
    where = str(path) if path is not None else ""
    if line is not None:
        where += f":{line}"
    elif record is not None:
        where += f", record {record}"
    parts = [p for p in (where, field) if p]
    return ": ".join([*parts, message])


def listed(names: Iterable[str], limit: int = MAX_SHOWN) -> str:
    """Names joined by commas, cut after `limit` with a count of the rest."""
    names = list(names)
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def json_kind(value) -> str:
    """What a JSON value is, without showing it (it may be generated harmful text)."""
    if value is None:
        return "nothing (missing or null)"
    if isinstance(value, str):
        return "an empty string" if not value.strip() else "a string"
    if isinstance(value, bool):  # before int: True is an int to Python
        return "true/false"
    kinds = ((int, "a number"), (float, "a number"), (list, "a list"), (dict, "an object"))
    return next((name for kind, name in kinds if isinstance(value, kind)), type(value).__name__)


def _short(text: str) -> bool:
    """A word, a number or a short name: printable, one line, few characters and words."""
    return len(text) <= SHOWN_CHARS and text.isprintable() and len(text.split()) <= SHOWN_WORDS


def shown(value) -> str:
    """A value from a user's file as an error message may show it: quoted when it is a short
    word or number (`'maybe'`, `2`), else described (`<a text of 143 characters>`)."""
    if isinstance(value, str):
        return repr(value) if _short(value) else f"<a text of {len(value)} characters>"
    if isinstance(value, (int, float)) and _short(repr(value)):  # bool is an int too
        return repr(value)
    return f"<{json_kind(value)}>"


def names_shown(names: Iterable, header: bool = False) -> str:
    """`fields: a, b` (`columns: ...` for a CSV `header`) when each name looks like one; a row
    whose names look like data (a long cell: the first text of a file without its header row)
    is counted, not shown."""
    names = [str(n) for n in names if n is not None]  # None: csv's key for surplus cells
    what = "columns" if header else "fields"
    if not names:
        return f"no {what}"
    if all(_short(n) for n in names):
        return f"{what}: {listed(names)}"
    if header:
        return (
            f"the first row does not look like a header: {len(names)} columns, some long; "
            "is the header row missing?"
        )
    return f"{len(names)} field(s), not shown: some look like texts, not names"


@dataclass(frozen=True)
class Problem:
    """One thing wrong: where (line or JSON record, field) and what."""

    message: str
    line: int | None = None
    field: str | None = None
    record: int | None = None

    @property
    def key(self) -> str | None:
        """The field under the name a YAML config gives it."""
        return self.field

    def format(self, path: Path | str | None) -> str:
        return located(path, self.message, self.line, self.field, self.record)


@dataclass
class Problems:
    """Every problem found in one source; `raise_if_any` reports them together.

    `noun` names what one problem is ("bad score(s)"); `unit` what a line or record of the
    source is, so the header counts both: `3 problem(s) in 2 row(s)`.
    """

    source: Path | str | None = None
    noun: str = "problem(s)"
    unit: str = "row(s)"
    items: list[Problem] = field(default_factory=list)

    def add(
        self,
        message: str,
        line: int | None = None,
        field: str | None = None,
        record: int | None = None,
    ) -> None:
        self.items.append(Problem(message, line, field, record))

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def lines(self) -> list[str]:
        return [p.format(self.source) for p in self.items]

    def count(self) -> str:
        """`N problem(s) in M row(s)`: rows are the distinct lines (or records) named; a
        problem that names none is about the whole source."""
        places = {(p.line, p.record) for p in self.items if (p.line, p.record) != (None, None)}
        whole = sum((p.line, p.record) == (None, None) for p in self.items)
        total = f"{len(self.items)} {self.noun}"
        if not places:
            return total
        if not whole:
            return f"{total} in {len(places)} {self.unit}"
        rows = f"{len(self.items) - whole} in {len(places)} {self.unit}"
        return f"{total}: {rows}, {whole} about the whole file"

    def summary(self) -> str:
        """`SOURCE: N problem(s) in M row(s):` and the first MAX_SHOWN problems, one a line."""
        first = self.lines()[:MAX_SHOWN]
        more = len(self.items) - len(first)
        tail = [f"... and {more} more"] if more > 0 else []
        head = f"{self.source}: " if self.source is not None else ""
        return f"{head}{self.count()}:\n  " + "\n  ".join(first + tail)

    def raise_if_any(self) -> None:
        if self.items:
            raise SynthpackError(self.summary())


def unknown_name(kind: str, name: str, available: list[str]) -> SynthpackError:
    """`Unknown KIND 'name'. Did you mean: closest? Available: ...` for a bad name."""
    import difflib

    close = difflib.get_close_matches(name, available, n=1)
    hint = f" Did you mean: {close[0]}?" if close else ""
    return SynthpackError(
        f"Unknown {kind} {name!r}.{hint} Available: {', '.join(available) or '(none)'}"
    )
