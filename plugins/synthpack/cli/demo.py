"""`synthpack demo`, `synthpack recipes` and `synthpack report`: a recipe end to end, the
recipes there are, and the report of a run folder."""

from __future__ import annotations

from pathlib import Path

import click

from synthpack.cli.options import cli_precision

SIZES = ("default", "quick", "full")  # the recipes `--size` names (kept from before recipes)


@click.command()
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="The run folder. Default: runs/demo (synthesis recipes), runs/debias (debias recipes).",
)
@click.option(
    "--recipe",
    help="A shipped recipe's name (see `synthpack recipes`) or a recipe YAML file. Default: "
    "default (Gemma 3 270M, 36 LoRA steps, about 7 minutes on 2 Intel cores). KEY=VALUE arguments "
    "override single fields, e.g. train_steps=72 seed=1.",
)
@click.option(
    "--steps",
    help="Run only these steps: a comma list or a range such as train-eval_mlp. "
    "Synthesis steps: prepare, render, sft, train, generate, clean, label_check, register, "
    "eval_mlp, stereoset, report. Debias steps (--recipe debias): prepare, sft, judge, train, "
    "rewrite, compare, stereoset, crows_pairs, report.",
)
@click.option(
    "--size",
    type=click.Choice(SIZES),
    help="The same as --recipe NAME for the three shipped recipes.",
)
@click.option("--full", is_flag=True, help="Short for --recipe full.")
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
    overrides: tuple[str, ...],
    out: Path | None,
    recipe: str | None,
    steps: str | None,
    size: str | None,
    full: bool,
    data_dir: Path | None,
    force: bool,
    quiet: bool,
) -> None:
    """A pipeline end to end on an embedded model, then OUT/report.html and a results table.

    Synthesis (the default recipes): render -> sft -> LoRA SFT (llamafactory-cli) -> generate ->
    clean -> label check -> register -> eval mlp -> StereoSet. Debias (--recipe debias):
    ParaDetox split -> sft -> toxicity judge -> LoRA SFT -> rewrites by the prompted base and
    the tuned model -> paired comparison -> StereoSet and CrowS-Pairs. Finished steps are
    reused on the next call.
    """
    from synthpack.common.progress import progress_bars
    from synthpack.demo.pipeline import run_demo
    from synthpack.demo.recipes import DEFAULT_RECIPE, load_recipe

    named = [n for n in (recipe, size, "full" if full else None) if n]
    if len(set(named)) > 1:
        raise click.UsageError(f"{' and '.join(named)} name two recipes; give one")
    chosen = load_recipe(named[0] if named else DEFAULT_RECIPE, overrides)
    out = out or Path("runs/debias" if chosen.pipeline == "debias" else "runs/demo")
    run_demo(
        out, chosen, steps=steps, data_dir=data_dir, force=force, echo=click.echo,
        progress_bar=progress_bars(quiet), precision=cli_precision(),
    )  # fmt: skip


@click.command()
def recipes() -> None:
    """List the shipped demo recipes: name, what each is for, its model and size."""
    from synthpack.common.tables import format_table
    from synthpack.demo.recipes import describe, list_recipes, load_recipe, recipes_dir

    rows = []
    for name in list_recipes():
        r = load_recipe(name)
        rows.append([name, r.pipeline, r.generator, r.train_steps, describe(name)])
    click.echo(format_table(["recipe", "pipeline", "model", "LoRA steps", "what it is"], rows))
    click.echo(f"files: {recipes_dir()} (copy one, edit it, run: synthpack demo --recipe FILE)")


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--force",
    is_flag=True,
    help="Replace summary.json even when the rebuilt one lacks results it holds (steps whose "
    "records you removed on purpose). Without it such a rebuild is refused.",
)
def report(run_dir: Path, force: bool) -> None:
    """Rebuild RUN_DIR/report.html and RUN_DIR/summary.json from the step records below it (a
    demo's folder, or the folders of hand-run commands under one parent), and print the
    results table (numbers only, no generated text).

    A file a step's record lists that is missing or unreadable is an error naming it and the
    step to rerun; nothing is written then.
    """
    from synthpack.report.build import rebuild_report

    html, table = rebuild_report(run_dir, force)
    click.echo(table)
    click.echo(f"report: {html}")


COMMANDS = (demo, recipes, report)
