"""`synthpack eval debias`: the metric maths by hand, and a real ParaDetox run."""

from __future__ import annotations

import csv
import json
import math

import pytest
from click.testing import CliRunner
from conftest import shared_data

from synthpack.cli import main
from synthpack.common.errors import SynthpackError
from synthpack.evaluate.debias import metrics as debias
from synthpack.models.embeddings import minilm_model_path
from synthpack.models.toxicity import load_toxicity_scorer, unsafe_index


def test_gender_coded_terms_follow_gender_decoder_rules():
    lists = debias.load_wordlists(shared_data("gender_decoder", "wordlists.json"))
    text = (
        "We seek a competitive, self-reliant leader; supportive and co-operative. "
        "SharePoint skills. Interpersonal sensitivity, well-known café."
    )
    # feminine: support, co-operat (hyphen kept), interpersonal + interpersona (one token
    # counts once per stem it starts with), sensitiv = 5; "sharepoint" is an exception.
    # masculine: compet, self-relian (hyphen kept), lead = 3.
    assert debias.gender_coded(text, lists) == {
        "feminine": 5,
        "masculine": 3,
        "terms": 8,
        "score": 2,
    }
    tokens = debias.coded_tokens(text, lists["hyphenated_coded_words"])
    assert "well" in tokens and "known" in tokens and "caf" in tokens  # split; non-ASCII -> space


def test_retention_clen_and_ttest_by_hand():
    original = "John paid 300 dollars for the broken bike in Paris."
    # items: john, paid, 300, dolla(rs), broke(n), bike, paris -> 7; the rewrite keeps 4.
    assert debias.content_items(original) == {
        "john", "paid", "300", "dolla", "broke", "bike", "paris"
    }  # fmt: skip
    assert debias.retention(original, "John spent 300 dollars on a bike.") == pytest.approx(4 / 7)
    assert debias.retention("It is what it is.", "Fine.") is None  # nothing to keep

    # lengths 3, 2, 3 -> p = (2/3, 1/3); H / ln 2
    h = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
    assert debias.clen(["One two three. One two.", "A b c."]) == pytest.approx(h / math.log(2))
    assert debias.clen(["Same length here.", "Also three words."]) == 0.0

    test = debias.one_sample_ttest([1.0, 2.0, 3.0, 4.0], 0.0)
    # mean 2.5, sd 1.291, t = 2.5 / (1.291 / 2) = 3.873
    assert test["mean"] == 2.5 and test["t"] == pytest.approx(3.8730, abs=1e-4)
    assert 0.02 < test["p"] < 0.04
    assert debias.one_sample_ttest([1.0, 1.0], 0.0)["t"] is None


def test_review_sheet_is_blind_and_complete():
    pairs = [debias.Pair(str(i), f"orig {i}", f"rew {i}") for i in range(150)]
    sheet, key = debias.review_sheet(pairs, size=100, seed=3)
    assert len(sheet) == len(key) == 200
    assert set(sheet[0]) == set(debias.REVIEW_COLUMNS)  # no model, side or pair columns
    assert {k["side"] for k in key} == {"original", "rewrite"}
    sides = [k["side"] for k in key[:20]]
    assert sides != ["original", "rewrite"] * 10  # shuffled, not interleaved
    by_item = {row["item"]: row["text"] for row in sheet}
    for k in key:
        pair = pairs[int(k["pair_id"])]
        assert by_item[k["item"]] == (pair.original if k["side"] == "original" else pair.rewrite)


def test_bad_pairs_and_classifier_inputs(tmp_path):
    bad = tmp_path / "pairs.jsonl"
    bad.write_text('{"original": "a", "rewrite": "b"}\n{"original": "c"}\nnot json\n')
    with pytest.raises(SynthpackError) as err:
        debias.load_pairs(bad)
    assert "pairs.jsonl:2: rewrite: missing" in str(err.value)
    assert "pairs.jsonl:3: not valid JSON" in str(err.value)

    assert unsafe_index({0: "neutral", 1: "toxic"}, None) == 1
    assert unsafe_index({0: "toxic", 1: "severe_toxic", 2: "insult"}, None) == 0
    assert unsafe_index({0: "LABEL_0", 1: "LABEL_1"}, None) == 1
    with pytest.raises(SynthpackError, match="Unknown label 'hateful'. Available: a, b"):
        unsafe_index({0: "a", 1: "b"}, "hateful")
    with pytest.raises(SynthpackError, match="not a toxicity classifier"):
        load_toxicity_scorer(tmp_path)


def test_a_pairs_tsv_without_its_header_row_never_shows_its_texts(tmp_path):
    texts = [f"sentence {i} standing in for a generated harmful text" for i in range(4)]
    path = tmp_path / "pairs.tsv"
    path.write_text(f"{texts[0]}\t{texts[1]}\n{texts[2]}\t{texts[3]}\n")
    with pytest.raises(SynthpackError) as err:
        debias.load_pairs(path)
    message = str(err.value)
    assert "standing in for" not in message
    assert message.startswith(f"{path}: 2 problem(s) in 1 row(s):\n")  # both fields of line 2
    assert f"{path}:2: original: missing (the first row does not look like a header" in message


def _paradetox_rows():
    with shared_data("paradetox", "paradetox.tsv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.fixture(scope="module")
def toxicity_classifier(tmp_path_factory):
    """A real HF sequence classifier: the offline all-MiniLM-L6-v2 encoder with a logistic-
    regression head fitted on ParaDetox rows that the evaluation below never sees (the last
    250 rows; the test scores the first 60)."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from transformers import AutoTokenizer, BertForSequenceClassification

    rows = _paradetox_rows()[-250:]
    texts = [r["toxic"] for r in rows] + [r["neutral1"] for r in rows]
    labels = [1] * len(rows) + [0] * len(rows)
    path = minilm_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = BertForSequenceClassification.from_pretrained(
        path, num_labels=2, id2label={0: "neutral", 1: "toxic"}, label2id={"neutral": 0, "toxic": 1}
    ).eval()
    features = []
    with torch.no_grad():
        for start in range(0, len(texts), 64):
            enc = tokenizer(texts[start : start + 64], padding=True, truncation=True,
                            max_length=256, return_tensors="pt")  # fmt: skip
            features.append(model.bert(**enc).pooler_output)
    head = LogisticRegression(max_iter=2000).fit(torch.cat(features).numpy(), labels)
    with torch.no_grad():  # softmax([0, w.x + b]) is the logistic regression's probability
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()
        model.classifier.weight[1] = torch.tensor(head.coef_[0])
        model.classifier.bias[1] = float(head.intercept_[0])
    out = tmp_path_factory.mktemp("toxicity-minilm")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.mark.slow
def test_paradetox_toxic_originals_score_more_unsafe_than_rewrites(
    toxicity_classifier, smollm2, tmp_path
):
    data = shared_data("paradetox", "paradetox.tsv")
    out = tmp_path / "debias"
    result = CliRunner().invoke(
        main,
        ["eval", "debias", "--pairs", str(data), "--original-field", "toxic",
         "--rewrite-field", "neutral1", "--limit", "60", "--toxicity", str(toxicity_classifier),
         "--reference-lm", str(smollm2), "--wordlists",
         str(shared_data("gender_decoder", "wordlists.json")), "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    rows = [json.loads(line) for line in (out / "pairs.jsonl").read_text().splitlines()]
    assert report["pairs"] == len(rows) == 60

    safety = report["safety"]
    # Measured here (2026-11-23): 43.3% -> 11.7% unsafe, 52 of 60 pairs lower after; the
    # bounds leave room for a few flips on other CPUs, far from chance (0 points, 50%).
    assert safety["unsafe_percent_before"] >= safety["unsafe_percent_after"] + 20, safety
    assert sum(r["unsafe_before"] > r["unsafe_after"] for r in rows) >= 0.75 * len(rows)
    assert safety["ttest_change_vs_0"]["t"] < 0 and safety["ttest_change_vs_0"]["p"] < 0.001
    # The neutral paraphrases keep the content: high similarity, most content words kept.
    assert report["similarity"]["mean_cosine"] > 0.6, report["similarity"]
    assert report["retention"]["percent"] > 50
    ppl = report["perplexity"]
    assert 1 < ppl["before"] < 1e5 and 1 < ppl["after"] < 1e5
    assert 0 <= report["style"]["clen_before"] <= 1
    assert report["gender_coded_terms"]["per_text_before"] >= 0

    sheet = list(csv.DictReader((out / "review_sheet.csv").open()))
    assert len(sheet) == 120 and list(sheet[0]) == debias.REVIEW_COLUMNS
    assert (out / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("report.json", "pairs.jsonl", "review_sheet.csv", "review_key.csv", "chart.png"):
        assert (out / name).stat().st_mode & 0o777 == 0o600, name
    assert "unsafe %" in result.output


@pytest.mark.slow
def test_rewrites_generated_with_a_model(toxicity_classifier, tiny_model, tmp_path):
    """--texts + --model: the model writes the rewrites (greedy) that are then evaluated."""
    texts = tmp_path / "posts.txt"
    texts.write_text("You people are all lazy.\n\nThe new manager is a woman, so expect chaos.\n")
    out = tmp_path / "gen"
    args = ["eval", "debias", "--texts", str(texts), "--model", str(tiny_model),
            "--max-new-tokens", "6", "--toxicity", str(toxicity_classifier),
            "--no-perplexity", "--no-similarity", "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rewrites = [json.loads(line) for line in (out / "rewrites.jsonl").read_text().splitlines()]
    assert [r["original"] for r in rewrites] == texts.read_text().split("\n")[::2][:2]
    assert (out / "rewrites.jsonl").stat().st_mode & 0o777 == 0o600
    report = json.loads((out / "report.json").read_text())
    assert report["pairs"] == 2 and "similarity" not in report and "perplexity" not in report

    bad = CliRunner().invoke(main, ["eval", "debias", "--texts", str(texts), "--toxicity",
                                    str(toxicity_classifier)])  # fmt: skip
    assert bad.exit_code != 0 and "--texts needs --model" in bad.output


@pytest.mark.slow
def test_synthpack_mlp_classifier_plugs_in(tmp_path):
    """The classifier `synthpack eval mlp` saves loads through the same seam (issue 6)."""
    from synthpack.models.classifier.mlp import TextClassifier

    rows = _paradetox_rows()
    train, held_out = rows[-400:], rows[:60]
    texts = [r["toxic"] for r in train] + [r["neutral1"] for r in train]
    model = TextClassifier.fit(texts, [1] * len(train) + [0] * len(train))
    model.save(tmp_path / "mlp")
    scorer = load_toxicity_scorer(tmp_path / "mlp")
    before = scorer([r["toxic"] for r in held_out])
    after = scorer([r["neutral1"] for r in held_out])
    assert "synthpack MLP" in scorer.name and len(before) == len(after) == 60
    # Ordering, not the 0.5 cut: with 800 short training texts the MLP stays close to 0.5.
    assert sum(b > a for b, a in zip(before, after, strict=True)) >= 0.7 * len(held_out)


@pytest.mark.integration
@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_a_model_rewrites_at_the_users_precision_and_a_stopped_run_resumes(
    tiny_model, tmp_path, precision
):
    """`auto` is bf16 on a CPU with native bf16: the rewriting path runs at both precisions
    (it once died at bf16 with a dtype mismatch), and a rerun after a stop keeps the finished
    batches and writes exactly what an uninterrupted run writes."""
    from synthpack.evaluate.debias.run import rewrite_texts
    from synthpack.models.precision import resolve_precision

    originals = [(str(i), f"post number {i} is rude") for i in range(5)]
    chosen = resolve_precision(precision)
    partial = tmp_path / "rewrites.partial.jsonl"
    full = rewrite_texts(originals, tiny_model, None, "general", 2, 6, precision=chosen,
                         partial=partial)  # fmt: skip
    assert [p.original for p in full] == [t for _, t in originals]
    rows = [json.loads(line) for line in partial.read_text().splitlines()]
    assert len(rows) == 5
    # A stop after the first batch of two, mid-way through writing the second: the finished
    # batch is kept (a marked rewrite shows it is not redone), the torn line is redone.
    kept = [{**rows[0], "rewrite": "KEPT"}, rows[1]]
    partial.write_text("".join(json.dumps(r) + "\n" for r in kept) + '{"id": "2", "orig')
    resumed = rewrite_texts(originals, tiny_model, None, "general", 2, 6, precision=chosen,
                            partial=partial)  # fmt: skip
    assert resumed[0].rewrite == "KEPT"
    assert [p.rewrite for p in resumed[1:]] == [p.rewrite for p in full[1:]]
