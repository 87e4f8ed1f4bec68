"""Where synthpack finds its shipped pack files and keeps its caches."""

from __future__ import annotations

import os
from pathlib import Path

PACK_FOLDERS = ("templates", "llamafactory_configs", "dataset_info", "recipes", "eval")


def synthpack_home() -> Path:
    """Cache root for prepared models and other derived files.

    `SYNTHPACK_HOME` moves it (tests point it at a temporary folder).
    """
    env = os.environ.get("SYNTHPACK_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "synthpack"


def templates_root(templates_dir: Path | None = None) -> Path:
    """A forked pack's templates folder when given, else the shipped one."""
    return Path(templates_dir) if templates_dir else pack_dir("templates")


def pack_dir(name: str) -> Path:
    """Return a shipped pack folder (templates, configs, ...).

    A wheel carries them under `synthpack/pack/`; a source checkout (also an editable
    install) has them at the repository root, which is what users fork and edit.
    """
    if name not in PACK_FOLDERS:
        raise ValueError(f"Unknown pack folder {name!r}. Available: {', '.join(PACK_FOLDERS)}")
    package = Path(__file__).resolve().parents[1]  # .../synthpack
    for candidate in (package / "pack" / name, package.parents[1] / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"synthpack pack folder {name!r} not found next to {package}")
