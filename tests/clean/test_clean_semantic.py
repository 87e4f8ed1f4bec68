"""Semantic dedup: the marking rule on hand-made vectors, then real MiniLM on real sentences."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import FIXTURES

from synthpack.clean.pipeline import clean_generations, entry_id
from synthpack.clean.semantic import (
    SEMANTIC_DUPLICATE,
    SEMANTIC_DUPLICATE_OF_AGAINST,
    minilm_embedder,
    semantic_matches,
)

# Same meaning, few shared word pairs (MinHash at 0.7 keeps both); cosines 0.87-0.99.
PARAPHRASES = [
    (
        "The train to Boston leaves the station at noon every day.",
        "Every day at midday, the Boston train departs from the station.",
    ),
    (
        "My grandmother bakes bread every Sunday morning.",
        "Each Sunday morning, my grandma makes fresh bread.",
    ),
    (
        "The city council approved a new budget for public parks.",
        "A new budget for public parks was approved by the city council.",
    ),
]
UNRELATED = [
    "I planted tomatoes and basil in the garden this spring.",
    "The stock market fell sharply after the announcement.",
    "Quantum computers use qubits to store information.",
]
THRESHOLD = 0.85


def _unit(*rows) -> np.ndarray:
    m = np.array(rows, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_a_chain_keeps_its_ends_and_references_win():
    angle = np.deg2rad(25)  # cos 25 deg = 0.906: neighbours match at 0.9, the ends (50 deg) not
    chain = _unit(*[[np.cos(k * angle), np.sin(k * angle), 0] for k in range(3)])
    matches = semantic_matches(chain, 0.9)
    assert [(m.index, m.of, m.of_against) for m in matches] == [(1, 0, False)]
    assert matches[0].similarity == pytest.approx(np.cos(angle), abs=1e-6)
    refs = _unit([0, 0, 1], [np.cos(3 * angle), np.sin(3 * angle), 0])  # row 2 matches only
    matches = semantic_matches(chain, 0.9, refs)
    assert [(m.index, m.of, m.of_against, m.reason) for m in matches] == [
        (1, 0, False, SEMANTIC_DUPLICATE),
        (2, 1, True, SEMANTIC_DUPLICATE_OF_AGAINST),
    ]


def test_blocks_give_the_same_marks_as_one_pass(monkeypatch):
    import synthpack.clean.semantic as semantic

    rng = np.random.default_rng(0)
    base = rng.normal(size=(40, 8))
    vectors = _unit(*np.concatenate([base, base + 0.05 * rng.normal(size=base.shape)]))
    whole = [(m.index, m.of, m.of_against) for m in semantic_matches(vectors, 0.95)]
    monkeypatch.setattr(semantic, "BLOCK", 7)
    assert [(m.index, m.of, m.of_against) for m in semantic_matches(vectors, 0.95)] == whole
    assert whole == [(k + 40, k, False) for k in range(40)]


def _generation(prompt_id: str, polarity: str, entries: list[str]) -> dict:
    return {
        "prompt_id": prompt_id, "sample": 0, "stem": f"hate_{polarity}_v1", "category": "hate",
        "version": "v1", "polarity": polarity, "n_entries": len(entries), "examples": [],
        "prompt": "Write a numbered list of everyday sentences.",
        "output": "\n".join(f"{k}. {e}" for k, e in enumerate(entries, start=1)),
        "truncated": False, "provenance": {},
    }  # fmt: skip


@pytest.fixture(scope="module")
def embed():
    return minilm_embedder()


@pytest.mark.integration
def test_paraphrases_go_unrelated_stay_and_counts_add_up(embed):
    first = [a for a, _ in PARAPHRASES] + UNRELATED[:2]
    second = [b for _, b in PARAPHRASES] + UNRELATED[2:]
    gens = [_generation("p1", "neg", first), _generation("p2", "neg", second)]

    plain = clean_generations(gens)
    assert len(plain.accepted) == len(first) + len(second), "MinHash alone keeps paraphrases"

    cleaned = clean_generations(gens, semantic=THRESHOLD, embed=embed)
    kept = [r["text"] for r in cleaned.accepted]
    assert kept == first + UNRELATED[2:]
    dropped = [r for r in cleaned.rejected if r["reason"] == SEMANTIC_DUPLICATE]
    assert [r["text"] for r in dropped] == [b for _, b in PARAPHRASES]
    by_id = {entry_id(r): r["text"] for r in cleaned.accepted}
    for row, (original, _) in zip(dropped, PARAPHRASES, strict=True):
        assert by_id[row["matched_id"]] == original
        assert THRESHOLD <= row["similarity"] <= 1.0
    report = cleaned.report
    assert report["entries_parsed"] == report["accepted"] + report["rejected"] == 9
    assert report["rejected_by_reason"] == {SEMANTIC_DUPLICATE: 3}
    assert report["semantic_dedup"]["threshold"] == THRESHOLD


@pytest.mark.integration
def test_paraphrases_of_the_against_texts_and_across_polarities(embed):
    gens = [
        _generation("p1", "neg", [PARAPHRASES[0][1], UNRELATED[0]]),
        _generation("p2", "pos", [PARAPHRASES[1][0]]),
        _generation("p3", "neg", [PARAPHRASES[1][1]]),
    ]
    against = [UNRELATED[2], PARAPHRASES[0][0]]
    cleaned = clean_generations(gens, against=against, semantic=THRESHOLD, embed=embed)
    (row,) = cleaned.rejected
    assert row["reason"] == SEMANTIC_DUPLICATE_OF_AGAINST
    assert row["matched_id"] == "against:1" and row["text"] == PARAPHRASES[0][1]
    # the two bread sentences belong to different polarities: each is judged within its own
    assert sorted(r["text"] for r in cleaned.accepted) == sorted(
        [UNRELATED[0], PARAPHRASES[1][0], PARAPHRASES[1][1]]
    )


@pytest.mark.integration
def test_the_benchmark_pairs_are_paraphrases_that_minhash_keeps(embed):
    """bench/bench_semantic_dedup.py wrote these real ToxiGen pairs (both labelled benign)."""
    from synthpack.clean.dedup import deduplicate

    pairs = [json.loads(line) for line in (FIXTURES / "semantic_dedup_pairs.jsonl").open()]
    assert len(pairs) >= 5
    for pair in pairs:
        texts = [pair["kept"], pair["removed"]]
        assert deduplicate(texts).reasons == [None, None]
        a, b = embed(texts)
        assert float(a @ b) == pytest.approx(pair["cosine"], abs=2e-3)
        assert float(a @ b) >= 0.9
