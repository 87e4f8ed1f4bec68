"""From raw generations to accepted and rejected entries, plus the numbers that judge a run.

`clean_generations` is pure: generations in, rows and a report out. The `generate` command
does the file handling around it.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from synthpack.clean.dedup import DedupSettings, deduplicate
from synthpack.clean.filters import REFUSAL, TRUNCATED, EchoContext, Limits, first_reason, refusal
from synthpack.clean.parse import parse_numbered
from synthpack.clean.text import jaccard, normalize, word_shingles

SUCCESS_BAR = 0.6  # the first paper's pass mark: at least 60% valid entries per request
PROVENANCE = ("prompt_id", "sample", "stem", "category", "version", "polarity")


@dataclass
class Cleaned:
    accepted: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    report: dict = field(default_factory=dict)


def _label(polarity: str) -> int:
    return 1 if polarity == "pos" else 0


def clean_generations(
    generations: list[dict],
    against: list[str] = (),
    limits: Limits = Limits(),
    dedup: DedupSettings = DedupSettings(),
) -> Cleaned:
    """Parse, filter and deduplicate; every parsed entry is accepted or rejected with a reason.

    Each generation is a raw.jsonl row: the prompt record's fields (`prompt_id`, `prompt`,
    `examples`, `polarity`, `n_entries`, ...), `output`, `truncated` (True/False/None) and
    `provenance`. Duplicates are looked for within each polarity and against `against`.
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
                    {"text": entry, "label": _label(polarity), "category": b["category"], **b}
                )
    out.report = build_report(out, per_generation, dup_by_prompt)
    return out


def _distinct(texts: list[str], n: int) -> float:
    grams = [tuple(w[i : i + n]) for w in (t.split() for t in texts) for i in range(len(w) - n + 1)]
    return round(len(set(grams)) / len(grams), 4) if grams else 0.0


def _self_similarity(norms: list[str], sample: int = 300, seed: int = 0) -> float:
    """Mean pairwise word-bigram Jaccard over a sample: high means the entries look alike."""
    if len(norms) < 2:
        return 0.0
    picked = random.Random(seed).sample(norms, min(sample, len(norms)))
    shingles = [word_shingles(n) for n in picked]
    pairs = [(i, j) for i in range(len(shingles)) for j in range(i + 1, len(shingles))]
    return round(sum(jaccard(shingles[i], shingles[j]) for i, j in pairs) / len(pairs), 4)


def build_report(out: Cleaned, per_generation: list[dict], dup_by_prompt: dict) -> dict:
    """The numbers of the first paper's Tables 2 and 6, the reject reasons and diversity."""
    reasons = Counter(r["reason"] for r in out.rejected)
    parsed = len(out.accepted) + len(out.rejected)
    report = {
        "generations": len(per_generation),
        "generations_without_entries": sum(s["parsed"] == 0 for s in per_generation),
        "entries_parsed": parsed,
        "accepted": len(out.accepted),
        "rejected": len(out.rejected),
        "rejected_by_reason": dict(sorted(reasons.items())),
        "refusal_rate": round(sum(s["refused"] for s in per_generation) / len(per_generation), 4)
        if per_generation
        else 0.0,
        "by_polarity": {},
    }
    for polarity in sorted({s["gen"]["polarity"] for s in per_generation}):
        gens = [s for s in per_generation if s["gen"]["polarity"] == polarity]
        accepted = [r["text"] for r in out.accepted if r["polarity"] == polarity]
        dup_reasons = ("duplicate", "near_duplicate")
        dups = [r for r in out.rejected if r["polarity"] == polarity and r["reason"] in dup_reasons]
        deduped = len(accepted) + len(dups)  # entries that reached deduplication
        prompt_ids = {s["gen"]["prompt_id"] for s in gens}
        per_prompt = [dup_by_prompt[polarity][pid] for pid in sorted(prompt_ids)]
        success = [min(1.0, s["valid"] / max(1, s["gen"].get("n_entries") or 1)) for s in gens]
        norms = [normalize(t) for t in accepted]
        report["by_polarity"][polarity] = {
            "generations": len(gens),
            "entries_parsed": sum(s["parsed"] for s in gens),
            "valid": sum(s["valid"] for s in gens),
            "accepted": len(accepted),
            # Table 6
            "duplicated_entries": len(dups),
            "duplication_rate_pct": round(100 * len(dups) / deduped, 2) if deduped else 0.0,
            "duplicates_per_prompt_mean": round(sum(per_prompt) / len(per_prompt), 3)
            if per_prompt
            else 0.0,
            "duplicates_per_prompt_total": sum(per_prompt),
            # Table 2
            "success_rate_mean": round(sum(success) / len(success), 4) if success else 0.0,
            "prompts_passing_pct": round(
                100 * sum(v >= SUCCESS_BAR for v in success) / len(success), 2
            )
            if success
            else 0.0,
            # diversity of what was kept
            "distinct_1": _distinct(norms, 1),
            "distinct_2": _distinct(norms, 2),
            "self_similarity_jaccard": _self_similarity(norms),
        }
    assert report["entries_parsed"] == report["accepted"] + report["rejected"]
    return report
