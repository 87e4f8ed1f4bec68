"""Deduplication: exact after normalisation, near by MinHash-LSH, and against reference texts."""

from __future__ import annotations

import random

from synthpack.clean.dedup import DedupSettings, deduplicate, shingle_codes
from synthpack.clean.text import jaccard, word_shingles
from synthpack.common.text import text_key


def test_exact_near_and_against_duplicates_are_marked_with_their_original():
    texts = [
        "The park was quiet this morning and the birds sang.",
        "the park was QUIET this morning, and the birds sang!",  # exact after normalisation
        "The park was quiet this morning and the birds sang loudly.",  # near (J = 0.9)
        "A different sentence about trains and buses in town.",
        "Seed text that was already in the training data.",
        "Ｓｅｅｄ text that was already in the training data",  # full-width letters (NFKC)
    ]
    result = deduplicate(texts, against=["Seed text that was already in the training data."])
    assert result.reasons == [
        None,
        "duplicate",
        "near_duplicate",
        None,
        "duplicate_of_against",
        "duplicate_of_against",
    ]
    assert result.duplicate_of == [None, 0, 0, None, -1, -1]


def test_pairs_below_the_threshold_are_kept():
    a = "one two three four five six seven eight nine ten"
    b = "one two three four five six seven eight nine eleven twelve"  # J = 8/11 = 0.727
    assert deduplicate([a, b], settings=DedupSettings(threshold=0.7)).reasons == [
        None,
        "near_duplicate",
    ]
    assert deduplicate([a, b], settings=DedupSettings(threshold=0.75)).reasons == [None, None]


def test_shingle_codes_match_the_word_bigram_sets():
    norms = [text_key(t) for t in ["a b c", "single", "", "a b c d"]]
    codes, starts = shingle_codes(norms)
    assert list(starts) == [0, 2, 3, 3, 6]
    assert set(codes[0:2].tolist()) < set(codes[3:6].tolist())


def test_near_duplicate_recall_against_exact_jaccard_truth():
    rng = random.Random(1)
    vocab = [f"w{i}" for i in range(3000)]
    texts = []
    for _ in range(400):
        words = rng.choices(vocab, k=rng.randint(12, 20))
        texts.append(" ".join(words))
        for _ in range(2):  # edited copies at varied distances
            copy = list(words)
            for _ in range(rng.randint(0, 3)):
                copy[rng.randrange(len(copy))] = rng.choice(vocab)
            texts.append(" ".join(copy))
    settings = DedupSettings(threshold=0.7)
    result = deduplicate(texts, settings=settings)
    shingles = [word_shingles(text_key(t)) for t in texts]
    # truth: every text with an earlier text at Jaccard >= 0.7 must be marked (its original is
    # always an earlier, kept text here, since the copies follow their source)
    truth = [
        j
        for j in range(len(texts))
        if any(jaccard(shingles[i], shingles[j]) >= 0.7 for i in range(max(0, j - 2), j))
    ]
    found = [j for j in truth if result.reasons[j] is not None]
    assert len(truth) > 200
    assert len(found) / len(truth) >= 0.95
    for j, reason in enumerate(result.reasons):  # precision: nothing below the threshold
        if reason == "near_duplicate":
            assert jaccard(shingles[result.duplicate_of[j]], shingles[j]) >= 0.7
