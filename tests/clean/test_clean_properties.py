"""Property tests: for any prompts/predictions pair the counts add up and no generation vanishes.

Hypothesis writes prompts with any accepted polarity spelling and predictions made of any mix
of numbering styles, scripts, junk, invisible and control characters; the real readers and
the real generate (reading predictions) and clean runners on them.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthpack.clean.pipeline import clean_generations
from synthpack.clean.run import CleanSettings, run_clean
from synthpack.common.labels import LABEL, NEGATIVE_WORDS, POSITIVE_WORDS, polarity_of
from synthpack.generate.run import GenerateSettings, run_generate

WORDS = st.sampled_from(
    ["they", "people", "all", "should", "leave", "我们", "他们", "骗子", "लोग", "देश", "люди",
     "страна", "$$", "2djs", "I'm sorry", "http://x", "Here are", "\u200b", "\x00", "\u202e",
     "\ufeff", "ok.", "!!!!", "\t", "”", "...", "10."]
)  # fmt: skip
NUMBERS = st.sampled_from(
    ["{n}. ", "{n}) ", "{n}、", "**{n}.** ", "- ", "", "I. ", "一、", "#{n} "]
)
LINE = st.tuples(NUMBERS, st.lists(WORDS, max_size=12)).map(lambda t: (t[0], " ".join(t[1])))
OUTPUT = st.one_of(
    st.lists(LINE, max_size=25).map(
        lambda lines: "\n".join(f.format(n=i + 1) + text for i, (f, text) in enumerate(lines))
    ),
    st.text(max_size=300),  # anything at all, surrogates aside
)
POLARITY = st.sampled_from(sorted(POSITIVE_WORDS | NEGATIVE_WORDS) + [1, 0, True, False])
PROMPT = st.fixed_dictionaries(
    {
        "polarity": POLARITY,
        "n_entries": st.integers(1, 40),
        "examples": st.lists(st.sampled_from(["they should leave", "我们应该走"]), max_size=2),
        "stopped": st.sampled_from([True, False, None]),
        "output": OUTPUT,
    }
)


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PROMPT, min_size=1, max_size=6))
def test_counts_add_up_and_every_generation_leaves_a_trace(items):
    prompts = [
        {
            "id": f"hate_x_v1-{i}",
            "stem": "hate_x_v1",
            "category": "hate",
            "version": "v1",
            "polarity": item["polarity"],
            "n_entries": item["n_entries"],
            "examples": item["examples"],
            "prompt": f"Write {item['n_entries']} entries.",
        }
        for i, item in enumerate(items)
    ]
    predictions = [
        {"prompt": prompt["prompt"], "predict": item["output"]}
        | ({} if item["stopped"] is None else {"stopped": item["stopped"]})
        for prompt, item in zip(prompts, items, strict=True)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        prompts_path = _write(tmp / "prompts.jsonl", prompts)
        answers = _write(tmp / "predictions.jsonl", predictions)
        run_generate(GenerateSettings(prompts_path, predictions=answers), tmp / "out")
        report = run_clean(CleanSettings(tmp / "out", prompts_path), tmp / "out")
        accepted = [json.loads(x) for x in (tmp / "out" / "accepted.jsonl").open()]
        rejected = [json.loads(x) for x in (tmp / "out" / "rejected.jsonl").open()]
    assert report["entries_parsed"] == report["accepted"] + report["rejected"]
    assert (report["accepted"], report["rejected"]) == (len(accepted), len(rejected))
    assert sum(report["rejected_by_reason"].values()) == len(rejected)
    assert sum(p["entries_parsed"] for p in report["by_polarity"].values()) == len(accepted) + len(
        rejected
    )
    traces = Counter(r["prompt_id"] for r in accepted + rejected)
    assert set(traces) == {p["id"] for p in prompts}  # every generation: entries or a row
    for row in accepted:  # the label always follows the prompt's polarity, however spelled
        prompt = prompts[int(row["prompt_id"].rsplit("-", 1)[1])]
        assert row["label"] == LABEL[polarity_of(prompt["polarity"])]
        for char in ("\x00", "\u200b", "\u202e", "\ufeff"):
            assert char not in row["text"]
    for prompt in prompts:  # no more than the cap per generation gets through
        kept = sum(r["prompt_id"] == prompt["id"] for r in accepted)
        assert kept <= max(30, 3 * prompt["n_entries"])


@settings(max_examples=200, deadline=None)
@given(st.lists(OUTPUT, min_size=1, max_size=8))
def test_cleaning_alone_keeps_its_counts(outputs):
    gens = [
        {"prompt_id": f"p{i}", "sample": 0, "polarity": "pos", "n_entries": 5, "output": text}
        for i, text in enumerate(outputs)
    ]
    cleaned = clean_generations(gens)
    report = cleaned.report
    assert report["entries_parsed"] == len(cleaned.accepted) + len(cleaned.rejected)
    assert {r["prompt_id"] for r in cleaned.accepted + cleaned.rejected} == {
        g["prompt_id"] for g in gens
    }
