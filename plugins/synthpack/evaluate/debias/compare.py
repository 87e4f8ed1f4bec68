"""Two rewriters on the same texts, paired: did tuning beat prompting alone?

`run_debias_compare` reads the per-text rows two `eval debias` runs wrote (`pairs.jsonl`) and
compares them text by text with a paired bootstrap: unsafe % after the rewrite (lower is
better), similarity to the original, the share of fluent rewrites and J (higher is better).
The p-values are one-sided: the chance of a difference this favourable to the candidate if the
bootstrap distribution were centred on no difference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_json, iter_jsonl
from synthpack.common.plots import figure, save_png
from synthpack.common.problems import Problems
from synthpack.common.step import Context, StepSettings

SIGNIFICANCE = 0.05
# metric -> (per-row value from a pairs.jsonl row and the report's threshold, higher is better)
METRICS = {
    "unsafe_percent": (lambda row, threshold: 100.0 * (row["unsafe_after"] >= threshold), False),
    "similarity": (lambda row, threshold: row["similarity"], True),
    "fluent_percent": (lambda row, threshold: 100.0 * row["fluent"], True),
    "j": (lambda row, threshold: row["j"], True),
}


def paired_mean_bootstrap(baseline, candidate, n_boot: int = 2000, seed: int = 0) -> dict:
    """Mean of `candidate - baseline` over paired items, its 95% percentile interval and the
    one-sided bootstrap p-values that the candidate's mean is higher (`p_higher`: the share
    of resamples whose difference is <= 0) or lower (`p_lower`: the share >= 0)."""
    import numpy as np

    a, b = np.asarray(baseline, dtype=float), np.asarray(candidate, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise SynthpackError("a paired bootstrap needs two equally long, non-empty lists")
    diff = b - a
    idx = np.random.default_rng(seed).integers(0, len(diff), size=(n_boot, len(diff)))
    deltas = diff[idx].mean(axis=1)
    low, high = np.percentile(deltas, [2.5, 97.5])
    return {
        "baseline": float(a.mean()),
        "candidate": float(b.mean()),
        "delta": float(diff.mean()),
        "interval": [float(low), float(high)],
        "p_higher": float(np.mean(deltas <= 0)),
        "p_lower": float(np.mean(deltas >= 0)),
    }


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


def _rows(folder: Path) -> tuple[dict, dict[str, dict]]:
    """An `eval debias` run's report and its rows by id."""
    report = json.loads((Path(folder) / "report.json").read_text())
    path = Path(folder) / "pairs.jsonl"
    problems = Problems(path)
    rows = {str(r["id"]): r for _, r in iter_jsonl(path, problems)}
    problems.raise_if_any()
    return report, rows


def run_debias_compare(
    settings: DebiasCompareSettings, folder: Path, context: Context = Context()
) -> dict:
    """Compare the two runs text by text; write compare.json and compare.png."""
    s, folder = settings, Path(folder)
    (base_report, base), (cand_report, cand) = _rows(s.baseline), _rows(s.candidate)
    if set(base) != set(cand):
        raise SynthpackError(
            f"{s.baseline} and {s.candidate} rewrote different texts "
            f"({len(set(base) ^ set(cand))} ids in one only); compare runs on the same texts"
        )
    threshold = base_report["safety"]["threshold"]
    if cand_report["safety"]["threshold"] != threshold:
        raise SynthpackError("the two runs use different unsafe thresholds")
    ids = sorted(base)
    sample = base[ids[0]]
    missing = [m for m in ("similarity", "fluent", "j") if m not in sample or m not in cand[ids[0]]]
    if missing:
        raise SynthpackError(
            f"{s.baseline}: rows lack {', '.join(missing)} (run eval debias with similarity "
            "and perplexity on)"
        )
    metrics = {}
    for name, (value, higher_is_better) in METRICS.items():
        result = paired_mean_bootstrap(
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


def verdict_sentence(report: dict) -> str:
    """Whether the candidate beat the baseline on J and on unsafe %, from the paired tests."""
    j, unsafe = report["metrics"]["j"], report["metrics"]["unsafe_percent"]
    cand, base = report["candidate"], report["baseline"]
    won = j["p_better"] < SIGNIFICANCE and unsafe["p_better"] < SIGNIFICANCE
    lost = j["p_lower"] < SIGNIFICANCE
    head = (
        f"The {cand} rewriter beat the {base} model"
        if won
        else f"The {cand} rewriter did worse than the {base} model"
        if lost
        else f"The {cand} rewriter did not clearly beat the {base} model"
    )
    return (
        f"{head}: J {j['candidate']:.3f} vs {j['baseline']:.3f} (one-sided paired p "
        f"{j['p_better']:.3f}); unsafe after rewriting {unsafe['candidate']:.1f}% vs "
        f"{unsafe['baseline']:.1f}% (p {unsafe['p_better']:.3f}), from "
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
        ax.set_title(f"{labels[name]}\np(better) {m['p_better']:.3f}", fontsize=9)
    fig.suptitle(f"Rewriters compared on {report['texts']} held-out texts (bars: means; "
                 "whisker: 95% interval of the paired difference)", fontsize=9)  # fmt: skip
    return save_png(fig, path)
