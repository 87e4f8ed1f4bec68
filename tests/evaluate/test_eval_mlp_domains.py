"""`eval mlp` on a second domain (ParaDetox's toxic sentences against their paraphrases) and
with MiniLM features embedded once per text: the transfer set's fixed rule, its errors, and a
real run that counts every text the MiniLM model embeds. Texts are never printed."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner

from synthpack.cli import main
from synthpack.common.errors import SynthpackError
from synthpack.common.paths import pack_dir
from synthpack.common.text import text_key
from synthpack.formats.pairs import read_pairs
from synthpack.formats.texts import read_labelled
from synthpack.prepare.paradetox import NEUTRAL_FIELDS, transfer_eval_rows

SHIPPED = pack_dir("dataset_info") / "demo"
PAIRS = SHIPPED / "paradetox" / "paradetox_2400.tsv"


# ---------------------------------------------------------------- the transfer set


def test_transfer_set_is_balanced_paired_and_follows_its_rule():
    rows, counts = transfer_eval_rows(PAIRS, per_class=500)
    assert len(rows) == 1000 and sum(r["label"] for r in rows) == 500
    assert transfer_eval_rows(PAIRS, per_class=500)[0] == rows  # no seed, no drift
    # Each toxic sentence (1) is followed by a paraphrase (0) from the same line.
    toxic, neutral = rows[0::2], rows[1::2]
    assert {r["label"] for r in toxic} == {1} and {r["label"] for r in neutral} == {0}
    assert [r["line"] for r in toxic] == [r["line"] for r in neutral] == counts["lines"]
    by_line: dict[int, tuple[str, list[str]]] = {}
    for pair in read_pairs(PAIRS, "toxic", list(NEUTRAL_FIELDS))[0]:
        by_line.setdefault(pair["line"], (pair["text"], []))[1].append(pair["rewrite"])
    for t, n in zip(toxic, neutral, strict=True):
        source, paraphrases = by_line[t["line"]]
        assert t["text"] == source
        first = next(p for p in paraphrases if text_key(p) != text_key(source))
        assert n["text"] == first  # the first paraphrase that is not the sentence again
    keys = [text_key(r["text"]) for r in rows]
    assert len(set(keys)) == len(keys)
    # Evenly spaced through the candidates: the lines rise and span the file.
    lines = counts["lines"]
    assert lines == sorted(lines) and lines[0] < 20 and lines[-1] > 2300
    assert counts["candidates"] == 2380 and counts["sentences_read"] == 2400


def test_transfer_set_names_every_bad_row_and_a_short_file(tmp_path):
    bad = tmp_path / "pairs.tsv"
    bad.write_text(
        "toxic\tneutral1\tneutral2\tneutral3\n"
        "a rude line\ta calm line\t\t\n"
        "\ta calm line two\t\t\n"
        "another rude line\t\t\t\n",
        encoding="utf-8",
    )
    with pytest.raises(SynthpackError) as caught:
        transfer_eval_rows(bad, per_class=1)
    message = str(caught.value)
    assert f"{bad}:3: toxic: empty toxic" in message
    assert f"{bad}:4: neutral1,neutral2,neutral3: no rewrite" in message
    short = tmp_path / "short.tsv"
    short.write_text("toxic\tneutral1\tneutral2\tneutral3\na b c\td e f\t\t\n", encoding="utf-8")
    with pytest.raises(SynthpackError, match="2 toxic sentences with a distinct paraphrase"):
        transfer_eval_rows(short, per_class=2)


def test_extra_eval_names_are_checked_together(tmp_path):
    f = tmp_path / "a.jsonl"
    f.write_text('{"text": "x", "label": 1}\n', encoding="utf-8")
    result = CliRunner().invoke(
        main,
        ["eval", "mlp", "--train", str(f), "--eval", str(f), "--out", str(tmp_path / "o"),
         "--extra-eval", "eval=x.jsonl", "--extra-eval", "oops"],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "--extra-eval" in result.output
    assert "name 'eval' is already used" in result.output and "expected NAME=FILE" in result.output


# ---------------------------------------------------------------- MiniLM, embedded once


def _write(path, texts, labels):
    rows = [{"text": t, "label": int(y)} for t, y in zip(texts, labels, strict=True)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


@pytest.mark.integration
def test_minilm_embeds_each_distinct_text_once_over_folds_runs_and_domains(tmp_path, monkeypatch):
    """3 folds x 5 runs (real, real+a, a, real+b, b) x 2 evaluation sets: every training text
    and every extra-domain text reaches the real MiniLM model exactly once."""
    from sentence_transformers import SentenceTransformer

    from synthpack.evaluate.run import MlpEvalSettings, run_mlp_eval
    from synthpack.models.classifier.mlp import MLPConfig

    seen: Counter[str] = Counter()
    real_encode = SentenceTransformer.encode

    def counting_encode(self, sentences, *args, **kwargs):
        seen.update([sentences] if isinstance(sentences, str) else sentences)
        return real_encode(self, sentences, *args, **kwargs)

    monkeypatch.setattr(SentenceTransformer, "encode", counting_encode)
    pool = read_labelled(SHIPPED / "toxigen" / "annotated" / "train.csv")
    texts, labels = pool.texts, pool.labels
    _write(tmp_path / "train.jsonl", texts[:60], labels[:60])
    _write(tmp_path / "a.jsonl", texts[60:80], labels[60:80])
    # b repeats three real training texts: the store must not embed them twice.
    _write(tmp_path / "b.jsonl", texts[80:97] + texts[:3], labels[80:97] + labels[:3])
    _write(tmp_path / "eval.jsonl", texts[100:130], labels[100:130])
    transfer = transfer_eval_rows(PAIRS, per_class=15)[0]
    _write(tmp_path / "pd.jsonl", [r["text"] for r in transfer], [r["label"] for r in transfer])
    settings = MlpEvalSettings(
        tmp_path / "train.jsonl", tmp_path / "eval.jsonl",
        synthetic=(("a", tmp_path / "a.jsonl"), ("b", tmp_path / "b.jsonl")),
        features="minilm", config=MLPConfig(folds=3, max_epochs=3), n_boot=50,
        eval_name="toxigen", extra_eval=(("paradetox", tmp_path / "pd.jsonl"),),
    )  # fmt: skip
    report = run_mlp_eval(settings, tmp_path / "out")

    trained = set(texts[:97])
    other_domain = {r["text"] for r in transfer}
    # The saved model's latency measurement embeds the --eval texts again, as deployed.
    for text in trained | other_domain:
        assert seen[text] == 1, "a text was embedded more than once (or never)"
    distinct = trained | other_domain | set(texts[100:130])
    assert report["embeddings"]["texts_embedded"] == len(distinct)
    assert report["embeddings"]["lookups_reused"] > 10 * len(trained)
    assert [r["name"] for r in report["runs"]] == ["real", "real+a", "a", "real+b", "b"]
    other = report["extra_eval"]["paradetox"]
    assert other["n"] == 30 and other["n_harmful"] == 15
    assert [r["name"] for r in other["runs"]] == [r["name"] for r in report["runs"]]
    assert all("vs_real" in r for r in other["runs"][1:])
    for section in (report, other):
        assert section["verdict"].startswith("Against real data alone")
    table = (tmp_path / "out" / "table.txt").read_text(encoding="utf-8")
    assert "== toxigen (30 texts, minilm features) ==" in table
    assert "== paradetox (30 texts, minilm features) ==" in table
    assert "distinct texts embedded once" in table
