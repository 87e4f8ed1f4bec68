"""Peak resident memory of one step: the largest of this process and the children it waited on.

Linux keeps each process's peak (VmHWM in /proc/PID/status); writing 5 to
/proc/self/clear_refs resets this process's, so each step reads its own peak, not the run's.
A step that runs a child (LLaMA-Factory training) reports the child's peak with
`note_child(pid)` while it waits. Elsewhere (no /proc) the figures are None.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

_watching: list[dict] = []  # the peaks of the steps now running, innermost last


def peak_rss_bytes(pid: int | str = "self") -> int | None:
    """The peak resident memory of a process so far, or None where /proc cannot tell."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def note_child(pid: int) -> None:
    """Count a running child's peak towards the steps now running (call it while it runs)."""
    peak = peak_rss_bytes(pid)
    if peak is None:
        return
    for watch in _watching:
        watch["bytes"] = max(watch["bytes"] or 0, peak)


@contextmanager
def peak_memory():
    """Yields a dict whose "bytes" is, on exit, the peak resident memory of the block."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # peak := now (Linux 4.0+)
    except OSError:
        pass
    watch = {"bytes": None}
    _watching.append(watch)
    try:
        yield watch
    finally:
        _watching.remove(watch)
        own = peak_rss_bytes()
        if own is not None:
            watch["bytes"] = max(watch["bytes"] or 0, own)
