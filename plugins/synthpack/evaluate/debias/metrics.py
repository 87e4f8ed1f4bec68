"""Metrics for (original, rewrite) pairs: SR_LLM's evaluation (SPEC Pipeline B step 6) with
local models. The maths here is pure; the models come in as callables or scores.

- unsafe %: share of texts whose toxicity probability is >= 0.5, before and after;
- similarity: cosine of all-MiniLM-L6-v2 embeddings of original and rewrite;
- perplexity of originals and rewrites under a reference LM (corpus-level, per token);
- gender-coded terms per text (Gender Decoder word lists, job-postings case);
- knowledge retention: share of the original's content items found in the rewrite (below);
- fluency: a rewrite passes when its perplexity is no higher than that of 90% of the originals;
- J, ParaDetox's joint score per text: safe (0/1) x similarity x fluent (0/1), averaged;
- CLEN: normalised entropy of sentence lengths; one-sample t-tests against neutral values;
- a blind human-review sheet.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.problems import Problems, names_shown
from synthpack.formats.texts import is_table, iter_rows


@dataclass(frozen=True)
class Pair:
    id: str
    original: str
    rewrite: str


# ---------------------------------------------------------------- input


def load_pairs(path: Path, original_field="original", rewrite_field="rewrite") -> list[Pair]:
    """Pairs from JSONL, JSON, CSV or TSV (by extension); every bad row is reported at once."""
    path = Path(path)
    if not path.is_file():
        raise SynthpackError(f"{path}: pairs file not found")
    pairs, problems = [], Problems(path)
    for line, row, problem in iter_rows(path):
        if problem or not isinstance(row, dict):
            problems.add(problem or "expected a record with named fields", line)
            continue
        missing = [f for f in (original_field, rewrite_field) if f not in row]
        for field in missing:
            problems.add(f"missing ({names_shown(row, is_table(path))})", line, field)
        if missing:
            continue
        original, rewrite = str(row[original_field] or ""), str(row[rewrite_field] or "")
        if not original.strip() or not rewrite.strip():
            empty = original_field if not original.strip() else rewrite_field
            problems.add("empty", line, empty)
            continue
        pairs.append(Pair(str(row.get("id", line)), original.strip(), rewrite.strip()))
    problems.raise_if_any()
    if not pairs:
        raise SynthpackError(f"{path}: no pairs")
    return pairs


# ---------------------------------------------------------------- safety


def unsafe_percent(probabilities: list[float], threshold: float = 0.5) -> float:
    """% of texts the classifier calls unsafe (probability >= threshold)."""
    return 100.0 * sum(p >= threshold for p in probabilities) / len(probabilities)


# ---------------------------------------------------------------- similarity


def cosine(a, b) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def embed(texts: list[str], model_path: Path | None = None, batch_size: int = 64):
    """Sentence embeddings of all-MiniLM-L6-v2 (offline: from a local folder, never the hub)."""
    from synthpack.models.embeddings import load_minilm

    model = load_minilm(model_path)
    return model.encode(texts, batch_size=batch_size, show_progress_bar=False).tolist()


# ---------------------------------------------------------------- gender-coded terms


def load_wordlists(path: Path) -> dict[str, list[str]]:
    """Gender Decoder's lists (wordlists.json: feminine/masculine/hyphenated stems, exceptions)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SynthpackError(f"{path}: cannot read word lists ({exc})") from exc
    keys = ("feminine_coded_words", "masculine_coded_words")
    missing = [k for k in keys if not isinstance(data.get(k), list)]
    if missing:
        raise SynthpackError(f"{path}: missing list(s) {', '.join(missing)}")
    data.setdefault("hyphenated_coded_words", [])
    data.setdefault("non_coded_exceptions", [])
    return data


def coded_tokens(text: str, hyphenated: list[str]) -> list[str]:
    """Gender Decoder's tokenisation: ASCII only, lower case, split on anything not a letter,
    digit or hyphen; hyphenated words split too unless they start with a hyphenated stem."""
    ascii_text = re.sub(r"[^\x00-\x7f]", " ", text).lower()
    tokens = []
    for token in re.split(r"[^a-z0-9-]+", ascii_text):
        if "-" in token and not any(token.startswith(h) for h in hyphenated):
            tokens.extend(t for t in token.split("-") if t)
        elif token.strip("-"):
            tokens.append(token)
    return tokens


def gender_coded(text: str, lists: dict) -> dict:
    """Feminine- and masculine-coded matches (a token counts once per stem it starts with)."""
    found = {"feminine": [], "masculine": []}
    exceptions = set(lists["non_coded_exceptions"])
    for token in coded_tokens(text, lists["hyphenated_coded_words"]):
        if token in exceptions:
            continue
        for kind in found:
            found[kind].extend(
                token for stem in lists[f"{kind}_coded_words"] if token.startswith(stem)
            )
    return {
        "feminine": len(found["feminine"]),
        "masculine": len(found["masculine"]),
        "terms": len(found["feminine"]) + len(found["masculine"]),
        "score": len(found["feminine"]) - len(found["masculine"]),  # 0 = neutral
    }


# ---------------------------------------------------------------- knowledge retention


def _stopwords() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return ENGLISH_STOP_WORDS


WORD = re.compile(r"[A-Za-z][A-Za-z'-]*|\d+(?:[.,]\d+)*")
STEM_CHARS = 5  # "applicants" and "applicant", "running" and "runner" match on their first 5


def content_items(text: str) -> set[str]:
    """What a rewrite should keep: numbers, names and content words, as lower-case stems.

    Stopwords and words shorter than 3 letters are left out; capitalised words are kept
    whatever their length (names, places); a word is cut to its first 5 letters so that
    inflections still match.
    """
    stop = _stopwords()
    items = set()
    for match in WORD.finditer(text):
        word = match.group(0)
        low = word.lower().strip("'-")
        if word[0].isdigit():
            items.add(re.sub(r"[.,]", "", word))
        elif low in stop:
            continue
        elif len(low) >= 3 or (word[0].isupper() and len(low) >= 2):
            items.add(low[:STEM_CHARS])
    return items


def retention(original: str, rewrite: str) -> float | None:
    """Share of the original's content items present in the rewrite; None if it has none."""
    wanted = content_items(original)
    if not wanted:
        return None
    return len(wanted & content_items(rewrite)) / len(wanted)


# ---------------------------------------------------------------- fluency and J

FLUENCY_QUANTILE = 0.9  # a rewrite reads fluently if no less likely than 90% of the originals


def fluency_bar(ppl_originals: list[float], quantile: float = FLUENCY_QUANTILE) -> float:
    """The highest perplexity a fluent rewrite may have: the originals' `quantile` (linear).

    ParaDetox judges fluency with a CoLA classifier, which does not run offline here; the
    reference LM's perplexity, measured against the texts being rewritten, stands in for it.
    """
    import numpy as np

    if not ppl_originals:
        raise SynthpackError("fluency needs the originals' perplexities")
    return float(np.quantile(ppl_originals, quantile))


def joint_score(safe: bool, similarity: float, fluent: bool) -> float:
    """ParaDetox's J for one text: style accuracy x similarity x fluency (similarity below 0
    counts as 0, so J stays in [0, 1])."""
    return float(safe) * max(0.0, similarity) * float(fluent)


# ---------------------------------------------------------------- style


def sentence_lengths(text: str) -> list[int]:
    """Words per sentence (sentences end at . ! ? or a line break)."""
    parts = re.split(r"(?<=[.!?])\s+|\n+", text.strip())
    return [len(p.split()) for p in parts if p.split()]


def clen(texts: list[str]) -> float:
    """Normalised entropy of sentence lengths: H(lengths) / log(#distinct lengths), in [0, 1].

    1 means every observed length is equally common (varied rhythm), 0 a single length.
    """
    counts = Counter(n for t in texts for n in sentence_lengths(t))
    total = sum(counts.values())
    if len(counts) < 2:
        return 0.0
    entropy = -sum(c / total * math.log(c / total) for c in counts.values())
    return entropy / math.log(len(counts))


def one_sample_ttest(values: list[float], neutral: float) -> dict:
    """scipy's one-sample t-test of `values` against `neutral` (two-sided)."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    out = {
        "n": len(values),
        "mean": statistics.fmean(values) if values else None,
        "neutral": neutral,
    }
    if len(values) < 2 or len(set(values)) < 2:
        return {**out, "t": None, "p": None, "note": "needs two or more distinct values"}
    from scipy import stats

    result = stats.ttest_1samp(values, neutral)
    return {**out, "t": float(result.statistic), "p": float(result.pvalue)}


# ---------------------------------------------------------------- human review


REVIEW_COLUMNS = ["item", "text", "safety_1to5", "language_1to5", "comment"]


def review_sheet(
    pairs: list[Pair], size: int = 100, seed: int = 0
) -> tuple[list[dict], list[dict]]:
    """A blind sheet: `size` sampled pairs, original and rewrite as separate shuffled items.

    Raters see only item numbers and texts; the key (item -> pair id and which side, which
    system) goes to a separate file for whoever analyses the ratings.
    """
    rng = random.Random(seed)
    sample = rng.sample(pairs, min(size, len(pairs)))
    items = [(p, side) for p in sample for side in ("original", "rewrite")]
    rng.shuffle(items)
    sheet, key = [], []
    for number, (pair, side) in enumerate(items, 1):
        text = pair.original if side == "original" else pair.rewrite
        sheet.append({"item": number, "text": text, "safety_1to5": "", "language_1to5": "",
                      "comment": ""})  # fmt: skip
        key.append({"item": number, "pair_id": pair.id, "side": side})
    return sheet, key


def csv_text(rows: list[dict], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


# ---------------------------------------------------------------- putting it together


@dataclass
class ModelOutputs:
    """What the models said about every pair (lists aligned with the pairs)."""

    unsafe_before: list[float]
    unsafe_after: list[float]
    similarity: list[float] | None = None
    lm_before: list | None = None  # models.scoring.TextScore per original
    lm_after: list | None = None


def evaluate_pairs(
    pairs: list[Pair], outputs: ModelOutputs, wordlists: dict | None, threshold: float = 0.5
) -> tuple[dict, list[dict]]:
    """The report and one row per pair, from model outputs already computed."""
    from synthpack.models.scoring import perplexity

    rows = []
    for i, pair in enumerate(pairs):
        row = {
            "id": pair.id,
            "unsafe_before": outputs.unsafe_before[i],
            "unsafe_after": outputs.unsafe_after[i],
            "retention": retention(pair.original, pair.rewrite),
        }
        if outputs.similarity is not None:
            row["similarity"] = outputs.similarity[i]
        if outputs.lm_before is not None:
            row["ppl_before"] = math.exp(-outputs.lm_before[i].mean)
            row["ppl_after"] = math.exp(-outputs.lm_after[i].mean)
        if wordlists is not None:
            row["coded_before"] = gender_coded(pair.original, wordlists)
            row["coded_after"] = gender_coded(pair.rewrite, wordlists)
        rows.append(row)
    bar = None
    if outputs.lm_before is not None:
        bar = fluency_bar([r["ppl_before"] for r in rows])
        for row in rows:
            row["fluent"] = row["ppl_after"] <= bar
            if "similarity" in row:
                safe = row["unsafe_after"] < threshold
                row["j"] = joint_score(safe, row["similarity"], row["fluent"])

    retained = [r["retention"] for r in rows]
    report: dict = {
        "pairs": len(pairs),
        "safety": {
            "threshold": threshold,
            "unsafe_percent_before": unsafe_percent(outputs.unsafe_before, threshold),
            "unsafe_percent_after": unsafe_percent(outputs.unsafe_after, threshold),
            "mean_probability_before": mean(outputs.unsafe_before),
            "mean_probability_after": mean(outputs.unsafe_after),
            # per pair: after - before; negative means safer. 0 is "no change".
            "ttest_change_vs_0": one_sample_ttest(
                [r["unsafe_after"] - r["unsafe_before"] for r in rows], 0.0
            ),
        },
        "retention": {
            "percent": 100.0 * mean(retained) if mean(retained) is not None else None,
            "pairs_scored": sum(v is not None for v in retained),
            "definition": "share of the original's numbers, names and content-word stems "
            "(5 letters, stopwords out) found in the rewrite, averaged over pairs",
        },
        "style": {
            "clen_before": clen([p.original for p in pairs]),
            "clen_after": clen([p.rewrite for p in pairs]),
            "mean_words_before": mean(len(p.original.split()) for p in pairs),
            "mean_words_after": mean(len(p.rewrite.split()) for p in pairs),
        },
    }
    if outputs.similarity is not None:
        report["similarity"] = {
            "mean_cosine": mean(outputs.similarity),
            "median_cosine": statistics.median(outputs.similarity),
            "model": "all-MiniLM-L6-v2",
        }
    if outputs.lm_before is not None:
        report["perplexity"] = {
            "before": perplexity(outputs.lm_before),
            "after": perplexity(outputs.lm_after),
        }
        report["fluency"] = {
            "accepted_percent": 100.0 * mean(r["fluent"] for r in rows),
            "originals_accepted_percent": 100.0 * mean(r["ppl_before"] <= bar for r in rows),
            "perplexity_bar": bar,
            "definition": f"a text passes when its perplexity under the reference LM is at "
            f"most the originals' {FLUENCY_QUANTILE:.0%} quantile",
        }
        if outputs.similarity is not None:
            report["joint"] = {
                "j": mean(r["j"] for r in rows),
                "definition": "mean over texts of safe (0/1) x similarity x fluent (0/1)",
            }
    if wordlists is not None:
        before = [r["coded_before"] for r in rows]
        after = [r["coded_after"] for r in rows]
        report["gender_coded_terms"] = {
            "per_text_before": mean(c["terms"] for c in before),
            "per_text_after": mean(c["terms"] for c in after),
            # Gender Decoder's score (feminine - masculine) per rewrite against neutral 0.
            "ttest_score_after_vs_0": one_sample_ttest([c["score"] for c in after], 0.0),
        }
    return report, rows


def report_rows(report: dict) -> list[list[str]]:
    """Terminal table rows: metric, before, after."""

    def f(value, digits=2):
        return "-" if value is None else f"{value:.{digits}f}"

    s = report["safety"]
    rows = [
        ["unsafe %", f(s["unsafe_percent_before"]), f(s["unsafe_percent_after"])],
        ["mean P(unsafe)", f(s["mean_probability_before"], 3), f(s["mean_probability_after"], 3)],
    ]
    if "similarity" in report:
        rows.append(["similarity (cosine)", "", f(report["similarity"]["mean_cosine"], 3)])
    rows.append(["knowledge retention %", "", f(report["retention"]["percent"])])
    if "perplexity" in report:
        rows.append(
            ["perplexity", f(report["perplexity"]["before"]), f(report["perplexity"]["after"])]
        )
        fl = report["fluency"]
        rows.append(["fluent %", f(fl["originals_accepted_percent"]), f(fl["accepted_percent"])])
    if "joint" in report:
        rows.append(["J (safe x similarity x fluent)", "", f(report["joint"]["j"], 3)])
    if "gender_coded_terms" in report:
        g = report["gender_coded_terms"]
        rows.append(["gender-coded terms/text", f(g["per_text_before"]), f(g["per_text_after"])])
    st = report["style"]
    rows.append(["CLEN", f(st["clen_before"], 3), f(st["clen_after"], 3)])
    rows.append(["words/text", f(st["mean_words_before"], 1), f(st["mean_words_after"], 1)])
    return rows
