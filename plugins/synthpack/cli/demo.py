"""`synthpack demo` and `synthpack report`: Algorithm 1 end to end, and its run report."""

from __future__ import annotations

from pathlib import Path

import click


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
@click.option("--full", is_flag=True, help="Paper-like sizes (30 entries, 150 steps): hours.")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder with full copies of toxigen/ and stereoset/ (default: $SYNTHPACK_DATA, else "
    "the real subset shipped in dataset_info/demo).",
)
@click.option("--force", is_flag=True, help="Redo the chosen steps instead of reusing them.")
def demo(out: Path, steps: str | None, full: bool, data_dir: Path | None, force: bool) -> None:
    """Seed data to an evaluated, augmented classifier on the embedded SmolLM2 (Algorithm 1).

    render -> sft -> LoRA SFT (llamafactory-cli) -> generate -> clean -> label check -> register
    -> eval mlp -> StereoSet, then OUT/report.html. Finished steps are reused on the next call.
    """
    from synthpack.demo.steps import run_demo

    run_demo(
        out, "full" if full else "default", steps=steps, data_dir=data_dir, force=force,
        echo=click.echo,
    )  # fmt: skip


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
def report(run_dir: Path) -> None:
    """Rebuild RUN_DIR/report.html and RUN_DIR/summary.json from a demo run's files."""
    from synthpack.demo.report import build_report

    click.echo(build_report(run_dir))


COMMANDS = (demo, report)
