"""Run LLaMA-Factory's own `llamafactory-cli train` on a pack YAML with key=value overrides.

synthpack never re-implements LLaMA-Factory training; it only launches the real CLI, so the
same YAML behaves identically on a laptop, in the tests and on a GPU cluster.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.train.lf_config import format_override


def llamafactory_cli() -> str:
    """The `llamafactory-cli` next to this Python, so a venv works without being activated."""
    beside = Path(sys.executable).with_name("llamafactory-cli")
    if beside.exists():
        return str(beside)
    found = shutil.which("llamafactory-cli")
    if not found:
        raise SynthpackError("llamafactory-cli not found: install synthpack's dependencies first")
    return found


def run_llamafactory_train(
    config: Path,
    overrides: dict | None = None,
    log_path: Path | None = None,
    cwd: Path | None = None,
) -> None:
    """Launch `llamafactory-cli train CONFIG key=value ...`; raise with the log's tail on failure.

    Output goes to `log_path` (and the terminal when no log is given) so long runs stay
    inspectable after the fact.
    """
    argv = [llamafactory_cli(), "train", str(config)]
    argv += [format_override(k, v) for k, v in (overrides or {}).items()]
    env = dict(os.environ)
    # The venv's bin must be on PATH: LLaMA-Factory relaunches itself (torchrun) by name.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if log_path is None:
        result = subprocess.run(argv, cwd=cwd, env=env)
        tail = ""
    else:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("w") as log:
            result = subprocess.run(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])
    if result.returncode != 0:
        where = f" (full log: {log_path})" if log_path else ""
        raise SynthpackError(
            f"llamafactory-cli train {config} failed with exit code {result.returncode}{where}"
            f"\n{tail}"
        )
