"""The label checker: a classifier trained on real labelled data only, and how to load one.

`synthpack generate --label-check` and the demo's `label_check` step score every accepted
entry with it. It must never see the evaluation set (a checker that has seen it would let
the evaluation leak into the synthetic data), so `train_checker` drops every training text
that is also in `exclude`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from synthpack.clean.label_check import LabelCheck, LabelChecker
from synthpack.common.errors import SynthpackError
from synthpack.common.labels import text_key
from synthpack.evaluate.classifier.mlp import MLPConfig, TextClassifier
from synthpack.evaluate.toxicity import load_toxicity_scorer
from synthpack.seeds import read_labelled


def train_checker(
    train: Path,
    out: Path,
    features: str = "tfidf",
    exclude: list[Path] = (),
    config: MLPConfig | None = None,
) -> dict:
    """Fit the `eval mlp` classifier on real data (minus `exclude`), save it in `out`."""
    from synthpack.evaluate.run import drop_overlap

    data = read_labelled(train)
    keys = {text_key(t) for path in exclude for t in read_labelled(path).texts}
    data, dropped = drop_overlap(data, keys)
    labels = set(data.labels)
    if labels != {0, 1}:
        have = "no texts" if not labels else f"only label {labels.pop()}"
        raise SynthpackError(
            f"{train}: a label checker needs harmful (1) and harmless (0) texts; found {have}"
        )
    clf = TextClassifier.fit(data.texts, data.labels, features=features, config=config)
    clf.info["trained_on"] = str(train)
    clf.info["dropped_excluded"] = dropped
    clf.save(out)
    return {
        "model": str(out),
        "n_train": clf.info["n_train"],
        "n_harmful": clf.info["n_harmful"],
        "n_val": clf.info["n_val"],
        "dropped_excluded": dropped,
        "threshold": clf.threshold,
        "fit_s": clf.info["fit_s"],
    }


def load_checker(path: Path, check: LabelCheck = LabelCheck()) -> LabelChecker:
    """A saved `eval mlp` classifier or any classifier `eval debias --toxicity` loads.

    A synthpack classifier whose record says it saw one label only is refused: its scores
    would say nothing about the other class. Without a threshold in `check`, a synthpack
    classifier's own decision threshold (the F1-best on its real validation split) is the
    cut: "the checker calls it harmful" then means what its own predictions mean.
    """
    path = Path(path)
    if path.is_file():
        raise SynthpackError(
            f"{path}: --label-check wants a classifier folder (classifier.json + weights.npz "
            "from `synthpack eval mlp` / `eval train-checker`, or a Hugging Face folder), "
            "not a file"
        )
    meta = path / "classifier.json"
    if meta.is_file():
        saved = json.loads(meta.read_text(encoding="utf-8"))
        info = saved.get("info") or {}
        if check.threshold is None and saved.get("threshold") is not None:
            check = replace(check, threshold=float(saved["threshold"]))
        n_train, n_harmful = info.get("n_train"), info.get("n_harmful")
        if n_train is not None and n_harmful in (0, n_train):
            raise SynthpackError(
                f"{meta}: info.n_harmful: the checker was trained on one label only "
                f"({n_harmful} harmful of {n_train}); train it on both classes "
                "(synthpack eval train-checker)"
            )
    scorer = load_toxicity_scorer(path)
    return LabelChecker(scorer.name, scorer, check)
