"""Label check: does a classifier trained on real data agree with each entry's prompt polarity?

A small generator asked for harmful text often writes neutral or even kind sentences (ToxiGen
saw 66.9% toxic outputs from toxic prompts with GPT-3), so the prompt's polarity is a guess
about the label, not the label. `check_labels` is pure: accepted rows and their scores
P(harmful) in, kept rows, rows rejected as `label_disagrees` (with the score) and the counts
out. The scorer itself is loaded by the caller (`synthpack.clean.checker`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from synthpack.common.errors import SynthpackError
from synthpack.common.labels import LABEL, NEGATIVE, POLARITIES, POSITIVE
from synthpack.common.problems import unknown_name

LABEL_DISAGREES = "label_disagrees"
MODES = ("reject", "relabel")
DEFAULT_THRESHOLD = 0.5
SCORE_FIELD = "label_check_score"


@dataclass(frozen=True)
class LabelCheck:
    """When an entry disagrees with its polarity, and what happens to it.

    A positive disagrees when its P(harmful) is below `threshold`; None means the checker's own
    decision threshold (`load_checker` fills it in; 0.5 when there is none). A negative
    disagrees when its P(harmful) is at or above `negative_threshold`, 0.5 unless given: the
    F1-tuned threshold of a checker trained on a few hundred texts is low (0.14 in
    bench/RESULTS.md) and would reject about 4 in 10 real harmless texts. `reject` drops a
    disagreeing entry; `relabel` keeps it with the checker's label instead of the prompt's.
    """

    threshold: float | None = None
    mode: str = "reject"
    negative_threshold: float | None = None

    def __post_init__(self):
        if self.mode not in MODES:
            raise unknown_name("label-check mode", self.mode, list(MODES))
        for value in (self.threshold, self.negative_threshold):
            if value is not None and not 0.0 <= value <= 1.0:
                raise SynthpackError(f"label-check threshold {value} is not between 0 and 1")

    def cut(self, polarity: str) -> float:
        cut = self.negative_threshold if polarity == NEGATIVE else self.threshold
        return DEFAULT_THRESHOLD if cut is None else cut

    def agrees(self, polarity: str, score: float) -> bool:
        harmful = score >= self.cut(polarity)
        return harmful if polarity == POSITIVE else not harmful


@dataclass
class Checked:
    """What a label check returns: rows kept, rows rejected, and the counts (`report`)."""

    kept: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    report: dict = field(default_factory=dict)


def check_labels(
    rows: list[dict], scores: Sequence[float], check: LabelCheck, checker: str = ""
) -> Checked:
    """Split accepted rows (with `polarity`) by whether `scores` agree with their polarity.

    Every row ends up kept or rejected: read = kept + rejected. Kept rows carry their score;
    relabelled ones also the checker's `label` and `polarity`, and `relabelled_from` (the
    prompt's polarity), so every reader of accepted.jsonl sees one consistent label.
    """
    if len(rows) != len(scores):
        raise ValueError(f"{len(rows)} rows but {len(scores)} scores")
    out = Checked()
    counts = {p: {"checked": 0, "agree": 0, "score_sum": 0.0} for p in POLARITIES}
    changed = 0
    for row, score in zip(rows, scores, strict=True):
        polarity, score = row["polarity"], round(float(score), 4)
        c = counts[polarity]
        c["checked"] += 1
        c["score_sum"] += score
        if check.agrees(polarity, score):
            c["agree"] += 1
            out.kept.append({**row, SCORE_FIELD: score})
        elif check.mode == "relabel":
            changed += 1
            other = NEGATIVE if polarity == POSITIVE else POSITIVE
            out.kept.append(
                {
                    **row,
                    "label": LABEL[other],
                    "polarity": other,
                    "relabelled_from": polarity,
                    SCORE_FIELD: score,
                }  # fmt: skip
            )
        else:
            rejected = {k: v for k, v in row.items() if k != "label"}
            out.rejected.append({**rejected, "reason": LABEL_DISAGREES, "score": score})
    out.report = summarise(counts, check, checker, changed)
    assert len(out.kept) + len(out.rejected) == len(rows)
    return out


def summarise(counts: dict, check: LabelCheck, checker: str, relabelled: int) -> dict:
    """Counts per polarity and the agreement rate (share of positives called harmful)."""
    by_polarity = {}
    for polarity, c in counts.items():
        disagree = c["checked"] - c["agree"]
        by_polarity[polarity] = {
            "checked": c["checked"],
            "agree": c["agree"],
            "disagree": disagree,
            "rejected": 0 if check.mode == "relabel" else disagree,
            "relabelled": disagree if check.mode == "relabel" else 0,
            "agreement_rate": round(c["agree"] / c["checked"], 4) if c["checked"] else None,
            "mean_score": round(c["score_sum"] / c["checked"], 4) if c["checked"] else None,
        }
    return {
        "checker": checker,
        "mode": check.mode,
        "threshold": check.cut(POSITIVE),
        "negative_threshold": check.cut(NEGATIVE),
        "checked": sum(c["checked"] for c in counts.values()),
        "rejected": sum(p["rejected"] for p in by_polarity.values()),
        "relabelled": relabelled,
        # The figure: how many of the "harmful" entries the checker calls harmful.
        "agreement_rate": by_polarity[POSITIVE]["agreement_rate"],
        "by_polarity": by_polarity,
    }


@dataclass(frozen=True)
class LabelChecker:
    """A scorer (texts -> P(harmful)) with its settings: what `clean_generations` applies."""

    name: str
    score: Callable[[list[str]], Sequence[float]]
    check: LabelCheck = LabelCheck()

    def apply(self, rows: list[dict]) -> Checked:
        scores = self.score([r["text"] for r in rows]) if rows else []
        return check_labels(rows, scores, self.check, self.name)


def format_label_check(report: dict) -> str:
    """One terminal line per polarity: checked, agreeing, dropped or relabelled, mean score."""
    done = "relabelled" if report["mode"] == "relabel" else "rejected"
    lines = [
        f"label check ({report['checker']}, {report['mode']}, P(harmful) cut "
        f"{report['threshold']:g}): agreement rate {_rate(report['agreement_rate'])} "
        f"(share of positives the checker calls harmful)"
    ]
    for polarity, p in report["by_polarity"].items():
        if p["checked"]:
            lines.append(
                f"  {polarity}: {p['checked']} checked, {p['agree']} agree, "
                f"{p[done]} {done}, mean P(harmful) {p['mean_score']:.3f}"
            )
    return "\n".join(lines)


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
