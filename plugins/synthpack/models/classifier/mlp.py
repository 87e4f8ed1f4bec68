"""The downstream classifier: features (see `features`) and an MLP with two hidden layers.

The paper needs a moderation model that decides in at most 10 ms. scikit-learn's
TfidfVectorizer + MLPClassifier(600, 600) takes minutes to fit and milliseconds per text here,
so training runs in torch with a sparse first layer (scipy does X @ W1 and its transpose), and
inference is plain numpy: look up the text's n-gram ids, gather their rows of W1, two small
matrix products. The features equal scikit-learn's (tests check it); only the speed differs.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_json
from synthpack.common.problems import located
from synthpack.models.classifier.features import (
    FEATURE_KINDS,
    MiniLMFeatures,
    TfidfFeatures,
    make_features,
)

FORMAT = "synthpack-mlp"
FORMAT_VERSION = 1


# ---------------------------------------------------------------- the MLP


@dataclass
class MLPConfig:
    """Training settings; the paper fixes only the two hidden layers of 600 units."""

    hidden: int = 600
    learning_rate: float = 1e-3
    batch_size: int = 256
    max_epochs: int = 30
    patience: int = 2  # epochs without a better validation loss before stopping
    val_fraction: float = 0.1  # held out of the training data for early stopping
    dropout: float = 0.2
    tune_threshold: bool = True  # decision threshold = the F1-best one on the validation rows
    seed: int = 0
    # `fit_with_folds`: early stopping and threshold from this many folds of the real data
    folds: int = 10


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


class TextClassifier:
    """Features + a 2-hidden-layer ReLU MLP with one sigmoid output (P(harmful))."""

    def __init__(self, features, weights: dict[str, np.ndarray], threshold=0.5, info=None):
        self.features = features
        self.W1 = np.ascontiguousarray(weights["W1"], dtype=np.float32)
        self.b1 = weights["b1"].astype(np.float32)
        self.W2 = np.ascontiguousarray(weights["W2"], dtype=np.float32)
        self.b2 = weights["b2"].astype(np.float32)
        self.w3 = weights["w3"].astype(np.float32)
        self.b3 = float(weights["b3"])
        self.threshold = threshold
        self.info = info or {}
        self._W1_torch = None

    # -- inference

    def _head(self, h1: np.ndarray) -> np.ndarray:
        np.maximum(h1, 0, out=h1)
        h2 = h1 @ self.W2
        h2 += self.b2
        np.maximum(h2, 0, out=h2)
        return _sigmoid(h2 @ self.w3 + self.b3)

    def score_one(self, text: str) -> float:
        """P(harmful) for one text: featurise + predict, the path the latency bound is about."""
        if self.features.kind == "tfidf":
            ids, vals = self.features.transform_one(text)
            h1 = vals @ self.W1[ids] + self.b1
        else:
            h1 = self.features.transform_one(text) @ self.W1 + self.b1
        return float(self._head(h1))

    def score(self, texts, batch_size: int = 4096) -> np.ndarray:
        """P(harmful) for many texts, in batches (sparse @ dense for the first layer)."""
        out = np.empty(len(texts), dtype=np.float64)
        for start in range(0, len(texts), batch_size):
            X = self.features.transform(texts[start : start + batch_size])
            h1 = self._first_layer(X)
            h1 += self.b1
            out[start : start + batch_size] = self._head(h1)
        return out

    def _first_layer(self, X) -> np.ndarray:
        """X @ W1; for sparse X torch's embedding_bag is about twice as fast as scipy here."""
        if isinstance(X, np.ndarray):
            return X @ self.W1
        import torch

        if self._W1_torch is None:
            self._W1_torch = torch.from_numpy(self.W1)  # shares memory, no copy
        with torch.no_grad():
            return torch.nn.functional.embedding_bag(
                torch.from_numpy(X.indices.astype(np.int64)),
                self._W1_torch,
                torch.from_numpy(X.indptr[:-1].astype(np.int64)),
                mode="sum",
                per_sample_weights=torch.from_numpy(X.data),
            ).numpy()

    def predict(self, texts) -> np.ndarray:
        return (self.score(texts) >= self.threshold).astype(np.int64)

    # -- persistence

    def save(self, folder: Path) -> Path:
        """classifier.json (settings, vocabulary) + weights.npz (no pickle). W1 is stored as
        float16, which fit() has already rounded to, so the saved model scores identically."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        weights = {
            "W1": self.W1.astype(np.float16),
            "b1": self.b1,
            "W2": self.W2,
            "b2": self.b2,
            "w3": self.w3,
            "b3": np.array(self.b3, dtype=np.float32),
        }
        if self.features.kind == "tfidf":
            weights["idf"] = self.features.idf
        tmp = folder / ".weights.npz.tmp"
        with open(tmp, "wb") as handle:
            np.savez(handle, **weights)
        tmp.chmod(0o600)
        tmp.replace(folder / "weights.npz")
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "threshold": self.threshold,
            "hidden": [self.W1.shape[1], self.W2.shape[1]],
            "info": self.info,
            "features": self.features.state(),
        }
        atomic_write_json(folder / "classifier.json", meta)
        return folder

    @classmethod
    def load(cls, folder: Path) -> TextClassifier:
        folder = Path(folder)
        meta_path = folder / "classifier.json"
        if not meta_path.is_file() or not (folder / "weights.npz").is_file():
            raise SynthpackError(
                f"{folder}: not a saved classifier (expected classifier.json and weights.npz; "
                "`synthpack eval mlp` writes them under OUT/models/RUN)"
            )
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            got = f"got {meta.get('format')!r} version {meta.get('version')!r}"
            raise SynthpackError(
                located(
                    meta_path, f"expected {FORMAT} version {FORMAT_VERSION}, {got}", None, "format"
                )
            )
        with np.load(folder / "weights.npz", allow_pickle=False) as npz:
            weights = {k: npz[k] for k in npz.files}
        spec = meta["features"]
        if spec["kind"] == "tfidf":
            features = TfidfFeatures(
                spec["word_vocab"], spec["char_vocab"], weights["idf"],
                spec["word_ngrams"], spec["char_ngrams"],
            )  # fmt: skip
        elif spec["kind"] == "minilm":
            features = MiniLMFeatures()
        else:
            kinds = ", ".join(FEATURE_KINDS)
            raise SynthpackError(
                located(
                    meta_path,
                    f"unknown {spec['kind']!r}. Available: {kinds}",
                    None,
                    "features.kind",
                )
            )
        return cls(features, weights, meta.get("threshold", 0.5), meta.get("info"))

    # -- training

    @classmethod
    def fit(
        cls,
        texts: list[str],
        labels,
        features: str = "tfidf",
        config: MLPConfig | None = None,
        progress: Callable[[str], None] | None = None,
        feature_options: dict | None = None,
        val_texts: list[str] | None = None,
        val_labels=None,
    ) -> TextClassifier:
        """Train with early stopping on validation loss, then pick the F1-best threshold there.

        Without val_texts a stratified `config.val_fraction` of the training data is held out.
        `synthpack eval mlp` passes the same real validation rows to every run, so synthetic
        data only ever adds training examples and every run is tuned on real data.
        """
        import torch

        from synthpack.common.metrics import best_f1_threshold

        config = config or MLPConfig()
        y_all = np.asarray(labels, dtype=np.float32)
        if len(texts) != len(y_all):
            raise ValueError(f"{len(texts)} texts but {len(y_all)} labels")
        if len(set(y_all.tolist())) < 2:
            raise SynthpackError("training data needs both labels (harmful 1 and harmless 0)")
        started = time.perf_counter()
        torch.manual_seed(config.seed)
        rng = np.random.default_rng(config.seed)
        if val_texts is None and config.val_fraction == 0:  # fixed epochs, no validation
            y, y_val = y_all, None
        elif val_texts is None:
            val_idx = stratified_holdout(y_all, config.val_fraction, rng)
            keep = np.setdiff1d(np.arange(len(y_all)), val_idx)
            val_texts = [texts[i] for i in val_idx]
            y_val = y_all[val_idx]
            texts, y = [texts[i] for i in keep], y_all[keep]
        else:
            y, y_val = y_all, np.asarray(val_labels, dtype=np.float32)
        feats = make_features(features, texts, **(feature_options or {}))
        X = feats.transform(texts)
        X_val = None if y_val is None else feats.transform(val_texts)
        featurise_s = time.perf_counter() - started

        best_loss, weights, best_epoch, val_logits, epochs = _train_mlp(
            X, y, X_val, y_val, feats.dim, config, rng, progress, started
        )
        weights["W1"] = weights["W1"].astype(np.float16).astype(np.float32)
        threshold = 0.5
        if config.tune_threshold and y_val is not None:
            threshold = best_f1_threshold(y_val, 1.0 / (1.0 + np.exp(-val_logits)))
        info = {
            "features": feats.kind,
            "n_features": int(feats.dim),
            "n_train": int(len(y)),
            "n_val": 0 if y_val is None else int(len(y_val)),
            "n_harmful": int(y.sum()),
            "epochs_run": epochs,
            "best_epoch": best_epoch,
            "best_val_loss": None if math.isnan(best_loss) else best_loss,
            "threshold": threshold,
            "featurise_s": round(featurise_s, 3),
            "fit_s": round(time.perf_counter() - started, 3),
            "config": asdict(config),
        }
        return cls(feats, weights, threshold, info)

    @classmethod
    def fit_with_folds(
        cls,
        pool_texts: list[str],
        pool_labels,
        extra_texts: list[str] = (),
        extra_labels=(),
        train_on_pool: bool = True,
        features: str = "tfidf",
        config: MLPConfig | None = None,
        progress: Callable[[str], None] | None = None,
        feature_options: dict | None = None,
    ) -> TextClassifier:
        """Train on pool + extra; take the epoch count and the decision threshold from
        `config.folds`-fold cross-validation over the pool (the real data).

        Why: an F1-best threshold picked on one small validation split (60 texts in the demo)
        moves F1 by +-0.03 between seeds with AUROC unchanged; the out-of-fold scores of every
        pool text pin it down, and the final model also trains on every pool text. Each fold
        model early-stops on its held-out fold; the final one trains for the median of their
        best epochs. `train_on_pool=False` trains on extra alone: the whole pool is then
        out-of-sample as it is, so one fit early-stops and tunes its threshold on all of it.
        `feature_options` reach every fit (MiniLM: one `EmbeddingStore` for all of them).
        """
        from synthpack.common.metrics import auroc, best_f1_threshold

        config = config or MLPConfig()
        if config.folds < 2:
            raise ValueError(f"folds must be at least 2, got {config.folds}")
        y_pool = np.asarray(pool_labels, dtype=np.float32)
        y_extra = np.asarray(extra_labels, dtype=np.float32)
        harmful, harmless = int(y_pool.sum()), int(len(y_pool) - y_pool.sum())
        if min(harmful, harmless) < config.folds:
            raise SynthpackError(
                f"{config.folds}-fold threshold tuning needs at least {config.folds} real texts "
                f"of each label; got {harmful} harmful, {harmless} harmless"
            )
        if not train_on_pool:
            final = cls.fit(
                list(extra_texts), y_extra, features=features, config=config, progress=progress,
                feature_options=feature_options, val_texts=list(pool_texts), val_labels=y_pool,
            )  # fmt: skip
            final.info["threshold_from"] = f"scores of {len(y_pool)} real texts it never saw"
            return final
        started = time.perf_counter()
        out_of_fold, best_epochs = cls.out_of_fold_scores(
            pool_texts, y_pool, extra_texts, y_extra, features, config, progress, feature_options
        )
        epochs = max(1, int(round(float(np.median(best_epochs)))))
        final = cls.fit(
            list(pool_texts) + list(extra_texts), np.concatenate([y_pool, y_extra]),
            features=features, config=replace(config, max_epochs=epochs, val_fraction=0.0),
            progress=progress, feature_options=feature_options,
        )  # fmt: skip
        final.threshold = best_f1_threshold(y_pool, out_of_fold)
        final.info.update(
            threshold=final.threshold,
            threshold_from=f"{config.folds}-fold out-of-fold scores of {len(y_pool)} real texts",
            fold_best_epochs=best_epochs,
            best_epoch=epochs,
            out_of_fold_auroc=auroc(y_pool, out_of_fold),
            fit_s=round(time.perf_counter() - started, 3),
        )
        return final

    @classmethod
    def out_of_fold_scores(
        cls,
        pool_texts,
        y_pool,
        extra_texts,
        y_extra,
        features,
        config,
        progress=None,
        feature_options=None,
    ) -> tuple[np.ndarray, list[int]]:
        """P(harmful) of every pool text from the fold model that did not train on it (each
        trains on the other folds + extra and early-stops on its own fold), and the folds'
        best epochs."""
        started = time.perf_counter()
        fold_of = stratified_folds(y_pool, config.folds, np.random.default_rng(config.seed))
        out_of_fold = np.empty(len(y_pool))
        best_epochs = []
        fold_config = replace(config, tune_threshold=False)
        for fold in range(config.folds):
            held, kept = np.flatnonzero(fold_of == fold), np.flatnonzero(fold_of != fold)
            model = cls.fit(
                [pool_texts[i] for i in kept] + list(extra_texts),
                np.concatenate([y_pool[kept], y_extra]),
                features=features, config=fold_config, feature_options=feature_options,
                val_texts=[pool_texts[i] for i in held], val_labels=y_pool[held],
            )  # fmt: skip
            out_of_fold[held] = model.score([pool_texts[i] for i in held])
            best_epochs.append(model.info["best_epoch"])
            if progress:
                progress(
                    f"fold {fold + 1}/{config.folds}: best epoch {best_epochs[-1]} "
                    f"({time.perf_counter() - started:.1f} s)"
                )
        return out_of_fold, best_epochs


def _train_mlp(X, y, X_val, y_val, dim: int, config: MLPConfig, rng, progress, started: float):
    """Adam on binary cross-entropy with early stopping on the validation loss (without
    validation rows, X_val None: exactly `config.max_epochs` epochs).

    Returns (best validation loss, its weights, its epoch, its validation logits, epochs run).
    """
    import torch

    net = _TorchMLP(dim, config.hidden, config.dropout)
    try:  # the fused kernel is ~8x faster on CPU for the 27M-weight first layer
        opt = torch.optim.Adam(net.parameters(), lr=config.learning_rate, fused=True)
    except (RuntimeError, TypeError):
        opt = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    y_t = torch.from_numpy(y)
    best = (math.inf, None, 0, None)
    bad = 0
    epochs = 0
    for epoch in range(1, config.max_epochs + 1):
        epochs = epoch
        net.train()
        order = rng.permutation(len(y))
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(X[batch]), y_t[batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if X_val is None:  # fixed number of epochs: the last one is the model
            if progress:
                elapsed = time.perf_counter() - started
                progress(f"epoch {epoch}/{config.max_epochs} ({elapsed:.1f} s)")
            continue
        net.eval()
        with torch.no_grad():
            logits = net(X_val).numpy().astype(np.float64)
        val_loss = float(np.mean(np.logaddexp(0, logits) - y_val * logits))
        val_acc = float(np.mean((logits >= 0) == (y_val > 0.5)))
        if progress:
            progress(
                f"epoch {epoch}: val loss {val_loss:.4f}, val accuracy {val_acc:.3f} "
                f"({time.perf_counter() - started:.1f} s)"
            )
        if val_loss < best[0] - 1e-4:
            best, bad = (val_loss, net.weights(), epoch, logits), 0
        else:
            bad += 1
            if bad >= config.patience:
                break
    if X_val is None:
        return math.nan, net.weights(), epochs, None, epochs
    return (*best, epochs)


def stratified_folds(y: np.ndarray, folds: int, rng) -> np.ndarray:
    """Fold number (0..folds-1) of every row, each class dealt round-robin after a shuffle."""
    fold_of = np.empty(len(y), dtype=np.int64)
    for cls_value in (0.0, 1.0):
        members = rng.permutation(np.flatnonzero(y == cls_value))
        fold_of[members] = np.arange(len(members)) % folds
    return fold_of


def stratified_holdout(y: np.ndarray, fraction: float, rng) -> np.ndarray:
    """Indices of a validation split with the same class balance as y (at least 1 per class)."""
    picked = []
    for cls_value in (0.0, 1.0):
        members = np.flatnonzero(y == cls_value)
        n = max(1, int(round(fraction * len(members))))
        picked.append(rng.permutation(members)[:n])
    return np.sort(np.concatenate(picked))


def _torch_mlp_class():
    import scipy.sparse as sp
    import torch

    class SparseFirstLayer(torch.autograd.Function):
        """X @ W1 with X a scipy matrix: scipy's kernels beat torch's sparse ones on CPU."""

        @staticmethod
        def forward(ctx, weight, X):
            ctx.X = X
            return torch.from_numpy(np.asarray(X @ weight.detach().numpy(), dtype=np.float32))

        @staticmethod
        def backward(ctx, grad):
            X = ctx.X
            Xt = X.T.tocsr() if sp.issparse(X) else X.T
            return torch.from_numpy(np.asarray(Xt @ grad.numpy(), dtype=np.float32)), None

    class TorchMLP(torch.nn.Module):
        def __init__(self, n_in: int, hidden: int, dropout: float):
            super().__init__()
            bound = math.sqrt(6 / (n_in + hidden))  # Glorot, as scikit-learn's MLP
            self.W1 = torch.nn.Parameter(torch.empty(n_in, hidden).uniform_(-bound, bound))
            self.b1 = torch.nn.Parameter(torch.zeros(hidden))
            self.l2 = torch.nn.Linear(hidden, hidden)
            self.l3 = torch.nn.Linear(hidden, 1)
            self.drop = torch.nn.Dropout(dropout)

        def forward(self, X):
            if isinstance(X, np.ndarray):  # dense (MiniLM): in torch, not numpy, whose BLAS
                first = torch.from_numpy(X) @ self.W1  # threads fight torch's for the cores
            else:
                first = SparseFirstLayer.apply(self.W1, X)
            h = torch.relu(first + self.b1)
            h = torch.relu(self.l2(self.drop(h)))
            return self.l3(self.drop(h)).squeeze(-1)

        def weights(self) -> dict[str, np.ndarray]:
            return {
                "W1": self.W1.detach().numpy().copy(),
                "b1": self.b1.detach().numpy().copy(),
                "W2": self.l2.weight.detach().numpy().T.copy(),
                "b2": self.l2.bias.detach().numpy().copy(),
                "w3": self.l3.weight.detach().numpy()[0].copy(),
                "b3": np.array(self.l3.bias.item(), dtype=np.float32),
            }

    return TorchMLP


def _TorchMLP(n_in: int, hidden: int, dropout: float):  # noqa: N802 - a lazy class factory
    return _torch_mlp_class()(n_in, hidden, dropout)
