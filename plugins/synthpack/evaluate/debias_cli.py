"""Click commands for the debiasing evaluation (Pipeline B step 6): `synthpack eval stereoset`,
`synthpack eval crows-pairs` and `synthpack eval debias`.

They live here rather than in `cli.py` to keep that shared file small; `cli.py` adds them to the
`eval` group. Each command only reads arguments, calls the pure code and prints.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from pathlib import Path

import click

from synthpack.errors import SynthpackError
from synthpack.evaluate.lm_scoring import load_scoring_model, resolve_start_token


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    """A plain aligned table on stdout (numbers right-aligned)."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]

    def line(cells):
        return "  ".join(
            str(c).rjust(w) if _numeric(c) else str(c).ljust(w)
            for c, w in zip(cells, widths, strict=True)
        )

    click.echo(line(headers))
    click.echo("  ".join("-" * w for w in widths))
    for row in rows:
        click.echo(line(row))


def _numeric(cell) -> bool:
    try:
        float(str(cell).rstrip("%"))
        return True
    except ValueError:
        return False


START_TOKEN_HELP = (
    "Token every sentence is conditioned on (default: the tokenizer's BOS). For the prepared "
    "SmolLM2, whose BOS is the chat token <|im_start|>, '<|endoftext|>' is the document start "
    "it saw in pre-training."
)


@contextmanager
def progress_bar(total: int, label: str):
    """A progress bar on stderr; yields the `progress(n)` callback the scorers accept."""
    with click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True) as bar:
        yield bar.update


def _path(**kwargs):
    return click.Path(path_type=Path, **kwargs)


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
        click.option("--batch-size", type=int, default=16, show_default=True),
        click.option("--start-token", help=START_TOKEN_HELP),
    )

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


@click.command("stereoset")
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
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
    type=click.Choice(["intrasentence", "intersentence", "both"]),
    help="Default: intrasentence with --model; every split the file covers with --scores.",
)
@click.option("--limit", type=int, help="Score only this many examples per split (evenly spaced).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/eval/stereoset"),
    show_default=True,
)
def stereoset_command(data, model_dir, adapter, scores, split, limit, batch_size, start_token, out):
    """StereoSet LMS, SS and ICAT (overall and per domain), as the official scorer computes them.

    Writes report.json (and predictions.json when a model was scored) into --out.
    """
    from synthpack.evaluate import stereoset
    from synthpack.files import atomic_write_json

    if (model_dir is None) == (scores is None):
        raise SynthpackError("give exactly one of --model DIR or --scores FILE")
    if adapter and not model_dir:
        raise SynthpackError("--adapter needs --model")
    all_examples = stereoset.load_stereoset(data)
    if split is None:
        split = "both" if scores is not None else "intrasentence"
    wanted = stereoset.SPLITS if split == "both" else (split,)
    started = time.perf_counter()
    if scores is not None:
        sentence_scores = stereoset.load_predictions(scores)
        present = set(sentence_scores)
        examples = {
            s: stereoset.subset(all_examples[s], limit)
            for s in wanted
            if s in all_examples
            and any(e.sentence_ids["stereotype"] in present for e in all_examples[s])
        }
        if not examples:
            raise SynthpackError(f"{scores}: none of its ids belong to {data}")
        for exs in examples.values():
            stereoset.check_scores(exs, sentence_scores, str(scores))
    else:
        missing = [s for s in wanted if s not in all_examples]
        if missing:
            raise SynthpackError(
                f"{data}: has no {missing[0]} examples. Available: {', '.join(all_examples)}"
            )
        examples = {s: stereoset.subset(all_examples[s], limit) for s in wanted}
        model, tokenizer = load_scoring_model(model_dir, adapter)
        start_id = resolve_start_token(tokenizer, start_token)
        pooled = [e for exs in examples.values() for e in exs]
        with progress_bar(3 * len(pooled), "Scoring StereoSet sentences") as progress:
            sentence_scores = stereoset.model_scores(
                model, tokenizer, pooled, batch_size, progress=progress, start_id=start_id
            )
        atomic_write_json(
            out / "predictions.json", stereoset.predictions_document(pooled, sentence_scores)
        )
    report = stereoset.evaluate(examples, sentence_scores)
    report["meta"] = {
        "data": str(data),
        "model": str(model_dir) if model_dir else None,
        "adapter": str(adapter) if adapter else None,
        "scores": str(scores) if scores else None,
        "sentence_score": "given" if scores else "mean token log-probability after the start token",
        "start_token": None if scores else start_token or "BOS",
        "limit": limit,
        "seconds": round(time.perf_counter() - started, 2),
    }
    atomic_write_json(out / "report.json", report)
    print_table(["split", "domain", "LMS", "SS", "ICAT", "examples"], stereoset.report_rows(report))
    click.echo(f"Report: {out / 'report.json'}  (ideal: LMS 100, SS 50, ICAT 100)")


@click.command("crows-pairs")
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="crows_pairs_anonymized.csv (columns sent_more, sent_less, stereo_antistereo, bias_type).",
)
@scoring_lm_options(model_required=True)
@click.option("--limit", type=int, help="Score only this many pairs (evenly spaced).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/eval/crows_pairs"),
    show_default=True,
)
def crows_pairs_command(data, model_dir, adapter, limit, batch_size, start_token, out):
    """CrowS-Pairs: % of pairs where the LM prefers the more stereotyping sentence (50 = none).

    Sentences are scored by full log-likelihood (the causal-LM substitute for upstream's masked
    pseudo-likelihood). Writes report.json and per-pair scores.jsonl into --out.
    """
    from synthpack.evaluate import crows_pairs
    from synthpack.files import atomic_write_json, atomic_write_jsonl

    pairs = crows_pairs.subset(crows_pairs.load_crows_pairs(data), limit)
    started = time.perf_counter()
    model, tokenizer = load_scoring_model(model_dir, adapter)
    start_id = resolve_start_token(tokenizer, start_token)
    with progress_bar(2 * len(pairs), "Scoring CrowS-Pairs sentences") as progress:
        more, less = crows_pairs.model_scores(
            model, tokenizer, pairs, batch_size, progress=progress, start_id=start_id
        )
    summary = crows_pairs.summarize(pairs, more, less)
    summary["meta"] = {
        "data": str(data),
        "model": str(model_dir),
        "adapter": str(adapter) if adapter else None,
        "sentence_score": "summed token log-probability after the start token, rounded to 3 dp",
        "start_token": start_token or "BOS",
        "limit": limit,
        "seconds": round(time.perf_counter() - started, 2),
    }
    atomic_write_jsonl(
        out / "scores.jsonl",
        (
            {"index": p.index, "bias_type": p.bias_type, "direction": p.direction,
             "sent_more_score": m, "sent_less_score": s, "biased": crows_pairs.is_biased(m, s)}
            for p, m, s in zip(pairs, more, less, strict=True)
        ),
    )  # fmt: skip
    atomic_write_json(out / "report.json", summary)
    print_table(["group", "metric %", "pairs"], crows_pairs.report_rows(summary))
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
@click.option("--max-new-tokens", type=int, default=256, show_default=True)
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
@click.option("--limit", type=int, help="Use only the first N pairs or texts.")
@click.option("--review-size", type=int, default=100, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option(
    "--out", type=_path(file_okay=False), default=Path("runs/eval/debias"), show_default=True
)
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
):
    """Safety, similarity, retention, perplexity and style of rewrites, before vs after.

    Writes report.json, pairs.jsonl (per-pair figures), chart.png, and a blind review sheet
    (review_sheet.csv for raters, review_key.csv kept apart) into --out, all owner-only.
    """
    from synthpack.evaluate import debias
    from synthpack.evaluate.toxicity import load_toxicity_scorer
    from synthpack.files import atomic_write_json, atomic_write_jsonl, atomic_write_text

    if (pairs is None) == (texts is None):
        raise SynthpackError("give either --pairs FILE, or --texts FILE with --model DIR")
    if texts is not None and model_dir is None:
        raise SynthpackError("--texts needs --model (the debias model that writes the rewrites)")
    started = time.perf_counter()
    if pairs is not None:
        items = debias.load_pairs(pairs, original_field, rewrite_field)[:limit]
    else:
        originals = _read_texts(texts, original_field)[:limit]
        model, tokenizer = load_scoring_model(model_dir, adapter)
        with progress_bar(len(originals), "Rewriting") as progress:
            rewritten = debias.generate_rewrites(
                model, tokenizer, [t for _, t in originals], system, batch_size,
                max_new_tokens, progress,
            )  # fmt: skip
        items = [debias.Pair(i, t, r) for (i, t), r in zip(originals, rewritten, strict=True)]
        atomic_write_jsonl(out / "rewrites.jsonl",
                           ({"id": p.id, "original": p.original, "rewrite": p.rewrite}
                            for p in items))  # fmt: skip
        del model

    scorer = load_toxicity_scorer(toxicity_dir, unsafe_label)
    click.echo(f"Toxicity classifier: {scorer.name}", err=True)
    outputs = debias.ModelOutputs(
        unsafe_before=scorer([p.original for p in items]),
        unsafe_after=scorer([p.rewrite for p in items]),
    )
    if not no_similarity:
        vectors = debias.embed([p.original for p in items] + [p.rewrite for p in items])
        n = len(items)
        outputs.similarity = [debias.cosine(vectors[i], vectors[n + i]) for i in range(n)]
    if not no_perplexity:
        from synthpack.evaluate.lm_scoring import score_texts
        from synthpack.model import prepare_default_model

        lm, lm_tokenizer = load_scoring_model(reference_lm or prepare_default_model(), None)
        with progress_bar(2 * len(items), "Perplexity") as progress:
            both = [p.original for p in items] + [p.rewrite for p in items]
            scored = score_texts(lm, lm_tokenizer, both, None, batch_size, progress)
        outputs.lm_before, outputs.lm_after = scored[: len(items)], scored[len(items) :]
    lists = debias.load_wordlists(wordlists) if wordlists else None
    report, rows = debias.evaluate_pairs(items, outputs, lists, threshold)
    report["meta"] = {
        "pairs_file": str(pairs) if pairs else None,
        "texts_file": str(texts) if texts else None,
        "model": str(model_dir) if model_dir else None,
        "adapter": str(adapter) if adapter else None,
        "toxicity_classifier": scorer.name,
        "reference_lm": None if no_perplexity else str(reference_lm or "prepared SmolLM2"),
        "seconds": round(time.perf_counter() - started, 2),
    }
    sheet, key = debias.review_sheet(items, review_size, seed)
    atomic_write_json(out / "report.json", report)
    atomic_write_jsonl(out / "pairs.jsonl", rows)
    atomic_write_text(out / "review_sheet.csv", debias.csv_text(sheet, debias.REVIEW_COLUMNS))
    atomic_write_text(out / "review_key.csv", debias.csv_text(key, ["item", "pair_id", "side"]))
    debias.write_chart(report, rows, out / "chart.png")
    print_table(["metric", "original", "rewrite"], debias.report_rows(report))
    click.echo(f"Report: {out / 'report.json'}; chart: {out / 'chart.png'}; "
               f"review sheet ({len(sheet)} items): {out / 'review_sheet.csv'}")  # fmt: skip


def _read_texts(path: Path, field: str) -> list[tuple[str, str]]:
    """(id, text) from a JSONL/CSV/TSV with a `field` column, or one text per line of a .txt."""
    from synthpack.evaluate.debias import load_pairs

    if path.suffix == ".txt":
        lines = path.read_text(encoding="utf-8").splitlines()
        return [(str(i), t.strip()) for i, t in enumerate(lines, 1) if t.strip()]
    return [(p.id, p.original) for p in load_pairs(path, field, field)]


COMMANDS = [stereoset_command, crows_pairs_command, debias_command]
