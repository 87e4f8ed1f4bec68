"""Benchmark: the eval-mlp classifier against plain scikit-learn on ToxiGen (7,000 train texts).

Measures fit time, single-text latency (featurise + predict, p50/p99, wall and CPU time),
batched throughput and F1/AUROC on the held-out 1,960 texts, for
  ours:     synthpack.models.classifier.TextClassifier (torch-trained sparse MLP 600x600)
  baseline: TfidfVectorizer(word 1-2) + TfidfVectorizer(char_wb 2-5) + MLPClassifier((600, 600),
            early_stopping=True) -- the same features, scikit-learn's defaults otherwise.
The baseline takes minutes to fit; --baseline-from reuses a JSON written by an earlier run.

  OMP_NUM_THREADS=1 python bench/bench_mlp.py --out bench/mlp_results.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from synthpack.common.metrics import binary_metrics  # noqa: E402
from synthpack.evaluate.run import measure_latency  # noqa: E402
from synthpack.formats.texts import read_labelled  # noqa: E402
from synthpack.models.classifier.mlp import TextClassifier  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "toxigen" / "annotated"
TARGETS = {"fit_s": 30.0, "p99_ms": 1.0, "throughput_per_s": 10_000.0}


def split(n_train: int, seed: int):
    data = read_labelled(DATA / "annotated_train.csv")
    order = np.random.default_rng(seed).permutation(len(data))
    train, test = order[:n_train], order[n_train:]
    return (
        [data.texts[i] for i in train],
        np.array([data.labels[i] for i in train]),
        [data.texts[i] for i in test],
        np.array([data.labels[i] for i in test]),
    )


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def bench_ours(train, y_train, test, y_test, tmp: Path) -> dict:
    clf, wall, cpu = timed(lambda: TextClassifier.fit(train, y_train))
    clf.save(tmp / "ours")
    loaded = TextClassifier.load(tmp / "ours")
    scores = loaded.score(test)
    return {
        "fit_s": wall,
        "fit_cpu_s": cpu,
        "info": loaded.info,
        "tuned_threshold": loaded.threshold,
        "metrics": binary_metrics(y_test, scores, loaded.threshold),
        "metrics_at_0.5": binary_metrics(y_test, scores, 0.5),
        **measure_latency(loaded, test),
    }


def bench_sklearn(train, y_train, test, y_test) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import FeatureUnion, make_pipeline

    tfidf = dict(sublinear_tf=True, min_df=2)
    model = make_pipeline(
        FeatureUnion([
            ("word", TfidfVectorizer(ngram_range=(1, 2), **tfidf)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), **tfidf)),
        ]),
        MLPClassifier(hidden_layer_sizes=(600, 600), early_stopping=True, random_state=0),
    )  # fmt: skip
    _, wall, cpu = timed(lambda: model.fit(train, y_train))
    scores = model.predict_proba(test)[:, 1]
    wall_ms, cpu_ms = [], []
    for text in test[:300]:
        w, c = time.perf_counter(), time.process_time()
        model.predict_proba([text])
        cpu_ms.append((time.process_time() - c) * 1e3)
        wall_ms.append((time.perf_counter() - w) * 1e3)
    _, tw, _ = timed(lambda: model.predict_proba(test))
    return {
        "fit_s": wall,
        "fit_cpu_s": cpu,
        "epochs": int(model[-1].n_iter_),
        "metrics": binary_metrics(y_test, scores, 0.5),
        "latency_ms": {
            "p50": float(np.percentile(wall_ms, 50)),
            "p99": float(np.percentile(wall_ms, 99)),
            "cpu_p50": float(np.percentile(cpu_ms, 50)),
            "cpu_p99": float(np.percentile(cpu_ms, 99)),
            "n": len(wall_ms),
        },
        "throughput_per_s": len(test) / tw,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/mlp_results.json"))
    parser.add_argument("--n-train", type=int, default=7000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline-from", type=Path, help="reuse the baseline of this JSON")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()

    import tempfile

    train, y_train, test, y_test = split(args.n_train, args.seed)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        ours = bench_ours(train, y_train, test, y_test, Path(tmp))
    print(f"ours: fit {ours['fit_s']:.1f} s, F1 {ours['metrics']['f1']:.3f}", flush=True)
    baseline = None
    if args.baseline_from:
        baseline = json.loads(args.baseline_from.read_text())["baseline"]
        baseline["reused_from"] = str(args.baseline_from)
    elif not args.skip_baseline:
        print("fitting the scikit-learn baseline (minutes) ...", flush=True)
        baseline = bench_sklearn(train, y_train, test, y_test)
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
        "loadavg_at_start": load,
        "loadavg_at_end": os.getloadavg(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "n_train": len(train),
        "n_test": len(test),
        "targets": TARGETS,
        "ours": ours,
        "baseline": baseline,
    }
    if baseline:
        result["ratios"] = {
            "fit_speedup": baseline["fit_s"] / ours["fit_s"],
            "p50_speedup": baseline["latency_ms"]["p50"] / ours["latency_ms"]["p50"],
            "p99_speedup": baseline["latency_ms"]["p99"] / ours["latency_ms"]["p99"],
            "throughput_ratio": ours["throughput_per_s"] / baseline["throughput_per_s"],
            "f1_delta": ours["metrics"]["f1"] - baseline["metrics"]["f1"],
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("ratios",) if k in result}, indent=2))
    lat = ours["latency_ms"]
    print(
        f"ours: fit {ours['fit_s']:.1f} s (target <= {TARGETS['fit_s']:g}), "
        f"p50 {lat['p50']:.3f} / p99 {lat['p99']:.3f} ms wall, "
        f"cpu p50 {lat['cpu_p50']:.3f} / p99 {lat['cpu_p99']:.3f} ms (target p99 <= 1), "
        f"{ours['throughput_per_s']:,.0f} texts/s (target >= 10,000), "
        f"F1 {ours['metrics']['f1']:.3f} AUROC {ours['metrics']['auroc']:.3f}"
    )


if __name__ == "__main__":
    main()
