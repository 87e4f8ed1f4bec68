"""How long runs report progress without the library choosing when to show it.

A runner takes a `progress_bar(total, label)` context manager that yields
`update(n=1, **facts)`: `n` more units are done, and `facts` (loss, tokens/s, ...) are shown
beside the bar. A fact named `total` changes the bar's length, for work whose size is only
learnt on the way (a training run announces its step count in its first log line).

Every command draws the same bar: tqdm's (already installed with transformers), on stderr,
and only when stderr is a terminal; `progress_bars(quiet=True)` draws nothing at all.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager

Update = Callable[..., None]
ProgressBar = Callable[..., AbstractContextManager[Update]]


@contextmanager
def silent(total: int, label: str, unit: str = "it") -> Iterator[Update]:
    """A progress bar that shows nothing."""
    yield lambda n=1, **facts: None


@contextmanager
def terminal(total: int, label: str, unit: str = "it") -> Iterator[Update]:
    """tqdm on stderr; it disables itself when stderr is not a terminal (a log file, CI)."""
    from tqdm import tqdm

    with tqdm(
        total=total or None, desc=label, unit=unit, file=sys.stderr, disable=None, leave=True
    ) as bar:
        shown: dict = {}  # a fact stays on screen until a newer value replaces it

        def update(n: int = 1, **facts) -> None:
            if "total" in facts:
                bar.total = facts.pop("total")
            if facts:
                shown.update(facts)
                bar.set_postfix(shown, refresh=False)
            bar.update(n)
            if not n:
                bar.refresh()

        yield update


def progress_bars(quiet: bool = False) -> ProgressBar:
    """The bar every command passes to its runner: `terminal`, or `silent` with --quiet."""
    return silent if quiet else terminal


def counted(items: Sequence, progress_bar: ProgressBar, label: str, unit: str = "it") -> Iterator:
    """Iterate over `items` with a bar that advances by one after each."""
    with progress_bar(len(items), label, unit=unit) as update:
        for item in items:
            yield item
            update(1)
