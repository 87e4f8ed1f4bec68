"""Deduplication: exact after normalisation, then near duplicates by MinHash-LSH.

Marks first, drops later: every item gets a reason (or None) and the index of the earlier
item it repeats, so the report can count duplicates per prompt. Reference texts given as
`against` (seeds, training data) are never dropped but catch copies of themselves.

The MinHash is vectorised with numpy over word-bigram shingles (one multiply-add per
shingle and permutation, then a segmented minimum), and candidates from the LSH bands are
verified with the exact Jaccard, so no pair below the threshold is ever marked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthpack.common.reasons import check_reason
from synthpack.common.text import text_key

DUPLICATE = check_reason("duplicate")
NEAR_DUPLICATE = check_reason("near_duplicate")
DUPLICATE_OF_AGAINST = check_reason("duplicate_of_against")
NEAR_DUPLICATE_OF_AGAINST = check_reason("near_duplicate_of_against")


@dataclass(frozen=True)
class DedupSettings:
    """Near-duplicate threshold (Jaccard of word bigrams) and the LSH shape (bands x rows)."""

    threshold: float = 0.7
    bands: int = 16
    rows: int = 4
    seed: int = 0
    chunk: int = 50_000  # items per MinHash block; bounds memory to ~ chunk * 15 * perms * 8 B


@dataclass
class DedupResult:
    reasons: list[str | None]  # one per text, None = keep
    duplicate_of: list[int | None]  # index into `texts` of the kept original; -1 - k for against[k]


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """A fixed 64-bit mixer: dense ids become well-spread hashes, the same on every run."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def shingle_codes(norms: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Word-bigram codes of every text, flattened, with start offsets (len(norms) + 1).

    A text of one word is represented by that word. Codes are deterministic: words get ids in
    order of first appearance, pairs are combined arithmetically and mixed.
    """
    import pandas as pd  # its C hash table numbers millions of words in a fraction of a second

    # normalised texts have single spaces, so counting spaces counts words
    lengths = np.fromiter((n.count(" ") + 1 if n else 0 for n in norms), np.int64, len(norms))
    ids, _ = pd.factorize(pd.Series(" ".join(norms).split(), dtype=object), sort=False)
    word_ids = ids.astype(np.uint64)
    word_starts = np.zeros(len(norms) + 1, dtype=np.int64)
    np.cumsum(lengths, out=word_starts[1:])
    # bigram k of a text = (word k, word k+1); a text with n >= 2 words has n - 1 of them
    n_shingles = np.where(lengths >= 2, lengths - 1, lengths)
    starts = np.zeros(len(norms) + 1, dtype=np.int64)
    np.cumsum(n_shingles, out=starts[1:])
    if len(word_ids) == 0:
        return np.empty(0, dtype=np.uint64), starts
    nxt = np.empty_like(word_ids)
    nxt[:-1] = word_ids[1:]
    nxt[-1] = 0
    last_word = np.zeros(len(word_ids), dtype=bool)
    ends = word_starts[1:][lengths > 0] - 1
    last_word[ends] = True
    single = np.zeros(len(word_ids), dtype=bool)
    single[word_starts[:-1][lengths == 1]] = True
    keep = ~last_word | single
    with np.errstate(over="ignore"):
        pair = word_ids * np.uint64(0x100000001B3) + (nxt + np.uint64(1))
    pair = np.where(single, word_ids, pair)
    return _splitmix64(pair[keep]), starts


def minhash_signatures(
    codes: np.ndarray, starts: np.ndarray, settings: DedupSettings
) -> np.ndarray:
    """(n_texts, bands * rows) uint32 MinHash signatures; empty texts get all-ones rows."""
    perms = settings.bands * settings.rows
    rng = np.random.default_rng(settings.seed)
    # Hash family (a * x + b) mod 2^32 on the top 32 bits of the mixed shingle codes: uint32
    # arithmetic halves the memory traffic of the (shingles x permutations) block.
    a = rng.integers(1, 2**32, size=perms, dtype=np.uint64).astype(np.uint32) | np.uint32(1)
    b = rng.integers(0, 2**32, size=perms, dtype=np.uint64).astype(np.uint32)
    codes = (codes >> np.uint64(32)).astype(np.uint32)
    n = len(starts) - 1
    sig = np.full((n, perms), 0xFFFFFFFF, dtype=np.uint32)
    nonempty = starts[1:] > starts[:-1]
    for lo in range(0, n, settings.chunk):
        hi = min(n, lo + settings.chunk)
        rows = np.flatnonzero(nonempty[lo:hi]) + lo
        if len(rows) == 0:
            continue
        block = codes[starts[lo] : starts[hi]]
        with np.errstate(over="ignore"):
            hashed = a[:, None] * block[None, :] + b[:, None]  # (perms, shingles), rows contiguous
        sig[rows] = np.minimum.reduceat(hashed, starts[rows] - starts[lo], axis=1).T
    return sig


def lsh_candidates(sig: np.ndarray, settings: DedupSettings, active: np.ndarray) -> np.ndarray:
    """Pairs (i < j) of active rows that share at least one LSH band, as an (m, 2) array
    sorted by j, then i."""
    idx = np.flatnonzero(active)
    pairs = []
    weights = _splitmix64(np.arange(1, settings.rows + 1, dtype=np.uint64))
    for band in range(settings.bands):
        cols = sig[idx, band * settings.rows : (band + 1) * settings.rows].astype(np.uint64)
        with np.errstate(over="ignore"):
            keys = (cols * weights[None, :]).sum(axis=1, dtype=np.uint64)
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        same = sorted_keys[1:] == sorted_keys[:-1]
        if not same.any():
            continue
        # Pair members of a bucket at sorted distance d = 1, 2, ... (vectorised per distance);
        # buckets are small, and past distance 64 a huge bucket is only chained.
        run_id = np.cumsum(np.r_[True, ~same])
        members = idx[order]
        for d in range(1, 65):
            hit = run_id[d:] == run_id[:-d]
            if not hit.any():
                break
            a, b = members[:-d][hit], members[d:][hit]
            pairs.append(np.maximum(a, b) * len(sig) + np.minimum(a, b))  # one sortable key
    if not pairs:
        return np.empty((0, 2), dtype=np.int64)
    keys = np.sort(np.concatenate(pairs))  # a 1-D sort: far faster than unique rows
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]]
    return np.stack([keys % len(sig), keys // len(sig)], axis=1)


def exact_jaccard(codes: np.ndarray, starts: np.ndarray, i: int, j: int) -> float:
    a = set(codes[starts[i] : starts[i + 1]].tolist())
    b = set(codes[starts[j] : starts[j + 1]].tolist())
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _mark_near(
    candidates: np.ndarray,
    codes: np.ndarray,
    starts: np.ndarray,
    kind: np.ndarray,
    original: np.ndarray,
    n_ref: int,
    threshold: float,
) -> None:
    """Mark each item j that is a near duplicate of an earlier item still kept.

    Pairs come sorted by j, then i, so the first verified partner is the
    earliest kept one and j needs no further checks: on thousands of near-identical entries
    (one huge LSH bucket) almost every item is settled by its first partner, and each text's
    shingle set is built once.
    """
    if len(candidates) == 0:
        return
    js, firsts = np.unique(candidates[:, 1], return_index=True)
    bounds = np.r_[firsts, len(candidates)].tolist()
    partners = candidates[:, 0].tolist()
    sets: dict[int, set] = {}

    def shingles(k: int) -> set:
        found = sets.get(k)
        if found is None:
            found = sets[k] = set(codes[starts[k] : starts[k + 1]].tolist())
        return found

    for n, j in enumerate(js.tolist()):
        if j < n_ref:
            continue  # reference texts are never dropped
        b = shingles(j)
        for i in partners[bounds[n] : bounds[n + 1]]:
            if kind[i] != 0:
                continue
            a = shingles(i)
            union = len(a | b)
            if (len(a & b) / union if union else 1.0) >= threshold:
                original[j], kind[j] = i, 2
                break


def deduplicate(
    texts: list[str], against: list[str] = (), settings: DedupSettings = DedupSettings()
) -> DedupResult:
    """Mark exact then near duplicates; the first occurrence (in input order) is kept."""
    refs = list(against)
    allnorm = [text_key(t) for t in refs] + [text_key(t) for t in texts]
    n_ref = len(refs)
    total = len(allnorm)
    original = np.full(total, -1, dtype=np.int64)  # index of the kept item this one repeats
    kind = np.zeros(total, dtype=np.int8)  # 0 keep, 1 exact, 2 near
    first_seen: dict[str, int] = {}
    for k, norm in enumerate(allnorm):
        first = first_seen.setdefault(norm, k)
        if first != k:
            original[k], kind[k] = first, 1
    codes, starts = shingle_codes(allnorm)
    sig = minhash_signatures(codes, starts, settings)
    active = (kind == 0) & (starts[1:] > starts[:-1])
    candidates = lsh_candidates(sig, settings, active)
    _mark_near(candidates, codes, starts, kind, original, n_ref, settings.threshold)
    reasons: list[str | None] = []
    duplicate_of: list[int | None] = []
    for k in range(n_ref, total):
        if kind[k] == 0:
            reasons.append(None)
            duplicate_of.append(None)
            continue
        src = int(original[k])
        of_ref = src < n_ref
        if kind[k] == 1:
            reasons.append(DUPLICATE_OF_AGAINST if of_ref else DUPLICATE)
        else:
            reasons.append(NEAR_DUPLICATE_OF_AGAINST if of_ref else NEAR_DUPLICATE)
        duplicate_of.append(-1 - src if of_ref else src - n_ref)
    return DedupResult(reasons=reasons, duplicate_of=duplicate_of)
