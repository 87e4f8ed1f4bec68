"""Benchmark: deduplication throughput and near-duplicate recall.

Makes N synthetic entries with known exact and near duplicates, deduplicates them with
synthpack, and compares with a reference pipeline built on datasketch's MinHashLSH (same
shingles, threshold and permutations) run in the same process on a subset. Recall is
measured against exact Jaccard truth on a sample of planted near-duplicate pairs. The worst
case for near deduplication is timed too: many near-identical entries (a model looping on one
sentence), which land in one huge LSH bucket.

    .venv/bin/python bench/bench_clean.py --n 1000000 --reference-n 100000
    .venv/bin/python bench/bench_clean.py --only-near-identical --near-identical 10000
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time

from synthpack.clean.dedup import DedupSettings, deduplicate
from synthpack.clean.text import jaccard, word_shingles
from synthpack.common.text import text_key


def make_entries(n: int, seed: int = 0) -> tuple[list[str], list[tuple[int, int]]]:
    """~70% originals, ~15% exact copies (case/punctuation changed), ~15% edited copies."""
    rng = random.Random(seed)
    vocab = [f"word{i}" for i in range(50_000)]
    texts, planted = [], []
    while len(texts) < n:
        roll = rng.random()
        if roll < 0.70 or not texts:
            texts.append(" ".join(rng.choices(vocab, k=rng.randint(8, 25))) + ".")
        elif roll < 0.85:
            src = rng.randrange(len(texts))
            texts.append(texts[src].upper().rstrip(".") + "!")
        else:
            src = rng.randrange(len(texts))
            words = texts[src].rstrip(".").split()
            words[rng.randrange(len(words))] = rng.choice(vocab)
            texts.append(" ".join(words) + ".")
            planted.append((src, len(texts) - 1))
    return texts, planted


def near_identical_entries(n: int, seed: int = 0) -> list[str]:
    """One 25-word sentence with one word replaced at random: every pair is a near duplicate."""
    rng = random.Random(seed)
    base = [f"w{i}" for i in range(25)]
    texts = []
    for _ in range(n):
        words = list(base)
        words[rng.randrange(len(words))] = f"x{rng.randrange(10**6)}"
        texts.append(" ".join(words) + ".")
    return texts


def time_near_identical(n: int, settings: DedupSettings) -> dict:
    texts = near_identical_entries(n)
    started = time.perf_counter()
    result = deduplicate(texts, settings=settings)
    seconds = time.perf_counter() - started
    return {
        "near_identical_n": n,
        "near_identical_seconds": round(seconds, 2),
        "near_identical_ms_per_entry": round(1000 * seconds / n, 3),
        "near_identical_kept": sum(r is None for r in result.reasons),
    }


def reference_dedup(texts: list[str], settings: DedupSettings) -> list[bool]:
    """Exact (normalised) then datasketch MinHashLSH near-duplicates; True = dropped."""
    from datasketch import MinHash, MinHashLSH

    perms = settings.bands * settings.rows
    lsh = MinHashLSH(
        threshold=settings.threshold, num_perm=perms, params=(settings.bands, settings.rows)
    )
    seen, dropped = set(), []
    for i, text in enumerate(texts):
        norm = text_key(text)
        if norm in seen:
            dropped.append(True)
            continue
        seen.add(norm)
        mh = MinHash(num_perm=perms)
        mh.update_batch([s.encode() for s in word_shingles(norm)])
        if lsh.query(mh):
            dropped.append(True)
            continue
        lsh.insert(str(i), mh)
        dropped.append(False)
    return dropped


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--reference-n", type=int, default=100_000)
    parser.add_argument("--near-identical", type=int, default=10_000)
    parser.add_argument("--only-near-identical", action="store_true")
    parser.add_argument("--out", default="bench/clean_results.json")
    args = parser.parse_args()
    settings = DedupSettings(threshold=0.7)
    if args.only_near_identical:
        print(json.dumps(time_near_identical(args.near_identical, settings), indent=2))
        return
    texts, planted = make_entries(args.n)

    started = time.perf_counter()
    result = deduplicate(texts, settings=settings)
    full_s = time.perf_counter() - started

    sub = texts[: args.reference_n]
    started = time.perf_counter()
    deduplicate(sub, settings=settings)
    ours_sub_s = time.perf_counter() - started
    started = time.perf_counter()
    reference_dedup(sub, settings)
    ref_sub_s = time.perf_counter() - started

    # recall on planted near-duplicate pairs whose exact Jaccard reaches the threshold
    sample = random.Random(1).sample(planted, min(5000, len(planted)))
    truth = [
        (i, j)
        for i, j in sample
        if jaccard(word_shingles(text_key(texts[i])), word_shingles(text_key(texts[j])))
        >= settings.threshold
    ]
    # A planted pair is resolved when the two texts no longer both survive; a copy of a text
    # that was itself dropped may survive (it is not a near duplicate of anything kept).
    recall = sum(result.reasons[j] is not None or result.reasons[i] is not None for i, j in truth)
    recall /= len(truth)
    strict = sum(result.reasons[j] is not None for _, j in truth) / len(truth)
    numbers = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "n": args.n,
        "dropped": sum(r is not None for r in result.reasons),
        "synthpack_seconds": round(full_s, 2),
        "synthpack_entries_per_s": round(args.n / full_s),
        "reference_n": args.reference_n,
        "synthpack_seconds_on_reference_n": round(ours_sub_s, 2),
        "datasketch_seconds_on_reference_n": round(ref_sub_s, 2),
        "speedup_vs_datasketch": round(ref_sub_s / ours_sub_s, 1),
        "near_duplicate_recall": round(recall, 4),
        "copy_marked_share": round(strict, 4),
        "recall_pairs": len(truth),
        **time_near_identical(args.near_identical, settings),
    }
    print(json.dumps(numbers, indent=2))
    with open(args.out, "w") as handle:
        json.dump(numbers, handle, indent=2)


if __name__ == "__main__":
    main()
