"""Re-run only `eval mlp` on the sweep's finished runs, with another threshold method.

The sweep (bench/sweep_recipe.py) keeps every run folder under --work. This script scores the
same generated sets again with `--folds K` (the decision threshold and epoch count from K-fold
cross-validation over the real training texts) and writes one row per run and K: real F1 /
AUROC, and the deltas of real + synthetic and real + label-checked with their one-sided p.

    python bench/rescore_sweep.py --folds 5,10 --only 'gemma3_more_steps*' \
        --out bench/rescore_results.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from synthpack.common.files import atomic_write_json
from synthpack.evaluate.run import MlpEvalSettings, run_mlp_eval
from synthpack.models.classifier.mlp import MLPConfig


def rescore(run_dir: Path, out: Path, folds: int) -> dict:
    """eval mlp on the run's real data and its two synthetic sets; reuses a finished report."""
    if not (out / "report.json").exists():
        settings = MlpEvalSettings(
            run_dir / "data" / "real_train.jsonl", run_dir / "data" / "real_eval.jsonl",
            synthetic=(("synthetic", run_dir / "generations" / "accepted.jsonl"),
                       ("checked", run_dir / "label_check" / "accepted.jsonl")),
            config=MLPConfig(folds=folds),
        )  # fmt: skip
        run_mlp_eval(settings, out)
    report = json.loads((out / "report.json").read_text())
    runs = {row["name"]: row for row in report["runs"]}
    row = {
        "run": run_dir.name,
        "folds": folds,
        "real_f1": round(runs["real"]["f1"], 4),
        "real_auroc": round(runs["real"]["auroc"], 4),
        "seconds": report["seconds"],
    }
    for name in ("real+synthetic", "real+checked"):
        versus = runs[name]["vs_real"]
        row[name] = {
            "f1_delta": round(versus["f1_delta"], 4),
            "p_better": round(versus["p_better"], 4),
            "auroc_delta": round(versus["auroc_delta"], 4),
            "auroc_p_better": round(versus["auroc_p_better"], 4),
            "threshold": round(runs[name]["threshold"], 4),
        }
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/synthpack-sweep"))
    parser.add_argument("--only", default="*", help="glob of run folder names")
    parser.add_argument("--folds", default="10", help="comma-separated fold counts")
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/synthpack-rescore"))
    parser.add_argument("--out", type=Path, default=Path("bench/rescore_results.json"))
    args = parser.parse_args()
    rows = []
    for run_dir in sorted(p for p in args.work.glob(args.only) if (p / "eval_mlp").is_dir()):
        for folds in (int(k) for k in args.folds.split(",")):
            rows.append(rescore(run_dir, args.scratch / f"{run_dir.name}_f{folds}", folds))
            synth = rows[-1]["real+synthetic"]
            print(
                f"{run_dir.name} folds {folds}: real F1 {rows[-1]['real_f1']:.3f}; real+synthetic "
                f"dF1 {synth['f1_delta']:+.3f} (p {synth['p_better']:.3f}), dAUROC "
                f"{synth['auroc_delta']:+.3f} (p {synth['auroc_p_better']:.3f})",
                flush=True,
            )
    atomic_write_json(args.out, {"rows": rows})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
