"""PNG charts for reports: a headless figure and one atomic, owner-only way to save it."""

from __future__ import annotations

from pathlib import Path


def figure(width: float = 6.0, height: float = 3.0, ncols: int = 1, dpi: int = 110):
    """`(fig, axes)` on matplotlib's file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=(width, height), dpi=dpi)


def save_png(fig, path: Path, mode: int = 0o600) -> Path:
    """Lay the figure out, write it beside `path` and rename it into place; close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fig.savefig(tmp, format="png")
        tmp.chmod(mode)
        tmp.replace(path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return path
