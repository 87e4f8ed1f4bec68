"""`synthpack check CONFIG` and `synthpack train prefix CONFIG`: thin commands over
`synthpack.train.check` and `synthpack.train.prefix`."""

from __future__ import annotations

from pathlib import Path

import click

from synthpack.common.errors import SynthpackError

CONFIG = click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
OVERRIDES = click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")


def _print_problems(result) -> None:
    for problem in result.problems:
        click.echo(problem.format(result.path), err=True)
    if not result.ok:
        raise SynthpackError(f"{result.path}: {len(result.problems)} problem(s), see above")


def _report(result) -> None:
    from synthpack.train.check import launch_command

    _print_problems(result)
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
    from synthpack.train.check import check_config, quiet_llamafactory

    with quiet_llamafactory():
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
    from synthpack.train.check import check_config
    from synthpack.train.prefix import train_prefix

    result = check_config(config, overrides)
    if result.kind != "prefix":
        raise SynthpackError(
            f"{config}: finetuning_type is {result.config.get('finetuning_type')!r}, not "
            f"'prefix'; run it with `llamafactory-cli train {config}`"
        )
    _print_problems(result)
    summary = train_prefix(config, overrides)
    click.echo(
        f"prefix adapter: {summary['output_dir']} ({summary['trainable_parameters']:,} trained "
        f"parameters, {summary['global_step']} steps, train loss {summary['train_loss']:.4f})"
    )


COMMANDS = (check, train)
