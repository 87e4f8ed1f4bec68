"""Binary-classification metrics, bootstrap intervals and paired tests, in plain numpy.

Kept apart from model scoring so the maths can be checked by hand (tests compare against
scikit-learn on a known confusion matrix). The harmful class is label 1 throughout.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from synthpack.common.errors import SynthpackError
from synthpack.common.problems import listed

METRICS = ("precision", "recall", "f1", "accuracy", "macro_f1", "auroc")


def _div(num, den):
    """num / den with 0 where den is 0 (scikit-learn's zero_division=0 convention)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def confusion(y_true, y_pred) -> tuple[int, int, int, int]:
    """Return (tp, fp, fn, tn) for the harmful class (label 1)."""
    y_true = np.asarray(y_true).astype(bool)
    y_pred = np.asarray(y_pred).astype(bool)
    tp = int(np.sum(y_true & y_pred))
    fp = int(np.sum(~y_true & y_pred))
    fn = int(np.sum(y_true & ~y_pred))
    tn = int(np.sum(~y_true & ~y_pred))
    return tp, fp, fn, tn


def metrics_from_confusion(tp, fp, fn, tn) -> dict[str, np.ndarray]:
    """Precision, recall, F1 (harmful class), accuracy and macro-F1; works on arrays of counts."""
    precision = _div(tp, tp + fp)
    recall = _div(tp, tp + fn)
    f1 = _div(2 * tp, 2 * tp + fp + fn)
    f1_neg = _div(2 * tn, 2 * tn + fn + fp)
    accuracy = _div(np.add(tp, tn), np.add(tp, tn) + fp + fn)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": accuracy,
        "macro_f1": (f1 + f1_neg) / 2,
    }


def auroc(y_true, y_score) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula, ties counted half.

    NaN when only one class is present, where the area is undefined.
    """
    from scipy.stats import rankdata

    y_true = np.asarray(y_true).astype(bool)
    n_pos = int(y_true.sum())
    n_neg = len(y_true) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(np.asarray(y_score, dtype=np.float64))
    return float((ranks[y_true].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def binary_metrics(y_true, y_score, threshold: float = 0.5) -> dict[str, float]:
    """All six report metrics for scores in [0, 1]; a score >= threshold means harmful."""
    y_score = np.asarray(y_score, dtype=np.float64)
    counts = confusion(y_true, y_score >= threshold)
    out = {k: float(v) for k, v in metrics_from_confusion(*counts).items()}
    out["auroc"] = auroc(y_true, y_score)
    return out


def best_f1_threshold(y_true, y_score) -> float:
    """The decision threshold with the highest F1 on (validation) scores.

    Candidates sit midway between consecutive distinct scores; among equal F1 the one nearest
    0.5 wins, so a flat optimum does not drift to an extreme.
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(y_score, dtype=np.float64)
    distinct = np.unique(s)
    cuts = np.concatenate([[0.0], (distinct[:-1] + distinct[1:]) / 2, [np.nextafter(1.0, 2)]])
    y_sorted = y[np.argsort(-s, kind="stable")]
    # Predicted positive at cut c = scores >= c: count via searchsorted on the sorted scores.
    n_pos_pred = len(s) - np.searchsorted(np.sort(s), cuts, side="left")
    tp_cum = np.concatenate([[0], np.cumsum(y_sorted)])
    tp = tp_cum[n_pos_pred]
    fp = n_pos_pred - tp
    fn = y.sum() - tp
    f1 = _div(2 * tp, 2 * tp + fp + fn)
    best = np.flatnonzero(f1 >= f1.max() - 1e-12)
    return float(cuts[best[np.argmin(np.abs(cuts[best] - 0.5))]])


class PerItem:
    """Base of a frozen dataclass of per-item outcomes: tuples and numpy arrays aligned item by
    item (the first field sets the length), so that a resample or a subset takes them all."""

    def __len__(self) -> int:
        return len(getattr(self, dataclasses.fields(self)[0].name))

    def take(self, rows):
        """The items at positions `rows` (a list of indices or a boolean mask), in that order."""
        rows = np.arange(len(self))[rows]
        values = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            values[f.name] = (
                value[rows] if isinstance(value, np.ndarray) else tuple(value[i] for i in rows)
            )
        return type(self)(**values)


def bootstrap_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """`n_boot` resamples of `n` examples with replacement, one row of indices each (seeded)."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def percentile_interval(samples, level: float = 0.95) -> list[float]:
    """[low, high] holding the central `level` share of bootstrap samples (NaNs skipped)."""
    alpha = (1 - level) / 2
    return [float(np.nanquantile(samples, alpha)), float(np.nanquantile(samples, 1 - alpha))]


def paired_difference(observed: float, diff, level: float = 0.95) -> dict[str, float | list[float]]:
    """A paired bootstrap's verdict on `other - base`, from the resampled differences `diff`.

    Returns `delta` (the observed difference), its percentile `interval`, and two one-sided
    p-values, +1 corrected: `p_higher`, the share of resamples where other is not higher (small:
    other is higher), and `p_lower`, the share where it is not lower.
    """
    diff = np.asarray(diff, dtype=np.float64)
    return {
        "delta": float(observed),
        "interval": percentile_interval(diff, level),
        "p_higher": float((np.sum(diff <= 0) + 1) / (len(diff) + 1)),
        "p_lower": float((np.sum(diff >= 0) + 1) / (len(diff) + 1)),
    }


def paired_mean_difference(baseline, candidate, n_boot: int = 2000, seed: int = 0) -> dict:
    """Both means, and the paired bootstrap of the mean of `candidate - baseline` over the
    items (`paired_difference`: delta, 95% interval, one-sided p_higher / p_lower)."""
    a, b = np.asarray(baseline, dtype=float), np.asarray(candidate, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise SynthpackError("a paired bootstrap needs two equally long, non-empty lists")
    diff = b - a
    resampled = diff[bootstrap_indices(len(diff), n_boot, seed)].mean(axis=1)
    return {"baseline": float(a.mean()), "candidate": float(b.mean()),
            **paired_difference(diff.mean(), resampled)}  # fmt: skip


def paired_positions(base_ids, other_ids, noun: str = "examples") -> list[int]:
    """Where each of base's items sits among other's, to line two models' per-item outcomes up;
    an error when the two runs did not score the same items (each once)."""
    base_ids, other_ids = list(base_ids), list(other_ids)
    position = {key: i for i, key in enumerate(other_ids)}
    in_base = set(base_ids)
    only_base = [str(k) for k in base_ids if k not in position]
    only_other = [str(k) for k in other_ids if k not in in_base]
    repeated = len(position) != len(other_ids) or len(in_base) != len(base_ids)
    if only_base or only_other or repeated:
        raise SynthpackError(
            f"the two runs scored different {noun} ({len(base_ids)} vs {len(other_ids)}; "
            f"only in the first: {listed(only_base, 3) or '-'}; only in the second: "
            f"{listed(only_other, 3) or '-'}{'; some more than once' if repeated else ''}): "
            f"compare runs over the same data and limit"
        )
    return [position[k] for k in base_ids]


def _metric_samples(y_true, y_score, threshold, idx) -> dict[str, np.ndarray]:
    """Each metric on every bootstrap resample (rows of idx), vectorised except AUROC."""
    y = np.asarray(y_true).astype(bool)[idx]
    pred = (np.asarray(y_score, dtype=np.float64) >= threshold)[idx]
    tp = np.sum(y & pred, axis=1)
    fp = np.sum(~y & pred, axis=1)
    fn = np.sum(y & ~pred, axis=1)
    tn = np.sum(~y & ~pred, axis=1)
    samples = metrics_from_confusion(tp, fp, fn, tn)
    scores = np.asarray(y_score, dtype=np.float64)
    samples["auroc"] = np.array([auroc(y[i], scores[row]) for i, row in enumerate(idx)])
    return samples


def bootstrap_intervals(
    y_true, y_score, threshold: float = 0.5, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> dict[str, list[float]]:
    """Percentile bootstrap intervals over evaluation examples, one [low, high] per metric."""
    idx = bootstrap_indices(len(y_true), n_boot, seed)
    samples = _metric_samples(y_true, y_score, threshold, idx)
    return {name: percentile_interval(v, level) for name, v in samples.items()}


def paired_bootstrap(
    y_true,
    score_base,
    score_other,
    threshold: float = 0.5,
    metric: str = "f1",
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    threshold_other: float | None = None,
) -> dict[str, float | list[float]]:
    """Is `other` better than `base` on `metric`? Both are scored on the same resamples.

    Each model keeps its own decision threshold (`threshold` for base, `threshold_other`).

    Returns the observed difference (other - base), its percentile interval, and two one-sided
    p-values: `p_better`, the share of resamples where other is not better (+1 corrected),
    and `p_worse`, the share where it is not worse.
    """
    if metric not in METRICS:
        raise ValueError(f"Unknown metric {metric!r}. Available: {', '.join(METRICS)}")
    t_other = threshold if threshold_other is None else threshold_other
    idx = bootstrap_indices(len(y_true), n_boot, seed)
    base = _metric_samples(y_true, score_base, threshold, idx)[metric]
    other = _metric_samples(y_true, score_other, t_other, idx)[metric]
    diff = other - base
    observed = (
        binary_metrics(y_true, score_other, t_other)[metric]
        - binary_metrics(y_true, score_base, threshold)[metric]
    )
    paired = paired_difference(observed, diff, level)
    return {
        "metric": metric,
        "delta": paired["delta"],
        "interval": paired["interval"],
        "p_better": paired["p_higher"],
        "p_worse": paired["p_lower"],
    }


def mcnemar(y_true, pred_base, pred_other) -> dict[str, float | int]:
    """Exact McNemar test on the examples where exactly one of the two classifiers is right.

    Two-sided binomial test of the discordant pairs; `b` counts base-right/other-wrong.
    """
    y = np.asarray(y_true).astype(bool)
    right_base = np.asarray(pred_base).astype(bool) == y
    right_other = np.asarray(pred_other).astype(bool) == y
    b = int(np.sum(right_base & ~right_other))
    c = int(np.sum(~right_base & right_other))
    n = b + c
    if n == 0:
        return {"b": 0, "c": 0, "p_value": 1.0}
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return {"b": b, "c": c, "p_value": float(min(1.0, 2 * tail))}
