"""Benchmark: semantic dedup (all-MiniLM-L6-v2 cosine) against MinHash on the same entries.

Takes N real texts (ToxiGen's annotated train split: many are machine-written variations of the
same prompts, as generated sets are), deduplicates them with synthpack's exact + MinHash step,
then runs semantic dedup on what MinHash kept, at several thresholds. Prints times and counts
only; the example pairs that semantic dedup removes and MinHash keeps (both texts labelled
benign, so no harmful text is copied) go to a fixture file that a test re-checks.

    OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_semantic_dedup.py \
        --data ../shared/data/toxigen/annotated/annotated_train.csv --n 4000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from synthpack.clean.dedup import DedupSettings, deduplicate
from synthpack.clean.semantic import semantic_matches
from synthpack.clean.text import jaccard, word_shingles
from synthpack.common.files import atomic_write_json, atomic_write_jsonl
from synthpack.common.text import text_key
from synthpack.formats.texts import read_labelled
from synthpack.models.embeddings import encode, load_minilm

REPO = Path(__file__).resolve().parents[1]
PAIRS = REPO / "tests" / "fixtures" / "semantic_dedup_pairs.jsonl"
THRESHOLDS = (0.85, 0.9, 0.95)
EXAMPLE_THRESHOLD = 0.9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--examples", type=int, default=10)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "semantic_dedup_results.json")
    args = parser.parse_args()

    data = read_labelled(args.data)
    texts, labels = data.texts[: args.n], data.labels[: args.n]

    started = time.perf_counter()
    minhash = deduplicate(texts, settings=DedupSettings())
    minhash_s = time.perf_counter() - started
    kept = [k for k, reason in enumerate(minhash.reasons) if reason is None]

    started = time.perf_counter()
    model = load_minilm()
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    vectors = encode(model, [texts[k] for k in kept])
    embed_s = time.perf_counter() - started

    by_threshold = {}
    for threshold in THRESHOLDS:
        started = time.perf_counter()
        matches = semantic_matches(vectors, threshold)
        by_threshold[str(threshold)] = {
            "removed_beyond_minhash": len(matches),
            "removed_pct_of_minhash_kept": round(100 * len(matches) / len(kept), 2),
            "match_seconds": round(time.perf_counter() - started, 3),
        }
        if threshold == EXAMPLE_THRESHOLD:
            examples = []
            for m in matches:
                a, b = kept[m.of], kept[m.index]
                if labels[a] == 0 and labels[b] == 0 and len(examples) < args.examples:
                    ja = jaccard(
                        word_shingles(text_key(texts[a])), word_shingles(text_key(texts[b]))
                    )
                    examples.append(
                        {"kept": texts[a], "removed": texts[b],
                         "cosine": round(m.similarity, 4), "bigram_jaccard": round(ja, 4)}
                    )  # fmt: skip
    reasons = [r for r in minhash.reasons if r]
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}",
        "data": str(args.data),
        "entries": len(texts),
        "minhash": {
            "seconds": round(minhash_s, 3),
            "exact_duplicates": reasons.count("duplicate"),
            "near_duplicates": reasons.count("near_duplicate"),
            "kept": len(kept),
        },
        "semantic": {
            "model_load_seconds": round(load_s, 2),
            "embed_seconds": round(embed_s, 2),
            "embed_texts_per_s": round(len(kept) / embed_s, 1),
            "by_threshold": by_threshold,
        },
        "example_pairs": {"file": str(PAIRS.relative_to(REPO)), "threshold": EXAMPLE_THRESHOLD},
    }
    atomic_write_jsonl(PAIRS, examples, mode=0o644)
    atomic_write_json(args.out, result, mode=0o644)
    summary = {k: v for k, v in result.items() if k != "example_pairs"}
    print(json.dumps(summary, indent=2))  # numbers only: the texts are in the fixture file


if __name__ == "__main__":
    main()
