"""`synthpack eval ...` (one sub-command per evaluation) and `synthpack classify`.

Pipeline A step 7: `eval mlp` (does synthetic data help the downstream classifier?) and
`classify` (apply a saved one). Pipeline B step 6: `eval stereoset`, `eval crows-pairs` and
`eval debias`. Each command reads its options, calls the runner in `synthpack.evaluate`, and
prints a table.
"""

from __future__ import annotations

from pathlib import Path

import click

from synthpack.cli.options import cli_precision
from synthpack.common.progress import progress_bars
from synthpack.common.tables import format_table
from synthpack.evaluate.stereoset import SPLITS
from synthpack.models.classifier.features import FEATURE_KINDS
from synthpack.models.scoring import SCORING_BATCH_SIZE
from synthpack.prepare.paradetox import TRANSFER_PER_CLASS


@click.group("eval")
def eval_group() -> None:
    """Measure synthetic data and models (sub-commands: one per evaluation)."""


START_TOKEN_HELP = (
    "Token every sentence is conditioned on (default: the tokenizer's BOS). For the prepared "
    "SmolLM2, whose BOS is the chat token <|im_start|>, '<|endoftext|>' is the document start "
    "it saw in pre-training."
)


def _path(**kwargs):
    return click.Path(path_type=Path, **kwargs)


QUIET = click.option("--quiet", is_flag=True, help="No progress bar (it shows on a terminal only).")


def scoring_lm_options(model_required: bool):
    """--model, --adapter, --batch-size, --start-token: the causal LM that scores sentences."""
    options = (
        click.option(
            "--model",
            "model_dir",
            type=_path(exists=True, file_okay=False),
            required=model_required,
            help="Causal LM folder to score every sentence with.",
        ),
        click.option(
            "--adapter",
            type=_path(exists=True, file_okay=False),
            help="PEFT adapter applied on top of --model.",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(min=1),
            default=SCORING_BATCH_SIZE,
            show_default=True,
        ),
        click.option("--start-token", help=START_TOKEN_HELP),
        QUIET,
    )

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


TASK_OPTION = click.option(
    "--task",
    help="An evaluation task: a shipped task's name (see `synthpack eval tasks`) or a task YAML. "
    "It sets the data and settings this command's options leave out.",
)
# A task's keys that name an option of another Python name.
TASK_PARAMS = {"eval": "eval_path", "bootstrap": "n_boot"}


def with_task(ctx: click.Context, command: str) -> dict:
    """The command's parameters, those the user left at their defaults taken from --task."""
    from click.core import ParameterSource

    params = dict(ctx.params)
    if params.get("task"):
        from synthpack.evaluate.tasks import load_task

        for key, value in load_task(params["task"], command, _option_types(ctx)).items():
            name = TASK_PARAMS.get(key, key)
            if ctx.get_parameter_source(name) in (ParameterSource.DEFAULT, None):
                params[name] = value
    return params


def _option_types(ctx: click.Context):
    """A task value as its option takes it (`folds: many` is refused as `--folds many` is),
    ValueError saying why; the task's paths are left to `load_task`."""
    options = {p.name: p for p in ctx.command.params}

    def convert(key: str, value):
        option = options[TASK_PARAMS.get(key, key)]
        try:
            return option.type_cast_value(ctx, value)
        except click.BadParameter as exc:
            raise ValueError(exc.format_message()) from None

    return convert


def need(params: dict, *names: str) -> None:
    missing = [f"--{n.replace('_path', '').replace('_', '-')}" for n in names if not params[n]]
    if missing:
        raise click.UsageError(f"Missing option {' and '.join(missing)} (or give --task)")


@click.command("mlp")
@TASK_OPTION
@click.option(
    "--train",
    "train",
    type=click.Path(exists=True, path_type=Path),
    help="Real labelled training data: JSONL/CSV/TXT, the ToxiGen annotated CSV, or a "
    "folder of ToxiGen hate_*/neutral_* .txt files.",
)
@click.option(
    "--eval",
    "eval_path",
    type=click.Path(exists=True, path_type=Path),
    help="Labelled evaluation set (same formats); every run is scored on it.",
)
@click.option(
    "--synthetic",
    multiple=True,
    metavar="NAME=FILE",
    help="A synthetic set, e.g. epoch3=runs/gen/accepted.jsonl; repeatable. Each adds "
    "the runs real+NAME and NAME.",
)
@click.option(
    "--extra-eval",
    multiple=True,
    metavar="NAME=FILE",
    help="Another labelled evaluation set (another domain), e.g. "
    "paradetox=runs/demo/data/transfer_eval.jsonl; repeatable. Every run is scored on it too, "
    "with its own comparisons and verdict.",
)
@click.option(
    "--eval-name",
    default="eval",
    show_default=True,
    help="The --eval set's name in the report (beside the --extra-eval names).",
)
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option(
    "--features",
    type=click.Choice(FEATURE_KINDS),
    default="tfidf",
    show_default=True,
    help="tfidf: word 1-2 + char_wb 2-5 grams (fast); minilm: MiniLM-L6-v2 embeddings, "
    "each distinct text embedded once per call.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--max-epochs", type=click.IntRange(min=1), default=30, show_default=True)
@click.option(
    "--folds",
    type=click.IntRange(min=2),
    default=10,
    show_default=True,
    help="Folds of the real training data that choose each run's epochs and decision threshold.",
)
@click.option(
    "--bootstrap",
    "n_boot",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Bootstrap resamples for the intervals and the paired test.",
)
@click.option("--text-field", default="text", show_default=True)
@click.option("--label-field", default="label", show_default=True)
@click.pass_context
def eval_mlp(ctx: click.Context, **_options) -> None:
    """Does synthetic data help? Train the MLP (2 x 600) on real, real+NAME and NAME; compare.

    Every run takes its number of epochs and its decision threshold from the same --folds
    folds of the real training data, so synthetic rows only ever add training examples.
    Each --extra-eval set (another domain) is scored and compared like --eval.
    Writes OUT/report.json, OUT/table.txt, OUT/f1.png and the classifiers in OUT/models/RUN
    (apply one with `synthpack classify`).
    """
    from synthpack.common.step import Context, run_step
    from synthpack.evaluate.run import (
        MlpEvalSettings,
        parse_extra_eval,
        parse_synthetic,
        run_mlp_eval,
    )
    from synthpack.models.classifier.mlp import MLPConfig

    o = with_task(ctx, "mlp")
    need(o, "train", "eval_path")
    settings = MlpEvalSettings(
        Path(o["train"]), Path(o["eval_path"]), synthetic=tuple(parse_synthetic(o["synthetic"])),
        features=o["features"], n_boot=o["n_boot"], text_field=o["text_field"],
        label_field=o["label_field"], eval_name=o["eval_name"],
        extra_eval=tuple(parse_extra_eval(o["extra_eval"], o["eval_name"])),
        config=MLPConfig(seed=o["seed"], max_epochs=o["max_epochs"], folds=o["folds"]),
    )  # fmt: skip
    run_step(run_mlp_eval, settings, o["out"], Context(echo=click.echo))


@click.command("transfer-set")
@click.option(
    "--pairs",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="ParaDetox pairs (TSV: toxic, neutral1..3); default: the shipped CC0 subset, or "
    "paradetox/paradetox.tsv under $SYNTHPACK_DATA.",
)
@click.option(
    "--per-class",
    type=click.IntRange(min=1),
    default=TRANSFER_PER_CLASS,
    show_default=True,
    help="Toxic sentences (label 1), and as many paraphrases (label 0).",
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder to write.")
def transfer_set_command(pairs, per_class, out) -> None:
    """Build the second evaluation domain: toxic ParaDetox sentences against their paraphrases.

    Writes OUT/transfer_eval.jsonl by a fixed rule (no seed), the set the synthesis demo scores
    beside ToxiGen; pass it to `eval mlp --extra-eval paradetox=OUT/transfer_eval.jsonl`.
    """
    from synthpack.common.step import Context, run_step
    from synthpack.prepare.paradetox import (
        TransferEvalSettings,
        find_debias_data,
        run_transfer_eval,
    )

    settings = TransferEvalSettings(pairs or find_debias_data(None).pairs, per_class)
    run_step(run_transfer_eval, settings, out, Context(echo=click.echo))
    click.echo(f"wrote {Path(out) / 'transfer_eval.jsonl'}")


@click.command("train-checker")
@click.option(
    "--train",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="REAL labelled training data (the formats of `eval mlp --train`).",
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Model folder.")
@click.option(
    "--features",
    type=click.Choice(FEATURE_KINDS),
    default="tfidf",
    show_default=True,
    help="tfidf (fast) or minilm (MiniLM-L6-v2 embeddings: better meaning with few labels).",
)
@click.option(
    "--exclude",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Labelled sets the checker must not see (the evaluation set): their texts are "
    "dropped from --train. Repeatable.",
)
@click.option("--seed", type=int, default=0, show_default=True)
def train_checker_command(train, out, features, exclude, seed) -> None:
    """Train the label checker for `synthpack generate --label-check` on real data only.

    The same MLP as `eval mlp`, saved as OUT/classifier.json + OUT/weights.npz.
    """
    from synthpack.clean.checker import train_checker
    from synthpack.models.classifier.mlp import MLPConfig

    info = train_checker(train, out, features, list(exclude), MLPConfig(seed=seed))
    click.echo(
        f"checker trained on {info['n_train']} texts ({info['n_harmful']} harmful), "
        f"{info['n_val']} held out for early stopping and its threshold "
        f"{info['threshold']:.3f}; {info['dropped_excluded']} excluded texts dropped; "
        f"{info['fit_s']:.1f} s -> {info['model']}"
    )


@click.command("classify")
@click.argument("model", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Write predictions here (JSONL, owner-only) instead of standard output.",
)
@click.option("--text-field", default="text", show_default=True, help="For JSONL/CSV input.")
def classify(model, file, out, text_field) -> None:
    """Score FILE (TXT: one text per line; JSONL/CSV: --text-field) with a saved classifier.

    One JSON line per text: its position, its `id` (the row's id field, else its line in FILE),
    P(harmful) and the 0/1 decision. The texts themselves are not echoed (they may be harmful).
    """
    import json
    import time

    from synthpack.common.errors import SynthpackError
    from synthpack.common.files import atomic_write_jsonl
    from synthpack.common.step import check_outputs
    from synthpack.formats.texts import read_texts, require_jsonl_name
    from synthpack.models.classifier.mlp import TextClassifier

    if out:
        check_outputs({"file": file, "model": model}, {"scores": out})
        require_jsonl_name(out)
    found = read_texts(file, text_field=text_field)
    if not found:
        raise SynthpackError(f"{file}: no texts to score")
    clf = TextClassifier.load(model)
    started = time.perf_counter()
    scores = clf.score([text for _, text in found])
    elapsed = time.perf_counter() - started
    # `id`: the row's own id, else its line in FILE, so a score never attaches to another text
    rows = [
        {"index": i, "id": id_, "score": round(float(s), 6), "label": int(s >= clf.threshold)}
        for i, ((id_, _), s) in enumerate(zip(found, scores, strict=True))
    ]
    if out:
        atomic_write_jsonl(out, rows)
    else:
        for row in rows:
            click.echo(json.dumps(row))
    flagged = sum(r["label"] for r in rows)
    rate = f", {len(rows) / elapsed:,.0f} texts/s" if rows and elapsed > 0 else ""
    click.echo(f"{len(rows)} texts, {flagged} flagged harmful{rate}", err=True)


@click.command("stereoset")
@TASK_OPTION
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="StereoSet file in the official layout (dev.json or test.json).",
)
@scoring_lm_options(model_required=False)
@click.option(
    "--scores",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Per-sentence scores in the official predictions format, instead of a model.",
)
@click.option(
    "--split",
    type=click.Choice([*SPLITS, "both"]),
    help="Default: intrasentence with --model; every split the file covers with --scores.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Score only this many examples per split (evenly spaced).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/eval/stereoset"),
    show_default=True,
)
@click.pass_context
def stereoset_command(ctx: click.Context, **_options) -> None:
    """StereoSet LMS, SS and ICAT (overall and per domain), as the official scorer computes them.

    Writes report.json (and predictions.json when a model was scored) into --out.
    """
    from synthpack.common.step import Context, run_step
    from synthpack.evaluate import stereoset

    o = with_task(ctx, "stereoset")
    need(o, "data")
    model_dir = o["model_dir"]
    settings = stereoset.StereoSetSettings(
        Path(o["data"]), model_dir, o["adapter"], o["scores"], o["split"], o["limit"],
        o["batch_size"], o["start_token"], precision=cli_precision() if model_dir else None,
    )  # fmt: skip
    out = o["out"]
    report = run_step(stereoset.run_stereoset, settings, out, Context(progress_bars(o["quiet"])))
    headers = ["split", "domain", "LMS", "SS", "ICAT", "examples"]
    click.echo(format_table(headers, stereoset.report_rows(report)))
    click.echo(f"Report: {out / 'report.json'}  (ideal: LMS 100, SS 50, ICAT 100)")


@click.command("crows-pairs")
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="crows_pairs_anonymized.csv (columns sent_more, sent_less, stereo_antistereo, bias_type).",
)
@scoring_lm_options(model_required=True)
@click.option(
    "--limit", type=click.IntRange(min=1), help="Score only this many pairs (evenly spaced)."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/eval/crows_pairs"),
    show_default=True,
)
def crows_pairs_command(data, model_dir, adapter, limit, batch_size, start_token, quiet, out):
    """CrowS-Pairs: % of pairs where the LM prefers the more stereotyping sentence (50 = none).

    Sentences are scored by full log-likelihood (the causal-LM substitute for upstream's masked
    pseudo-likelihood). Writes report.json and per-pair scores.jsonl into --out.
    """
    from synthpack.common.step import Context, run_step
    from synthpack.evaluate import crows_pairs

    settings = crows_pairs.CrowsPairsSettings(
        data, model_dir, adapter, limit, batch_size, start_token, precision=cli_precision()
    )
    summary = run_step(crows_pairs.run_crows_pairs, settings, out, Context(progress_bars(quiet)))
    click.echo(format_table(["group", "metric %", "pairs"], crows_pairs.report_rows(summary)))
    click.echo(f"Report: {out / 'report.json'}  (50 = no preference for the stereotype)")


@click.command("debias")
@click.option(
    "--pairs",
    type=_path(exists=True, dir_okay=False),
    help="(original, rewrite) pairs: JSONL, CSV or TSV.",
)
@click.option(
    "--texts",
    type=_path(exists=True, dir_okay=False),
    help="Originals to rewrite with --model (JSONL, CSV or TSV; column --original-field).",
)
@click.option(
    "--model",
    "model_dir",
    type=_path(exists=True, file_okay=False),
    help="Debias model that writes the rewrites (greedy, the pack's debias prompts).",
)
@click.option("--adapter", type=_path(exists=True, file_okay=False))
@click.option(
    "--system",
    default="general",
    show_default=True,
    help="Debias system prompt: general or job_postings (templates/debias/).",
)
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--original-field", default="original", show_default=True)
@click.option("--rewrite-field", default="rewrite", show_default=True)
@click.option(
    "--toxicity",
    "toxicity_dir",
    type=_path(exists=True, file_okay=False),
    required=True,
    help="Toxicity classifier folder (HF sequence classification, ...).",
)
@click.option("--unsafe-label", help="The classifier's unsafe class name (default: guessed).")
@click.option("--threshold", type=float, default=0.5, show_default=True)
@click.option(
    "--reference-lm",
    type=_path(exists=True, file_okay=False),
    help="Causal LM for perplexity (default: the prepared SmolLM2).",
)
@click.option("--no-perplexity", is_flag=True, help="Skip perplexity.")
@click.option("--no-similarity", is_flag=True, help="Skip the MiniLM similarity.")
@click.option(
    "--wordlists",
    type=_path(exists=True, dir_okay=False),
    help="Gender Decoder wordlists.json: counts gender-coded terms (job postings).",
)
@click.option("--limit", type=click.IntRange(min=1), help="Use only the first N pairs or texts.")
@click.option("--review-size", type=click.IntRange(min=0), default=100, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True)
@click.option(
    "--out", type=_path(file_okay=False), default=Path("runs/eval/debias"), show_default=True
)
@QUIET
def debias_command(
    pairs,
    texts,
    model_dir,
    adapter,
    system,
    max_new_tokens,
    original_field,
    rewrite_field,
    toxicity_dir,
    unsafe_label,
    threshold,
    reference_lm,
    no_perplexity,
    no_similarity,
    wordlists,
    limit,
    review_size,
    seed,
    batch_size,
    out,
    quiet,
):
    """Safety, similarity, retention, perplexity and style of rewrites, before vs after.

    Writes report.json, pairs.jsonl (per-pair figures), chart.png, and a blind review sheet
    (review_sheet.csv for raters, review_key.csv kept apart) into --out, all owner-only.
    """
    from synthpack.common.step import Context, run_step
    from synthpack.evaluate.debias.metrics import report_rows
    from synthpack.evaluate.debias.run import DebiasSettings, run_debias

    settings = DebiasSettings(
        toxicity_dir=toxicity_dir, pairs=pairs, texts=texts, model_dir=model_dir,
        adapter=adapter, system=system, max_new_tokens=max_new_tokens,
        original_field=original_field, rewrite_field=rewrite_field, limit=limit,
        precision=cli_precision() if model_dir else None, unsafe_label=unsafe_label,
        threshold=threshold, reference_lm=reference_lm, perplexity=not no_perplexity,
        similarity=not no_similarity, wordlists=wordlists, review_size=review_size, seed=seed,
        batch_size=batch_size,
    )  # fmt: skip
    report = run_step(run_debias, settings, out, Context(progress_bars(quiet)))
    click.echo(f"Toxicity classifier: {report['meta']['toxicity_classifier']}", err=True)
    click.echo(format_table(["metric", "original", "rewrite"], report_rows(report)))
    click.echo(f"Report: {out / 'report.json'}; chart: {out / 'chart.png'}; "
               f"review sheet ({2 * min(review_size, report['pairs'])} items): "
               f"{out / 'review_sheet.csv'}")  # fmt: skip


@click.command("debias-compare")
@click.argument("baseline", type=_path(exists=True, file_okay=False))
@click.argument("candidate", type=_path(exists=True, file_okay=False))
@click.option("--n-boot", type=click.IntRange(min=100), default=2000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--out", type=_path(file_okay=False), default=Path("runs/eval/compare"), show_default=True
)
def debias_compare_command(baseline, candidate, n_boot, seed, out) -> None:
    """Two `eval debias` runs on the same texts (BASELINE, e.g. the prompted base model, and
    CANDIDATE, the tuned rewriter), compared text by text with a paired bootstrap: unsafe %,
    similarity, fluent % and J. Writes compare.json and compare.png into --out."""
    from synthpack.common.step import run_step
    from synthpack.evaluate.debias.compare import (
        DebiasCompareSettings,
        p_text,
        run_debias_compare,
    )

    settings = DebiasCompareSettings(
        baseline, candidate, baseline.name, candidate.name, n_boot=n_boot, seed=seed
    )
    report = run_step(run_debias_compare, settings, out)
    rows = [[name, f"{m['baseline']:.3f}", f"{m['candidate']:.3f}", f"{m['delta']:+.3f}",
             f"[{m['interval'][0]:+.3f}, {m['interval'][1]:+.3f}]", p_text(m["p_better"])]
            for name, m in report["metrics"].items()]  # fmt: skip
    head = ["metric", baseline.name, candidate.name, "delta", "95% CI", "p(better)"]
    click.echo(format_table(head, rows))
    click.echo(report["verdict"])
    click.echo(f"Report: {out / 'compare.json'}; chart: {out / 'compare.png'}")


@click.command("tasks")
def tasks_command() -> None:
    """List the shipped evaluation tasks (the pack's eval/ folder): name, command, purpose."""
    from synthpack.evaluate.tasks import describe, list_tasks, tasks_dir

    rows = [[name, *describe(name)] for name in list_tasks()]
    click.echo(format_table(["task", "command", "what it measures"], rows))
    click.echo(f"files: {tasks_dir()} (run one with: synthpack eval COMMAND --task NAME)")


for _command in (
    tasks_command,
    eval_mlp,
    transfer_set_command,
    train_checker_command,
    stereoset_command,
    crows_pairs_command,
    debias_command,
    debias_compare_command,
):
    eval_group.add_command(_command)

COMMANDS = (eval_group, classify)
