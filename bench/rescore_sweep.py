"""Re-run only `eval mlp` on the sweep's finished runs, with other folds or features.

The sweep (bench/sweep_recipe.py) keeps every run folder under --work. This script scores the
same generated sets again with `--folds K` (the decision threshold and epoch count from K-fold
cross-validation over the real training texts) and `--features`, and writes one row per run
and K: per evaluation domain (ToxiGen, and ParaDetox where the run built it) real F1 / AUROC
and the deltas of real + synthetic and real + label-checked with their one-sided p.

    python bench/rescore_sweep.py --folds 5,10 --only 'gemma3_more_steps*' \
        --out bench/rescore_results.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sweep_recipe import FEATURES, classifier_row  # bench/, beside this script

from synthpack.common.files import atomic_write_json
from synthpack.evaluate.run import MlpEvalSettings, run_mlp_eval
from synthpack.models.classifier.mlp import MLPConfig


def rescore(run_dir: Path, out: Path, folds: int, features: str) -> dict:
    """eval mlp on the run's real data and its two synthetic sets, on ToxiGen and (where the
    run has it) the ParaDetox transfer set; reuses a finished report."""
    if not (out / "report.json").exists():
        transfer = run_dir / "data" / "transfer_eval.jsonl"
        settings = MlpEvalSettings(
            run_dir / "data" / "real_train.jsonl", run_dir / "data" / "real_eval.jsonl",
            synthetic=(("synthetic", run_dir / "generations" / "accepted.jsonl"),
                       ("checked", run_dir / "label_check" / "accepted.jsonl")),
            features=features, eval_name="toxigen",
            extra_eval=(("paradetox", transfer),) if transfer.exists() else (),
            config=MLPConfig(folds=folds),
        )  # fmt: skip
        run_mlp_eval(settings, out)
    report = json.loads((out / "report.json").read_text())
    return {"run": run_dir.name, "folds": folds, "features": features,
            "seconds": report["seconds"], "domains": classifier_row(report)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/synthpack-sweep"))
    parser.add_argument("--only", default="*", help="glob of run folder names")
    parser.add_argument("--folds", default="10", help="comma-separated fold counts")
    parser.add_argument("--features", default="tfidf", choices=FEATURES)
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/synthpack-rescore"))
    parser.add_argument("--out", type=Path, default=Path("bench/rescore_results.json"))
    args = parser.parse_args()
    rows = []
    for run_dir in sorted(p for p in args.work.glob(args.only) if (p / "eval_mlp").is_dir()):
        for folds in (int(k) for k in args.folds.split(",")):
            out = args.scratch / f"{run_dir.name}_{args.features}_f{folds}"
            rows.append(rescore(run_dir, out, folds, args.features))
            for domain, part in rows[-1]["domains"].items():
                synth = part["real+synthetic"]
                print(
                    f"{run_dir.name} {args.features} folds {folds} {domain}: real F1 "
                    f"{part['real']['f1']:.3f}; real+synthetic dF1 {synth['f1_delta']:+.3f} "
                    f"(p {synth['p_better']:.3f}), dAUROC {synth['auroc_delta']:+.3f} "
                    f"(p {synth['auroc_p_better']:.3f})",
                    flush=True,
                )
    atomic_write_json(args.out, {"rows": rows})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
