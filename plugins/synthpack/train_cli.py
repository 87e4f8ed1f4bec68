"""`synthpack check CONFIG` and `synthpack train prefix CONFIG`: thin commands over check.py
and prefix.py."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import click

from synthpack.errors import SynthpackError

CONFIG = click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
OVERRIDES = click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")


@contextmanager
def _quiet_llamafactory():
    """LLaMA-Factory and transformers log every parsed setting at INFO; a check needs none.

    Both settings are restored afterwards: `check` also runs inside other programs (the tests,
    a notebook) whose later `llamafactory-cli` runs inherit the environment.
    """
    from transformers.utils import logging

    before_env = os.environ.get("LLAMAFACTORY_VERBOSITY")
    before_level = logging.get_verbosity()
    os.environ.setdefault("LLAMAFACTORY_VERBOSITY", "ERROR")
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(before_level)
        if before_env is None:
            os.environ.pop("LLAMAFACTORY_VERBOSITY", None)


def _report(result) -> None:
    from synthpack.check import launch_command

    for problem in result.problems:
        click.echo(problem.format(result.path), err=True)
    if not result.ok:
        raise SynthpackError(f"{result.path}: {len(result.problems)} problem(s), see above")
    for note in result.notes:
        click.echo(f"  {note}")
    click.echo(f"OK: {result.path} ({launch_command(result)})")


@click.command()
@CONFIG
@OVERRIDES
def check(config: Path, overrides: tuple[str, ...]) -> None:
    """Check a pack YAML before training: keys, datasets, template, DeepSpeed file, and
    LLaMA-Factory's own argument parsing; reports every problem with its line.

    KEY=VALUE overrides work as with llamafactory-cli (e.g. dataset_dir=runs/sft). Paths are
    relative to the current folder, as for llamafactory-cli. No model is loaded.
    """
    from synthpack.check import check_config

    with _quiet_llamafactory():
        result = check_config(config, overrides)
    _report(result)


@click.group()
def train() -> None:
    """Training methods LLaMA-Factory lacks (run the others with `llamafactory-cli train`)."""


@train.command("prefix")
@CONFIG
@OVERRIDES
def train_prefix_command(config: Path, overrides: tuple[str, ...]) -> None:
    """PEFT prefix-tuning from a LLaMA-Factory-style YAML (finetuning_type: prefix).

    Checks the YAML first (every problem at once), then trains with the Hugging Face Trainer
    on data loaded by LLaMA-Factory's own dataset and template code, and saves a PEFT adapter
    in output_dir. KEY=VALUE overrides work as with llamafactory-cli.
    """
    from synthpack.check import check_config
    from synthpack.prefix import train_prefix

    result = check_config(config, overrides)
    if result.kind != "prefix":
        raise SynthpackError(
            f"{config}: finetuning_type is {result.config.get('finetuning_type')!r}, not "
            f"'prefix'; run it with `llamafactory-cli train {config}`"
        )
    for problem in result.problems:
        click.echo(problem.format(config), err=True)
    if not result.ok:
        raise SynthpackError(f"{config}: {len(result.problems)} problem(s), see above")
    summary = train_prefix(config, overrides)
    click.echo(
        f"prefix adapter: {summary['output_dir']} ({summary['trainable_parameters']:,} trained "
        f"parameters, {summary['global_step']} steps, train loss {summary['train_loss']:.4f})"
    )


COMMANDS = (check, train)
