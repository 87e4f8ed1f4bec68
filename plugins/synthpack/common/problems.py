"""One way to point at a place in a file, and one list of problems reported all at once.

Every reader of user files (seeds, prompts, predictions, labelled data, StereoSet, CrowS-Pairs,
YAML configs) reports a bad row as `PATH:LINE: FIELD: what is wrong`, the layout compilers use
and editors jump to, and collects every bad row before it raises, so a user fixes them in one go.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from synthpack.common.errors import SynthpackError

MAX_SHOWN = 20  # problems (or names) listed in one message; the rest are counted


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

    `noun` names what the count counts: bad rows of a data file, problems of a config.
    """

    source: Path | str | None = None
    noun: str = "bad row(s)"
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

    def summary(self) -> str:
        """`SOURCE: N bad row(s):` and the first MAX_SHOWN problems, one per line."""
        shown = self.lines()[:MAX_SHOWN]
        more = len(self.items) - len(shown)
        tail = [f"... and {more} more"] if more > 0 else []
        head = f"{self.source}: " if self.source is not None else ""
        return f"{head}{len(self.items)} {self.noun}:\n  " + "\n  ".join(shown + tail)

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
