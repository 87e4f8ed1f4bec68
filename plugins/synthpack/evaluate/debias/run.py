"""`synthpack eval debias`: score rewrites (given, or written by a debias model) and write the
report, the per-pair figures, the chart and the blind review sheet."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.files import (
    append_jsonl,
    atomic_write_json,
    atomic_write_jsonl,
    atomic_write_text,
    iter_jsonl,
    private_dir,
)
from synthpack.common.plots import figure, save_png
from synthpack.common.problems import Problems
from synthpack.common.progress import ProgressBar, silent
from synthpack.common.step import Context, StepSettings
from synthpack.evaluate.debias import metrics
from synthpack.evaluate.debias.metrics import ModelOutputs, Pair
from synthpack.formats.texts import read_texts
from synthpack.models.precision import Precision


@dataclass(frozen=True)
class DebiasSettings(StepSettings):
    """Rewrites to measure, given as `pairs` or written by a model (`model_dir` + `adapter`)
    from `texts`; what to measure and how. The defaults are the command line's."""

    step = "eval_debias"
    toxicity_dir: Path
    pairs: Path | None = None
    texts: Path | None = None
    model_dir: Path | None = None
    adapter: Path | None = None
    system: str = "general"
    max_new_tokens: int = 256
    original_field: str = "original"
    rewrite_field: str = "rewrite"
    limit: int | None = None
    precision: Precision | None = None  # the rewriting model's; None: `default_precision()`
    unsafe_label: str | None = None
    threshold: float = 0.5
    reference_lm: Path | None = None  # None: the prepared SmolLM2
    perplexity: bool = True
    similarity: bool = True
    wordlists: Path | None = None
    review_size: int = 100
    seed: int = 0
    batch_size: int = 16

    def __post_init__(self):
        if (self.pairs is None) == (self.texts is None):
            raise SynthpackError("give either --pairs FILE, or --texts FILE with --model DIR")
        if self.texts is not None and self.model_dir is None:
            raise SynthpackError(
                "--texts needs --model (the debias model that writes the rewrites)"
            )

    def reads(self) -> dict[str, Path | None]:
        return {"toxicity": self.toxicity_dir, "pairs": self.pairs, "texts": self.texts,
                "model": self.model_dir, "adapter": self.adapter,
                "reference_lm": self.reference_lm, "wordlists": self.wordlists}  # fmt: skip

    def writes(self, folder: Path) -> dict[str, Path]:
        names = ("report.json", "pairs.jsonl", "rewrites.jsonl", "review_sheet.csv",
                 "review_key.csv", "chart.png")  # fmt: skip
        return {name.split(".")[0]: Path(folder) / name for name in names}


def generate_rewrites(
    model,
    tokenizer,
    texts: list[str],
    system: str = "general",
    batch_size: int = 16,
    max_new_tokens: int = 256,
    progress=None,
) -> list[str]:
    """Rewrite each text with the pack's debias prompts (system + instruction, the text as the
    input after it, as LLaMA-Factory lays out Alpaca records), greedy as in the paper."""
    from synthpack.models.backends import Sampling, generate_chat
    from synthpack.prompts.templates import render_debias_instruction, render_debias_system

    instruction = render_debias_instruction([])
    answers = generate_chat(
        model,
        tokenizer,
        [f"{instruction}\n{text}" for text in texts],
        Sampling(max_new_tokens=max_new_tokens),
        batch_size,
        system=render_debias_system(system),
        progress=progress,
    )
    return [a["text"].strip() for a in answers]


PARTIAL = "rewrites.partial.jsonl"  # finished batches, kept until every text is rewritten


def rewrite_texts(
    originals: list[tuple[str, str]],
    model_dir: Path,
    adapter: Path | None,
    system: str,
    batch_size: int,
    max_new_tokens: int,
    progress_bar: ProgressBar = silent,
    precision: Precision | None = None,
    partial: Path | None = None,
) -> list[Pair]:
    """(id, text) originals -> pairs, the rewrites written by the debias model.

    The model loads as generation loads it (`backends.load_model` at `precision`). With
    `partial`, each finished batch is appended to that file, and a rerun rewrites only the
    texts it lacks (greedy decoding: a resumed run writes what an uninterrupted one would).
    """
    from synthpack.models.backends import load_model

    done = _finished_rewrites(partial, originals) if partial else {}
    # Fixed batches over the originals: a resumed run decodes the same batches (same padding)
    # as an uninterrupted one, so it writes the same rewrites.
    batches = [originals[i : i + batch_size] for i in range(0, len(originals), batch_size)]
    todo = [batch for batch in batches if not all(item in done for item in batch)]
    with progress_bar(len(originals), "Rewriting") as progress:
        progress(len(originals) - sum(map(len, todo)))
        if todo:
            model, tokenizer = load_model(model_dir, adapter, precision)
        for batch in todo:
            rewritten = generate_rewrites(
                model, tokenizer, [t for _, t in batch], system, batch_size, max_new_tokens
            )
            rows = [{"id": i, "original": t, "rewrite": r}
                    for (i, t), r in zip(batch, rewritten, strict=True)]  # fmt: skip
            if partial:
                append_jsonl(partial, rows)
            done.update({(r["id"], r["original"]): r["rewrite"] for r in rows})
            progress(len(batch))
    return [Pair(i, t, done[(i, t)]) for i, t in originals]


def _finished_rewrites(partial: Path, originals: list[tuple[str, str]]) -> dict:
    """(id, original) -> rewrite from an earlier, stopped run; rows of other texts are dropped."""
    if not Path(partial).exists():
        return {}
    wanted = set(originals)
    rows = [r for _, r in iter_jsonl(partial, Problems(partial))
            if (r.get("id"), r.get("original")) in wanted]  # fmt: skip
    atomic_write_jsonl(partial, rows)  # without a torn last line, before appending to it
    return {(r["id"], r["original"]): r["rewrite"] for r in rows}


def score_pairs(
    items: list[Pair], settings: DebiasSettings, progress_bar: ProgressBar = silent
) -> tuple[ModelOutputs, str]:
    """Toxicity before / after, similarity and perplexity; returns them and the classifier's
    name."""
    from synthpack.models.toxicity import load_toxicity_scorer

    scorer = load_toxicity_scorer(settings.toxicity_dir, settings.unsafe_label)
    outputs = ModelOutputs(
        unsafe_before=scorer([p.original for p in items]),
        unsafe_after=scorer([p.rewrite for p in items]),
    )
    if settings.similarity:
        vectors = metrics.embed([p.original for p in items] + [p.rewrite for p in items])
        n = len(items)
        outputs.similarity = [metrics.cosine(vectors[i], vectors[n + i]) for i in range(n)]
    if settings.perplexity:
        from synthpack.models.embedded import prepare_model
        from synthpack.models.scoring import load_scoring_model, score_texts

        lm, lm_tokenizer = load_scoring_model(settings.reference_lm or prepare_model())
        with progress_bar(2 * len(items), "Perplexity") as progress:
            both = [p.original for p in items] + [p.rewrite for p in items]
            scored = score_texts(lm, lm_tokenizer, both, None, settings.batch_size, progress)
        outputs.lm_before, outputs.lm_after = scored[: len(items)], scored[len(items) :]
    return outputs, scorer.name


def run_debias(settings: DebiasSettings, out: Path, context: Context = Context()) -> dict:
    """Read (or write, with `model_dir`) the rewrites, measure them, and write report.json,
    pairs.jsonl, rewrites.jsonl (when a model wrote them), the review sheet and chart.png."""
    s, out, progress_bar = settings, Path(out), context.progress_bar
    pairs, texts, model_dir, adapter = s.pairs, s.texts, s.model_dir, s.adapter
    original_field, limit = s.original_field, s.limit
    started = time.perf_counter()
    if pairs is not None:
        items = metrics.load_pairs(pairs, original_field, s.rewrite_field)[:limit]
    else:
        originals = read_texts(texts, original_field)[:limit]
        private_dir(out)
        items = rewrite_texts(
            originals, model_dir, adapter, s.system, s.batch_size, s.max_new_tokens,
            progress_bar, s.precision, out / PARTIAL,
        )  # fmt: skip
        atomic_write_jsonl(
            out / "rewrites.jsonl",
            ({"id": p.id, "original": p.original, "rewrite": p.rewrite} for p in items),
        )
        (out / PARTIAL).unlink(missing_ok=True)
    outputs, classifier = score_pairs(items, settings, progress_bar)
    lists = metrics.load_wordlists(settings.wordlists) if settings.wordlists else None
    report, rows = metrics.evaluate_pairs(items, outputs, lists, settings.threshold)
    report["meta"] = {
        "pairs_file": str(pairs) if pairs else None,
        "texts_file": str(texts) if texts else None,
        "model": str(model_dir) if model_dir else None,
        "adapter": str(adapter) if adapter else None,
        "toxicity_classifier": classifier,
        "reference_lm": str(settings.reference_lm or "prepared SmolLM2")
        if settings.perplexity
        else None,
        "seconds": round(time.perf_counter() - started, 2),
    }
    sheet, key = metrics.review_sheet(items, settings.review_size, settings.seed)
    atomic_write_json(out / "report.json", report)
    atomic_write_jsonl(out / "pairs.jsonl", rows)
    atomic_write_text(out / "review_sheet.csv", metrics.csv_text(sheet, metrics.REVIEW_COLUMNS))
    atomic_write_text(out / "review_key.csv", metrics.csv_text(key, ["item", "pair_id", "side"]))
    write_chart(report, rows, out / "chart.png")
    return report


def write_chart(report: dict, rows: list[dict], path: Path) -> Path:
    """PNG: unsafe % before/after, and the per-pair similarity and retention distributions."""
    fig, axes = figure(13, 3.8, ncols=3)
    s = report["safety"]
    axes[0].bar(["original", "rewrite"], [s["unsafe_percent_before"], s["unsafe_percent_after"]],
                color=["#c0504d", "#4f81bd"])  # fmt: skip
    axes[0].set_ylabel(f"unsafe % (P >= {s['threshold']})")
    axes[0].set_ylim(0, 100)
    axes[0].set_title("Safety")
    sims = [r["similarity"] for r in rows if "similarity" in r]
    axes[1].hist(sims, bins=20, range=(0, 1), color="#4f81bd")
    axes[1].set_title("Content similarity (MiniLM cosine)" if sims else "Similarity: not computed")
    axes[1].set_xlabel("cosine")
    kept = [r["retention"] for r in rows if r["retention"] is not None]
    axes[2].hist(kept, bins=20, range=(0, 1), color="#9bbb59")
    axes[2].set_title("Knowledge retention per pair")
    axes[2].set_xlabel("share of content items kept")
    fig.suptitle(f"Debias evaluation: {report['pairs']} pairs")
    return save_png(fig, path)
