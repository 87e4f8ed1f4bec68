"""StereoSet scorer (against the authors' GPT-2 figures) and causal-LM sentence scoring."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import shared_data

from synthpack.cli import main
from synthpack.common.errors import SynthpackError
from synthpack.common.metrics import paired_difference
from synthpack.common.paths import pack_dir
from synthpack.evaluate import stereoset
from synthpack.models.scoring import encode, prefix_ids, score_texts


def _example(eid, target, domain, split="intrasentence"):
    ids = {g: f"{eid}-{g}" for g in stereoset.GOLD_LABELS}
    return stereoset.Example(eid, split, target, domain, "ctx", ids, {g: g for g in ids})


def _scores(eid, pro, anti, unrelated):
    return {f"{eid}-stereotype": pro, f"{eid}-anti-stereotype": anti, f"{eid}-unrelated": unrelated}


def test_hand_computed_macro_average_and_ties():
    # target A: 3 examples; B: 1 example. A tie between stereotype and anti counts as "anti".
    examples = [_example(f"a{i}", "A", "race") for i in range(3)] + [_example("b0", "B", "gender")]
    scores = {
        **_scores("a0", 0.9, 0.1, 0.0),  # pro; both beat unrelated
        **_scores("a1", 0.5, 0.5, 0.6),  # tie -> anti; neither beats unrelated
        **_scores("a2", 0.2, 0.3, 0.25),  # anti; only anti beats unrelated
        **_scores("b0", 0.7, 0.1, 0.4),  # pro; only pro beats unrelated
    }
    section = stereoset.evaluate({"intrasentence": examples}, scores)["intrasentence"]
    # A: SS 1/3 = 33.33, LMS 3/6 = 50; B: SS 100, LMS 50. Macro means: SS 66.67, LMS 50.
    assert section["ss"] == pytest.approx((100 / 3 + 100) / 2)
    assert section["lms"] == pytest.approx(50.0)
    assert section["icat"] == pytest.approx(50.0 * (100 - section["ss"]) / 50)
    assert section["targets"] == 2 and section["examples"] == 4
    assert section["domains"]["gender"]["ss"] == pytest.approx(100.0)
    assert section["domains"]["gender"]["icat"] == pytest.approx(0.0)
    assert section["domains"]["race"]["lms"] == pytest.approx(50.0)


def _outcomes(pro, related, targets=None, start=0):
    n = len(pro)
    return stereoset.Outcomes(
        tuple(f"e{i}" for i in range(start, start + n)),
        tuple(targets or ["t"] * n),
        ("race",) * n,
        np.array(pro),
        np.array(related),
    )


def test_resampled_figures_by_hand():
    """Each resample is scored like the report: per target present, then the macro average."""
    examples = [_example(f"a{i}", "A", "race") for i in range(3)] + [_example("b0", "B", "gender")]
    scores = {
        **_scores("a0", 0.9, 0.1, 0.0),  # pro, related 2
        **_scores("a1", 0.5, 0.5, 0.6),  # tie -> anti, related 0
        **_scores("a2", 0.2, 0.3, 0.25),  # anti, related 1
        **_scores("b0", 0.7, 0.1, 0.4),  # pro, related 1
    }
    outcomes = stereoset.example_outcomes(examples, scores)
    assert list(outcomes.pro) == [1, 0, 0, 1] and list(outcomes.related) == [2, 0, 1, 1]
    idx = np.array([[0, 1, 2, 3], [0, 0, 0, 0], [1, 3, 1, 3]])
    samples = stereoset._figure_samples(outcomes, idx)
    # Row 0 is the data itself: the report's figures (SS 66.67, LMS 50, ICAT 33.33).
    # Row 1, only a0 (target B absent): SS 100, LMS 100, ICAT 0.
    # Row 2, a1 a1 b0 b0: A has SS 0 and LMS 0, B SS 100 and LMS 50: SS 50, LMS 25, ICAT 25.
    assert samples["ss"] == pytest.approx([200 / 3, 100, 50])
    assert samples["lms"] == pytest.approx([50, 100, 25])
    assert samples["icat"] == pytest.approx([100 / 3, 0, 25])
    assert stereoset.figures(outcomes) == stereoset.score_counts(
        stereoset.count_by_target(examples, scores)
    )


def test_intervals_by_hand():
    # Identical outcomes give the same figures on every resample: zero-width intervals.
    flat = _outcomes([1] * 6, [2] * 6, ["A", "B", "C"] * 2)
    assert stereoset.bootstrap_figures(flat) == {
        "lms": [100.0, 100.0], "ss": [100.0, 100.0], "icat": [0.0, 0.0]
    }  # fmt: skip
    # One target, one stereotype win and one loss: a resample of two holds 0, 1 or 2 wins with
    # probability 1/4, 1/2, 1/4, so SS spans [0, 100]; ICAT is 100 at SS 50 and 0 otherwise.
    split = _outcomes([1, 0], [2, 2])
    assert stereoset.bootstrap_figures(split) == {
        "lms": [100.0, 100.0], "ss": [0.0, 100.0], "icat": [0.0, 100.0]
    }  # fmt: skip
    # Seeded: the same seed gives the same interval, another seed another one.
    wide = _outcomes([1, 0, 0, 1, 1] * 20, [2, 1, 0, 2, 1] * 20, list("ABCD") * 25)
    first = stereoset.bootstrap_figures(wide, seed=0)
    assert stereoset.bootstrap_figures(wide, seed=0) == first
    assert stereoset.bootstrap_figures(wide, seed=1) != first
    assert first["ss"][0] < stereoset.figures(wide)["ss"] < first["ss"][1]


def test_paired_difference_counts_the_resamples_against_each_direction():
    # Differences -1, 0, 1, 2: not higher in 2 of 4 (p_higher 3/5), not lower in 3 (p_lower 4/5).
    result = paired_difference(0.5, [-1.0, 0.0, 1.0, 2.0], level=0.5)
    assert result == {"delta": 0.5, "interval": [-0.25, 1.25], "p_higher": 0.6, "p_lower": 0.8}


def test_paired_comparison_by_hand():
    base = _outcomes([1, 1, 0, 1] * 15, [2, 1, 2, 2] * 15, list("ABC") * 20)
    same = stereoset.compare(base, base, n_boot=300)
    assert same["examples"] == 60
    for key in ("lms", "ss", "icat", "ss_distance_from_50"):
        assert same[key] == {"delta": 0.0, "interval": [0.0, 0.0], "p_higher": 1.0,
                             "p_lower": 1.0}  # fmt: skip

    # A tuned model that keeps every meaningful-over-unrelated win but turns every stereotype
    # win into an anti-stereotype one: SS lower (and ICAT higher) on every resample, so p is
    # the least a +1 corrected bootstrap of 999 resamples gives, 1/1000.
    tuned = _outcomes([0] * 60, [2, 1, 2, 2] * 15, list("ABC") * 20)
    result = stereoset.compare(base, tuned, n_boot=999)
    points = stereoset.figures(base), stereoset.figures(tuned)
    assert points[1]["ss"] == 0.0 and points[1]["lms"] == points[0]["lms"]
    assert result["ss"]["delta"] == -points[0]["ss"] and result["lms"]["delta"] == 0.0
    assert result["ss"]["p_lower"] == 0.001 and result["ss"]["p_higher"] == 1.0
    assert result["lms"]["interval"] == [0.0, 0.0]
    assert result["ss"]["interval"][1] < 0
    # SS 75 -> 0 is no fairer: 25 points from 50 -> 50 points, and ICAT (LMS * 25 / 50 -> 0) falls.
    assert result["ss_distance_from_50"]["delta"] == pytest.approx(25.0)
    assert result["icat"]["delta"] == pytest.approx(-points[0]["icat"])
    assert result["icat"]["p_lower"] < 0.01

    # Lined up by example id, whatever the order; different examples are refused.
    assert stereoset.compare(base, tuned.take(list(range(60))[::-1]), n_boot=999) == result
    with pytest.raises(SynthpackError, match=r"different StereoSet examples .*second: e60"):
        stereoset.compare(base, _outcomes([0] * 60, [2] * 60, start=1))


def test_official_gpt2_figures():
    """The authors' GPT-2 predictions give the figures their scorer printed, to 4 decimals."""
    data = stereoset.load_stereoset(shared_data("stereoset", "dev.json"))
    scores = stereoset.load_predictions(
        shared_data("stereoset", "reference_predictions", "predictions_gpt2_ModelNSP_GPT2LM.json")
    )
    report = stereoset.evaluate(data, scores)
    expected = {  # issue 7 / SOURCE.md
        "intrasentence": (91.1149, 61.9315, 69.3722),
        "intersentence": (76.2646, 52.2785, 72.7892),
        "overall": (83.6521, 57.0308, 71.8893),
    }
    for section, (lms, ss, icat) in expected.items():
        got = report[section]
        assert (round(got["lms"], 4), round(got["ss"], 4), round(got["icat"], 4)) == (lms, ss, icat)

    # Every per-domain figure of the official printout for this model matches too.
    printed = _official_printout(
        shared_data("stereoset", "reference_predictions", "predictions.txt"),
        "predictions_gpt2_ModelNSP_GPT2LM.json",
    )
    assert len(printed) == 8  # 2 splits x 4 domains
    for (split, domain), (lms, ss, icat) in printed.items():
        got = report[split]["domains"][domain]
        assert got["lms"] == pytest.approx(lms, abs=1e-9)
        assert got["ss"] == pytest.approx(ss, abs=1e-9)
        assert got["icat"] == pytest.approx(icat, abs=1e-9)

    # Every block carries intervals around its figures; without resampling the figures are the
    # same floats and no block has intervals.
    plain = stereoset.evaluate(data, scores, n_boot=0)
    for section in expected:
        blocks = [(report[section], plain[section])]
        blocks += [(b, plain[section]["domains"][d]) for d, b in report[section]["domains"].items()]
        for boot, bare in blocks:
            assert "intervals" not in bare
            assert {k: v for k, v in boot.items() if k not in ("intervals", "domains")} == {
                k: v for k, v in bare.items() if k != "domains"
            }
            for key in stereoset.FIGURES:
                low, high = boot["intervals"][key]
                assert low <= boot[key] <= high
    low, high = report["intrasentence"]["intervals"]["ss"]
    assert 1.5 < (high - low) / 2 < 2.5  # about 1.96 * sqrt(0.62 * 0.38 / 2106) = 2.1 points


def _official_printout(path, model_file):
    """Per-domain (LMS, SS, ICAT) for one model from the official scorer's printed output."""
    block = path.read_text().split(f"Evaluating predictions/{model_file}...")[1]
    block = block.split("Evaluating ")[0]
    figures, split, domain = {}, None, None
    for line in block.splitlines():
        name = line.strip()
        if not line.startswith("\t") and name in stereoset.SPLITS:
            split = name
        elif line.startswith("\t") and not line.startswith("\t\t"):
            domain = name
        m = re.match(r"(LM|SS|ICAT) Score: (\S+)", name)
        if m and domain in stereoset.DOMAINS:
            figures.setdefault((split, domain), {})[m.group(1)] = float(m.group(2))
    return {k: (v["LM"], v["SS"], v["ICAT"]) for k, v in figures.items()}


def test_cli_scores_file_matches_and_bad_input(tmp_path):
    preds = shared_data(
        "stereoset", "reference_predictions", "predictions_gpt2_ModelNSP_GPT2LM.json"
    )
    dev = shared_data("stereoset", "dev.json")
    result = CliRunner().invoke(
        main,
        ["eval", "stereoset", "--data", str(dev), "--scores", str(preds), "--out", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    assert "intrasentence" in result.output and "91.11" in result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert round(report["overall"]["icat"], 4) == 71.8893
    low, high = report["intrasentence"]["intervals"]["lms"]
    assert f"91.11 [{low:.1f}, {high:.1f}]" in result.output
    assert stereoset.report_rows({"overall": {**report["overall"], "intervals": {}}})[0] == [
        "overall", "all", "83.65", "57.03", "71.89", "4229"
    ]  # a report without intervals  # fmt: skip

    # The per-example outcomes come back from the run's files, and give the report's figures.
    outcomes = stereoset.run_outcomes(tmp_path, "intersentence")
    assert len(outcomes) == 2123 and outcomes.ids[0] == data_ids(dev, "intersentence")[0]
    assert stereoset.figures(outcomes) == {
        k: v for k, v in report["intersentence"].items() if k not in ("intervals", "domains")
    }
    with pytest.raises(SynthpackError, match=r"Unknown StereoSet split 'overall'. Available"):
        stereoset.run_outcomes(tmp_path, "overall")
    with pytest.raises(SynthpackError, match=r"nowhere/report.json: not a StereoSet run's report"):
        stereoset.run_outcomes(tmp_path / "nowhere")
    assert (tmp_path / "report.json").stat().st_mode & 0o777 == 0o600

    # A predictions file lacking some sentence ids is refused, naming the file.
    doc = json.loads(preds.read_text())
    doc["intrasentence"] = doc["intrasentence"][5:]
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(doc))
    data = stereoset.load_stereoset(dev)
    with pytest.raises(SynthpackError, match=r"partial.json: no score for 5 sentence id"):
        partial_scores = stereoset.load_predictions(partial)
        stereoset.check_scores(data["intrasentence"], partial_scores, str(partial))

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"intrasentence": [{"id": "x"}]}))
    with pytest.raises(SynthpackError, match=r"bad.json: intrasentence\[0\]"):
        stereoset.load_predictions(bad)


def data_ids(path, split):
    return [item["id"] for item in json.loads(path.read_text())["data"][split]]


def test_loader_reports_broken_examples(tmp_path):
    dev = json.loads(shared_data("stereoset", "dev.json").read_text())
    broken = {"version": "x", "data": {"intrasentence": dev["data"]["intrasentence"][:3]}}
    broken["data"]["intrasentence"][1]["sentences"][0]["gold_label"] = "unrelated"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(SynthpackError, match=r"broken.json: data.intrasentence\[1\]"):
        stereoset.load_stereoset(path)


def test_batched_scores_equal_one_by_one(tiny_model):
    """Padding and length sorting change nothing; only the text's tokens are counted."""
    import torch

    from synthpack.models.backends import load_model

    model, tokenizer = load_model(tiny_model)
    texts = ["The nurse was kind.", "Hi", "A much longer sentence about the weather today."]
    texts += ["The nurse was rude.", "The nurse was"]  # prefixes shared with the first text
    contexts = [None, "Some context here.", None, None, None]
    batched = score_texts(model, tokenizer, texts, contexts, batch_size=3)
    single = score_texts(model, tokenizer, texts, contexts, batch_size=1)
    alone = [
        score_texts(model, tokenizer, [t], [c])[0] for t, c in zip(texts, contexts, strict=True)
    ]
    for a, b in zip(batched, alone, strict=True):  # no prefix shared with another text
        assert a.logprob == pytest.approx(b.logprob, abs=1e-4)
    for a, b in zip(batched, single, strict=True):
        assert a.tokens == b.tokens
        assert a.logprob == pytest.approx(b.logprob, abs=1e-4)

    # By hand for the context case: log p(text tokens | BOS + context).
    ids, n_text = encode(tokenizer, texts[1], contexts[1])
    assert ids[0] == tokenizer.bos_token_id
    assert n_text == len(tokenizer(" Hi", add_special_tokens=False).input_ids)
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids])).logits[0], -1)
    manual = sum(float(logp[p - 1, ids[p]]) for p in range(len(ids) - n_text, len(ids)))
    assert batched[1].logprob == pytest.approx(manual, abs=1e-4)
    assert batched[1].mean == pytest.approx(manual / n_text, abs=1e-4)
    assert all(math.isfinite(s.logprob) and s.logprob < 0 for s in batched)


def test_prefix_ids_name_equal_prefixes_alike():
    ids = prefix_ids([[1, 2, 3], [1, 2, 4], [1, 2], [2, 2, 3]])
    assert ids[0][:2] == ids[1][:2] == ids[2]
    assert ids[0][2] != ids[1][2]
    assert not set(ids[3]) & set(ids[0])  # same tokens after another start: other prefixes


def test_close_calls_are_the_examples_with_two_scores_within_the_margin():
    examples = [_example(i, "t", "race") for i in ("a", "b", "c")]
    scores = {**_scores("a", -2.0, -2.03, -5.0), **_scores("b", -2.0, -3.0, -4.0)}
    scores |= _scores("c", -4.0, -2.0, -4.04)  # the unrelated one is close to the stereotype
    close = stereoset.close_calls(examples, scores, margin=0.05)
    assert [e.id for e in close] == ["a", "c"]


def test_bf16_scoring_decides_close_calls_in_fp32_and_says_so(tiny_model, tmp_path):
    """bf16 matmuls for the bulk, fp32 for the comparisons rounding could turn: the figures
    equal an all-fp32 run's, and the report says how many examples were scored twice."""
    data = pack_dir("dataset_info") / "demo" / "stereoset" / "dev_intrasentence_300.json"
    runs = {
        precision: stereoset.run_stereoset(
            stereoset.StereoSetSettings(data, tiny_model, limit=40, precision=precision),
            tmp_path / precision,
        )
        for precision in ("fp32", "bf16")
    }
    assert runs["fp32"]["meta"]["dtype"] == "float32"
    assert runs["fp32"]["meta"]["close_calls_in_fp32"] == 0
    assert runs["bf16"]["meta"]["dtype"].startswith("bfloat16 matmuls")
    assert 0 < runs["bf16"]["meta"]["close_calls_in_fp32"] <= 40
    for key in ("lms", "ss", "icat"):
        assert runs["bf16"]["intrasentence"][key] == runs["fp32"]["intrasentence"][key]

    # Read back from each run's predictions.json, the two are the same model on the same 40
    # examples: the paired comparison finds no difference at all.
    base, other = (stereoset.run_outcomes(tmp_path / p) for p in ("fp32", "bf16"))
    assert len(base) == 40 and stereoset.figures(base)["ss"] == runs["fp32"]["intrasentence"]["ss"]
    result = stereoset.compare(base, other)
    assert result["icat"] == {"delta": 0.0, "interval": [0.0, 0.0], "p_higher": 1.0,
                              "p_lower": 1.0}  # fmt: skip


@pytest.mark.slow
def test_smollm2_on_a_stereoset_subset(smollm2, tmp_path):
    """The real model through the CLI: predictions file, report, and an LM that beats chance."""
    dev = shared_data("stereoset", "dev.json")
    out = tmp_path / "run"
    args = ["eval", "stereoset", "--data", str(dev), "--model", str(smollm2), "--limit", "24"]
    result = CliRunner().invoke(main, [*args, "--batch-size", "24", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    section = report["intrasentence"]
    assert section["examples"] == 24 and set(section["domains"]) <= set(stereoset.DOMAINS)
    # Meaningful sentences beat the unrelated one far more often than a coin would (LMS 50).
    assert section["lms"] > 65, section
    assert 0 <= section["ss"] <= 100 and 0 <= section["icat"] <= 100
    preds = json.loads((out / "predictions.json").read_text())
    assert len(preds["intrasentence"]) == 72

    # Re-scoring the saved predictions with --scores reproduces the report.
    again = tmp_path / "again"
    result = CliRunner().invoke(
        main,
        ["eval", "stereoset", "--data", str(dev), "--scores", str(out / "predictions.json"),
         "--split", "intrasentence", "--limit", "24", "--out", str(again)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rescored = json.loads((again / "report.json").read_text())["intrasentence"]
    assert rescored["lms"] == pytest.approx(section["lms"])
    assert rescored["ss"] == pytest.approx(section["ss"])
