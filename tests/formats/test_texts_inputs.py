"""Seeds and labelled data (render's seeds, `augment`, `eval mlp`) fed the bad inputs users
write: label spellings accepted through the one vocabulary, everything else an error naming
file, line and field, no traceback, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from synthpack.cli import main
from synthpack.common.errors import SynthpackError
from synthpack.formats.texts import dedupe, read_labelled, read_seed_file, read_texts


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    "value, polarity",
    [
        ("positive", "pos"),
        ("Harmful", "pos"),
        ("toxic", "pos"),
        (1, "pos"),
        ("1", "pos"),
        (True, "pos"),
        ("negative", "neg"),
        ("harmless", "neg"),
        ("non-toxic", "neg"),
        (" Non_Toxic ", "neg"),
        (0, "neg"),
        (0.0, "neg"),
    ],
)
def test_label_spellings_are_normalised(tmp_path, value, polarity):
    path = jsonl(tmp_path / "s.jsonl", [{"text": "a text of several words", "label": value}])
    assert [r.label for r in read_seed_file(path)] == [polarity]


@pytest.mark.parametrize(
    "row, field, message",
    [
        ({"text": "some words here", "label": "maybe"}, "label", "unknown label 'maybe'."),
        ({"text": "some words here", "label": 2}, "label", "unknown label 2."),
        ({"text": "some words here", "label": [1]}, "label", "expected a label word or 0/1"),
        ({"text": "some words here", "label": ""}, "label", "missing"),
        ({"text": "some words here"}, "label", "missing"),
        ({"text": 5, "label": 1}, "text", "empty or not a string"),
        ({"text": "\u200b\u200b \x00", "label": 1}, "text", "empty or not a string"),
        ({"label": 1}, "text", "missing (fields: label)"),
        # accepted.jsonl rows carry both: they must agree
        (
            {"text": "some words here", "label": 1, "polarity": "neg"},
            "polarity",
            "'neg' disagrees with label 1",
        ),
        ({"text": "some words here", "polarity": "sure"}, "polarity", "unknown label 'sure'"),
    ],
)
def test_a_bad_row_names_file_line_and_field(tmp_path, row, field, message):
    good = {"text": "a fine text of words", "label": 0}
    path = jsonl(tmp_path / "s.jsonl", [good, row])
    with pytest.raises(SynthpackError) as err:
        read_seed_file(path)
    assert f"{path}: 1 problem(s) in 1 row(s):\n  {path}:2: {field}: {message}" in str(err.value)


# Stand-ins for generated harmful texts: each long enough to be a text, none may be printed.
TEXTS = [f"sentence {i} standing in for a generated harmful text" for i in range(25)]


def test_a_csv_with_label_and_text_swapped_never_shows_the_texts(tmp_path):
    path = tmp_path / "swapped.csv"
    path.write_text(
        "text,label\na fine text of words,maybe\n" + "".join(f"pos,{t}\n" for t in TEXTS)
    )
    with pytest.raises(SynthpackError) as err:
        read_seed_file(path)
    message = str(err.value)
    assert "standing in for" not in message  # not even the 20 rows listed
    assert message.startswith(f"{path}: 26 problem(s) in 26 row(s):\n")
    assert f"{path}:2: label: unknown label 'maybe'. Available:" in message  # a short word
    assert f"{path}:3: label: unknown label <a text of {len(TEXTS[0])} characters>." in message


@pytest.mark.parametrize("label", [None, "pos"])
def test_a_tsv_without_its_header_row_never_shows_its_first_row(tmp_path, label):
    path = tmp_path / "no_header.tsv"
    path.write_text("".join(f"{t}\tpos\n" for t in TEXTS))
    for read in (lambda: read_seed_file(path, label), lambda: read_texts(path)):
        with pytest.raises(SynthpackError) as err:
            read()
        assert str(err.value) == (
            f"{path}:1: text: missing column (the first row does not look like a header: "
            "2 columns, some long; is the header row missing?)"
        )


def test_json_field_names_that_look_like_texts_are_counted_not_shown(tmp_path):
    path = jsonl(tmp_path / "s.jsonl", [{TEXTS[0]: "pos", "label": 1}])
    with pytest.raises(SynthpackError) as err:
        read_seed_file(path)
    assert f"{path}:1: text: missing (2 field(s), not shown: some look like texts" in str(err.value)
    assert "standing in for" not in str(err.value)


def test_an_accepted_jsonl_row_with_only_a_polarity_reads(tmp_path):
    path = jsonl(tmp_path / "accepted.jsonl", [{"text": "some words here", "polarity": "pos"}])
    assert [r.label for r in read_seed_file(path)] == ["pos"]


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("s.jsonl", b"", "empty file (no texts)"),
        ("s.csv", b"", "empty file (no header row)"),
        ("s.jsonl", b"\xff\xd8\xff\xe0JFIF\x00", ":1: not UTF-8 text (byte 0xff at offset 0)"),
        ("s.csv", b"text,label\nok,1\n\x80bad,0\n", ":3: not UTF-8 text (byte 0x80 at offset 16)"),
        ("s.txt", b"fine\n\xc3(\n", ":2: not UTF-8 text (byte 0xc3 at offset 5)"),
        ("s.json", b'{"text": "x"}', "expected a JSON list of objects"),
        ("s.parquet", b"PAR1", "unsupported file type '.parquet'"),
    ],
)
def test_empty_binary_or_foreign_files_are_one_clear_error(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SynthpackError) as err:
        read_seed_file(path, "pos" if name.endswith(".txt") else None)
    assert str(err.value).startswith(str(path)) and expected in str(err.value)


def test_control_and_format_characters_are_stripped_and_dedup_sees_through_them(tmp_path):
    rows = [
        {"text": "they should all go back home", "label": 1},
        {"text": "they should\u200b all go back\u2060 home", "label": 1},
        {"text": "\ufeffthey should all go\x00 back home\u202e", "label": 1},
    ]
    read = read_seed_file(jsonl(tmp_path / "s.jsonl", rows))
    assert [r.text for r in read] == ["they should all go back home"] * 2 + [
        "they should all go back home"
    ]
    kept, rejects = dedupe(read)
    assert len(kept) == 1 and [r["reason"].split(" ")[0] for r in rejects] == ["duplicate"] * 2


def test_other_scripts_are_texts_like_any_other(tmp_path):
    rows = [
        {"text": "他们都是骗子，谁也不能相信。", "label": "harmful"},
        {"text": "यह लोग हमारे देश में नहीं रहने चाहिए।", "label": "toxic"},
        {"text": "Сегодня хорошая погода.", "label": "harmless"},
    ]
    read = read_seed_file(jsonl(tmp_path / "s.jsonl", rows))
    assert [(r.text, r.label) for r in read] == [
        (rows[0]["text"], "pos"),
        (rows[1]["text"], "pos"),
        (rows[2]["text"], "neg"),
    ]


def test_augment_reads_accepted_jsonl_spellings_and_refuses_a_bad_label(tmp_path):
    train = jsonl(tmp_path / "train.jsonl", [{"text": "a real harmful text", "label": "toxic"}])
    synthetic = jsonl(
        tmp_path / "accepted.jsonl",
        [
            {"text": "a synthetic harmful text", "label": 1, "polarity": "pos"},
            {"text": "a synthetic harmless text", "polarity": "negative"},
        ],
    )
    out = tmp_path / "aug.jsonl"
    result = run("augment", "--train", train, "--synthetic", synthetic, "--out", out)
    assert result.exit_code == 0, result.output
    labels = [json.loads(line)["label"] for line in out.read_text().splitlines()]
    assert labels == [1, 1, 0]
    bad = jsonl(tmp_path / "bad.jsonl", [{"text": "a synthetic text", "label": "positve"}])
    out2 = tmp_path / "aug2.jsonl"
    result = run("augment", "--train", train, "--synthetic", bad, "--out", out2)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{bad}:1: label: unknown label 'positve'" in result.output
    assert not out2.exists()


def test_a_labelled_folder_without_prefixed_files_is_named(tmp_path):
    (tmp_path / "texts.txt").write_text("a\n")
    with pytest.raises(SynthpackError, match="no hate_\\*.txt or neutral_\\*.txt files"):
        read_labelled(tmp_path)


def _labelled(n: int, label: int, offset: int = 0) -> list[dict]:
    return [
        {"text": f"text number {i} about things", "label": label} for i in range(offset, offset + n)
    ]


def test_eval_mlp_names_the_real_cause_when_training_data_cannot_train(tmp_path):
    both = jsonl(tmp_path / "both.jsonl", _labelled(10, 1) + _labelled(10, 0, 10))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    one_class = jsonl(tmp_path / "one.jsonl", _labelled(10, 1, 100))
    out = tmp_path / "o"

    def eval_mlp(train, evaluation):
        return run("eval", "mlp", "--train", train, "--eval", evaluation, "--out", out)

    same = eval_mlp(both, both)
    assert same.exit_code == 1 and "Traceback" not in same.output
    assert (
        f"{both}: all 20 training texts are also in the evaluation set {both} and were dropped"
        in same.output
    )
    assert f"{empty}: the training file holds no texts" in eval_mlp(empty, both).output
    assert f"{empty}: the evaluation file holds no texts" in eval_mlp(both, empty).output
    assert (
        f"{one_class}: the training data needs both labels (harmful 1 and harmless 0); all 10 "
        "texts have label 1" in eval_mlp(one_class, both).output
    )
    assert f"{one_class}: the evaluation set needs both labels; all 10 texts have label 1" in (
        eval_mlp(both, one_class).output
    )
    assert not out.exists()
