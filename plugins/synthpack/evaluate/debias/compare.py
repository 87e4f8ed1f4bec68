"""Two rewriters on the same texts, paired: did tuning beat prompting alone?

`run_debias_compare` reads the per-text rows two `eval debias` runs wrote (`pairs.jsonl`) and
compares them text by text with a paired bootstrap: unsafe % after the rewrite (lower is
better), similarity to the original, the share of fluent rewrites and J (higher is better).
The p-values are one-sided bootstrap p-values (the share of resamples in which the candidate
is not better, +1 corrected).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_json, iter_jsonl, read_user_text
from synthpack.common.metrics import paired_mean_difference, paired_positions
from synthpack.common.plots import figure, save_png
from synthpack.common.problems import Problems, located, shown
from synthpack.common.step import Context, StepSettings

SIGNIFICANCE = 0.05
# metric -> (per-row value from a pairs.jsonl row and the report's threshold, higher is better)
METRICS = {
    "unsafe_percent": (lambda row, threshold: 100.0 * (row["unsafe_after"] >= threshold), False),
    "similarity": (lambda row, threshold: row["similarity"], True),
    "fluent_percent": (lambda row, threshold: 100.0 * row["fluent"], True),
    "j": (lambda row, threshold: row["j"], True),
}

REPORT_SAFETY = {"threshold", "unsafe_percent_before"}  # what a run's report must give
ROW_FIELDS = ("unsafe_after", "similarity", "fluent", "j")  # what every pairs.jsonl row holds


@dataclass(frozen=True)
class DebiasCompareSettings(StepSettings):
    """The folders of two `eval debias` runs on the same texts: `baseline` (the prompted base
    model) and `candidate` (the tuned rewriter)."""

    step = "debias_compare"
    baseline: Path
    candidate: Path
    baseline_name: str = "prompted base"
    candidate_name: str = "tuned"
    n_boot: int = 2000
    seed: int = 0

    def reads(self) -> dict[str, Path | None]:
        return {
            f"{side}_{name}": Path(folder) / f"{name}.{ext}"
            for side, folder in (("baseline", self.baseline), ("candidate", self.candidate))
            for name, ext in (("report", "json"), ("pairs", "jsonl"))
        }

    def writes(self, folder: Path) -> dict[str, Path]:
        return {"report": Path(folder) / "compare.json", "chart": Path(folder) / "compare.png"}


def _report(folder: Path) -> dict:
    """An `eval debias` run's report.json, with the safety figures the comparison reads."""
    path = Path(folder) / "report.json"
    try:
        report = json.loads(read_user_text(path))
    except json.JSONDecodeError as err:
        raise SynthpackError(located(path, f"not valid JSON ({err.msg})", err.lineno)) from None
    safety = report.get("safety") if isinstance(report, dict) else None
    if not isinstance(safety, dict) or not REPORT_SAFETY <= set(safety):
        raise SynthpackError(
            f"{path}: not the report of an `eval debias` run (no safety."
            f"{' and safety.'.join(sorted(REPORT_SAFETY))}); give the --out folder of one"
        )
    return report


def _rows(folder: Path) -> tuple[dict, dict[str, dict]]:
    """An `eval debias` run's report and its rows by id; a row without an id, or with the id
    of another row, is an error (by id is how the two runs' rows are paired)."""
    report = _report(folder)
    path = Path(folder) / "pairs.jsonl"
    problems = Problems(path)
    rows, first = {}, {}
    for line, row in iter_jsonl(path, problems):
        if row.get("id") is None:
            problems.add("missing", line=line, field="id")
        elif str(row["id"]) in first:
            problems.add(f"{shown(row['id'])} is also the id of line {first[str(row['id'])]}",
                         line=line, field="id")  # fmt: skip
        else:
            first[str(row["id"])] = line
            rows[str(row["id"])] = row
    problems.raise_if_any()
    if not rows:
        raise SynthpackError(f"{path}: empty file (no rows)")
    return report, rows


def run_debias_compare(
    settings: DebiasCompareSettings, folder: Path, context: Context = Context()
) -> dict:
    """Compare the two runs text by text; write compare.json and compare.png."""
    s, folder = settings, Path(folder)
    (base_report, base), (cand_report, cand) = _rows(s.baseline), _rows(s.candidate)
    paired_positions(list(base), list(cand), "texts")  # the same texts, each once
    threshold = base_report["safety"]["threshold"]
    if cand_report["safety"]["threshold"] != threshold:
        raise SynthpackError("the two runs use different unsafe thresholds")
    ids = sorted(base)
    for run, rows in ((s.baseline, base), (s.candidate, cand)):
        missing = [m for m in ROW_FIELDS if any(m not in row for row in rows.values())]
        if missing:
            raise SynthpackError(
                f"{Path(run) / 'pairs.jsonl'}: rows lack {', '.join(missing)} (run eval debias "
                "with similarity and perplexity on)"
            )
    metrics = {}
    for name, (value, higher_is_better) in METRICS.items():
        result = paired_mean_difference(
            [value(base[i], threshold) for i in ids],
            [value(cand[i], threshold) for i in ids],
            s.n_boot,
            s.seed,
        )
        result["p_better"] = result["p_higher"] if higher_is_better else result["p_lower"]
        result["better_is"] = "higher" if higher_is_better else "lower"
        metrics[name] = result
    report = {
        "texts": len(ids),
        "baseline": s.baseline_name,
        "candidate": s.candidate_name,
        "unsafe_percent_originals": base_report["safety"]["unsafe_percent_before"],
        "metrics": metrics,
        "bootstrap_resamples": s.n_boot,
        "significance_level": SIGNIFICANCE,
    }
    report["verdict"] = verdict_sentence(report)
    atomic_write_json(folder / "compare.json", report)
    plot_comparison(report, folder / "compare.png")
    context.echo(report["verdict"])
    return report


ON_J = {"better": "beat", "worse": "did worse than", "same": "did not clearly differ from"}
ON_UNSAFE = {"better": "left fewer texts unsafe", "worse": "left more texts unsafe",
             "same": "left about as many texts unsafe"}  # fmt: skip


def direction(m: dict) -> str:
    """better / worse / same: the candidate on one metric, by the one-sided paired tests."""
    worse_p = m["p_lower"] if m["better_is"] == "higher" else m["p_higher"]
    if m["p_better"] < SIGNIFICANCE:
        return "better"
    return "worse" if worse_p < SIGNIFICANCE else "same"


def p_text(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def verdict_sentence(report: dict) -> str:
    """What the paired tests say about the candidate against the baseline, on J (the joint
    score) and on unsafe % after rewriting, in one sentence."""
    j, unsafe = report["metrics"]["j"], report["metrics"]["unsafe_percent"]
    cand, base = report["candidate"], report["baseline"]
    on_j, on_unsafe = direction(j), direction(unsafe)
    head = f"The {cand} rewriter {ON_J[on_j]} the {base} model on J and {ON_UNSAFE[on_unsafe]}"
    return (
        f"{head}: J {j['candidate']:.3f} vs {j['baseline']:.3f} (one-sided paired p "
        f"{p_text(j['p_better'])}); unsafe after rewriting {unsafe['candidate']:.1f}% vs "
        f"{unsafe['baseline']:.1f}% (p {p_text(unsafe['p_better'])}), from "
        f"{report['unsafe_percent_originals']:.1f}% of the originals."
    )


def plot_comparison(report: dict, path: Path) -> Path:
    """Bars with 95% intervals of the paired difference: the two rewriters on each metric."""
    fig, axes = figure(12, 3.4, ncols=4)
    labels = {"unsafe_percent": "unsafe % (lower is better)", "similarity": "similarity",
              "fluent_percent": "fluent %", "j": "J"}  # fmt: skip
    for ax, (name, m) in zip(axes, report["metrics"].items(), strict=True):
        low, high = m["interval"]
        delta_err = [[m["delta"] - low], [high - m["delta"]]]
        ax.bar([report["baseline"], report["candidate"]], [m["baseline"], m["candidate"]],
               color=["#8c8c8c", "#4f81bd"])  # fmt: skip
        ax.errorbar([1], [m["candidate"]], yerr=delta_err, color="black", capsize=4)
        ax.set_title(f"{labels[name]}\np(better) {p_text(m['p_better'])}", fontsize=9)
    fig.suptitle(f"Rewriters compared on {report['texts']} held-out texts (bars: means; "
                 "whisker: 95% interval of the paired difference)", fontsize=9)  # fmt: skip
    return save_png(fig, path)
