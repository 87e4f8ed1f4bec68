"""Click commands for the downstream classifier: `synthpack eval mlp` and `synthpack classify`.

Thin: read the options, call synthpack.evaluate.mlp_report / classifier, print.
"""

from __future__ import annotations

from pathlib import Path

import click

from synthpack.evaluate.classifier import FEATURE_KINDS


@click.command("mlp")
@click.option(
    "--train",
    "train",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Real labelled training data: JSONL/CSV/TXT, the ToxiGen annotated CSV, or a "
    "folder of ToxiGen hate_*/neutral_* .txt files.",
)
@click.option(
    "--eval",
    "eval_path",
    required=True,
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
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option(
    "--features",
    type=click.Choice(FEATURE_KINDS),
    default="tfidf",
    show_default=True,
    help="tfidf: word 1-2 + char_wb 2-5 grams (fast); minilm: MiniLM-L6-v2 embeddings.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--max-epochs", type=int, default=30, show_default=True)
@click.option(
    "--bootstrap",
    "n_boot",
    type=int,
    default=1000,
    show_default=True,
    help="Bootstrap resamples for the intervals and the paired test.",
)
@click.option("--text-field", default="text", show_default=True)
@click.option("--label-field", default="label", show_default=True)
def eval_mlp(
    train, eval_path, synthetic, out, features, seed, max_epochs, n_boot, text_field, label_field
) -> None:
    """Does synthetic data help? Train the MLP (2 x 600) on real, real+NAME and NAME; compare.

    Writes OUT/report.json, OUT/table.txt, OUT/f1.png and the classifiers in OUT/models/RUN
    (apply one with `synthpack classify`).
    """
    from synthpack.evaluate.classifier import MLPConfig
    from synthpack.evaluate.mlp_report import parse_synthetic, run_mlp_eval

    run_mlp_eval(
        train, eval_path, out, synthetic=parse_synthetic(list(synthetic)), features=features,
        config=MLPConfig(seed=seed, max_epochs=max_epochs), n_boot=n_boot,
        text_field=text_field, label_field=label_field, echo=click.echo,
    )  # fmt: skip


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

    One JSON line per text: its position, P(harmful) and the 0/1 decision. The texts themselves
    are not echoed (they may be harmful).
    """
    import json
    import time

    from synthpack.evaluate.classifier import TextClassifier
    from synthpack.evaluate.data import read_texts
    from synthpack.files import atomic_write_jsonl

    clf = TextClassifier.load(model)
    texts = read_texts(file, text_field=text_field)
    started = time.perf_counter()
    scores = clf.score(texts) if texts else []
    elapsed = time.perf_counter() - started
    rows = [
        {"index": i, "score": round(float(s), 6), "label": int(s >= clf.threshold)}
        for i, s in enumerate(scores)
    ]
    if out:
        atomic_write_jsonl(out, rows)
    else:
        for row in rows:
            click.echo(json.dumps(row))
    flagged = sum(r["label"] for r in rows)
    rate = f", {len(rows) / elapsed:,.0f} texts/s" if rows and elapsed > 0 else ""
    click.echo(f"{len(rows)} texts, {flagged} flagged harmful{rate}", err=True)


COMMANDS = (eval_mlp,)
