"""Benchmark: how good is the label checker the demo trains, and what does it cost?

Trains the checker on the shipped 600 real ToxiGen training texts (dataset_info/demo), with
each feature kind, and scores the 1,000 shipped held-out texts with it. On real texts the
"agreement rate" of the label check is the checker's recall on harmful texts, and the share
of harmless texts it keeps is its specificity: the ceiling of what the checker can say about
synthetic entries. Small: about a minute on 2 cores.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_label_check.py \
        --out bench/label_check_results.json
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from synthpack.clean.checker import load_checker, train_checker
from synthpack.clean.label_check import LabelCheck
from synthpack.common.metrics import auroc
from synthpack.common.paths import pack_dir
from synthpack.formats.texts import read_labelled

ANNOTATED = pack_dir("dataset_info") / "demo" / "toxigen" / "annotated"


def measure(features: str, folder: Path) -> dict:
    started = time.perf_counter()
    trained = train_checker(ANNOTATED / "train.csv", folder, features, [ANNOTATED / "eval.csv"])
    fit_s = time.perf_counter() - started
    held = read_labelled(ANNOTATED / "eval.csv")
    rows = [
        {"text": t, "polarity": "pos" if y else "neg", "label": y}
        for t, y in zip(held.texts, held.labels, strict=True)
    ]
    out = {"features": features, "fit_s": round(fit_s, 2), "checker": trained, "cuts": {}}
    for cut in (None, 0.3, 0.5):  # None: the checker's own threshold; negatives cut the same
        same = trained["threshold"] if cut is None else cut
        checker = load_checker(folder, LabelCheck(threshold=cut, negative_threshold=same))
        started = time.perf_counter()
        checked = checker.apply(rows)
        score_s = time.perf_counter() - started
        by = checked.report["by_polarity"]
        out["cuts"][str(checked.report["threshold"])] = {
            "own_threshold": cut is None,
            "agreement_rate_real_positives": by["pos"]["agreement_rate"],
            "kept_real_negatives": by["neg"]["agreement_rate"],
            "mean_score_pos": by["pos"]["mean_score"],
            "mean_score_neg": by["neg"]["mean_score"],
            "score_s_per_1000": round(1000 * score_s / len(rows), 3),
        }
    scores = np.array(checker.score(held.texts))
    out["auroc_on_eval"] = round(auroc(held.labels, scores), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--features", default="tfidf,minilm")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = {"machine": f"{platform.machine()}, Python {platform.python_version()}", "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for features in args.features.split(","):
            results["runs"].append(measure(features, Path(tmp) / features))
            print(json.dumps(results["runs"][-1], indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
