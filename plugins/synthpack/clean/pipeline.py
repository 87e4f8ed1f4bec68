"""From raw generations to accepted and rejected entries, plus the numbers that judge a run.

`clean_generations` is pure: generations in, rows and a report out. The `generate` command
does the file handling around it. Every generation leaves a trace: its entries (accepted or
rejected with a reason), or one `no_entries` row when nothing numbered was found in it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from synthpack.clean.dedup import DedupSettings, deduplicate
from synthpack.clean.filters import (
    EXCESS,
    NO_ANSWER,
    NO_ENTRIES,
    REFUSAL,
    TRUNCATED,
    EchoContext,
    Limits,
    first_reason,
    refusal,
)
from synthpack.clean.parse import parse_numbered
from synthpack.clean.report import build_report
from synthpack.clean.semantic import Embed, minilm_embedder, semantic_matches
from synthpack.common.labels import LABEL
from synthpack.common.progress import ProgressBar, counted, silent

PROVENANCE = ("prompt_id", "sample", "stem", "category", "version", "polarity", "target_group",
              "attributes")  # fmt: skip
# A generation may hold this many times the entries its prompt asked for; the rest are
# rejected as `excess` unread (a runaway answer of 76,000 entries for 10 asked).
EXCESS_FACTOR = 3
MIN_CAP = 30  # the cap for prompts that did not say how many entries they wanted


def entry_cap(n_entries) -> int:
    """The most entries one generation may contribute."""
    asked = n_entries if isinstance(n_entries, int) and n_entries > 0 else 0
    return max(MIN_CAP, EXCESS_FACTOR * asked)


@dataclass
class Cleaned:
    accepted: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    report: dict = field(default_factory=dict)


def clean_generations(
    generations: list[dict],
    against: list[str] = (),
    limits: Limits = Limits(),
    dedup: DedupSettings = DedupSettings(),
    *,
    semantic: float | None = None,
    embed: Embed | None = None,
    progress_bar: ProgressBar = silent,
) -> Cleaned:
    """Parse, filter and deduplicate; every parsed entry is accepted or rejected with a reason.

    Each generation is a raw.jsonl row: the prompt record's fields (`prompt_id`, `prompt`,
    `examples`, `polarity`, `n_entries`, ...), `output`, `truncated` (True/False/None) and
    `provenance`; a prompt no server answered has `failure` instead of an answer and becomes one
    `no_answer` row (it does not count against the model's success rate). Duplicates are
    looked for within each polarity and against `against`; with `semantic` (a cosine
    threshold), paraphrases too, by `embed` (default MiniLM).
    The label check is a step of its own (`synthpack.clean.checker`).
    """
    out = Cleaned()
    candidates: list[tuple[dict, str]] = []  # (row template, entry) that passed the filters
    per_generation, unanswered = [], 0
    for gen in counted(generations, progress_bar, "clean", "gen"):
        if gen.get("failure"):
            unanswered += 1
            row = {"text": "", "reason": NO_ANSWER, "failure": gen["failure"], **_base(gen)}
            out.rejected.append(row)
        else:
            per_generation.append(_filter_generation(gen, limits, out.rejected, candidates))
    dup_by_prompt: dict[str, Counter] = defaultdict(Counter)
    for polarity in sorted({b["polarity"] for b, _ in candidates}):
        group = [(b, e) for b, e in candidates if b["polarity"] == polarity]
        result = deduplicate([e for _, e in group], against=against, settings=dedup)
        dropped = set()
        if semantic is not None:
            embed = embed or minilm_embedder()
            dropped = _paraphrases(group, result.reasons, against, semantic, embed, out)
        for k, ((b, entry), reason) in enumerate(zip(group, result.reasons, strict=False)):
            if k in dropped:
                continue  # rejected by _paraphrases, with the id of what it repeats
            if reason:
                out.rejected.append({"text": entry, "reason": reason, **b})
                if not reason.endswith("_of_against"):
                    dup_by_prompt[polarity][b["prompt_id"]] += 1
            else:
                out.accepted.append(
                    {"text": entry, "label": LABEL[polarity], "category": b["category"], **b}
                )
    out.report = build_report(out.accepted, out.rejected, per_generation, dup_by_prompt)
    out.report["generations_unanswered"] = unanswered
    if semantic is not None:
        out.report["semantic_dedup"] = {"model": "all-MiniLM-L6-v2", "threshold": semantic}
    return out


def _base(gen: dict) -> dict:
    """The fields of a generation that every row made from it carries."""
    return {k: gen.get(k) for k in PROVENANCE} | {"provenance": gen.get("provenance", {})}


def _filter_generation(
    gen: dict, limits: Limits, rejected: list[dict], candidates: list[tuple[dict, str]]
) -> dict:
    """Parse one generation and filter its entries; returns its numbers for the report."""
    parsed = parse_numbered(gen["output"], gen.get("truncated"))
    base = _base(gen)
    ctx = EchoContext.build(gen.get("prompt", ""), gen.get("examples", []))
    entries = parsed.entries
    cap = entry_cap(gen.get("n_entries"))
    stats = {
        "gen": gen,
        "parsed": len(entries) + (parsed.truncated is not None),
        "valid": 0,
        "refused": bool(refusal(f"{parsed.preamble} {parsed.trailer}")),
    }
    for number, entry in enumerate(entries[:cap], start=1):
        reason = first_reason(entry, ctx, limits)
        if reason:
            rejected.append({"text": entry, "reason": reason, **base})
            stats["refused"] |= reason == REFUSAL
        else:
            stats["valid"] += 1
            candidates.append(({**base, "entry": number}, entry))
    rejected.extend({"text": entry, "reason": EXCESS, **base} for entry in entries[cap:])
    if parsed.truncated is not None:
        rejected.append({"text": parsed.truncated, "reason": TRUNCATED, **base})
    if stats["parsed"] == 0:  # nothing numbered: the whole answer is the one rejected row
        text = " ".join(parsed.preamble.split())
        rejected.append({"text": text, "reason": NO_ENTRIES, **base})
        stats["refused"] |= bool(refusal(text))
    stats["rows"] = max(1, stats["parsed"])  # rows it put into accepted + rejected
    return stats


def entry_id(row: dict) -> str:
    """`prompt_id:sample:entry`: which numbered entry of which answer a row is."""
    return f"{row['prompt_id']}:{row['sample']}:{row['entry']}"


def _paraphrases(group, reasons, against, threshold: float, embed: Embed, out: Cleaned) -> set:
    """Reject the entries MinHash kept whose meaning repeats a kept entry or an `against`
    text (with `matched_id` and `similarity`); return their positions in `group`."""
    kept = [k for k, reason in enumerate(reasons) if reason is None]
    if not kept:
        return set()
    refs = embed(list(against)) if len(against) else None
    matches = semantic_matches(embed([group[k][1] for k in kept]), threshold, refs)
    for m in matches:
        base, entry = group[kept[m.index]]
        matched = f"against:{m.of}" if m.of_against else entry_id(group[kept[m.of]][0])
        out.rejected.append(
            {"text": entry, "reason": m.reason, "matched_id": matched,
             "similarity": round(m.similarity, 4), **base}
        )  # fmt: skip
    return {kept[m.index] for m in matches}
