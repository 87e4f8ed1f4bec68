"""bench/score_by_group.py: a run's saved classifiers rescored on one ToxiGen group against the
rest, with a real TF-IDF MLP trained on the shipped texts."""

from __future__ import annotations

import csv
import importlib.util

import numpy as np
import pytest
from conftest import REPO

from synthpack.formats.texts import read_labelled
from synthpack.models.classifier.mlp import TextClassifier


@pytest.mark.integration
def test_each_group_part_is_scored_and_the_parts_cover_the_eval_set(tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location(
        "score_by_group", REPO / "bench" / "score_by_group.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    train = read_labelled(module.EVAL.with_name("train.csv"))
    clf = TextClassifier.fit(train.texts, np.array(train.labels))
    run = tmp_path / "run"
    for model in module.MODELS:  # the same classifier under both names: equal columns
        clf.save(run / "eval_mlp" / "tfidf" / "models" / model)
    monkeypatch.setattr("sys.argv", ["score_by_group.py", "--group", "women", str(run)])
    module.main()
    lines = capsys.readouterr().out.splitlines()[1:]
    parts = {line.split()[1]: line.split()[2:] for line in lines}
    assert set(parts) == {"women", "others"}
    with module.EVAL.open(encoding="utf-8", newline="") as f:
        women = sum(row["target_group"] == "women" for row in csv.DictReader(f))
    assert int(parts["women"][0]) == women > 0
    assert int(parts["women"][0]) + int(parts["others"][0]) == len(read_labelled(module.EVAL).texts)
    for cells in parts.values():
        f1_real, auroc_real, f1_both, auroc_both = map(float, cells[1:])
        assert (f1_real, auroc_real) == (f1_both, auroc_both)
        assert 0.5 < auroc_real <= 1
