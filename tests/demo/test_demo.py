"""`synthpack demo` and `synthpack report`: a reduced Algorithm 1 end to end on SmolLM2."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import stat
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from card_checks import check_card
from click.testing import CliRunner
from conftest import FIXTURES, SHARED_DATA

from synthpack.cli import main
from synthpack.common.errors import SynthpackError
from synthpack.demo.pipeline import EVAL_DOMAINS, STEPS, parse_steps, run_demo
from synthpack.demo.recipes import load_recipe
from synthpack.models.classifier.features import FEATURE_KINDS
from synthpack.prepare.real_data import find_data

# The quick recipe (SmolLM2) at a fraction of its size: every step runs for real.
REDUCED = replace(
    load_recipe("quick"),
    prompts_per_polarity=3,
    n_entries=6,
    sft_per_class=8,
    train_steps=2,
    cutoff_len=384,
    max_new_tokens=96,
    real_train=400,
    real_eval=300,
    stereoset_examples=9,
)


def _quiet(*_args, **_kwargs) -> None:
    pass


def test_steps_parse_as_lists_and_ranges():
    assert parse_steps(None) == list(STEPS)
    assert parse_steps("sft,render") == ["render", "sft"]
    assert parse_steps("train-clean") == ["train", "generate", "clean"]
    with pytest.raises(SynthpackError, match="Unknown demo step 'trian'. Available: prepare"):
        parse_steps("trian")


@pytest.mark.integration
def test_without_shared_data_the_demo_uses_the_shipped_seeds(tmp_path):
    data = find_data(tmp_path / "nothing-here")
    assert data.toxigen is None and data.stereoset is None
    run_demo(tmp_path / "run", REDUCED, steps="render-sft", data_dir=tmp_path, echo=_quiet)
    run_demo(tmp_path / "run", REDUCED, steps="prepare", data_dir=tmp_path, echo=_quiet)
    settings = json.loads((tmp_path / "run" / "settings.json").read_text())
    assert settings["data"]["seeds"] == "synthpack's shipped demo seeds"
    rows = [json.loads(x) for x in (tmp_path / "run" / "data" / "real_eval.jsonl").open()]
    assert {r["label"] for r in rows} == {0, 1}
    prompts = (tmp_path / "run" / "prompts" / "all.jsonl").read_text().splitlines()
    assert len(prompts) == 2 * REDUCED.prompts_per_polarity


def test_a_step_needing_an_earlier_one_names_it(tmp_path):
    with pytest.raises(SynthpackError, match="needs the outputs of .*'sft'.*--steps .*sft"):
        run_demo(tmp_path / "run", REDUCED, steps="train", data_dir=tmp_path, echo=_quiet)


def test_other_settings_in_the_same_folder_are_refused(tmp_path):
    run_demo(tmp_path / "run", REDUCED, steps="render", data_dir=tmp_path, echo=_quiet)
    bigger = replace(REDUCED, prompts_per_polarity=4)
    with pytest.raises(SynthpackError, match="other settings"):
        run_demo(tmp_path / "run", bigger, steps="render", data_dir=tmp_path, echo=_quiet)
    run_demo(tmp_path / "run", bigger, steps="render", data_dir=tmp_path, force=True, echo=_quiet)


@pytest.mark.integration  # its prepare step converts SmolLM2's GGUF (about 17 s)
def test_the_real_training_texts_can_seed_prompts_and_sft_in_another_version(tmp_path):
    """seeds="real_train": few-shot examples and SFT answers come from the classifier's real
    training texts (never its evaluation texts), in the template version asked for."""
    size = replace(REDUCED, seeds="real_train", version="v2")
    run = tmp_path / "run"
    run_demo(run, size, steps="prepare-sft", echo=_quiet)
    train = [json.loads(x) for x in (run / "data" / "real_train.jsonl").open()]
    held_out = {json.loads(x)["text"] for x in (run / "data" / "real_eval.jsonl").open()}
    by_label = {y: {" ".join(r["text"].split()) for r in train if r["label"] == y} for y in (0, 1)}
    prompts = [json.loads(x) for x in (run / "prompts" / "all.jsonl").open()]
    assert {p["version"] for p in prompts} == {"v2"}
    for prompt in prompts:
        pool = by_label[1 if prompt["polarity"] == "pos" else 0]
        assert set(prompt["examples"]) <= pool and not set(prompt["examples"]) & held_out
    records = json.loads(next((run / "sft").rglob("*train*.json")).read_text())
    answers = {line.split(". ", 1)[1] for r in records for line in r["output"].splitlines()}
    assert answers <= by_label[0] | by_label[1]
    with pytest.raises(SynthpackError, match="'real_trian'. Did you mean: real_train"):
        replace(REDUCED, seeds="real_trian")
    with pytest.raises(SynthpackError, match="Unknown generator 'gemma3'. Did you mean"):
        replace(REDUCED, generator="gemma3")


@pytest.mark.slow
def test_reduced_demo_end_to_end(tmp_path, smollm2):
    """Every step for real, then a resume that reuses all of them, then `synthpack report`."""
    run_dir = tmp_path / "demo"
    lines: list[str] = []
    # The full copies in ../shared/data when there, else (a fresh clone) the shipped subset.
    data = SHARED_DATA if SHARED_DATA.exists() else None
    records = run_demo(run_dir, REDUCED, data_dir=data, echo=lambda m, **k: lines.append(m))
    assert [r["step"] for r in records] == list(STEPS)
    assert all(r["status"] == "ran" for r in records)
    assert any(line.startswith("total") for line in lines)
    # the results table: numbers only, one row per polarity and per classifier run
    screen = "\n".join(lines)
    assert re.search(r"^polarity\s+success\s+pass %\s+dup %\s+kept$", screen, re.M)
    for kind, domain in itertools.product(FEATURE_KINDS, EVAL_DOMAINS):
        head = rf"^{kind} on {domain} \(\d+\)\s+train\s+F1 \[95% CI\]\s+AUROC\s+dF1\s+p\s+dAUROC"
        assert re.search(head, screen, re.M), (kind, domain)
    assert re.search(
        r"^real\s+\d+\s+[0-9.]+ \[[0-9.]+, [0-9.]+\]\s+[0-9.]+\s+baseline", screen, re.M
    )
    assert re.search(r"^latency per text\s+p50 ms\s+p99 ms\s+p99 <= 10 ms$", screen, re.M)
    for kind in FEATURE_KINDS:
        assert re.search(rf"^{kind}\s+[0-9.]+\s+[0-9.]+\s+(yes|NO)$", screen, re.M), kind

    summary = json.loads((run_dir / "summary.json").read_text())
    generation = summary["generation"]
    assert generation["entries_parsed"] == generation["accepted"] + generation["rejected"]
    assert generation["entries_parsed"] > 0 and generation["tokens_per_s"] > 0
    assert set(generation["by_polarity"]) == {"pos", "neg"}
    assert list(summary["classifier"]) == list(FEATURE_KINDS)
    for kind, c in summary["classifier"].items():
        assert list(c["domains"]) == list(EVAL_DOMAINS)
        for domain, d in c["domains"].items():
            names = [r["name"] for r in d["runs"]] + [r["name"] for r in c["skipped_runs"]]
            assert sorted(names) == sorted(
                ["real", "real+synthetic", "synthetic", "real+checked", "checked"]
            )
            assert all(0.0 <= r["f1"] <= 1.0 for r in d["runs"])
            assert d["verdict"].startswith("Against real data alone")
            assert f"{kind} on {domain}: {d['verdict']}" in lines
    assert summary["classifier"]["minilm"]["embeddings"]["texts_embedded"] > 0
    check = summary["label_check"]
    assert check["read"] == generation["accepted"] == check["kept"] + check["rejected"]
    assert check["checker_training"]["n_train"] + check["checker_training"]["n_val"] <= 400
    info = json.loads((run_dir / "dataset_info.json").read_text())
    assert {"hate_v1_synthetic", "hate_v1_sft_train"} <= set(info)
    check_card(run_dir / "generations")
    _, card = check_card(run_dir / "label_check")  # the registered set: the checked entries
    assert "registered as `hate_v1_synthetic`" in card
    assert "## Label check" in card

    for sensitive in ("raw.jsonl", "accepted.jsonl", "rejected.jsonl"):
        mode = stat.S_IMODE((run_dir / "generations" / sensitive).stat().st_mode)
        assert mode == 0o600, sensitive

    html = (run_dir / "report.html").read_text()
    for section in ('id="steps"', 'id="generation"', 'id="label-check"', 'id="classifier"',
                    'id="stereoset"'):  # fmt: skip
        assert section in html
    assert html.count("data:image/png;base64,") >= 5
    assert set(summary["stereoset"]) == {"base", "tuned"}  # both data sources have StereoSet
    assert "Not run (step stereoset" not in html
    accepted = [json.loads(x)["text"] for x in (run_dir / "generations" / "accepted.jsonl").open()]
    assert not any(text in html for text in accepted if len(text) > 20), "no samples in reports"

    again = run_demo(run_dir, REDUCED, data_dir=data, echo=_quiet)
    assert all(r["status"] == "reused" for r in again)

    (run_dir / "report.html").unlink()
    result = CliRunner().invoke(main, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    table = screen[screen.index("polarity") : screen.index("outputs in")].strip()
    assert table in result.output  # `synthpack report` prints the same results table
    assert (run_dir / "report.html").read_text().count('id="classifier"') == 1

    screenshot_in_chromium(run_dir / "report.html", tmp_path / "report.png")


def screenshot_in_chromium(html: Path, png: Path) -> None:
    """Render the page in a real headless browser and check that it drew something."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("chromium not installed (apt-get install chromium): screenshot check skipped")
        return
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--screenshot={png}", "--window-size=1100,2600", html.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    from PIL import Image

    image = Image.open(png).convert("L")
    low, high = image.getextrema()
    assert image.size == (1100, 2600)
    assert high - low > 100, "the screenshot is blank"
    dark = sum(image.histogram()[:128]) / (image.size[0] * image.size[1])
    assert dark > 0.005, "almost nothing drawn"


@pytest.mark.integration
def test_label_check_and_classifier_steps_on_the_shipped_data(tmp_path):
    """The steps after cleaning, for real, on real SmolLM2 answers (the fixtures) and the
    shipped ToxiGen subset: the checker never sees the evaluation texts, the four runs of the
    issue are compared on F1 and AUROC, and the verdict opens the report's classifier section."""
    from synthpack.clean.run import CleanSettings, run_clean
    from synthpack.common.step import run_step
    from synthpack.generate.run import GenerateSettings, run_generate

    run_dir = tmp_path / "run"
    size = replace(REDUCED, real_train=600, real_eval=1000, label_check_threshold=0.3)
    # prepare runs for real (the model folder is not needed by the steps after cleaning);
    # generate and clean read real SmolLM2 answers instead of writing them.
    run_demo(run_dir, size, steps="prepare", model_dir=tmp_path / "unused", echo=_quiet)
    prompts, generations = FIXTURES / "smollm2_hate_prompts.jsonl", run_dir / "generations"
    answers = FIXTURES / "smollm2_hate_predictions.jsonl"
    run_step(run_generate, GenerateSettings(prompts, predictions=answers), generations)
    against = (run_dir / "data" / "real_train.jsonl",)
    run_step(run_clean, CleanSettings(generations, prompts, against=against), generations)
    lines: list[str] = []
    records = run_demo(
        run_dir,
        size,
        steps="label_check,eval_mlp,report",
        model_dir=tmp_path / "unused",
        echo=lambda m, **k: lines.append(m),
    )
    assert [r["status"] for r in records] == ["ran"] * 3

    report = json.loads((run_dir / "label_check" / "report.json").read_text())
    check = report["label_check"]
    accepted = (run_dir / "generations" / "accepted.jsonl").read_text().splitlines()
    assert check["read"] == len(accepted) == check["kept"] + check["rejected"]
    cleaned = json.loads((run_dir / "generations" / "report.json").read_text())
    assert report["accepted"] == check["kept"]  # the checked set's counts still add up
    assert report["entries_parsed"] == cleaned["entries_parsed"]
    assert report["accepted"] + report["rejected"] == cleaned["entries_parsed"]
    assert report["rejected_by_reason"]["label_disagrees"] == check["rejected"]
    check_card(run_dir / "label_check")
    assert check["threshold"] == 0.3 and check["rejected"] > 0
    training = check["checker_training"]
    assert training["n_train"] + training["n_val"] == 600  # real_train only
    assert training["dropped_excluded"] == 0  # the shipped train and eval share no text
    rejected = [json.loads(x) for x in (run_dir / "label_check" / "rejected.jsonl").open()]
    cleaning_rejects = (run_dir / "generations" / "rejected.jsonl").read_text().splitlines()
    disagreeing = [r for r in rejected if r["reason"] == "label_disagrees"]
    assert len(disagreeing) == check["rejected"]  # the cleaning's rejects, then the check's
    assert len(rejected) == len(cleaning_rejects) + len(disagreeing) == report["rejected"]

    html = (run_dir / "report.html").read_text()
    transfer = (run_dir / "data" / "transfer_eval.jsonl").read_text().splitlines()
    for kind in FEATURE_KINDS:  # one comparison per feature kind, each on both domains
        mlp = json.loads((run_dir / "eval_mlp" / kind / "report.json").read_text())
        assert mlp["features"] == kind and mlp["eval_name"] == EVAL_DOMAINS[0]
        names = [r["name"] for r in mlp["runs"]] + [r["name"] for r in mlp["skipped_runs"]]
        assert names[:2] == ["real", "real+synthetic"] and "real+checked" in names
        assert mlp["data"]["eval"]["n"] == 1000
        other = mlp["extra_eval"][EVAL_DOMAINS[1]]
        assert other["n"] == len(transfer) == 1000 and other["n_harmful"] == 500
        for section in (mlp, other):
            for row in section["runs"][1:]:
                assert {"auroc_delta", "auroc_p_better", "auroc_p_worse"} <= set(row["vs_real"])
            assert any(line.endswith(section["verdict"]) for line in lines)
            assert html.index(section["verdict"]) > html.index('id="classifier"')
    assert (mlp["embeddings"] or {}).get("texts_embedded", 0) > 2000
    assert 'id="label-check"' in html
    assert not any(json.loads(x)["text"] in html for x in accepted), "no samples in reports"
