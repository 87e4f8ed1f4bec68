"""From raw generations to accepted and rejected entries, plus the numbers that judge a run.

`clean_generations` is pure: generations in, rows and a report out. The `generate` command
does the file handling around it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from synthpack.clean.dedup import DedupSettings, deduplicate
from synthpack.clean.filters import REFUSAL, TRUNCATED, EchoContext, Limits, first_reason, refusal
from synthpack.clean.label_check import LabelChecker
from synthpack.clean.parse import parse_numbered
from synthpack.clean.report import build_report
from synthpack.common.labels import LABEL

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
    checker: LabelChecker | None = None,
) -> Cleaned:
    """Parse, filter and deduplicate; every parsed entry is accepted or rejected with a reason.

    Each generation is a raw.jsonl row: the prompt record's fields (`prompt_id`, `prompt`,
    `examples`, `polarity`, `n_entries`, ...), `output`, `truncated` (True/False/None) and
    `provenance`. Duplicates are looked for within each polarity and against `against`.
    A `checker` then scores what is left and rejects (or relabels) entries that contradict
    their prompt's polarity (`synthpack.clean.label_check`).
    """
    out = Cleaned()
    candidates: list[tuple[dict, str]] = []  # (row template, entry) that passed the filters
    per_generation = []
    for gen in generations:
        parsed = parse_numbered(gen["output"], gen.get("truncated"))
        base = {k: gen.get(k) for k in PROVENANCE} | {"provenance": gen.get("provenance", {})}
        ctx = EchoContext.build(gen.get("prompt", ""), gen.get("examples", []))
        stats = {
            "gen": gen,
            "parsed": len(parsed.entries) + (parsed.truncated is not None),
            "valid": 0,
        }
        stats["refused"] = bool(refusal(f"{parsed.preamble} {parsed.trailer}"))
        for entry in parsed.entries:
            reason = first_reason(entry, ctx, limits)
            if reason:
                out.rejected.append({"text": entry, "reason": reason, **base})
                stats["refused"] |= reason == REFUSAL
            else:
                stats["valid"] += 1
                candidates.append((base, entry))
        if parsed.truncated is not None:
            out.rejected.append({"text": parsed.truncated, "reason": TRUNCATED, **base})
        per_generation.append(stats)

    dup_by_prompt: dict[str, Counter] = defaultdict(Counter)
    for polarity in sorted({b["polarity"] for b, _ in candidates}):
        group = [(b, e) for b, e in candidates if b["polarity"] == polarity]
        result = deduplicate([e for _, e in group], against=against, settings=dedup)
        for (b, entry), reason in zip(group, result.reasons, strict=False):
            if reason:
                out.rejected.append({"text": entry, "reason": reason, **b})
                if not reason.endswith("_of_against"):
                    dup_by_prompt[polarity][b["prompt_id"]] += 1
            else:
                out.accepted.append(
                    {"text": entry, "label": LABEL[polarity], "category": b["category"], **b}
                )
    checked = checker.apply(out.accepted) if checker else None
    if checked is not None:
        out.accepted = checked.kept
        out.rejected.extend(checked.rejected)
    out.report = build_report(out.accepted, out.rejected, per_generation, dup_by_prompt)
    if checked is not None:
        out.report["label_check"] = checked.report
    return out
