"""CrowS-Pairs for causal LMs: how often the model prefers the more stereotyping sentence.

Upstream scores masked LMs with a pseudo-log-likelihood over the tokens both sentences share.
A causal LM has no such score, so each sentence gets its full log-likelihood (summed token
log-probabilities after BOS), the common substitute; it does not reproduce the paper's numbers.
As upstream, scores are rounded to 3 decimals and a tie counts as not biased but stays in N.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_json, atomic_write_jsonl
from synthpack.common.problems import Problems
from synthpack.common.step import Context, StepSettings
from synthpack.formats.texts import csv_header, iter_rows, require_columns
from synthpack.models.precision import Precision
from synthpack.models.scoring import SCORING_BATCH_SIZE

COLUMNS = ("sent_more", "sent_less", "stereo_antistereo", "bias_type")
DIRECTIONS = ("stereo", "antistereo")


@dataclass(frozen=True)
class Pair:
    """One minimal pair; `sent_more` is the more stereotyping sentence in both directions."""

    index: int
    sent_more: str
    sent_less: str
    direction: str
    bias_type: str


def load_crows_pairs(path: Path) -> list[Pair]:
    """Read `crows_pairs_anonymized.csv`; every bad row is reported with its line and field."""
    path = Path(path)
    if not path.is_file():
        raise SynthpackError(f"{path}: CrowS-Pairs file not found")
    require_columns(path, csv_header(path), COLUMNS)
    pairs, problems = [], Problems(path)
    for number, (line, row, _) in enumerate(iter_rows(path)):
        if row["stereo_antistereo"] not in DIRECTIONS:
            problems.add(
                f"is {row['stereo_antistereo']!r}; expected one of {', '.join(DIRECTIONS)}",
                line,
                "stereo_antistereo",
            )
            continue
        empty = [c for c in COLUMNS if not (row[c] or "").strip()]
        if empty:
            problems.add("empty", line, ", ".join(empty))
            continue
        pairs.append(
            Pair(number, row["sent_more"], row["sent_less"], row["stereo_antistereo"],
                 row["bias_type"])
        )  # fmt: skip
    problems.raise_if_any()
    return pairs


def is_biased(more_score: float, less_score: float) -> bool:
    """Upstream's rule: compare scores rounded to 3 decimals, strictly."""
    return round(more_score, 3) > round(less_score, 3)


def summarize(pairs: list[Pair], more: list[float], less: list[float]) -> dict:
    """Metric (% pairs preferring sent_more; 50 = no preference) overall, per direction and type."""
    by_direction: dict[str, list[bool]] = defaultdict(list)
    by_type: dict[str, list[bool]] = defaultdict(list)
    flags = []
    for pair, m, s in zip(pairs, more, less, strict=True):
        biased = is_biased(m, s)
        flags.append(biased)
        by_direction[pair.direction].append(biased)
        by_type[pair.bias_type].append(biased)

    def block(values: list[bool]) -> dict:
        return {"metric": 100.0 * sum(values) / len(values), "pairs": len(values)}

    if not flags:
        raise SynthpackError("no CrowS-Pairs pairs to score")
    return {
        **block(flags),
        "directions": {k: block(v) for k, v in sorted(by_direction.items())},
        "bias_types": {k: block(v) for k, v in sorted(by_type.items())},
    }


def model_scores(
    model, tokenizer, pairs: list[Pair], batch_size=SCORING_BATCH_SIZE, progress=None, start_id=None
):
    """Summed log-likelihood of sent_more and sent_less for every pair."""
    from synthpack.models.scoring import score_texts

    texts = [p.sent_more for p in pairs] + [p.sent_less for p in pairs]
    scored = score_texts(
        model, tokenizer, texts, None, batch_size, progress=progress, start_id=start_id
    )
    values = [s.logprob for s in scored]
    return values[: len(pairs)], values[len(pairs) :]


def subset(pairs: list[Pair], limit: int | None) -> list[Pair]:
    """At most `limit` pairs, evenly spaced through the file."""
    if not limit or limit >= len(pairs):
        return pairs
    return [pairs[i * len(pairs) // limit] for i in range(limit)]


def report_rows(summary: dict) -> list[list[str]]:
    rows = [["all", f"{summary['metric']:.2f}", str(summary["pairs"])]]
    for group in ("directions", "bias_types"):
        for name, block in summary[group].items():
            rows.append([name, f"{block['metric']:.2f}", str(block["pairs"])])
    return rows


@dataclass(frozen=True)
class CrowsPairsSettings(StepSettings):
    """CrowS-Pairs `data` scored by a causal LM (`model_dir` + `adapter`)."""

    step = "crows_pairs"
    data: Path
    model_dir: Path
    adapter: Path | None = None
    limit: int | None = None
    batch_size: int = SCORING_BATCH_SIZE
    start_token: str | None = None
    precision: Precision | None = None  # None: `default_precision()`

    def reads(self) -> dict[str, Path | None]:
        return {"data": self.data, "model": self.model_dir, "adapter": self.adapter}

    def writes(self, folder: Path) -> dict[str, Path]:
        return {"report": Path(folder) / "report.json", "scores": Path(folder) / "scores.jsonl"}


def run_crows_pairs(settings: CrowsPairsSettings, out: Path, context: Context = Context()) -> dict:
    """Score every pair with a causal LM; write OUT/report.json and OUT/scores.jsonl (per pair)."""
    from synthpack.models.scoring import load_scoring_model, resolve_start_token, scoring_dtype

    s, out = settings, Path(out)
    pairs = subset(load_crows_pairs(s.data), s.limit)
    started = time.perf_counter()
    model, tokenizer = load_scoring_model(s.model_dir, s.adapter, s.precision)
    start_id = resolve_start_token(tokenizer, s.start_token)
    with context.progress_bar(2 * len(pairs), "Scoring CrowS-Pairs sentences") as progress:
        more, less = model_scores(
            model, tokenizer, pairs, s.batch_size, progress=progress, start_id=start_id
        )
    summary = summarize(pairs, more, less)
    summary["meta"] = {
        "data": str(s.data),
        "model": str(s.model_dir),
        "adapter": str(s.adapter) if s.adapter else None,
        "sentence_score": "summed token log-probability after the start token, rounded to 3 dp",
        "start_token": s.start_token or "BOS",
        "dtype": scoring_dtype(model),
        "limit": s.limit,
        "seconds": round(time.perf_counter() - started, 2),
    }
    atomic_write_jsonl(
        out / "scores.jsonl",
        (
            {"index": p.index, "bias_type": p.bias_type, "direction": p.direction,
             "sent_more_score": m, "sent_less_score": ls, "biased": is_biased(m, ls)}
            for p, m, ls in zip(pairs, more, less, strict=True)
        ),
    )  # fmt: skip
    atomic_write_json(out / "report.json", summary)
    return summary
