"""From raw generations to accepted and rejected entries, plus the numbers that judge a run.

`clean_generations` is pure: generations in, rows and a report out. The `generate` command
does the file handling around it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from synthpack.clean.dedup import DedupSettings, deduplicate
from synthpack.clean.filters import REFUSAL, TRUNCATED, EchoContext, Limits, first_reason, refusal
from synthpack.clean.parse import parse_numbered
from synthpack.clean.report import build_report
from synthpack.clean.semantic import Embed, minilm_embedder, semantic_matches
from synthpack.common.labels import LABEL
from synthpack.common.progress import ProgressBar, counted, silent

PROVENANCE = ("prompt_id", "sample", "stem", "category", "version", "polarity")


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
    `provenance`. Duplicates are looked for within each polarity and against `against`;
    with `semantic` (a cosine threshold), paraphrases too, by `embed` (default MiniLM).
    """
    out = Cleaned()
    candidates: list[tuple[dict, str]] = []  # (row template, entry) that passed the filters
    per_generation = []
    for gen in counted(generations, progress_bar, "clean", "gen"):
        parsed = parse_numbered(gen["output"], gen.get("truncated"))
        base = {k: gen.get(k) for k in PROVENANCE} | {"provenance": gen.get("provenance", {})}
        ctx = EchoContext.build(gen.get("prompt", ""), gen.get("examples", []))
        stats = {
            "gen": gen,
            "parsed": len(parsed.entries) + (parsed.truncated is not None),
            "valid": 0,
        }
        stats["refused"] = bool(refusal(f"{parsed.preamble} {parsed.trailer}"))
        for number, entry in enumerate(parsed.entries, start=1):
            reason = first_reason(entry, ctx, limits)
            if reason:
                out.rejected.append({"text": entry, "reason": reason, **base})
                stats["refused"] |= reason == REFUSAL
            else:
                stats["valid"] += 1
                candidates.append(({**base, "entry": number}, entry))
        if parsed.truncated is not None:
            out.rejected.append({"text": parsed.truncated, "reason": TRUNCATED, **base})
        per_generation.append(stats)

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
    if semantic is not None:
        out.report["semantic_dedup"] = {"model": "all-MiniLM-L6-v2", "threshold": semantic}
    return out


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
