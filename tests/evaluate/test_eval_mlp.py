"""`synthpack eval mlp` and `synthpack classify`: metric maths, readers, features, and real runs
on ToxiGen (subsampled to keep this file around a minute; full-size numbers are in bench/)."""

from __future__ import annotations

import json
import math
import random
import stat
import string

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import shared_data

from synthpack.cli import main
from synthpack.common.errors import SynthpackError
from synthpack.common.metrics import (
    auroc,
    best_f1_threshold,
    binary_metrics,
    bootstrap_intervals,
    mcnemar,
    metrics_from_confusion,
    paired_bootstrap,
)
from synthpack.formats.texts import read_labelled, read_texts
from synthpack.models.classifier.features import TfidfFeatures, char_wb_ngrams
from synthpack.models.classifier.mlp import TextClassifier

TOXIGEN_CSV = ("toxigen", "annotated", "annotated_train.csv")


# ---------------------------------------------------------------- metric maths


def _from_confusion(tp, fp, fn, tn):
    y_true = [1] * tp + [0] * fp + [1] * fn + [0] * tn
    y_pred = [1] * tp + [1] * fp + [0] * fn + [0] * tn
    return np.array(y_true), np.array(y_pred)


def test_metrics_on_a_known_confusion_matrix_match_hand_values_and_sklearn():
    from sklearn import metrics as sk

    y_true, y_pred = _from_confusion(tp=30, fp=10, fn=20, tn=40)
    ours = binary_metrics(y_true, y_pred.astype(float), threshold=0.5)
    # By hand: P = 30/40, R = 30/50, F1 = 60/90, Acc = 70/100, F1(neg) = 80/110.
    assert ours["precision"] == pytest.approx(0.75)
    assert ours["recall"] == pytest.approx(0.6)
    assert ours["f1"] == pytest.approx(2 / 3)
    assert ours["accuracy"] == pytest.approx(0.7)
    assert ours["macro_f1"] == pytest.approx((2 / 3 + 8 / 11) / 2)
    assert ours["precision"] == pytest.approx(sk.precision_score(y_true, y_pred))
    assert ours["recall"] == pytest.approx(sk.recall_score(y_true, y_pred))
    assert ours["f1"] == pytest.approx(sk.f1_score(y_true, y_pred))
    assert ours["accuracy"] == pytest.approx(sk.accuracy_score(y_true, y_pred))
    assert ours["macro_f1"] == pytest.approx(sk.f1_score(y_true, y_pred, average="macro"))
    # No predicted positives: precision and F1 are 0, as scikit-learn's zero_division=0.
    none = metrics_from_confusion(0, 0, 5, 5)
    assert float(none["precision"]) == 0.0 and float(none["f1"]) == 0.0


def test_auroc_counts_ties_half_like_sklearn():
    from sklearn.metrics import roc_auc_score

    # 2 positives, 2 negatives; one positive ties a negative: 3 wins + 0.5 tie of 4 pairs.
    assert auroc([1, 0, 1, 0], [0.9, 0.5, 0.5, 0.1]) == pytest.approx(3.5 / 4)
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    scores = np.round(rng.random(300) + 0.3 * y, 1)  # many ties
    assert auroc(y, scores) == pytest.approx(roc_auc_score(y, scores))
    assert math.isnan(auroc([1, 1], [0.2, 0.3]))


def test_best_f1_threshold_finds_the_best_cut():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 400)
    scores = np.clip(0.35 * y + 0.65 * rng.random(400), 0, 1)
    t = best_f1_threshold(y, scores)
    grid = max(binary_metrics(y, scores, c)["f1"] for c in np.linspace(0, 1, 4001))
    assert binary_metrics(y, scores, t)["f1"] == pytest.approx(grid)


def test_bootstrap_intervals_contain_the_point_estimate():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    scores = np.clip(0.4 * y + 0.6 * rng.random(500), 0, 1)
    point = binary_metrics(y, scores)
    intervals = bootstrap_intervals(y, scores, n_boot=300)
    for name, (lo, hi) in intervals.items():
        assert lo <= point[name] <= hi, name
        assert hi - lo < 0.2, name


def test_paired_tests():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 600)
    weak = np.clip(0.2 * y + 0.8 * rng.random(600), 0, 1)
    strong = np.clip(0.6 * y + 0.4 * rng.random(600), 0, 1)
    better = paired_bootstrap(y, weak, strong, n_boot=300)
    assert better["delta"] > 0.1 and better["p_better"] < 0.01 and better["p_worse"] > 0.99
    same = paired_bootstrap(y, weak, weak, n_boot=300)
    assert same["delta"] == 0 and same["p_better"] > 0.5
    # McNemar by hand: 2 + 8 discordant pairs -> p = 2 * (C(10,0)+C(10,1)+C(10,2)) / 2^10.
    y_true = np.ones(10, dtype=int)
    base = np.array([1, 1] + [0] * 8)
    other = np.array([0, 0] + [1] * 8)
    result = mcnemar(y_true, base, other)
    assert (result["b"], result["c"]) == (2, 8)
    assert result["p_value"] == pytest.approx(2 * (1 + 10 + 45) / 1024)


# ---------------------------------------------------------------- readers


def test_toxigen_readers_follow_source_md():
    data = read_labelled(shared_data(*TOXIGEN_CSV))
    # SOURCE.md: 8,960 rows; toxicity_ai + toxicity_human > 5.5 gives 3,368 toxic.
    assert (len(data), data.n_harmful) == (8960, 3368)
    assert not any(t.startswith(("b'", 'b"')) for t in data.texts)
    prompts = read_labelled(shared_data("toxigen", "prompts", "hate_asian_1k.txt"))
    assert len(prompts) == 7 and prompts.n_harmful == 7  # 1,000 prompt lines, 7 sentences
    assert not any("\\n" in t or t.startswith("-") for t in prompts.texts)
    demos = read_labelled(shared_data("toxigen", "demonstrations"))
    assert 0 < demos.n_harmful < len(demos)


def test_readers_report_every_bad_row_with_file_line_and_field(tmp_path):
    good = tmp_path / "ok.jsonl"
    good.write_text(
        '{"text": "a", "label": "toxic"}\n{"text": "b", "polarity": "neg"}\n'
        '{"text": "c", "label": 1}\n',
        encoding="utf-8",
    )
    data = read_labelled(good)
    assert data.texts == ["a", "b", "c"] and data.labels == [1, 0, 1]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "label": "maybe"}\n{"label": 0}\nnot json\n', encoding="utf-8")
    with pytest.raises(SynthpackError) as err:
        read_labelled(bad)
    message = str(err.value.message)
    assert "3 problem(s) in 3 row(s)" in message
    assert f"{bad}:1: label: unknown label 'maybe'. Available:" in message
    assert f"{bad}:2: text:" in message and f"{bad}:3:" in message
    txt = tmp_path / "mixed.txt"
    txt.write_text("1\tone\nno tab here\n", encoding="utf-8")
    with pytest.raises(SynthpackError, match=r"mixed.txt:2: label: expected 'LABEL<TAB>"):
        read_labelled(txt)
    csv_file = tmp_path / "x.csv"
    csv_file.write_text("body,label\nhi,1\n", encoding="utf-8")
    with pytest.raises(
        SynthpackError, match=r"x.csv:1: text: missing column \(columns: body, label\)"
    ):
        read_labelled(csv_file)
    assert [text for _, text in read_texts(txt)] == ["1\tone", "no tab here"]


# ---------------------------------------------------------------- features and classifier


@pytest.fixture(scope="module")
def toxigen_split():
    """A seeded, stratified-enough subsample: 3,000 train, 1,500 eval."""
    data = read_labelled(shared_data(*TOXIGEN_CSV))
    order = np.random.default_rng(0).permutation(len(data))
    pick = lambda idx: ([data.texts[i] for i in idx], [data.labels[i] for i in idx])  # noqa: E731
    return pick(order[:3000]), pick(order[3000:4500])


def test_features_equal_sklearn_tfidf_word_plus_char(toxigen_split):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    (train, _), (evaluation, _) = toxigen_split
    ours = TfidfFeatures.fit(train)
    tfidf = dict(sublinear_tf=True, min_df=2)
    union = FeatureUnion([
        ("word", TfidfVectorizer(ngram_range=(1, 2), **tfidf)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), **tfidf)),
    ]).fit(train)  # fmt: skip
    expected = union.transform(evaluation).tocsr()
    got = ours.transform(evaluation)
    assert got.shape == expected.shape
    assert abs(got - expected).max() < 1e-6
    char_vec = union.transformer_list[1][1]
    assert char_wb_ngrams("Hi  there, x!") == char_vec.build_analyzer()("Hi  there, x!")
    for i in (0, 7, 100):
        ids, vals = ours.transform_one(evaluation[i])
        assert np.allclose(expected[i].toarray()[0][ids], vals, atol=1e-6)
        assert len(ids) == expected[i].nnz


@pytest.mark.integration
def test_classifier_beats_majority_and_saved_model_scores_the_same(toxigen_split, tmp_path):
    (train, y_train), (evaluation, y_eval) = toxigen_split
    clf = TextClassifier.fit(train, y_train)
    scores = clf.score(evaluation)
    got = binary_metrics(y_eval, scores, clf.threshold)
    majority_acc = 1 - np.mean(y_eval)  # the majority class is non-toxic
    assert got["accuracy"] > majority_acc + 0.1
    assert got["f1"] > 0.6 and got["auroc"] > 0.8
    loaded = TextClassifier.load(clf.save(tmp_path / "m"))
    assert np.array_equal(loaded.score(evaluation), scores)
    assert loaded.threshold == clf.threshold
    one = [loaded.score_one(t) for t in evaluation[:50]]
    assert np.allclose(one, scores[:50], atol=1e-5)
    assert stat.S_IMODE((tmp_path / "m" / "weights.npz").stat().st_mode) == 0o600


@pytest.mark.integration
def test_minilm_features_load_offline_and_learn(toxigen_split):
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    (train, y_train), (evaluation, y_eval) = toxigen_split
    clf = TextClassifier.fit(train[:600], y_train[:600], features="minilm")
    got = binary_metrics(y_eval[:300], clf.score(evaluation[:300]), clf.threshold)
    assert got["auroc"] > 0.7
    assert 0.0 <= clf.score_one(evaluation[0]) <= 1.0


# ---------------------------------------------------------------- the command, end to end


def _write_jsonl(path, texts, labels):
    with path.open("w", encoding="utf-8") as handle:
        for text, label in zip(texts, labels, strict=True):
            handle.write(json.dumps({"text": text, "label": int(label)}) + "\n")


@pytest.mark.integration
def test_eval_mlp_command_end_to_end(toxigen_split, tmp_path):
    (train, y_train), (evaluation, y_eval) = toxigen_split
    _write_jsonl(tmp_path / "train.jsonl", train, y_train)
    _write_jsonl(tmp_path / "eval.jsonl", evaluation, y_eval)
    rng = random.Random(0)  # pure noise: random letter strings with coin-flip labels
    noise = [
        " ".join(
            "".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 8)))
            for _ in range(rng.randint(5, 20))
        )
        for _ in range(800)
    ]
    _write_jsonl(tmp_path / "noise.jsonl", noise, [rng.randint(0, 1) for _ in noise])
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["eval", "mlp", "--train", str(tmp_path / "train.jsonl"),
         "--eval", str(tmp_path / "eval.jsonl"), "--synthetic", f"noise={tmp_path / 'noise.jsonl'}",
         "--out", str(out), "--bootstrap", "500"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "F1 [95% CI]" in result.output and "real+noise" in result.output
    report = json.loads((out / "report.json").read_text())
    runs = {r["name"]: r for r in report["runs"]}
    assert list(runs) == ["real", "real+noise", "noise"]
    for row in runs.values():
        for key in ("precision", "recall", "f1", "accuracy", "macro_f1", "auroc"):
            lo, hi = row["intervals"][key]
            assert lo <= row[key] <= hi
    majority = report["majority_baseline"]
    assert runs["real"]["accuracy"] > majority["accuracy"] + 0.1
    assert runs["real"]["f1"] > majority["f1"] + 0.5
    # Pure noise must not come out significantly better; alone it is at chance and worse.
    assert not runs["real+noise"]["vs_real"]["significantly_better"], runs["real+noise"]
    assert runs["noise"]["vs_real"]["significantly_worse"]
    assert abs(runs["noise"]["auroc"] - 0.5) < 0.1
    assert report["latency_ms"]["p50"] > 0 and report["throughput_per_s"] > 0
    assert report["latency_ms"]["cpu_p50"] < report["latency_bound_ms"]
    png = (out / "f1.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert stat.S_IMODE((out / "report.json").stat().st_mode) == 0o600

    texts_file = tmp_path / "texts.jsonl"  # some ToxiGen texts hold newlines: not for .txt
    _write_jsonl(texts_file, evaluation[:20], y_eval[:20])
    classified = CliRunner().invoke(
        main, ["classify", str(out / "models" / "real"), str(texts_file)]
    )
    assert classified.exit_code == 0, classified.output
    rows = [json.loads(line) for line in classified.output.splitlines() if line.startswith("{")]
    expected = TextClassifier.load(out / "models" / "real").score(evaluation[:20])
    assert [r["index"] for r in rows] == list(range(20))
    assert np.allclose([r["score"] for r in rows], expected, atol=1e-6)


def test_bad_options_name_the_problem(tmp_path):
    runner = CliRunner()
    f = tmp_path / "a.jsonl"
    f.write_text('{"text": "x", "label": 1}\n', encoding="utf-8")
    result = runner.invoke(
        main,
        ["eval", "mlp", "--train", str(f), "--eval", str(f), "--out", str(tmp_path / "o"),
         "--synthetic", "real=x.jsonl", "--synthetic", "oops"],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "name 'real' is already used" in result.output and "expected NAME=FILE" in result.output
    missing = runner.invoke(main, ["classify", str(tmp_path), str(f)])
    assert missing.exit_code != 0 and "not a saved classifier" in missing.output


@pytest.mark.integration
def test_a_one_class_synthetic_set_only_augments(toxigen_split, tmp_path):
    """A weak generator may yield only harmful entries: real+NAME still runs, NAME alone is
    skipped with its reason (a classifier cannot learn from one class)."""
    from synthpack.evaluate.run import MlpEvalSettings, run_mlp_eval

    (train, y_train), (evaluation, y_eval) = toxigen_split
    _write_jsonl(tmp_path / "train.jsonl", train[:600], y_train[:600])
    _write_jsonl(tmp_path / "eval.jsonl", evaluation[:300], y_eval[:300])
    harmful = [t for t, y in zip(train[600:], y_train[600:], strict=True) if y == 1][:50]
    _write_jsonl(tmp_path / "synth.jsonl", harmful, [1] * len(harmful))
    settings = MlpEvalSettings(
        tmp_path / "train.jsonl", tmp_path / "eval.jsonl",
        synthetic=(("synth", tmp_path / "synth.jsonl"),), n_boot=200,
    )  # fmt: skip
    report = run_mlp_eval(settings, tmp_path / "out")
    assert [r["name"] for r in report["runs"]] == ["real", "real+synth"]
    assert report["runs"][1]["train_size"] == report["runs"][0]["train_size"] + len(harmful)
    assert report["skipped_runs"] == [
        {"name": "synth", "reason": "synthetic-only run needs both labels: only label 1"}
    ]


# ---------------------------------------------------------------- cross-validated threshold


def test_folds_are_stratified_and_cover_every_row():
    from synthpack.models.classifier.mlp import stratified_folds

    y = np.array([1] * 23 + [0] * 77, dtype=np.float32)
    fold_of = stratified_folds(y, 5, np.random.default_rng(0))
    assert sorted(set(fold_of.tolist())) == [0, 1, 2, 3, 4]
    for fold in range(5):
        members = y[fold_of == fold]
        assert 19 <= len(members) <= 21 and 4 <= members.sum() <= 5


@pytest.mark.integration
def test_fit_with_folds_trains_on_all_real_texts_and_tunes_on_out_of_fold_scores(toxigen_split):
    """The final model sees every real text plus the extra rows, trains for the median of the
    folds' best epochs, and its threshold is the F1-best one on the out-of-fold real scores."""
    from synthpack.models.classifier.mlp import MLPConfig

    (train, y_train), (evaluation, y_eval) = toxigen_split
    pool, y_pool = train[:400], np.asarray(y_train[:400], dtype=np.float32)
    extra, y_extra = train[400:500], np.asarray(y_train[400:500], dtype=np.float32)
    config = MLPConfig(folds=4)
    clf = TextClassifier.fit_with_folds(pool, y_pool, extra, y_extra, config=config)
    info = clf.info
    assert info["n_train"] == 500 and info["n_val"] == 0
    out_of_fold, epochs = TextClassifier.out_of_fold_scores(
        pool, y_pool, extra, y_extra, "tfidf", config
    )  # the fold models are seeded: the same scores again
    assert info["fold_best_epochs"] == epochs and len(epochs) == 4
    assert info["best_epoch"] == info["epochs_run"] == max(1, round(float(np.median(epochs))))
    assert clf.threshold == best_f1_threshold(y_pool, out_of_fold) != 0.5
    assert info["out_of_fold_auroc"] == auroc(y_pool, out_of_fold) > 0.7
    assert binary_metrics(y_eval, clf.score(evaluation), clf.threshold)["auroc"] > 0.75
    alone = TextClassifier.fit_with_folds(
        pool, y_pool, extra, y_extra, train_on_pool=False, config=config
    )
    # The real pool only judges: all 400 texts choose the epoch and the threshold.
    assert alone.info["n_train"] == 100 and alone.info["n_val"] == 400


def test_fit_with_folds_needs_enough_texts_of_each_label():
    from synthpack.models.classifier.mlp import MLPConfig

    texts, labels = ["a b", "c d", "e f", "g h", "i j", "k l"], [1, 1, 0, 0, 0, 0]
    with pytest.raises(SynthpackError, match="3-fold threshold tuning needs at least 3 real texts"):
        TextClassifier.fit_with_folds(texts, labels, config=MLPConfig(folds=3))
