"""`synthpack demo` and `synthpack report`: Algorithm 1 end to end, and its run report."""

from __future__ import annotations

from pathlib import Path

import click

from synthpack.demo.layout import SIZES


@click.command()
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("runs/demo"), show_default=True
)
@click.option(
    "--steps",
    help="Run only these steps: a comma list or a range such as train-eval_mlp. "
    "Steps: prepare, render, sft, train, generate, clean, label_check, register, eval_mlp, "
    "stereoset, report.",
)
@click.option(
    "--size",
    type=click.Choice(list(SIZES)),
    default="default",
    show_default=True,
    help="default: Gemma 3 270M (synthpack[gemma]), 36 LoRA steps, 8-9 minutes on 2 cores; "
    "quick: SmolLM2, 12 steps, 2-3 minutes (its data does not raise AUROC); full: the default "
    "recipe with 144 steps and 4x the prompts, about 35 minutes.",
)
@click.option("--full", is_flag=True, help="Short for --size full.")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder with full copies of toxigen/ and stereoset/ (default: $SYNTHPACK_DATA, else "
    "the real subset shipped in dataset_info/demo).",
)
@click.option("--force", is_flag=True, help="Redo the chosen steps instead of reusing them.")
@click.option("--quiet", is_flag=True, help="No progress bars (they only show on a terminal).")
def demo(
    out: Path,
    steps: str | None,
    size: str,
    full: bool,
    data_dir: Path | None,
    force: bool,
    quiet: bool,
) -> None:
    """Seed data to an evaluated, augmented classifier on an embedded model (Algorithm 1).

    render -> sft -> LoRA SFT (llamafactory-cli) -> generate -> clean -> label check -> register
    -> eval mlp -> StereoSet, then OUT/report.html and a table of the results. Finished steps
    are reused on the next call.
    """
    from synthpack.common.progress import progress_bars
    from synthpack.demo.steps import run_demo

    if full and size not in ("default", "full"):
        raise click.UsageError(f"--full and --size {size} ask for two sizes; give one")
    run_demo(
        out, "full" if full else size, steps=steps, data_dir=data_dir, force=force,
        echo=click.echo, progress_bar=progress_bars(quiet),
    )  # fmt: skip


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
def report(run_dir: Path) -> None:
    """Rebuild RUN_DIR/report.html and RUN_DIR/summary.json from a demo run's files, and print
    the results table (numbers only, no generated text)."""
    from synthpack.demo.report import rebuild_report

    html, table = rebuild_report(run_dir)
    click.echo(table)
    click.echo(f"report: {html}")


COMMANDS = (demo, report)
