"""The numbers that judge a cleaned set: the first paper's Tables 2 and 6, reject reasons,
diversity, and the terminal table that shows them."""

from __future__ import annotations

import random
from collections import Counter

from synthpack.clean.dedup import DUPLICATE, NEAR_DUPLICATE
from synthpack.clean.label_check import LABEL_DISAGREES, format_label_check
from synthpack.clean.text import jaccard, word_shingles
from synthpack.common.reasons import check_reason
from synthpack.common.tables import format_table
from synthpack.common.text import text_key

SUCCESS_BAR = 0.6  # the first paper's pass mark: at least 60% valid entries per request


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


def build_report(
    accepted_rows: list[dict],
    rejected_rows: list[dict],
    per_generation: list[dict],
    dup_by_prompt: dict,
) -> dict:
    """The numbers of the first paper's Tables 2 and 6, the reject reasons and diversity."""
    reasons = Counter(check_reason(r["reason"]) for r in rejected_rows)  # no typo columns
    parsed = len(accepted_rows) + len(rejected_rows)
    report = {
        "generations": len(per_generation),
        "generations_without_entries": sum(s["parsed"] == 0 for s in per_generation),
        "entries_parsed": parsed,
        "accepted": len(accepted_rows),
        "rejected": len(rejected_rows),
        "rejected_by_reason": dict(sorted(reasons.items())),
        "refusal_rate": round(sum(s["refused"] for s in per_generation) / len(per_generation), 4)
        if per_generation
        else 0.0,
        "by_polarity": {},
    }
    for polarity in sorted({s["gen"]["polarity"] for s in per_generation}):
        gens = [s for s in per_generation if s["gen"]["polarity"] == polarity]
        accepted = [r["text"] for r in accepted_rows if r["polarity"] == polarity]
        dup_reasons = (DUPLICATE, NEAR_DUPLICATE)
        dups = [
            r for r in rejected_rows if r["polarity"] == polarity and r["reason"] in dup_reasons
        ]
        deduped = len(accepted) + len(dups)  # entries that reached deduplication
        prompt_ids = {s["gen"]["prompt_id"] for s in gens}
        per_prompt = [dup_by_prompt[polarity][pid] for pid in sorted(prompt_ids)]
        success = [min(1.0, s["valid"] / max(1, s["gen"].get("n_entries") or 1)) for s in gens]
        norms = [text_key(t) for t in accepted]
        report["by_polarity"][polarity] = {
            "generations": len(gens),
            "entries_parsed": sum(s["rows"] for s in gens),
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
            **_conditions([r for r in accepted_rows if r["polarity"] == polarity]),
        }
    assert report["entries_parsed"] == report["accepted"] + report["rejected"]
    return report


def checked_report(report: dict, check: dict, kept: list[dict]) -> dict:
    """The cleaning report of the set that remains after a label check (`check`: the counts
    of `label_check.summarise`; `kept`: the rows it kept): counts, per-polarity kept entries
    (relabelled ones under their new polarity) and the diversity of what is kept. Duplication
    and success rates stay the cleaning's: they describe the generations, not the check."""
    out = {**report, "label_check": check}
    out["accepted"] = report["accepted"] - check["rejected"]
    out["rejected"] = report["rejected"] + check["rejected"]
    by_reason = dict(report.get("rejected_by_reason", {}))
    if check["rejected"]:
        by_reason[LABEL_DISAGREES] = by_reason.get(LABEL_DISAGREES, 0) + check["rejected"]
    out["rejected_by_reason"] = dict(sorted(by_reason.items()))
    out["by_polarity"] = {}
    for polarity, stats in report.get("by_polarity", {}).items():
        norms = [text_key(r["text"]) for r in kept if r["polarity"] == polarity]
        out["by_polarity"][polarity] = {
            **stats,
            "accepted": len(norms),
            "distinct_1": _distinct(norms, 1),
            "distinct_2": _distinct(norms, 2),
            "self_similarity_jaccard": _self_similarity(norms),
        }
    assert out["accepted"] == len(kept)
    return out


# (header, report key, format) of the per-polarity table on the terminal.
TABLE_COLUMNS = (
    ("gens", "generations", "d"),
    ("parsed", "entries_parsed", "d"),
    ("valid", "valid", "d"),
    ("kept", "accepted", "d"),
    ("dup %", "duplication_rate_pct", ".1f"),
    ("dups/prompt", "duplicates_per_prompt_mean", ".2f"),
    ("success", "success_rate_mean", ".2f"),
    ("pass %", "prompts_passing_pct", ".1f"),
    ("dist-2", "distinct_2", ".3f"),
)


def format_report(report: dict) -> str:
    """The paper's Table 2 and Table 6 numbers, one row per polarity, then the counts."""
    rows = [
        [polarity, *(f"{p[key]:{fmt}}" for _, key, fmt in TABLE_COLUMNS)]
        for polarity, p in report["by_polarity"].items()
    ]
    lines = [format_table(["polarity", *(head for head, _, _ in TABLE_COLUMNS)], rows)]
    lines.append(
        f"entries parsed {report['entries_parsed']} = accepted {report['accepted']} + "
        f"rejected {report['rejected']}; refusal rate {report['refusal_rate']:.2%}"
    )
    reasons = ", ".join(f"{k} {v}" for k, v in report["rejected_by_reason"].items())
    lines.append(f"rejected by reason: {reasons or 'none'}")
    if report.get("label_check"):
        lines.append(format_label_check(report["label_check"]))
    generation = report.get("generation") or {}
    if generation.get("seconds"):
        lines.append(f"generation: {generation['tokens_per_s']} tokens/s")
    if generation.get("endpoints"):
        lines.append(format_served(generation))
    return "\n".join(lines)


def format_served(generation: dict) -> str:
    """What the servers did: prompts answered, failed and retried, per endpoint."""
    lines = [
        f"servers ({generation['served_model']}): {generation['prompts']} prompts, "
        f"{generation['prompts_reused']} answered before, {generation['answered']} answered now, "
        f"{generation['failed']} failed, {generation['retries']} request(s) retried, "
        f"{generation['earlier_failures_resent']} earlier failure(s) sent again"
    ]
    for url, counts in generation["per_endpoint"].items():
        lines.append(
            f"  {url}: {counts['answered']} answered, {counts['failed']} failed, "
            f"{counts['retries']} retried, {counts['new_tokens']} tokens"
        )
    if generation["failed"]:
        lines.append(
            f"{generation['failed']} prompt(s) got no answer (their reason is in raw.jsonl, "
            "`failure`): rerun the same command to send them again"
        )
    return "\n".join(lines)


def _conditions(accepted: list[dict]) -> dict:
    """Kept entries per target group and per attribute value, for conditioned prompts (none
    for unconditioned ones); the counts of each add up to the kept entries."""
    if not any(r.get("target_group") or r.get("attributes") for r in accepted):
        return {}
    groups = Counter(str(r.get("target_group")) for r in accepted)
    attributes: dict[str, Counter] = {}
    for row in accepted:
        for axis, value in (row.get("attributes") or {}).items():
            attributes.setdefault(axis, Counter())[value] += 1
    return {
        "by_group": dict(groups.most_common()),
        "largest_group_pct": round(100 * max(groups.values()) / len(accepted), 2),
        "by_attribute": {a: dict(sorted(c.items())) for a, c in sorted(attributes.items())},
    }
