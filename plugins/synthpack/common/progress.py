"""How long runs report progress without the library choosing a terminal library.

A runner takes a `progress_bar(total, label)` context manager that yields `update(n)`; the CLI
passes a real bar, tests and the demo pass `silent`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

ProgressBar = Callable[[int, str], AbstractContextManager[Callable[[int], None]]]


@contextmanager
def silent(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar that shows nothing."""
    yield lambda n: None
