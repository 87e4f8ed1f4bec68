"""`synthpack model prepare`: an embedded model (default SmolLM2-135M-Instruct) as a folder."""

from __future__ import annotations

from pathlib import Path

import click

from synthpack.models.embedded import DEFAULT_MODEL, MODELS


@click.group()
def model() -> None:
    """The embedded models (default SmolLM2-135M-Instruct; Gemma 3 270M with synthpack[gemma])."""


@model.command("prepare")
@click.option(
    "--model", "name", type=click.Choice(list(MODELS)), default=DEFAULT_MODEL, show_default=True
)
@click.option("--gguf", type=click.Path(path_type=Path), help="Another GGUF file to convert.")
@click.option(
    "--out", type=click.Path(path_type=Path), help="Target folder (default: under SYNTHPACK_HOME)."
)
@click.option("--force", is_flag=True, help="Rebuild even when a prepared copy exists.")
def model_prepare(name: str, gguf: Path | None, out: Path | None, force: bool) -> None:
    """Convert the model's packaged GGUF into a Hugging Face model folder; print its path.

    Offline and idempotent: a second call returns the cached folder at once.
    """
    from synthpack.models.embedded import prepare_model

    click.echo(prepare_model(name, out_dir=out, gguf=gguf, force=force))


COMMANDS = (model,)
