"""How much of a sweep run's gain lands on each ToxiGen target group.

Rescores the shipped eval texts (dataset_info/demo/toxigen/annotated/eval.csv) with a run's
saved classifiers, real alone and real + synthetic, and prints F1 and AUROC for one group
against all the others. The ninth sweep used it to ask whether seeds for a missing group
(women) helped that group's texts (bench/RESULTS.md).

    python bench/score_by_group.py --group women /tmp/synthpack-sweep/RUN [RUN ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score, roc_auc_score

from synthpack.common.paths import pack_dir
from synthpack.formats.texts import iter_rows, read_labelled
from synthpack.models.classifier.mlp import TextClassifier

EVAL = pack_dir("dataset_info") / "demo" / "toxigen" / "annotated" / "eval.csv"
MODELS = ("real", "real+synthetic")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="sweep run folders")
    parser.add_argument("--group", default="women", help="ToxiGen target_group to split out")
    parser.add_argument("--features", default="tfidf", choices=("tfidf", "minilm"))
    args = parser.parse_args()
    data = read_labelled(EVAL)
    groups = np.array([row["target_group"] for _, row, _ in iter_rows(EVAL)])
    labels = np.array(data.labels)
    if len(groups) != len(labels):
        raise SystemExit(f"{EVAL}: {len(groups)} rows but {len(labels)} labelled texts")
    parts = {args.group: groups == args.group, "others": groups != args.group}
    print(
        f"{'run':44s} {'part':8s} {'n':>4s} "
        + " ".join(f"{m + ' F1':>17s} {'AUROC':>6s}" for m in MODELS)
    )
    for run in args.runs:
        scored = {}
        for model in MODELS:
            clf = TextClassifier.load(run / "eval_mlp" / args.features / "models" / model)
            scores = clf.score(data.texts)
            scored[model] = (scores, scores >= clf.threshold)
        for part, mask in parts.items():
            y = labels[mask]
            cells = [
                f"{f1_score(y, pred[mask]):17.3f} {roc_auc_score(y, s[mask]):6.3f}"
                for s, pred in scored.values()
            ]
            print(f"{run.name:44s} {part:8s} {mask.sum():4d} " + " ".join(cells))


if __name__ == "__main__":
    main()
