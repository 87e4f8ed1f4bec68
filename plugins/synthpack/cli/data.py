"""Commands of the config pack (Pipeline A steps 1-4, Pipeline B steps 1-2): render, sft
build / debias, register, category new / list.

Thin: they read arguments, call `synthpack.prompts`, `synthpack.sft` and `synthpack.register`,
and print a table.
"""

from __future__ import annotations

from pathlib import Path

import click

from synthpack.common.errors import SynthpackError
from synthpack.common.tables import format_records
from synthpack.prompts.pools import EXAMPLE_LENGTHS
from synthpack.prompts.render import DEFAULT_N_ENTRIES, DEFAULT_SHOTS, MAX_N_ENTRIES
from synthpack.sft.synthesis import DEFAULT_PER_CLASS, DEFAULT_VAL_RATIO

TEMPLATES_OPTION = click.option(
    "--templates",
    "templates_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Templates folder of a forked pack (default: the pack's templates/).",
)

DATASET_DIR_OPTION = click.option(
    "--dataset-dir",
    type=click.Path(path_type=Path),
    help="dataset_info.json to register in (default: --out).",
)
EXAMPLE_LENGTH_OPTION = click.option(
    "--example-length",
    type=click.Choice(EXAMPLE_LENGTHS),
    default="short",
    show_default=True,
    help="Few-shot examples from the shorter or longer half of the seeds (by word count).",
)

CONDITION_OPTION = click.option(
    "--condition",
    default="",
    help="Condition each prompt on: group (a target group of the category, examples from its "
    "seed files) and attributes from templates/synthesis/attributes.yaml, e.g. group,tone,form. "
    "SFT records teach group only.",
)


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _by_category(values: tuple[str, ...], default: str | None, option: str) -> dict[str, list]:
    """`[CATEGORY=]PATH` values to {category: [paths]}; a bare path belongs to `default`."""
    out: dict[str, list] = {}
    for value in values:
        head, sep, tail = value.partition("=")
        if sep and head and "/" not in head:
            category, path = head, tail
        elif default:
            category, path = default, value
        else:
            raise SynthpackError(f"{option} {value}: with --mixture, write CATEGORY=PATH")
        out.setdefault(category, []).append(path)
    return out


@click.command()
@click.option("--category", required=True, help="Category name (templates/categories/NAME.yaml).")
@click.option("--versions", default="all", show_default=True, help="v1,v2,v3 or all.")
@click.option(
    "--polarity", "polarities", default="pos,neg", show_default=True, help="pos, neg or both."
)
@click.option(
    "--shots",
    type=click.IntRange(min=0),
    default=DEFAULT_SHOTS,
    show_default=True,
    help="Few-shot examples per prompt.",
)
@EXAMPLE_LENGTH_OPTION
@click.option(
    "--n-entries",
    type=click.IntRange(1, MAX_N_ENTRIES),
    default=DEFAULT_N_ENTRIES,
    show_default=True,
    help="Entries asked per prompt (N).",
)
@click.option(
    "--n-prompts",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Prompts per stem.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--seeds", "labelled", multiple=True, help="Seed file with text + label columns.")
@click.option(
    "--pos", "positive", multiple=True, help="Positive seed file or glob (one class per file)."
)
@click.option("--neg", "negative", multiple=True, help="Negative seed file or glob.")
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("runs/prompts"), show_default=True
)
@DATASET_DIR_OPTION
@TEMPLATES_OPTION
@CONDITION_OPTION
def render(
    category,
    versions,
    polarities,
    shots,
    example_length,
    n_entries,
    n_prompts,
    seed,
    labelled,
    positive,
    negative,
    out,
    dataset_dir,
    templates_dir,
    condition,
) -> None:
    """Render generation prompts with few-shot examples sampled from seed data.

    Writes OUT/STEM/prompts.jsonl (read by `synthpack generate`) and OUT/STEM/alpaca.json,
    registered as STEM (e.g. hate_pos_v1) for `llamafactory-cli train ... do_predict=true`.
    """
    from synthpack.common.step import Context, run_step
    from synthpack.prompts.render import RenderSettings, run_render
    from synthpack.prompts.templates import list_versions

    version_list = list_versions(templates_dir) if versions == "all" else _csv(versions)
    settings = RenderSettings(
        category, tuple(version_list), tuple(_csv(polarities)), labelled=tuple(labelled),
        positive=tuple(positive), negative=tuple(negative), shots=shots, n_entries=n_entries,
        n_prompts=n_prompts, seed=seed, example_length=example_length, dataset_dir=dataset_dir,
        templates_dir=templates_dir, condition=tuple(_csv(condition)),
    )  # fmt: skip
    rows = run_step(run_render, settings, out, Context(echo=click.echo))["sets"]
    click.echo(format_records(rows, ["stem", "prompts", "pool", "registered", "folder"]))
    click.echo(
        f"dataset_dir for LLaMA-Factory: {rows[0]['dataset_dir']} (prompt files are owner-only)"
    )


@click.group()
def sft() -> None:
    """Build Alpaca SFT data: synthesis (Pipeline A) and debias (Pipeline B)."""


@sft.command("build")
@click.option("--category", help="One category.")
@click.option("--mixture", help="A mixture from templates/mixtures.yaml (mixture, mix_gpt).")
@click.option(
    "--versions", default="v1", show_default=True, help="Template versions, used in turn."
)
@click.option(
    "--per-class",
    type=click.IntRange(min=1),
    default=DEFAULT_PER_CLASS,
    show_default=True,
    help="Training records per class (positives = negatives).",
)
@click.option("--shots", type=click.IntRange(min=0), default=DEFAULT_SHOTS, show_default=True)
@click.option(
    "--n-entries",
    type=click.IntRange(1, MAX_N_ENTRIES),
    default=DEFAULT_N_ENTRIES,
    show_default=True,
    help="Answer entries (N).",
)
@EXAMPLE_LENGTH_OPTION
@click.option(
    "--val-ratio",
    type=float,
    default=DEFAULT_VAL_RATIO,
    show_default=True,
    help="Share of seed texts held out for validation records.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--seeds", "labelled", multiple=True, help="[CATEGORY=]FILE with text + label.")
@click.option("--pos", "positive", multiple=True, help="[CATEGORY=]FILE or glob of positives.")
@click.option("--neg", "negative", multiple=True, help="[CATEGORY=]FILE or glob of negatives.")
@click.option(
    "--extra-positives", multiple=True, help="CATEGORY=FILE added to positives (mix_gpt)."
)
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs/sft"), show_default=True)
@DATASET_DIR_OPTION
@TEMPLATES_OPTION
@CONDITION_OPTION
def sft_build(
    category,
    mixture,
    versions,
    per_class,
    shots,
    n_entries,
    example_length,
    val_ratio,
    seed,
    labelled,
    positive,
    negative,
    extra_positives,
    out,
    dataset_dir,
    templates_dir,
    condition,
) -> None:
    """SFT data: a rendered prompt -> N numbered real seed texts of the same class."""
    from synthpack.common.step import run_step
    from synthpack.sft.synthesis import SftSettings, run_sft

    settings = SftSettings(
        category=category,
        mixture=mixture,
        versions=tuple(_csv(versions)),
        per_class=per_class,
        shots=shots,
        n_entries=n_entries,
        example_length=example_length,
        val_ratio=val_ratio,
        seed=seed,
        seeds=_by_category(labelled, category, "--seeds"),
        positive=_by_category(positive, category, "--pos"),
        negative=_by_category(negative, category, "--neg"),
        extra_positive=_by_category(extra_positives, category, "--extra-positives"),
        dataset_dir=dataset_dir,
        templates_dir=templates_dir,
        condition=tuple(_csv(condition)),
    )
    manifest = run_step(run_sft, settings, out)
    rows = [{"part": k, **v} for k, v in manifest["per_category"].items()]
    click.echo(
        format_records(rows, ["part", "train_records", "val_records", "train_texts", "val_texts"])
    )
    for name, path in manifest["datasets"].items():
        click.echo(f"registered {name} -> {path}")
    click.echo(f"checks: {manifest['checks']}; dataset_dir: {manifest['dataset_dir']}")


@sft.command("debias")
@click.argument("source", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--kind",
    type=click.Choice(["pairs", "cmd"]),
    default="pairs",
    show_default=True,
    help="pairs: source + rewrite columns (ParaDetox TSV); cmd: CMD-schema rows.",
)
@click.option("--name", help="Dataset stem (default: debias_<file stem>).")
@click.option(
    "--system",
    default="general",
    show_default=True,
    help="System prompt: templates/debias/system_NAME.jinja2.",
)
@click.option("--val-ratio", type=float, default=0.1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--hint-biased-words", is_flag=True, help="Name the flagged phrases in the instruction."
)
@click.option("--source-field", default="toxic", show_default=True, help="pairs: the text column.")
@click.option(
    "--target-fields", help="pairs: rewrite columns, comma-separated (default: all others)."
)
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs/sft"), show_default=True)
@DATASET_DIR_OPTION
@TEMPLATES_OPTION
def sft_debias(
    source,
    kind,
    name,
    system,
    val_ratio,
    seed,
    hint_biased_words,
    source_field,
    target_fields,
    out,
    dataset_dir,
    templates_dir,
) -> None:
    """Rewrite pairs or CMD rows -> Alpaca records with a system prompt (SR_LLM)."""
    from synthpack.common.step import run_step
    from synthpack.sft.debias import DebiasSftSettings, run_debias_sft

    settings = DebiasSftSettings(
        source,
        kind=kind,
        name=name,
        system=system,
        val_ratio=val_ratio,
        seed=seed,
        hint_biased_words=hint_biased_words,
        source_field=source_field,
        target_fields=tuple(_csv(target_fields)) if target_fields else None,
        dataset_dir=dataset_dir,
        templates_dir=templates_dir,
    )
    manifest = run_step(run_debias_sft, settings, out)
    click.echo(
        format_records(
            [
                {
                    "name": manifest["name"],
                    "pairs": manifest["pairs_read"],
                    **manifest["records"],
                    "rejected": manifest["rejected"],
                }
            ],
            ["name", "pairs", "train", "val", "rejected"],
        )
    )
    for dataset, path in manifest["datasets"].items():
        click.echo(f"registered {dataset} -> {path}")


@click.command()
@click.argument("name")
@click.argument("data_file", type=click.Path(path_type=Path))
@click.option(
    "--dataset-dir",
    type=click.Path(path_type=Path),
    default=Path("dataset_info"),
    show_default=True,
)
@click.option("--system", is_flag=True, help="The records carry a `system` field.")
def register(name: str, data_file: Path, dataset_dir: Path, system: bool) -> None:
    """Add or update one Alpaca dataset in DATASET_DIR/dataset_info.json, atomically."""
    from synthpack.common.step import run_step
    from synthpack.formats.dataset_info import file_name_for
    from synthpack.register import RegisterSettings, run_register

    status = run_step(run_register, RegisterSettings(name, data_file, system), dataset_dir)[
        "status"
    ]
    click.echo(f"{status} {name} -> {file_name_for(data_file, dataset_dir)} in {dataset_dir}")


@click.group()
def category() -> None:
    """Harm categories: list them, scaffold a new one."""


@category.command("list")
@TEMPLATES_OPTION
def category_list(templates_dir) -> None:
    """Shipped categories with their title and default seed files."""
    from synthpack.prompts.categories import list_categories, load_category

    rows = []
    for name in list_categories(templates_dir):
        c = load_category(name, templates_dir)
        seeds = {k: len(v) for k, v in c.seeds.items()}
        rows.append({"name": name, "title": c.title, "seed files": seeds})
    click.echo(format_records(rows, ["name", "title", "seed files"]))


@category.command("new")
@click.argument("name")
@click.option("--definition", required=True, help="What belongs to the category (V2/V3 prompts).")
@click.option("--title", help="How prompts name it (default: '<name> content').")
@click.option("--negatives", "negative_description", help="What the negatives are.")
@click.option(
    "--root",
    type=click.Path(path_type=Path, file_okay=False),
    help="The pack to edit (default: this checkout).",
)
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def category_new(name, definition, title, negative_description, root, force) -> None:
    """Scaffold a category: category file, per-category YAMLs, dataset registrations."""
    from synthpack.prompts.scaffold import scaffold_category

    result = scaffold_category(name, definition, root, title, negative_description, force)
    click.echo(f"wrote {result['category_file']}")
    for path in result["configs"]:
        click.echo(f"wrote {path}")
    for dataset, status in result["registered"].items():
        click.echo(f"{status} {dataset} in dataset_info.json")
    click.echo(result["next"])


COMMANDS = (render, sft, register, category)
